"""One helper for work off the UI thread: a generation counter, a worker and a done signal.

:class:`Background` runs a callable ``fn(job)`` on a worker thread and delivers its outcome on the
UI thread through Qt signals. Every :meth:`Background.start` (and every :meth:`Background.cancel`)
bumps a *generation*; an outcome whose generation is no longer current is dropped, so only the
newest request ever reaches the window (the problem changed while its surface was computed, a
race was started again, a load was cancelled)::

    self.work = Background(self)                       # a Qt child of the owner
    self.work.done.connect(self._on_done)              # (job, result), current generation only
    self.work.failed.connect(self._on_failed)          # (job, exception raised by fn)
    self.work.progress.connect(self._on_progress)      # (job, value) from job.report(value)
    job = self.work.start(lambda job: problem.grid(256, bounds), context=problem)

``fn`` runs on the worker thread: it may read immutable inputs only, calls ``job.report(value)``
to send progress, and polls ``job.cancelled()`` (or passes ``job.cancel_event`` to code that
takes a :class:`threading.Event`) to stop early. ``job.context`` carries whatever the UI thread
needs when the result arrives (the problem it was computed for, the file name being opened).

Two kinds of worker:

* ``daemon=False`` (default): a :class:`QThreadPool` owned by the helper (``max_threads`` at a
  time, 1 by default: requests queue, and queued stale ones are dropped before they start).
  :meth:`close` waits for the running job (a pool must not be destroyed under a running task).
* ``daemon=True``: a daemon :class:`threading.Thread` per job, for work that may block beyond
  reach (a download stuck in ``connect()``): :meth:`close` cancels it and walks away after the
  timeout, which a QThread cannot do without aborting the process.

A worker that emits after the owner was destroyed is ignored (the Qt object is gone).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

__all__ = ["Background", "Job"]


class Job:
    """One request: its generation, a cancel flag, progress reporting and the caller's context."""

    def __init__(self, generation: int, context: Any, relay: _Relay) -> None:
        self.generation = generation
        self.context = context
        #: Set when the job was cancelled or superseded; pass it to code that takes an Event.
        self.cancel_event = threading.Event()
        self._relay = relay
        self.result: object = None  # the outcome once the job ended (a result or an Exception)

    def cancelled(self) -> bool:
        """The request was cancelled or superseded: stop early (the outcome would be dropped)."""
        return self.cancel_event.is_set()

    def report(self, value: object) -> None:
        """Send progress to the UI thread (dropped there when this job is no longer current)."""
        with contextlib.suppress(RuntimeError):  # the owner is gone
            self._relay.progress.emit(self, value)

    def _run(self, fn: Callable[[Job], object]) -> None:
        failed = False
        try:
            result: object = fn(self)
        except Exception as exc:  # never let an exception escape a worker thread: reported on the UI thread
            result, failed = exc, True
        self.result = result
        with contextlib.suppress(RuntimeError):  # the owner is gone (the window closed while working)
            self._relay.ended.emit(self, result, failed)

    def __repr__(self) -> str:
        return f"Job(generation={self.generation}, cancelled={self.cancelled()})"


class _Relay(QObject):
    """Signals emitted on the worker thread, queued to the UI thread (the relay lives there)."""

    ended = Signal(object, object, bool)  # job, result or exception, failed
    progress = Signal(object, object)  # job, value


class _Task(QRunnable):
    def __init__(self, job: Job, fn: Callable[[Job], object]) -> None:
        super().__init__()
        self.job, self.fn = job, fn

    def run(self) -> None:
        if self.job.cancelled():
            return  # superseded while queued: nobody waits for it
        self.job._run(self.fn)


class Background(QObject):
    """Runs ``fn(job)`` off the UI thread; only the newest request's outcome is delivered."""

    #: ``(job, result)``: ``fn`` returned (current generation only).
    done = Signal(object, object)
    #: ``(job, exception)``: ``fn`` raised (current generation only).
    failed = Signal(object, object)
    #: ``(job, value)``: ``job.report(value)`` (current generation only).
    progress = Signal(object, object)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 1, daemon: bool = False,
                 name: str = "gdstudio-background") -> None:
        super().__init__(parent)
        self.daemon, self.name = daemon, name
        # The pool is created before the relay: Qt deletes children in creation order, so the pool
        # (which waits for its tasks) goes first and no task is left to emit on a deleted relay.
        self.pool: QThreadPool | None = None
        if not daemon:
            self.pool = QThreadPool(self)
            self.pool.setMaxThreadCount(max(1, int(max_threads)))
        self._relay = _Relay(self)
        self._relay.ended.connect(self._on_ended)
        self._relay.progress.connect(self._on_progress)
        self._generation = 0
        self._job: Job | None = None  # the current request while it runs
        self._threads: list[threading.Thread] = []

    # ---------------------------------------------------------------- requests
    @property
    def generation(self) -> int:
        """The current generation (bumped by every start and cancel)."""
        return self._generation

    @property
    def job(self) -> Job | None:
        """The current request, None when idle (or cancelled)."""
        return self._job

    @property
    def busy(self) -> bool:
        """A current request is running (or queued)."""
        return self._job is not None

    def is_current(self, job: Job) -> bool:
        return job.generation == self._generation and not job.cancelled()

    def start(self, fn: Callable[[Job], object], context: Any = None) -> Job:
        """Supersede the current request (cancelled, its outcome dropped) and run ``fn(job)``."""
        self.cancel()
        job = Job(self._generation, context, self._relay)
        self._job = job
        if self.pool is not None:
            self.pool.start(_Task(job, fn))
        else:
            thread = threading.Thread(target=job._run, args=(fn,), name=f"{self.name}-{job.generation}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()
        return job

    def cancel(self) -> Job | None:
        """Drop the current request: its cancel flag is set and its outcome will be ignored.
        Returns the job that was current (None when idle). Also use it to invalidate a request
        whose result is no longer wanted (the UI thread computed the answer itself)."""
        job, self._job = self._job, None
        self._generation += 1
        if job is not None:
            job.cancel_event.set()
        if self.pool is not None:
            self.pool.clear()  # tasks still queued never start
        return job

    def wait(self, timeout_ms: int = -1) -> bool:
        """Wait for the worker threads; True when none is running (for tests and closing)."""
        if self.pool is not None:
            return bool(self.pool.waitForDone(timeout_ms))
        timeout = None if timeout_ms < 0 else timeout_ms / 1000
        for t in self._threads:
            t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        return not self._threads

    def close(self, timeout_ms: int = 2000) -> bool:
        """Cancel and wait up to ``timeout_ms`` (a daemon thread still running is left behind).
        Returns True when no worker is left running."""
        self.cancel()
        return self.wait(timeout_ms)

    # ---------------------------------------------------------------- UI thread
    def _on_ended(self, job: Job, result: object, failed: bool) -> None:
        if job is not self._job or not self.is_current(job):
            return  # stale: superseded or cancelled while it ran
        self._job = None
        if failed:
            self.failed.emit(job, result)
        else:
            self.done.emit(job, result)

    def _on_progress(self, job: Job, value: object) -> None:
        if job is self._job and self.is_current(job):
            self.progress.emit(job, value)
