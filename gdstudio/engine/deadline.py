"""Run a function with a wall-clock deadline, in a worker thread that is abandoned (and stopped) past it.

Why a thread and not a subprocess: the work bounded here (SymPy differentiation and ``lambdify``)
produces Python objects (SymPy trees, generated NumPy functions) that cannot cross a process
boundary, so a subprocess would have to send text back and the parent would redo the very step
being bounded; a fresh interpreter also needs ~0.5–1 s to import SymPy, half the time budget, and
``fork`` is unsafe in a process that runs Qt threads. A thread costs ~0.1 ms.

What a thread cannot do is interrupt one long C call that holds the GIL (a multiplication of
integers with millions of digits): callers must keep every single operation small (the expression
parser bounds exact numbers *before* computing them) and use the deadline for long *sequences* of
Python-level work. Past the deadline the caller gets :class:`DeadlineExceeded` at once, and the
worker is asked to stop by an asynchronous exception (CPython's ``PyThreadState_SetAsyncExc``),
raised at its next bytecode boundary, so an abandoned worker does not keep burning a core.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DeadlineExceeded", "run_with_deadline"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The work did not finish within its deadline (the worker was abandoned and asked to stop)."""


class _Abandoned(BaseException):
    """Raised asynchronously inside an abandoned worker to unwind it (never seen by callers)."""


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> bool:
    """Schedule ``exc`` in thread ``ident`` (None clears a pending one); False where unsupported."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None or not hasattr(api, "PyThreadState_SetAsyncExc"):
        return False
    arg = ctypes.py_object(exc) if exc is not None else None
    return bool(api.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), arg) == 1)


class _Job(Generic[T]):
    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.state = "running"  # -> "done" (by the worker) or "abandoned" (by the caller)
        self.value: T | None = None
        self.error: BaseException | None = None

    def work(self) -> None:
        try:
            try:
                self.value = self.fn()
            except _Abandoned:
                return
            except BaseException as exc:  # handed to the caller, re-raised there
                self.error = exc
            with self.lock:
                if self.state == "abandoned":  # the stop request may still be pending: drop it
                    _set_async_exc(threading.get_ident(), None)
                    return
                self.state = "done"
            self.finished.set()
        except _Abandoned:  # arrived between fn() returning and the lock: nothing to hand back
            return


def run_with_deadline(fn: Callable[[], T], seconds: float, name: str = "deadline-worker") -> T:
    """``fn()`` if it returns within ``seconds`` of wall time, else :class:`DeadlineExceeded`.

    Exceptions raised by ``fn`` propagate unchanged. Thread-safe; each call uses its own daemon
    thread (a worker that cannot be stopped never keeps the interpreter from exiting).
    """
    job: _Job[T] = _Job(fn)
    thread = threading.Thread(target=job.work, name=name, daemon=True)
    thread.start()
    if not job.finished.wait(seconds):
        with job.lock:
            if job.state == "running":
                job.state = "abandoned"
                if thread.ident is not None:
                    _set_async_exc(thread.ident, _Abandoned)
        if job.state == "abandoned":
            raise DeadlineExceeded(f"took more than {seconds:g} s")
    if job.error is not None:
        raise job.error
    return job.value  # type: ignore[return-value]
