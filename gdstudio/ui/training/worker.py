"""The Training lab's run: load (or download) the data, then race the optimizers, off the UI thread.

A run is a :class:`TrainingRun` called by the lab's :class:`~gdstudio.ui.background.Background`
helper (``daemon=True``: a daemon Python thread per run), which delivers its outcome on the UI
thread and drops the outcome of a run the lab has given up on (its generation is no longer
current). The run talks to the window only through ``job.report(value)``: a :class:`Phase` when
downloading, loading or training begins, :class:`Download` progress, :class:`Loaded` (the dataset,
worth keeping for the next run) and :class:`Chunk` s of losses. Why a daemon thread and not a
QThread: a download stuck in ``connect()`` cannot be interrupted, so the window must be able to
walk away from it — a daemon thread can be left to time out on its own, while a QThread object
destroyed before its thread ends aborts the process.

Stopping: :meth:`TrainingRun.stop` asks training to stop after the current iteration (the
result keeps what was recorded and is delivered as usual); cancelling the job gives the run up
(a download or load that has not reached training).

Updates are throttled (:class:`~gdstudio.ui.status.Throttle`): per-iteration losses are buffered
in the run and sent as one :class:`Chunk` at most every :data:`UPDATE_INTERVAL` seconds (≤ 20 Hz),
plus once at the end.

BLAS threads: ``compare_optimizers`` sets OpenBLAS to ``config.threads`` (1) for the run and
restores the previous count when it returns. The setting is process-wide, so overlapping runs
would restore each other's values in the wrong order (and leave the GUI at 1 thread for good);
:data:`_TRAIN_LOCK` makes runs of this process strictly sequential, and a run cancelled while it
waited for the lock never touches the setting.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gdstudio.train.compare import CompareResult, Entry, TrainConfig, TrainProgress, compare_optimizers
from gdstudio.train.datasets import (
    MNIST_FILES,
    MNIST_MIRRORS,
    Dataset,
    DatasetError,
    download_mnist,
    find_mnist_files,
    load_dataset,
    mnist_cache_dir,
)
from gdstudio.ui.background import Job
from gdstudio.ui.status import Throttle

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "UPDATE_INTERVAL",
    "Chunk",
    "Download",
    "Loaded",
    "Phase",
    "Throttle",
    "TrainRequest",
    "TrainingRun",
    "dataset_key",
    "failure_message",
]

#: Seconds between two progress updates sent to the window (20 Hz at most).
UPDATE_INTERVAL = 0.05
#: Seconds a download waits for a mirror to answer before trying the next one.
DOWNLOAD_TIMEOUT = 15.0

_TRAIN_LOCK = threading.Lock()


@dataclass(frozen=True)
class TrainRequest:
    """What one run needs. ``dataset``: ``digits``, ``mnist`` (the cache folder, downloaded when
    missing) or ``mnist:FOLDER``; the digits train/test split is drawn from ``config.seed``, as
    ``gdstudio train`` does."""

    dataset: str
    entries: tuple[Entry, ...]
    config: TrainConfig
    download_timeout: float = DOWNLOAD_TIMEOUT
    mirrors: tuple[str, ...] = MNIST_MIRRORS
    files: Mapping[str, tuple[str, str, int]] = field(default_factory=lambda: dict(MNIST_FILES))


def dataset_key(spec: str, seed: int) -> tuple[str, int]:
    """Cache key of a loaded dataset: the digits split depends on the seed, MNIST's does not."""
    return (spec, seed if spec == "digits" else 0)


@dataclass
class Chunk:
    """Iterations ``first .. first + len(losses) − 1`` (1-based): ``losses[k, j]`` is entry j's
    mini-batch loss (NaN once diverged); ``evals`` the test accuracies measured meanwhile."""

    first: int
    losses: np.ndarray  # (k, n_entries) float64
    evals: list[tuple[int, list[float]]] = field(default_factory=list)
    total: int = 0
    elapsed: float = 0.0

    @property
    def last(self) -> int:
        return self.first + len(self.losses) - 1


@dataclass(frozen=True)
class Phase:
    """``download``, ``load`` or ``train`` begins."""

    name: str


@dataclass(frozen=True)
class Download:
    """``done`` of ``total`` bytes of file ``name`` (``total`` −1: unknown)."""

    name: str
    done: int
    total: int


@dataclass(frozen=True)
class Loaded:
    """The dataset a run loaded, under its cache key."""

    key: tuple[str, int]
    dataset: Dataset


def failure_message(exc: BaseException) -> str:
    """What the lab's banner says when a run raised ``exc``."""
    if isinstance(exc, ValueError):  # DatasetError included: bad files, no network, bad settings
        return str(exc)
    if isinstance(exc, MemoryError):
        return ("Out of memory: the network or the dataset is too large for this machine "
                "(try fewer or smaller hidden layers)")
    return f"{type(exc).__name__}: {exc}"


class _Cancelled(Exception):
    """Raised from the download progress callback to abandon a download (not an OSError, so the
    mirror loop does not swallow it; the partial file is removed by the downloader)."""


class TrainingRun:
    """One run, called as ``fn(job)`` on the lab's background thread; returns the CompareResult.

    ``cached`` is a (key, dataset) pair the window kept from an earlier run; it is reused when
    the key matches, so pressing Start twice does not re-read 47 MB of MNIST. :attr:`stage` is
    ``idle`` → ``download`` / ``load`` → ``train`` → ``done``; :attr:`loaded` keeps the dataset
    it loaded even when the run was given up.
    """

    def __init__(self, request: TrainRequest, cached: tuple[object, Dataset] | None = None,
                 interval: float = UPDATE_INTERVAL) -> None:
        self.request = request
        self.cached = cached
        self.stage = "idle"
        self.result: CompareResult | None = None
        self.loaded: Loaded | None = None
        self._stop = threading.Event()  # training stops after the current iteration
        self._ended = threading.Event()
        self._started = False
        self._job: Job | None = None
        self._rows: list[list[float]] = []
        self._evals: list[tuple[int, list[float]]] = []
        self._first = 1
        self._throttle = Throttle(interval)

    # ---------------------------------------------------------------- control (UI thread)
    def stop(self) -> None:
        """Stop training after the current iteration (the result keeps what was recorded)."""
        self._stop.set()

    def _stopping(self) -> bool:
        return self._stop.is_set() or (self._job is not None and self._job.cancelled())

    def is_alive(self) -> bool:
        """The run's thread is still working."""
        return self._started and not self._ended.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True when it has (or never started)."""
        return not self._started or self._ended.wait(timeout)

    # ---------------------------------------------------------------- thread
    def __call__(self, job: Job) -> CompareResult | None:
        self._job = job
        self._started = True
        try:
            return self._run(job)
        finally:
            self.stage = "done"
            self._ended.set()

    def _run(self, job: Job) -> CompareResult | None:
        try:
            dataset = self._load(job)
        except _Cancelled:
            return None
        if self._stopping():
            return None
        with _TRAIN_LOCK:
            if self._stopping():
                return None
            self.stage = "train"
            job.report(Phase("train"))
            result = compare_optimizers(dataset, self.request.entries, self.request.config,
                                        progress=self._on_progress, cancel=self._stop)
        self._flush(result.total, result.seconds)
        self.result = result
        return result

    def _load(self, job: Job) -> Dataset:
        req = self.request
        spec = req.dataset
        key = dataset_key(spec, req.config.seed)
        if self.cached is not None and self.cached[0] == key:
            return self.cached[1]
        if self._stopping():  # stopped before the thread got here
            raise _Cancelled
        if spec == "mnist":
            folder = mnist_cache_dir()
            try:
                find_mnist_files(folder)
            except DatasetError:
                self.stage = "download"
                job.report(Phase("download"))
                try:
                    download_mnist(folder, mirrors=req.mirrors, files=req.files, progress=self._on_download,
                                   timeout=req.download_timeout)
                except DatasetError as exc:
                    raise DatasetError(
                        f"Could not download MNIST into {folder}. Check the network connection, or get the "
                        f"four files yourself and choose “MNIST from a folder”.\n\nDetails: {exc}") from None
            spec = f"mnist:{folder}"
        self.stage = "load"
        job.report(Phase("load"))
        dataset = load_dataset(spec, seed=req.config.seed, dtype=req.config.dtype, download=False)
        self.loaded = Loaded(key, dataset)
        job.report(self.loaded)
        return dataset

    def _on_download(self, name: str, done: int, total: int | None) -> None:
        if self._stopping():
            raise _Cancelled
        if self._throttle.ready() or (total is not None and done >= total):
            assert self._job is not None
            self._job.report(Download(Path(name).name, int(done), -1 if total is None else int(total)))

    def _on_progress(self, p: TrainProgress) -> None:
        self._rows.append([p.loss[e.label] for e in self.request.entries])
        if p.accuracy is not None:
            self._evals.append((p.iteration, [p.accuracy[e.label] for e in self.request.entries]))
        if self._throttle.ready():
            self._flush(p.total, p.elapsed)

    def _flush(self, total: int, elapsed: float) -> None:
        if not self._rows and not self._evals:
            return
        losses = np.asarray(self._rows, dtype=np.float64).reshape(len(self._rows), len(self.request.entries))
        chunk = Chunk(self._first, losses, self._evals, total, elapsed)
        self._first += len(self._rows)
        self._rows, self._evals = [], []
        assert self._job is not None
        self._job.report(chunk)
