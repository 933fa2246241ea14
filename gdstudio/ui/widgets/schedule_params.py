"""Editors of learning-rate schedule keywords, generated from the registry's :class:`ScheduleParam` specs.

One editor per keyword: a spin box for numbers (log-stepping for log-scale ones such as η_min),
a whole-number spin box for step counts, a line edit for lists of steps (``30,80``), a combo for
choices and a check box for flags. A keyword whose default is automatic (``T_max``: the run's
steps after the warm-up; ``max_lr``: the optimizer's η) has an ``auto`` check box. An editor emits
:attr:`ScheduleParamEditor.committed` with the new value (None = auto) when an edit is finished;
it does not validate: the panel does, through ``validate_schedule``.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from gdstudio.engine.schedules import ScheduleParam, format_param_value
from gdstudio.ui.widgets.hyperparams import ExactSpinBox
from gdstudio.ui.widgets.numbers import NumberSpinBox, nice_step

__all__ = ["ScheduleParamEditor", "schedule_param_tooltip"]

ParamValue = object


def schedule_param_tooltip(spec: ScheduleParam) -> str:
    """Help, range and default of one keyword."""
    return (f"{spec.symbol}  {spec.name}\n{spec.help}\n"
            f"valid: {spec.range_text()}{' or auto' if spec.optional else ''}   default: {spec.default_text()}")


class ScheduleParamEditor(QWidget):
    """The editor of one schedule keyword; :attr:`label` is its row label (symbol + torch's name)."""

    committed = Signal(object)

    def __init__(self, spec: ScheduleParam, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setObjectName(f"schedule_{spec.name}")
        tip = schedule_param_tooltip(spec)
        self.label = QLabel(f"<b>{spec.symbol}</b>&nbsp; {spec.name}")
        self.label.setToolTip(tip)
        self.setToolTip(tip)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.spin: NumberSpinBox | None = None
        self.line: QLineEdit | None = None
        self.combo: QComboBox | None = None
        self.check: QCheckBox | None = None
        if spec.kind == "bool":
            self.check = QCheckBox("on")
            self.check.toggled.connect(lambda _=None: self.committed.emit(self.value()))
            layout.addWidget(self.check)
            layout.addStretch(1)
        elif spec.kind == "choice":
            self.combo = QComboBox()
            self.combo.addItems(list(spec.choices))
            self.combo.activated.connect(lambda _=None: self.committed.emit(self.value()))
            layout.addWidget(self.combo, 1)
        elif spec.kind == "ints":
            self.line = QLineEdit()
            self.line.setPlaceholderText("steps, e.g. 30,80")
            self.line.editingFinished.connect(self._on_line)
            layout.addWidget(self.line, 1)
        else:
            whole = spec.kind == "int"
            lo = spec.low if math.isfinite(spec.low) else -1e12
            hi = spec.high if math.isfinite(spec.high) else 1e12
            step = 1.0 if whole else nice_step(spec.soft_high - spec.soft_low)
            self.spin = ExactSpinBox(log=spec.log and not whole, low=lo, high=hi, step=step)
            self.spin.valueChanged.connect(lambda _=None: self.committed.emit(self.value()))
            layout.addWidget(self.spin, 1)
        for w in (self.check, self.combo, self.line, self.spin):
            if w is not None:
                w.setToolTip(tip)
        #: For an automatic default: checked = None (the rule in ``spec.auto``).
        self.auto: QCheckBox | None = None
        if spec.optional:
            self.auto = QCheckBox("auto")
            self.auto.setToolTip(f"auto: {spec.auto}" if spec.auto else "auto")
            self.auto.toggled.connect(self._on_auto)
            layout.addWidget(self.auto)
        self._last_text = ""
        self._resolved = False  # shown auto, but holding a number (the run's length resolved)
        self.set_value(spec.default)

    # ---------------------------------------------------------------- values
    def value(self) -> ParamValue:
        """The value shown: None for auto, a tuple for a list of steps (text that does not parse
        is returned as text, so the panel's validation names it)."""
        if self.auto is not None and self.auto.isChecked():
            return None
        if self.check is not None:
            return self.check.isChecked()
        if self.combo is not None:
            return self.combo.currentText()
        if self.line is not None:
            text = self.line.text()
            try:
                return self.spec.parse(text)
            except ValueError:
                return text
        assert self.spin is not None
        return round(self.spin.value()) if self.spec.kind == "int" else self.spin.value()

    def set_value(self, value: ParamValue, *, auto: bool | None = None) -> None:
        """Show ``value`` without emitting :attr:`committed`; ``auto`` overrides the auto box (a
        keyword resolved from the run's steps is a number but still automatic)."""
        is_auto = value is None if auto is None else auto
        self._resolved = is_auto and value is not None
        if self.auto is not None:
            blocked = self.auto.blockSignals(True)
            self.auto.setChecked(is_auto)
            self.auto.blockSignals(blocked)
            self._enable_value(not is_auto)
        if value is None:
            value = self._shown_when_auto()
        if self.check is not None:
            blocked = self.check.blockSignals(True)
            self.check.setChecked(bool(value))
            self.check.blockSignals(blocked)
        elif self.combo is not None:
            blocked = self.combo.blockSignals(True)
            self.combo.setCurrentText(str(value))
            self.combo.blockSignals(blocked)
        elif self.line is not None:
            shown = format_param_value(tuple(value) if isinstance(value, list) else value)  # type: ignore[arg-type]
            self.line.setText(shown)
            self._last_text = shown
        elif self.spin is not None:
            blocked = self.spin.blockSignals(True)
            self.spin.setValue(float(value))  # type: ignore[arg-type]
            self.spin.blockSignals(blocked)

    def _shown_when_auto(self) -> ParamValue:
        """The number shown (greyed) while a keyword is automatic."""
        if self.spec.kind == "int":
            return max(int(self.spec.low), 1)
        return self.spec.soft_high if self.spec.log else self.spec.soft_low

    # ---------------------------------------------------------------- edits
    def _enable_value(self, on: bool) -> None:
        for w in (self.spin, self.line, self.combo, self.check):
            if w is not None:
                w.setEnabled(on)

    def _on_auto(self, checked: bool) -> None:
        self._enable_value(not checked)
        if not checked and self._resolved:  # the number shown is already the value: edit it to change it
            return
        self.committed.emit(self.value())

    def _on_line(self) -> None:
        assert self.line is not None
        if self.line.text() == self._last_text:  # focus left without a change
            return
        self._last_text = self.line.text()
        self.committed.emit(self.value())
