"""Hyperparameter editors generated from the registry's :class:`HyperParam` specs.

One editor per spec: a log slider + spin box for log-scale numbers (η, ε), a linear slider +
spin box for other numbers and whole numbers, a check box for flags, a combo for choices, two
spin boxes for pairs (β₁, β₂) and three for triples. Spin boxes keep the exact value they were
given (a QDoubleSpinBox rounds to its decimals: Adafactor's ε₁ = 2.220446049250313e-16 must come
back as it went in, not as 2.22044604925031e-16). An editor
emits :attr:`ParamEditor.committed` with the new value when the user finishes an edit: on
releasing a dragged slider (drags only preview in the spin box: that is the debounce), on Enter
or focus-out in a spin box, on a click. It does not validate: the panel does, with the spec.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

from gdstudio.engine.hyperparams import HyperParam, Value, format_value
from gdstudio.ui.widgets.numbers import LogSlider, NumberSpinBox, ValueSlider, nice_step

__all__ = ["ParamEditor", "make_param_editor", "param_tooltip"]


def param_tooltip(spec: HyperParam, rule: str = "") -> str:
    """Help, range and default of ``spec``, then the optimizer's update rule."""
    head = f"{spec.symbol}  {spec.label or spec.name}  ({spec.name})\n{spec.help}\n"
    head += f"valid: {spec.range_text()}   default: {format_value(spec.default)}"
    if spec.log:
        head += "   (log-scale slider)"
    return f"{head}\n\n{rule}" if rule else head


class ExactSpinBox(NumberSpinBox):
    """A :class:`NumberSpinBox` whose :meth:`value` is the exact float last set, until edited."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._exact: tuple[float, float] | None = None  # (shown, exact)
        self._sets = 0

    def setValue(self, value: float) -> None:
        self._sets += 1
        mine = self._sets
        super().setValue(value)  # may emit valueChanged, whose slots may set another value
        if mine == self._sets:
            self._exact = (super().value(), float(value))

    def value(self) -> float:
        shown = super().value()
        if self._exact is not None and shown == self._exact[0]:
            return self._exact[1]
        return shown


class ParamEditor(QWidget):
    """The editor of one hyperparameter; :attr:`label` is its row label (symbol + name)."""

    committed = Signal(object)

    def __init__(self, spec: HyperParam, rule: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setObjectName(f"param_{spec.name}")
        tip = param_tooltip(spec, rule)
        self.label = QLabel(f"<b>{spec.symbol}</b>&nbsp; {spec.label or spec.name}")
        self.label.setToolTip(tip)
        self.setToolTip(tip)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.slider: ValueSlider | None = None
        self.spins: list[NumberSpinBox] = []
        self.check: QCheckBox | None = None
        self.combo: QComboBox | None = None
        if spec.kind == "bool":
            self.check = QCheckBox("on")
            self.check.setToolTip(tip)
            self.check.toggled.connect(lambda _=None: self.committed.emit(self.value()))
            layout.addWidget(self.check)
            layout.addStretch(1)
        elif spec.kind == "choice":
            self.combo = QComboBox()
            self.combo.addItems(list(spec.choices))
            self.combo.setToolTip(tip)
            self.combo.activated.connect(lambda _=None: self.committed.emit(self.value()))
            layout.addWidget(self.combo, 1)
        elif spec.kind in ("pair", "triple"):
            n = 2 if spec.kind == "pair" else 3
            symbols = spec.symbols or tuple(f"{spec.symbol}{'₁₂₃'[i]}" for i in range(n))
            for sym in symbols:
                lab = QLabel(sym)
                lab.setToolTip(tip)
                spin = self._spin(spec, tip)
                layout.addWidget(lab)
                layout.addWidget(spin, 1)
                self.spins.append(spin)
        else:
            if spec.log:
                lo = spec.soft_low if spec.soft_low > 0 else 1e-6
                self.slider = LogSlider(lo, spec.soft_high)
            else:
                self.slider = ValueSlider(spec.soft_low, spec.soft_high)
            self.slider.setToolTip(tip)
            self.slider.setMinimumWidth(80)
            spin = self._spin(spec, tip)
            self.spins.append(spin)
            self.slider.sliderMoved.connect(self._on_slider_moved)
            self.slider.sliderReleased.connect(self._on_slider_released)
            self.slider.valueChanged.connect(self._on_slider_value)
            layout.addWidget(self.slider, 3)
            layout.addWidget(spin, 2)
        #: For a number whose reference allows None (Prodigy's β₃, AdEMAMix's T): "auto" = None.
        self.auto: QCheckBox | None = None
        if getattr(spec, "optional", False):
            self.auto = QCheckBox("auto")
            self.auto.setToolTip(f"{tip}\n\nauto: the reference's None")
            self.auto.toggled.connect(self._on_auto)
            layout.addWidget(self.auto)
        self.reset_button = QToolButton()
        self.reset_button.setText("↺")
        self.reset_button.setAutoRaise(True)
        self.reset_button.setToolTip(f"Reset {spec.symbol} to its default, {format_value(spec.default)}")
        self.reset_button.clicked.connect(self.reset_to_default)
        layout.addWidget(self.reset_button)
        self.set_value(spec.default)

    def _spin(self, spec: HyperParam, tip: str) -> NumberSpinBox:
        lo = spec.low if math.isfinite(spec.low) else -1e12
        hi = spec.high if math.isfinite(spec.high) else 1e12
        step = 1.0 if spec.kind == "int" else nice_step(spec.soft_high - spec.soft_low)
        spin = ExactSpinBox(log=spec.log, low=lo, high=hi, step=step)
        spin.setToolTip(tip)
        spin.valueChanged.connect(self._on_spin)
        return spin

    # ---------------------------------------------------------------- values
    def value(self) -> Value:
        if self.auto is not None and self.auto.isChecked():
            return None  # type: ignore[return-value]
        if self.check is not None:
            return self.check.isChecked()
        if self.combo is not None:
            return self.combo.currentText()
        if self.spec.kind in ("pair", "triple"):
            return tuple(spin.value() for spin in self.spins)  # type: ignore[return-value]
        if self.spec.kind == "int":
            return round(self.spins[0].value())
        return self.spins[0].value()

    def set_value(self, value: Value) -> None:
        """Show ``value`` without emitting :attr:`committed`."""
        if self.check is not None:
            blocked = self.check.blockSignals(True)
            self.check.setChecked(bool(value))
            self.check.blockSignals(blocked)
            return
        if self.combo is not None:
            blocked = self.combo.blockSignals(True)
            self.combo.setCurrentText(str(value))
            self.combo.blockSignals(blocked)
            return
        if self.auto is not None:
            blocked = self.auto.blockSignals(True)
            self.auto.setChecked(value is None)
            self.auto.blockSignals(blocked)
            self._enable_number(value is not None)
            if value is None:  # the number shown for when "auto" is turned off
                value = self.spec.soft_low
        values = tuple(value) if isinstance(value, tuple | list) else (float(value),)  # type: ignore[arg-type]
        for spin, v in zip(self.spins, values, strict=False):
            blocked = spin.blockSignals(True)
            spin.setValue(float(v))
            spin.blockSignals(blocked)
        if self.slider is not None:
            self.slider.set_real_value(float(values[0]))

    def reset_to_default(self) -> None:
        self.set_value(self.spec.default)
        self.committed.emit(self.value())

    # ---------------------------------------------------------------- edits
    def _enable_number(self, on: bool) -> None:
        for widget in (self.slider, *self.spins):
            if widget is not None:
                widget.setEnabled(on)

    def _on_auto(self, checked: bool) -> None:
        self._enable_number(not checked)
        self.committed.emit(self.value())

    def _on_spin(self, _value: float) -> None:
        if self.slider is not None:
            self.slider.set_real_value(self.spins[0].value())
        self.committed.emit(self.value())

    def _on_slider_moved(self, position: int) -> None:
        """While dragging: preview the number in the spin box only (applied on release)."""
        assert self.slider is not None
        spin = self.spins[0]
        blocked = spin.blockSignals(True)
        spin.setValue(_round_sig(self.slider.real_value(position)))
        spin.blockSignals(blocked)

    def _on_slider_released(self) -> None:
        self.committed.emit(self.value())

    def _on_slider_value(self, position: int) -> None:
        """Keyboard / page clicks on the slider apply at once; drags wait for the release."""
        assert self.slider is not None
        if self.slider.isSliderDown():
            return
        self._on_slider_moved(position)
        self.committed.emit(self.value())


def _round_sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def make_param_editor(spec: HyperParam, rule: str = "", parent: QWidget | None = None) -> ParamEditor:
    """The editor for ``spec`` (its kind decides the widgets)."""
    editor = ParamEditor(spec, rule, parent)
    editor.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return editor
