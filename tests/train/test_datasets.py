"""Datasets: the bundled digits, MNIST from a folder of IDX files, the seeded split,
normalization, and the downloader against a local HTTP server (never the network)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from gdstudio.resources import resource_path
from gdstudio.train import datasets as ds
from gdstudio.train.datasets import DatasetError, load_dataset
from gdstudio.train.idx import write_idx

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


# -- digits -------------------------------------------------------------------------------
def test_bundled_digits_file_is_the_documented_one():
    path = resource_path("datasets", "digits.csv.gz")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DIGITS_SHA256
    assert DIGITS_SHA256 in (path.parent / "README.md").read_text(encoding="utf-8")


def test_load_digits_reads_every_image():
    x, y = ds.load_digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert x.min() == 0 and x.max() == 16
    # the row count per class, read independently from the CSV text
    with gzip.open(resource_path("datasets", "digits.csv.gz"), "rt") as fh:
        labels = [int(line.rsplit(",", 1)[1]) for line in fh]
    np.testing.assert_array_equal(np.bincount(y), np.bincount(labels))
    assert x[0].reshape(8, 8)[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]  # the first row of the file


def test_digits_dataset_split_and_scaling():
    d = load_dataset("digits", seed=3, test_fraction=0.25)
    assert d.x_train.dtype == np.float32 and d.image_shape == (8, 8) and d.n_features == 64
    assert len(d.y_train) + len(d.y_test) == 1797
    assert d.x_train.min() >= 0.0 and d.x_train.max() == 1.0
    # stratified: each class has ~25% in the test set
    _x, y = ds.load_digits()
    for cls in range(10):
        assert abs(np.sum(d.y_test == cls) - 0.25 * np.sum(y == cls)) <= 0.5 + 1e-9
    again = load_dataset("digits", seed=3, test_fraction=0.25)
    np.testing.assert_array_equal(d.y_test, again.y_test)
    other = load_dataset("digits", seed=4, test_fraction=0.25)
    assert not np.array_equal(d.y_test, other.y_test)


def test_split_is_a_partition():
    x = np.arange(100)[:, None]
    y = np.repeat(np.arange(4), 25)
    xtr, ytr, xte, yte = ds.split_train_test(x, y, test_fraction=0.2, seed=0)
    assert sorted(np.concatenate([xtr[:, 0], xte[:, 0]]).tolist()) == list(range(100))
    np.testing.assert_array_equal(y[xtr[:, 0]], ytr)  # rows keep their labels
    assert np.bincount(yte).tolist() == [5, 5, 5, 5]
    with pytest.raises(ValueError, match=r"Invalid test_fraction value: 1\.0"):
        ds.split_train_test(x, y, test_fraction=1.0)


def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (50, 6)).astype(np.uint8)
    a[:, 2] = 7  # a constant pixel
    b = rng.integers(0, 256, (10, 6)).astype(np.uint8)
    sa, sb = ds.normalize(a, b, max_value=255.0, standardize=True, dtype=np.float64)
    np.testing.assert_allclose(sa.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(np.delete(sa.std(axis=0), 2), 1, atol=1e-12)
    np.testing.assert_allclose(sa[:, 2], 0, atol=1e-12)  # only centred, not blown up
    mu, sd = (a / 255).mean(axis=0), (a / 255).std(axis=0)
    sd[2] = 1
    np.testing.assert_allclose(sb, (b / 255 - mu) / sd)


# -- MNIST from a folder ---------------------------------------------------------------------
def _fake_mnist(folder: Path, n_train=40, n_test=12, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, arr in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), arr)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_folder(tmp_path, gz):
    arrays = _fake_mnist(tmp_path / "m", gz=gz)
    d = load_dataset(f"mnist:{tmp_path / 'm'}")
    assert d.image_shape == (28, 28) and d.x_train.shape == (40, 784) and d.x_test.shape == (12, 784)
    np.testing.assert_allclose(d.x_train, arrays["train-images-idx3-ubyte"].reshape(40, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(d.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_mnist_torchvision_layout(tmp_path):
    _fake_mnist(tmp_path / "MNIST" / "raw")
    assert load_dataset(f"mnist:{tmp_path}").x_train.shape == (40, 784)


def test_mnist_missing_folder_and_files(tmp_path):
    with pytest.raises(DatasetError, match=r"MNIST folder does not exist: .*nowhere"):
        load_dataset(f"mnist:{tmp_path / 'nowhere'}")
    _fake_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"MNIST files missing in .*: t10k-labels-idx1-ubyte"):
        load_dataset(f"mnist:{tmp_path / 'm'}")


def test_mnist_inconsistent_files(tmp_path):
    _fake_mnist(tmp_path / "m")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", np.zeros(39, np.uint8))
    with pytest.raises(DatasetError, match="differ in count: 40 images, 39 labels"):
        load_dataset(f"mnist:{tmp_path / 'm'}")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", np.full(40, 12, np.uint8))
    with pytest.raises(DatasetError, match=r"labels must be digits 0\.\.9, found 12"):
        load_dataset(f"mnist:{tmp_path / 'm'}")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", np.zeros((40, 1), np.uint8))
    with pytest.raises(DatasetError, match="Wrong IDX dimensions"):
        load_dataset(f"mnist:{tmp_path / 'm'}")
    (tmp_path / "m" / "train-labels-idx1-ubyte").write_bytes(b"\x08\x03\x00\x00")
    with pytest.raises(DatasetError, match="Bad IDX magic number"):
        load_dataset(f"mnist:{tmp_path / 'm'}")


@pytest.mark.parametrize("spec, message", [
    ("cifar", "Unknown dataset: 'cifar'"),
    ("digits:foo", "Unknown dataset: 'digits:foo'"),
    ("mnist:", "a folder must follow mnist:"),
    ("", "Invalid dataset value"),
])
def test_bad_dataset_names(spec, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(spec)


def test_cache_dir_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ds.mnist_cache_dir() == tmp_path / "xdg" / "gdstudio" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ds.mnist_cache_dir() == tmp_path / "home" / ".cache" / "gdstudio" / "mnist"


def test_mnist_from_cache_without_download(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(DatasetError, match="downloading is off"):
        load_dataset("mnist", download=False)
    _fake_mnist(tmp_path / "gdstudio" / "mnist", gz=True)
    assert load_dataset("mnist", download=False).x_test.shape == (12, 784)


def test_real_mnist_checksums_are_the_published_ones():
    """SHA-256 sums as published by TensorFlow Datasets for the cvdf mirror (sizes too)."""
    assert ds.MNIST_FILES["train_images"] == (
        "train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422)
    assert ds.MNIST_FILES["test_labels"][1] == "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    assert all(m.startswith("https://") for m in ds.MNIST_MIRRORS)


# -- downloader against a local server ----------------------------------------------------------
class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@contextlib.contextmanager
def _server(root: Path):
    handler = type("Handler", (_Quiet,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _served_files(root: Path):
    arrays = _fake_mnist(root / "mnist", gz=True)
    files = {}
    for key, stem in zip(ds.MNIST_FILES, arrays, strict=True):
        data = (root / "mnist" / (stem + ".gz")).read_bytes()
        files[key] = (stem + ".gz", hashlib.sha256(data).hexdigest(), len(data))
    return files


def test_download_checks_and_caches(tmp_path):
    files = _served_files(tmp_path / "srv")
    seen = []
    with _server(tmp_path / "srv") as (url, requests):
        target = ds.download_mnist(tmp_path / "cache", mirrors=[url + "/missing/", url + "/mnist/"], files=files,
                                   progress=lambda name, done, total: seen.append((name, done, total)))
        assert target == tmp_path / "cache"
        for name, sha, size in files.values():
            assert hashlib.sha256((target / name).read_bytes()).hexdigest() == sha
            assert (name, size, size) in seen  # progress reached the full size
        first = len(requests)
        ds.download_mnist(tmp_path / "cache", mirrors=[url + "/mnist/"], files=files)
        assert len(requests) == first  # verified files are not fetched again
    assert sorted(p.name for p in target.iterdir()) == sorted(f[0] for f in files.values())
    assert load_dataset(f"mnist:{target}").x_train.shape == (40, 784)


def test_download_refuses_checksum_mismatch_and_leaves_nothing(tmp_path):
    files = _served_files(tmp_path / "srv")
    name, _sha, size = files["train_labels"]
    files["train_labels"] = (name, "0" * 64, size)
    with _server(tmp_path / "srv") as (url, _), pytest.raises(DatasetError, match=f"checksum mismatch for .*{name}"):
        ds.download_mnist(tmp_path / "cache", mirrors=[url + "/mnist/"], files=files)
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert name not in left
    assert not [p for p in left if p.endswith(".part")]  # no partial file


def test_download_replaces_a_corrupt_cached_file(tmp_path):
    files = _served_files(tmp_path / "srv")
    (tmp_path / "cache").mkdir()
    name, sha, _ = files["test_images"]
    (tmp_path / "cache" / name).write_bytes(b"garbage")
    with _server(tmp_path / "srv") as (url, requests):
        ds.download_mnist(tmp_path / "cache", mirrors=[url + "/mnist/"], files=files)
        assert f"/mnist/{name}" in requests
    assert hashlib.sha256((tmp_path / "cache" / name).read_bytes()).hexdigest() == sha


def test_download_reports_every_mirror(tmp_path):
    files = _served_files(tmp_path / "srv")
    with _server(tmp_path / "srv") as (url, _), pytest.raises(DatasetError) as info:
        ds.download_mnist(tmp_path / "cache", mirrors=[url + "/a/", url + "/b/"], files=files, timeout=5)
    text = str(info.value)
    assert "Could not download train-images-idx3-ubyte.gz" in text
    assert "/a/train-images" in text and "/b/train-images" in text and "HTTP 404" in text


def test_cancelled_download_leaves_no_partial_file(tmp_path):
    files = _served_files(tmp_path / "srv")

    class Stop(Exception):
        pass

    def progress(name, done, total):
        if done > 0:
            raise Stop

    with _server(tmp_path / "srv") as (url, _), pytest.raises(Stop):
        ds.download_mnist(tmp_path / "cache", mirrors=[url + "/mnist/"], files=files, progress=progress)
    assert list((tmp_path / "cache").iterdir()) == []
