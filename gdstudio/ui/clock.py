"""The one clock of the studio: a QTimer whose every tick calls ``Session.tick()``.

It runs while the session plays (the ``playback.playing`` field) at ``playback.ticks_per_second``.
Ticks keep to a schedule (tick k is due at t0 + k / ticks_per_second; the timer waits the whole
milliseconds left), so 60 ticks/s means 60, not the 58.8 of a fixed 17 ms interval. A tick that
is late by more than one period drops the ticks it missed instead of firing a burst.
:attr:`Clock.fps` is the measured tick rate (an exponential average of the intervals between
ticks), shown in the status bar. No other timer drives the animation.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer

from gdstudio.model.session import Session

__all__ = ["Clock"]


class Clock(QObject):
    """Drives ``session.tick()`` while the session plays."""

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._running = False
        self._due = 0.0  # when the next tick is due (perf_counter seconds)
        self._last: float | None = None
        self._interval_avg: float | None = None
        self.ticks = 0
        pb = session.playback.events
        pb.playing.connect(self._on_playing)
        pb.ticks_per_second.connect(self._on_speed)
        self._on_speed()
        self._on_playing(session.playing)

    @property
    def period(self) -> float:
        """Seconds between two ticks."""
        return 1.0 / self.session.ticks_per_second

    @property
    def interval_ms(self) -> int:
        """The nominal interval, rounded to whole milliseconds."""
        return max(1, round(1000 * self.period))

    @property
    def active(self) -> bool:
        return self._running

    @property
    def fps(self) -> float:
        """Measured ticks per second (0 when stopped or not yet measured)."""
        if not self._running or not self._interval_avg:
            return 0.0
        return 1.0 / self._interval_avg

    def _on_speed(self, *_args: object) -> None:
        if self._running:
            self._due = time.perf_counter() + self.period
            self._schedule()

    def _on_playing(self, playing: bool, _old: bool = False) -> None:
        if playing and not self._running:
            self._running = True
            self._last = None
            self._interval_avg = None
            self._due = time.perf_counter() + self.period
            self._schedule()
        elif not playing:
            self._running = False
            self._timer.stop()

    def _schedule(self) -> None:
        wait = self._due - time.perf_counter()
        self._timer.start(max(0, int(wait * 1000)))  # whole ms, never late: the rest is absorbed

    def _on_timeout(self) -> None:
        if not self._running:
            return
        now = time.perf_counter()
        if now < self._due - 0.002:  # woke early (timer granularity): wait for the due time
            self._schedule()
            return
        if self._last is not None:
            dt = now - self._last
            self._interval_avg = dt if self._interval_avg is None else 0.9 * self._interval_avg + 0.1 * dt
        self._last = now
        period = self.period
        self._due += period
        if now - self._due > period:  # more than a tick behind: drop the missed ticks
            self._due = now + period
        self.ticks += 1
        self.session.tick()
        if self._running:
            self._schedule()

    def close(self) -> None:
        """Stop and disconnect from the session (call before the session outlives the window)."""
        self._running = False
        self._timer.stop()
        pb = self.session.playback.events
        pb.playing.disconnect(self._on_playing)
        pb.ticks_per_second.disconnect(self._on_speed)
