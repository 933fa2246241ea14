"""Ctrl+C (SIGINT) and SIGTERM for the command-line tools: stop the work cleanly.

While :func:`handle_signals` is active both signals raise :class:`Interrupted` (a
KeyboardInterrupt carrying the signal number), so the ``finally`` blocks and the writers' abort
remove every temporary; the command then prints one line and exits with 128 + the signal number
(130 for SIGINT, 143 for SIGTERM). Inside :func:`deferred` (code that drives Qt or a worker
thread, where an exception at an arbitrary bytecode is unsafe) a signal is only recorded, and
:func:`check` raises it at the next safe point (e.g. between two frames).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TypeVar, cast

__all__ = ["Interrupted", "check", "deferred", "handle_signals", "pending", "run_cancellable"]

T = TypeVar("T")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"defer": 0, "pending": 0}


class Interrupted(KeyboardInterrupt):
    """The command was interrupted by ``signum``; exit status ``128 + signum``."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def status(self) -> int:
        return 128 + self.signum


def _handler(signum: int, _frame: FrameType | None) -> None:
    if _state["defer"]:
        _state["pending"] = _state["pending"] or signum
        return
    raise Interrupted(signum)


def pending() -> int:
    """The signal received inside :func:`deferred` and not yet raised (0: none)."""
    return _state["pending"]


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived while deferred."""
    signum = _state["pending"]
    if signum:
        _state["pending"] = 0
        raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Record signals instead of raising them; call :func:`check` at safe points."""
    _state["defer"] += 1
    try:
        yield
    finally:
        _state["defer"] -= 1


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (only from the main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    _state["pending"] = 0
    for s in _SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _state["pending"] = 0


def run_cancellable(work: Callable[[threading.Event], T], *, name: str) -> tuple[T | None, BaseException | None, int]:
    """Run ``work(cancel)`` on a daemon thread while this thread waits; Ctrl+C / SIGTERM here only
    set ``cancel``, so the work stops at its next check and what it made is kept.

    Returns ``(result, error, signum)``: the work's return value (None if it raised), the exception
    it raised (None if none) and the first signal received (0: none). The wait is on an Event, not
    ``Thread.join``: an interrupted join can leave ``is_alive()`` wrong before Python 3.13.
    """
    cancel = threading.Event()
    done = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = work(cancel)
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    interrupted = 0
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt as exc:
            cancel.set()
            interrupted = interrupted or getattr(exc, "signum", signal.SIGINT)
    worker.join()
    error = box.get("error")
    result = cast("T | None", box.get("result"))
    return result, error if isinstance(error, BaseException) else None, int(interrupted)
