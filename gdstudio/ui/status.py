"""One throttle for status updates: at most one every :data:`STATUS_INTERVAL` seconds.

* :class:`Throttle` — Qt-free, for worker threads (no event loop): ``ready()`` is true at most once
  per interval (the first call is).
* :class:`ThrottledSignal` — for the UI thread: ``request()`` as often as the model changes;
  :attr:`ThrottledSignal.fired` is emitted at once when the interval has passed, otherwise once
  when it ends (the trailing update: the last request is never lost). ``request(force=True)``
  fires at once (a run was added, playback stopped)::

      self.status_updates = ThrottledSignal(parent=self)
      self.status_updates.fired.connect(self._update_status_labels)
      session.position_changed.connect(lambda _s: self.status_updates.request(force=not session.playing))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

__all__ = ["STATUS_INTERVAL", "Throttle", "ThrottledSignal"]

#: Seconds between two status updates while something changes every frame (10 Hz at most).
STATUS_INTERVAL = 0.1


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds of ``clock`` (the first call is)."""

    def __init__(self, interval: float = STATUS_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        if not interval >= 0:
            raise ValueError(f"Invalid throttle interval: {interval} (seconds ≥ 0)")
        self.interval, self.clock = float(interval), clock
        self._last = -math.inf

    def ready(self) -> bool:
        """True (and the interval restarts) when ``interval`` seconds passed since the last True."""
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False

    def remaining(self) -> float:
        """Seconds until ``ready()`` is true again (0 when it is now)."""
        return max(0.0, self._last + self.interval - self.clock())

    def mark(self) -> None:
        """An update happened now (a forced one): the interval restarts."""
        self._last = self.clock()

    def reset(self) -> None:
        """The next ``ready()`` is true."""
        self._last = -math.inf


class ThrottledSignal(QObject):
    """Emits :attr:`fired` at most once per ``interval``, with a trailing emit for requests that
    came too soon (``trailing=False`` drops them instead)."""

    fired = Signal()

    def __init__(self, interval: float = STATUS_INTERVAL, parent: QObject | None = None, *, trailing: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.throttle = Throttle(interval, clock)
        self.trailing = trailing
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self.count = 0  # times fired (for tests and diagnostics)

    @property
    def interval(self) -> float:
        return self.throttle.interval

    @property
    def pending(self) -> bool:
        """A trailing emit is scheduled."""
        return self._timer.isActive()

    def request(self, force: bool = False) -> bool:
        """Ask for an update; True when :attr:`fired` was emitted now."""
        if force:
            self.throttle.mark()
        elif not self.throttle.ready():
            if self.trailing and not self._timer.isActive():
                self._timer.start(max(1, math.ceil(self.throttle.remaining() * 1000)))
            return False
        self._timer.stop()
        self._fire()
        return True

    def flush(self) -> None:
        """Emit a pending trailing update now."""
        if self._timer.isActive():
            self._timer.stop()
            self.throttle.mark()
            self._fire()

    def cancel(self) -> None:
        """Forget a pending trailing update."""
        self._timer.stop()

    def _on_timeout(self) -> None:
        self.throttle.mark()
        self._fire()

    def _fire(self) -> None:
        self.count += 1
        self.fired.emit()
