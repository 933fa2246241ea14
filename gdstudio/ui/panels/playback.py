"""The playback bar: play/pause, step back, step, reset, speed, the timeline and a readout.

The buttons show the window's actions (one QAction each, from the actions table), so menus,
toolbar, keys and buttons all do the same thing. The timeline scrubs 0 … computed steps
(``Session.seek``); it follows the position and grows with the runs, at most every 100 ms while
playing (the table-driven throttle of :meth:`PlaybackBar.refresh`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QToolButton, QWidget

from gdstudio.export.schedule import format_loss
from gdstudio.model.session import Session
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.panels._bind import EntryFields

__all__ = ["PlaybackBar", "format_loss", "readout_text"]  # format_loss: re-exported from gdstudio.export.schedule

_THROTTLE_S = 0.1


class PlaybackBar(QWidget):
    """Transport buttons, speed, timeline and step / loss readout."""

    def __init__(self, session: Session, actions: Mapping[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("playback_bar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(4)
        self.buttons: dict[str, QToolButton] = {}
        for aid in ("reset", "step_back", "play", "step"):
            b = QToolButton()
            b.setDefaultAction(actions[aid])
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            b.setAutoRaise(True)
            self.buttons[aid] = b
            layout.addWidget(b)

        self.steps_per_tick = QSpinBox()
        self.steps_per_tick.setRange(1, 1000)
        self.steps_per_tick.setSuffix(" step/tick")
        self.steps_per_tick.setToolTip("Steps per clock tick (Ctrl+↑ / Ctrl+↓)")
        self.steps_per_tick.setKeyboardTracking(False)
        self.ticks_per_second = QSpinBox()
        self.ticks_per_second.setRange(1, 240)
        self.ticks_per_second.setSuffix(" tick/s")
        self.ticks_per_second.setToolTip("Clock ticks per second (the animation rate)")
        self.ticks_per_second.setKeyboardTracking(False)
        self.steps_per_tick.valueChanged.connect(lambda v: self._set_speed(steps_per_tick=v))
        self.ticks_per_second.valueChanged.connect(lambda v: self._set_speed(ticks_per_second=v))
        layout.addWidget(self.steps_per_tick)
        layout.addWidget(self.ticks_per_second)

        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline.setObjectName("timeline")
        self.timeline.setToolTip("Timeline: drag to scrub through the computed steps (Home / End)")
        self.timeline.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.timeline.setMinimumWidth(200)
        self.timeline.setTracking(True)
        self.timeline.valueChanged.connect(self._on_scrub)
        layout.addWidget(self.timeline, 1)

        self.readout = QLabel()
        self.readout.setObjectName("readout")
        self.readout.setToolTip("The step shown / the steps computed, and the selected run's loss there")
        self.readout.setMinimumWidth(250)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.readout)

        self._last = 0.0
        self._dirty = False
        # Field subscriptions: the playback fields it shows, the run list and each run's restart
        # (the steps computed change) and colour-free config (the readout's loss); runs_advanced
        # for new steps (they have no field).
        self._subs = Subscriptions()
        s = session
        pb = s.playback.events
        self._subs.connect(pb.position, self._on_position)
        self._subs.connect(s.runs_advanced, self.refresh)
        self._subs.connect(s.run_list.events.batch_inserted, self._on_list)
        self._subs.connect(s.run_list.events.batch_removed, self._on_list)
        self._entries = EntryFields(s, ("run",), self._on_restart)
        self._subs.connect(pb.selected, self._on_forced)
        self._subs.connect(pb.playing, self._on_forced)
        self._subs.connect(pb.steps_per_tick, self._on_speed)
        self._subs.connect(pb.ticks_per_second, self._on_speed)
        self._on_speed()
        self.refresh(force=True)

    def _set_speed(self, **kw: int) -> None:
        try:
            self.session.set_speed(**kw)
        except ValueError:
            self._on_speed()

    def _on_position(self, _new: int, _old: int) -> None:
        self.refresh()

    def _on_forced(self, _new: object, _old: object) -> None:
        self.refresh(force=True)

    def _on_list(self, _start: int, _stop: int, _entries: object) -> None:
        self.refresh(force=True)

    def _on_restart(self, _entry: object) -> None:
        self.refresh(force=True)

    def _on_speed(self, *_args: object) -> None:
        for box, value in ((self.steps_per_tick, self.session.steps_per_tick),
                           (self.ticks_per_second, self.session.ticks_per_second)):
            blocked = box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(blocked)

    def _on_scrub(self, value: int) -> None:
        if value != self.session.position:
            self.session.seek(value)

    def refresh(self, force: bool = False) -> None:
        """Update the timeline and readout (at most every 100 ms while playing)."""
        now = time.monotonic()
        if not force and self.session.playing and now - self._last < _THROTTLE_S:
            self._dirty = True
            return
        self._last, self._dirty = now, False
        s = self.session
        computed = s.computed_steps
        blocked = self.timeline.blockSignals(True)
        self.timeline.setMaximum(max(computed, 0))
        self.timeline.setValue(s.position)
        self.timeline.blockSignals(blocked)
        self.readout.setText(readout_text(s))

    def close_session(self) -> None:
        self._subs.disconnect_all()
        self._entries.close()


def readout_text(s: Session) -> str:
    """``step 12 / 40 · loss 3.2e-04`` for the selected run at the position shown."""
    text = f"step {s.position} / {s.computed_steps}"
    e = s.selected
    if e is not None and e.run is not None and len(e.run.history):
        k = min(s.position, len(e.run.history) - 1)
        loss = float(e.run.history.loss[k])
        text += f"  ·  loss {format_loss(loss)}"
    return text
