"""The Training lab's worker: load (or download) the data, then race the optimizers, off the UI thread.

A run is one :class:`TrainingWorker` on a daemon Python thread. It talks to the window only
through the Qt signals of :class:`WorkerSignals` (queued to the UI thread), each tagged with the
run's *generation* so the window ignores a run it has given up on. Why a Python thread and not a
QThread: :func:`~gdstudio.train.compare.compare_optimizers` already stops on a
``threading.Event``; and a download stuck in ``connect()`` cannot be interrupted, so the window
must be able to walk away from it — a Python daemon thread can be left to time out on its own,
while a QThread object destroyed before its thread ends aborts the process.

Updates are throttled: per-iteration losses are buffered in the worker and sent as one
:class:`Chunk` at most every :data:`UPDATE_INTERVAL` seconds (≤ 20 Hz), plus once at the end.

BLAS threads: ``compare_optimizers`` sets OpenBLAS to ``config.threads`` (1) for the run and
restores the previous count when it returns. The setting is process-wide, so overlapping runs
would restore each other's values in the wrong order (and leave the GUI at 1 thread for good);
:data:`_TRAIN_LOCK` makes runs of this process strictly sequential, and a run cancelled while it
waited for the lock never touches the setting.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

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

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "UPDATE_INTERVAL",
    "Chunk",
    "Throttle",
    "TrainRequest",
    "TrainingWorker",
    "WorkerSignals",
    "dataset_key",
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


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds of ``clock`` (the first call is)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = float(interval), clock
        self._last = -math.inf

    def ready(self) -> bool:
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


class WorkerSignals(QObject):
    """Signals from a worker thread; the first argument of each is the run's generation."""

    phase = Signal(int, str)              # "download", "load" or "train", when it begins
    download = Signal(int, str, int, int)  # file name, bytes done, bytes total (−1: unknown)
    loaded = Signal(int, object, object)  # dataset key, Dataset
    progress = Signal(int, object)        # Chunk
    finished = Signal(int, object)        # CompareResult (``cancelled`` when stopped)
    failed = Signal(int, str)             # a message for the user


class _Cancelled(Exception):
    """Raised from the download progress callback to abandon a download (not an OSError, so the
    mirror loop does not swallow it; the partial file is removed by the downloader)."""


class TrainingWorker:
    """One run: ``start()`` it, ``cancel()`` it; results arrive through :attr:`signals`.

    ``cached`` is a (key, dataset) pair the window kept from an earlier run; it is reused when
    the key matches, so pressing Start twice does not re-read 47 MB of MNIST.
    """

    def __init__(self, generation: int, request: TrainRequest, cached: tuple[object, Dataset] | None = None,
                 interval: float = UPDATE_INTERVAL) -> None:
        self.generation = generation
        self.request = request
        self.cached = cached
        self.interval = interval
        self.signals = WorkerSignals()
        self.stage = "idle"  # idle -> download/load -> train -> done
        self.result: CompareResult | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gdstudio-training-{generation}", daemon=True)
        self._rows: list[list[float]] = []
        self._evals: list[tuple[int, list[float]]] = []
        self._first = 1
        self._throttle = Throttle(interval)

    # ---------------------------------------------------------------- control
    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---------------------------------------------------------------- thread
    def _emit(self, signal_name: str, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the receiver is gone (the window was destroyed)
            getattr(self.signals, signal_name).emit(self.generation, *args)

    def _run(self) -> None:
        try:
            dataset = self._load()
            if self._cancel.is_set():
                return
            with _TRAIN_LOCK:
                if self._cancel.is_set():
                    return
                self.stage = "train"
                self._emit("phase", "train")
                result = compare_optimizers(dataset, self.request.entries, self.request.config,
                                            progress=self._on_progress, cancel=self._cancel)
            self._flush(result.total, result.seconds)
            self.result = result
            self._emit("finished", result)
        except _Cancelled:
            pass
        except DatasetError as exc:
            self._emit("failed", str(exc))
        except ValueError as exc:
            self._emit("failed", str(exc))
        except MemoryError:
            self._emit("failed", "Out of memory: the network or the dataset is too large for this machine "
                                 "(try fewer or smaller hidden layers)")
        except Exception as exc:  # never let a run take the window down
            self._emit("failed", f"{type(exc).__name__}: {exc}")
        finally:
            self.stage = "done"

    def _load(self) -> Dataset:
        req = self.request
        spec = req.dataset
        key = dataset_key(spec, req.config.seed)
        if self.cached is not None and self.cached[0] == key:
            return self.cached[1]
        if self._cancel.is_set():  # stopped before the thread got here
            raise _Cancelled
        if spec == "mnist":
            folder = mnist_cache_dir()
            try:
                find_mnist_files(folder)
            except DatasetError:
                self.stage = "download"
                self._emit("phase", "download")
                try:
                    download_mnist(folder, mirrors=req.mirrors, files=req.files, progress=self._on_download,
                                   timeout=req.download_timeout)
                except DatasetError as exc:
                    raise DatasetError(
                        f"Could not download MNIST into {folder}. Check the network connection, or get the "
                        f"four files yourself and choose “MNIST from a folder”.\n\nDetails: {exc}") from None
            spec = f"mnist:{folder}"
        self.stage = "load"
        self._emit("phase", "load")
        dataset = load_dataset(spec, seed=req.config.seed, dtype=req.config.dtype, download=False)
        self._emit("loaded", key, dataset)
        return dataset

    def _on_download(self, name: str, done: int, total: int | None) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        if self._throttle.ready() or (total is not None and done >= total):
            self._emit("download", Path(name).name, int(done), -1 if total is None else int(total))

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
        self._emit("progress", chunk)
