"""The one clock of the studio: a QTimer whose every tick calls ``Session.tick()``.

It runs while the session plays (``playing_changed``), at ``1000 / ticks_per_second`` ms
(``speed_changed``). :attr:`Clock.fps` is the measured tick rate (an exponential average of the
intervals between ticks), shown in the status bar. No other timer drives the animation.
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
        self._timer.timeout.connect(self._on_timeout)
        self._last: float | None = None
        self._interval_avg: float | None = None
        self.ticks = 0
        session.playing_changed.connect(self._on_playing)
        session.speed_changed.connect(self._on_speed)
        self._on_speed()
        self._on_playing(session.playing)

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    @property
    def fps(self) -> float:
        """Measured ticks per second (0 when stopped or not yet measured)."""
        if not self._timer.isActive() or not self._interval_avg:
            return 0.0
        return 1.0 / self._interval_avg

    def _on_speed(self) -> None:
        self._timer.setInterval(max(1, round(1000 / self.session.ticks_per_second)))

    def _on_playing(self, playing: bool) -> None:
        if playing:
            self._last = None
            self._interval_avg = None
            self._timer.start()
        else:
            self._timer.stop()

    def _on_timeout(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            dt = now - self._last
            self._interval_avg = dt if self._interval_avg is None else 0.9 * self._interval_avg + 0.1 * dt
        self._last = now
        self.ticks += 1
        self.session.tick()

    def close(self) -> None:
        """Stop and disconnect from the session (call before the session outlives the window)."""
        self._timer.stop()
        self.session.playing_changed.disconnect(self._on_playing)
        self.session.speed_changed.disconnect(self._on_speed)
