"""Hyperparameter specifications: the one description that panels, CLI, presets and tests read.

A :class:`HyperParam` knows its torch keyword name, its symbol for labels (η, γ, β₁, ε …), its
default, its valid range, whether a widget should use a log scale, and one line of help.
Validation messages are exact and name the parameter and the offending value, in the style of
torch.optim (``Invalid momentum value: -0.5``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["float", "bool", "pair"]
Value = float | bool | tuple[float, float]

__all__ = ["HyperParam", "Kind", "Value", "format_value", "parse_value"]


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter of an optimizer.

    ``low``/``high`` bound the valid values (``low_open``/``high_open`` make a bound exclusive);
    ``soft_low``/``soft_high`` are the range a slider offers by default (always finite).
    A ``pair`` (torch's ``betas``) applies the bounds to each component and has one symbol each.
    """

    name: str
    symbol: str
    default: Value
    help: str
    kind: Kind = "float"
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    soft_low: float = 0.0
    soft_high: float = 1.0
    log: bool = False
    label: str = ""
    symbols: tuple[str, ...] = field(default=())

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. ``[0, 1)``."""
        if self.kind == "bool":
            return "true or false"
        lo = "(" if self.low_open or math.isinf(self.low) else "["  # values must be finite
        hi = ")" if self.high_open or math.isinf(self.high) else "]"
        return f"{lo}{_num(self.low)}, {_num(self.high)}{hi}"

    def _check_scalar(self, value: float, what: str) -> None:
        inside = (
            math.isfinite(value)
            and (value > self.low if self.low_open else value >= self.low)
            and (value < self.high if self.high_open else value <= self.high)
        )
        if not inside:
            raise ValueError(f"Invalid {what} value: {_num(value)} (must be in {self.range_text()})")

    def validate(self, value: object) -> Value:
        """Return ``value`` converted to this parameter's kind, or raise ``ValueError``."""
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, str):
                return parse_value(self, value)
            raise ValueError(f"Invalid {self.name} value: {value!r} (must be true or false)")
        if self.kind == "pair":
            if isinstance(value, str):
                return parse_value(self, value)
            try:
                items = tuple(float(v) for v in value)  # type: ignore[union-attr]
            except (TypeError, ValueError):
                raise ValueError(
                    f"Invalid {self.name} value: {value!r} (must be two numbers, e.g. 0.9,0.999)"
                ) from None
            if len(items) != 2:
                raise ValueError(f"Invalid {self.name} value: {value!r} (must be two numbers, e.g. 0.9,0.999)")
            for i, item in enumerate(items):
                self._check_scalar(item, f"{self.name}[{i}]")
            return (items[0], items[1])
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            if isinstance(value, str):
                return parse_value(self, value)
            raise ValueError(f"Invalid {self.name} value: {value!r} (must be a number)")
        number = float(value)
        self._check_scalar(number, self.name)
        return number


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_value(spec: HyperParam, text: str) -> Value:
    """Parse command-line text (``0.01``, ``true``, ``0.9,0.999``) into a validated value."""
    raw = text.strip()
    if spec.kind == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"Invalid {spec.name} value: {text!r} (must be true or false)")
    if spec.kind == "pair":
        parts = [p.strip() for p in raw.strip("()[]").split(",")]
        try:
            pair = [float(p) for p in parts]
        except ValueError:
            pair = []
        if len(pair) != 2:
            raise ValueError(f"Invalid {spec.name} value: {text!r} (must be two numbers, e.g. 0.9,0.999)")
        return spec.validate(pair)
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"Invalid {spec.name} value: {text!r} (must be a number)") from None
    return spec.validate(number)


def format_value(value: Value) -> str:
    """Short text for a value, as accepted back by :func:`parse_value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_num(v) for v in value)
    return _num(value)


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))
