"""Number entry: a spin box that shows any magnitude (1e-8 … 1e3) and linear / log sliders.

:class:`NumberSpinBox` formats with ``%g`` (so ε = 1e-08 is not rounded to 0) and steps
multiplicatively when ``log`` is set (×10^(1/4) per arrow press). :class:`ValueSlider` maps an
integer QSlider onto [lo, hi] linearly, :class:`LogSlider` onto [lo, hi] in log10.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QSlider, QWidget

__all__ = ["LOG_TICKS_PER_DECADE", "LogSlider", "NumberSpinBox", "ValueSlider", "nice_step"]

_BIG = 1e12


def nice_step(span: float) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) near span / 100."""
    if not math.isfinite(span) or span <= 0:
        return 0.1
    raw = span / 100
    exp = math.floor(math.log10(raw))
    base = raw / 10**exp
    mult = 1 if base < 1.5 else 2 if base < 3.5 else 5
    return mult * 10**exp


class NumberSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox showing ``%.6g`` and accepting any float text (``1e-8``, ``0.001``)."""

    def __init__(self, parent: QWidget | None = None, *, log: bool = False, low: float = -_BIG,
                 high: float = _BIG, step: float = 0.1) -> None:
        super().__init__(parent)
        self._log = log
        self.setDecimals(30)  # values are never rounded; the text is formatted by textFromValue
        self.setRange(max(low, -_BIG), min(high, _BIG))
        self.setSingleStep(step)
        self.setKeyboardTracking(False)  # valueChanged on Enter / focus-out / arrows, not per key
        self.setAccelerated(True)
        self.setCorrectionMode(QDoubleSpinBox.CorrectionMode.CorrectToNearestValue)
        self.setMinimumWidth(76)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip().replace("−", "-"))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:  # type: ignore[override]
        t = text.strip().replace("−", "-")
        try:
            v = float(t)
        except ValueError:
            partial = t in ("", "-", "+", ".", "-.", "+.") or t.lower().endswith(("e", "e-", "e+"))
            state = QValidator.State.Intermediate if partial else QValidator.State.Invalid
            return (state, text, pos)
        if self.minimum() <= v <= self.maximum():
            return (QValidator.State.Acceptable, text, pos)
        return (QValidator.State.Intermediate, text, pos)

    def stepBy(self, steps: int) -> None:
        if not self._log:
            super().stepBy(steps)
            return
        v = self.value()
        if v <= 0:
            v = max(self.minimum(), 1e-8)
            if v <= 0:
                v = 1e-8
        self.setValue(v * 10 ** (steps / 4))


class ValueSlider(QSlider):
    """A horizontal slider over [lo, hi] with ``ticks`` integer positions (linear)."""

    def __init__(self, lo: float, hi: float, parent: QWidget | None = None, ticks: int = 1000) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._lo, self._hi = float(lo), float(hi)
        self.setRange(0, ticks)
        self.setSingleStep(max(1, ticks // 100))
        self.setPageStep(max(1, ticks // 10))

    def _to_unit(self, value: float) -> float:
        return (value - self._lo) / (self._hi - self._lo)

    def _from_unit(self, u: float) -> float:
        return self._lo + u * (self._hi - self._lo)

    def real_value(self, position: int | None = None) -> float:
        """The number at ``position`` (default: the current position)."""
        pos = self.value() if position is None else position
        return self._from_unit(pos / self.maximum())

    def set_real_value(self, value: float) -> None:
        """Move the handle to ``value`` (clamped), without emitting signals."""
        if not math.isfinite(value):
            return
        u = min(1.0, max(0.0, self._to_unit(value)))
        blocked = self.blockSignals(True)
        self.setValue(round(u * self.maximum()))
        self.blockSignals(blocked)


#: Log-slider positions per decade: one position changes the value by 10^(1/200) ≈ 1.2 %.
LOG_TICKS_PER_DECADE = 200


class LogSlider(ValueSlider):
    """A slider whose positions are evenly spaced in log10 between lo > 0 and hi.

    By default it has :data:`LOG_TICKS_PER_DECADE` positions per decade (at least 600), so a
    position is a ~1.2 % change of the value; an arrow key moves 1/20 decade (~12 %), Page Up/Down
    a quarter decade.
    """

    def __init__(self, lo: float, hi: float, parent: QWidget | None = None, ticks: int | None = None) -> None:
        if not (0 < lo < hi):
            raise ValueError(f"Invalid log slider range: ({lo}, {hi}) (need 0 < lo < hi)")
        decades = math.log10(hi) - math.log10(lo)
        per_decade: float = LOG_TICKS_PER_DECADE
        if ticks is None:
            ticks = max(600, round(per_decade * decades))
        per_decade = ticks / decades
        super().__init__(math.log10(lo), math.log10(hi), parent, ticks)
        self.setSingleStep(max(1, round(per_decade / 20)))
        self.setPageStep(max(1, round(per_decade / 4)))

    def _to_unit(self, value: float) -> float:
        if value <= 0:
            return 0.0
        return super()._to_unit(math.log10(value))

    def _from_unit(self, u: float) -> float:
        return 10 ** super()._from_unit(u)
