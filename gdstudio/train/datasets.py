"""Datasets for the Training lab: bundled 8×8 digits, and MNIST from IDX files.

- ``digits``: the UCI optdigits test set as shipped in scikit-learn (1,797 images of 8×8
  pixels in 0..16), bundled as ``gdstudio/_resources/datasets/digits.csv.gz``; split into train and test
  by a seeded, stratified shuffle.
- ``mnist``: the four standard IDX files (60,000 + 10,000 images of 28×28 pixels in 0..255),
  read from a folder (``mnist:PATH``) or downloaded once into ``$XDG_CACHE_HOME/gdstudio/mnist``
  with SHA-256 checks. MNIST keeps its own train/test split.

Normalization: pixels are divided by their maximum (16 or 255) so features lie in [0, 1], as
the book's ``load_mnist(normalize=True)``. With ``standardize=True`` each feature is then
shifted and scaled by the training set's mean and standard deviation (a constant feature is
only centred), the same transform applied to the test set.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gdstudio.resources import resource_path
from gdstudio.train.idx import IdxError, read_idx

__all__ = [
    "DATASET_NAMES",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "Dataset",
    "DatasetError",
    "DownloadProgress",
    "download_mnist",
    "find_mnist_files",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "mnist_cache_dir",
    "normalize",
    "sha256_file",
    "split_train_test",
]

DATASET_NAMES = ("digits", "mnist")

#: (downloaded file name, SHA-256, size in bytes) of the four standard MNIST files.
MNIST_FILES: dict[str, tuple[str, str, int]] = {
    "train_images": (
        "train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    "train_labels": (
        "train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "test_images": (
        "t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}

#: Mirrors tried in order (torchvision's, TensorFlow's, then the original site, which often refuses).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)

#: ``progress(file_name, bytes_done, bytes_total_or_None)``, called while downloading.
DownloadProgress = Callable[[str, int, "int | None"], None]

_CHUNK = 1 << 16


class DatasetError(ValueError):
    """A dataset that cannot be found, read or downloaded (the message says which and why)."""


@dataclass(frozen=True)
class Dataset:
    """Features ``x`` (n, d) in the model's dtype and integer labels ``y`` (n,), split in two."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int]
    description: str = ""

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def astype(self, dtype: np.dtype | type | str) -> Dataset:
        """The same data with features of ``dtype`` (no copy when already so)."""
        dt = np.dtype(dtype)
        return Dataset(self.name, self.x_train.astype(dt, copy=False), self.y_train,
                       self.x_test.astype(dt, copy=False), self.y_test, self.n_classes,
                       self.image_shape, self.description)


# -- digits -------------------------------------------------------------------------------
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled 8×8 digits: pixels (1797, 64) uint8 in 0..16 and labels (1797,) int64."""
    try:
        path = resource_path("datasets", "digits.csv.gz")
    except FileNotFoundError as exc:
        raise DatasetError(f"The bundled digits dataset is missing: {exc}") from None
    with gzip.open(path, "rt", encoding="ascii") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise DatasetError(f"Unexpected digits table shape {table.shape} in {path} (expected (n, 65))")
    return table[:, :64].astype(np.uint8), table[:, 64].astype(np.int64)


# -- MNIST ----------------------------------------------------------------------------------
def _candidates(gz_name: str) -> list[str]:
    stem = gz_name.removesuffix(".gz")
    dotted = stem.replace("-idx", ".idx")  # Kaggle's spelling: train-images.idx3-ubyte
    return [stem, gz_name, dotted, dotted + ".gz"]


def find_mnist_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Paths of the four MNIST IDX files in ``folder`` (or its ``raw``/``MNIST/raw`` subfolder).

    Accepts the files gzipped or not. Raises :class:`DatasetError` naming the missing files.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise DatasetError(f"MNIST folder does not exist: {root}")
    if not root.is_dir():
        raise DatasetError(f"MNIST path is not a folder: {root}")
    best: dict[str, Path] = {}
    missing: list[str] = []
    for base in (root, root / "raw", root / "MNIST" / "raw"):
        found = {}
        for key, (gz_name, _, _) in MNIST_FILES.items():
            for name in _candidates(gz_name):
                if (base / name).is_file():
                    found[key] = base / name
                    break
        if len(found) == len(MNIST_FILES):
            return found
        if len(found) > len(best):
            best = found
    missing = [MNIST_FILES[k][0].removesuffix(".gz") for k in MNIST_FILES if k not in best]
    raise DatasetError(
        f"MNIST files missing in {root}: {', '.join(missing)} (each may also end in .gz)"
    )


def load_mnist(folder: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images (n, 28·28) uint8 and labels (n,) int64 for train and test, from IDX files in ``folder``."""
    paths = find_mnist_files(folder)
    out = []
    for split in ("train", "test"):
        try:
            images = read_idx(paths[f"{split}_images"], ndim=3)
            labels = read_idx(paths[f"{split}_labels"], ndim=1)
        except IdxError as exc:
            raise DatasetError(str(exc)) from None
        img_path = paths[f"{split}_images"]
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise DatasetError(
                f"MNIST {split} files must hold uint8 data, found images {images.dtype} and labels {labels.dtype}"
                f" ({img_path})"
            )
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"MNIST {split} images and labels differ in count: {images.shape[0]} images, "
                f"{labels.shape[0]} labels ({img_path})"
            )
        if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
            raise DatasetError(f"MNIST {split} images are empty: shape {images.shape} ({img_path})")
        if labels.max() > 9:
            raise DatasetError(f"MNIST {split} labels must be digits 0..9, found {int(labels.max())}")
        out += [images.reshape(images.shape[0], -1), labels.astype(np.int64)]
    if out[0].shape[1] != out[2].shape[1]:
        raise DatasetError(f"MNIST train and test images differ in size: {out[0].shape[1]} vs {out[2].shape[1]} "
                           "pixels")
    return out[0], out[1], out[2], out[3]


def mnist_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gdstudio/mnist`` (``~/.cache/gdstudio/mnist`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base).expanduser() if base.strip() else Path.home() / ".cache"
    return root / "gdstudio" / "mnist"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, target: Path, sha256: str, progress: DownloadProgress | None, timeout: float) -> None:
    """Stream ``url`` into a temporary file beside ``target``; rename it only if the SHA-256 matches."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress is not None:
                progress(target.name, 0, total)
            while block := resp.read(_CHUNK):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(target.name, done, total)
        got = digest.hexdigest()
        if got != sha256.lower():
            raise DatasetError(f"checksum mismatch for {url}: SHA-256 {got}, expected {sha256.lower()}")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def download_mnist(
    folder: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    files: Mapping[str, tuple[str, str, int]] = MNIST_FILES,
    progress: DownloadProgress | None = None,
    timeout: float = 30.0,
) -> Path:
    """Make sure ``folder`` (default :func:`mnist_cache_dir`) holds the MNIST files; return it.

    Files already present with the right SHA-256 are kept; others are fetched from each mirror
    in turn into a temporary file that replaces the target only when its SHA-256 matches, so a
    failed or refused download never leaves a partial file. Raises :class:`DatasetError`
    listing what each mirror answered when a file cannot be obtained.
    """
    root = Path(folder).expanduser() if folder is not None else mnist_cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"Cannot create the MNIST folder {root}: {exc.strerror or exc}") from None
    for name, sha256, _size in files.values():
        target = root / name
        if target.is_file() and sha256_file(target) == sha256.lower():
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                _fetch(url, target, sha256, progress, timeout)
                break
            except DatasetError as exc:
                errors.append(str(exc))
            except urllib.error.HTTPError as exc:
                errors.append(f"{url}: HTTP {exc.code} {exc.reason}")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                errors.append(f"{url}: {reason}")
        else:
            raise DatasetError(f"Could not download {name}: " + "; ".join(errors or ["no mirrors given"]))
    return root


# -- splitting and normalization ------------------------------------------------------------
def split_train_test(
    x: np.ndarray, y: np.ndarray, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded, stratified split: each class contributes round(fraction·count) test samples.

    Returns ``x_train, y_train, x_test, y_test``; both parts are shuffled.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"Invalid test_fraction value: {test_fraction!r} (must be in (0, 1))")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    rng = np.random.default_rng(seed)
    test_idx, train_idx = [], []
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        k = round(test_fraction * len(members))
        test_idx.append(members[:k])
        train_idx.append(members[k:])
    tr = rng.permutation(np.concatenate(train_idx))
    te = rng.permutation(np.concatenate(test_idx))
    if len(tr) == 0 or len(te) == 0:
        raise ValueError(f"Invalid test_fraction value: {test_fraction!r} (leaves an empty train or test set)")
    return x[tr], y[tr], x[te], y[te]


def normalize(
    x_train: np.ndarray, x_test: np.ndarray, *, max_value: float, standardize: bool = False,
    dtype: np.dtype | type | str = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale pixels to [0, 1] by ``x / max_value``; then optionally standardize per feature
    with the training set's mean μ and std σ: ``(x − μ) / σ`` (σ = 1 where a feature is constant)."""
    dt = np.dtype(dtype)
    a = x_train.astype(np.float64) / max_value
    b = x_test.astype(np.float64) / max_value
    if standardize:
        mu = a.mean(axis=0)
        sd = a.std(axis=0)
        sd[np.ptp(a, axis=0) == 0] = 1.0  # constant (the std of equal floats may round to ~1e-18)
        a = (a - mu) / sd
        b = (b - mu) / sd
    return a.astype(dt), b.astype(dt)


def load_dataset(
    spec: str,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    standardize: bool = False,
    dtype: np.dtype | type | str = np.float32,
    download: bool = True,
    progress: DownloadProgress | None = None,
) -> Dataset:
    """Load a dataset by name: ``digits``, ``mnist`` (cache folder, downloaded if needed and
    ``download``) or ``mnist:PATH`` (a folder with the IDX files)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetError(f"Invalid dataset value: {spec!r} (must be digits, mnist or mnist:PATH)")
    name, sep, path = spec.strip().partition(":")
    name = name.lower()
    if name == "digits" and not sep:
        x, y = load_digits()
        xtr, ytr, xte, yte = split_train_test(x, y, test_fraction=test_fraction, seed=seed)
        a, b = normalize(xtr, xte, max_value=16.0, standardize=standardize, dtype=dtype)
        return Dataset("digits", a, ytr, b, yte, 10, (8, 8),
                       "UCI optdigits test set, 8×8 pixels (bundled)")
    if name == "mnist":
        if sep:
            if not path.strip():
                raise DatasetError("Invalid dataset value: 'mnist:' (a folder must follow mnist:)")
            folder = Path(path.strip()).expanduser()
        else:
            folder = mnist_cache_dir()
            try:
                find_mnist_files(folder)
            except DatasetError:
                if not download:
                    raise DatasetError(f"MNIST is not in the cache folder {folder} (downloading is off)") from None
                download_mnist(folder, progress=progress)
        xtr, ytr, xte, yte = load_mnist(folder)
        side = math.isqrt(xtr.shape[1])
        shape = (side, side) if side * side == xtr.shape[1] else (1, xtr.shape[1])
        a, b = normalize(xtr, xte, max_value=255.0, standardize=standardize, dtype=dtype)
        return Dataset("mnist", a, ytr, b, yte, 10, shape, f"MNIST from {folder}")
    raise DatasetError(f"Unknown dataset: {spec!r} (known: digits, mnist, mnist:PATH)")
