"""Hyperparameter specifications: the one description that panels, CLI, presets and tests read.

A :class:`HyperParam` knows its torch keyword name, its symbol for labels (η, γ, β₁, ε …), its
default, its valid range, whether a widget should use a log scale, and one line of help.
Validation messages are exact and name the parameter and the offending value, in the style of
torch.optim (``Invalid momentum value: -0.5``).

Per-row values: a number (or a component of a pair) may also be an (N, 1) float column, one value
per row, so N runs with different values advance in one call (:meth:`HyperParam.validate_rows`).
Each element is checked as a single value would be; the message adds the row: ``Invalid lr
value: -1.0 (must be in [0.0, inf)) in row 3``. Switches (``bool``) are one value for all rows.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Kind = Literal["float", "bool", "pair", "int", "choice", "triple"]
Value = float | bool | tuple[float, float] | int | str | tuple[float, float, float] | None
#: An (N, 1) float64 column of per-row values (read-only once validated).
Column = npt.NDArray[np.float64]
#: A number for every row, or one per row.
Real = float | Column
#: A validated value that may hold per-row columns.
RowValue = Real | bool | tuple[Real, Real] | int | str | tuple[Real, Real, Real] | None

__all__ = ["Column", "HyperParam", "Kind", "Real", "RowValue", "Value", "format_value", "parse_value"]


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter of an optimizer.

    ``low``/``high`` bound the valid values (``low_open``/``high_open`` make a bound exclusive);
    ``soft_low``/``soft_high`` are the range a slider offers by default (always finite).
    A ``pair`` (torch's ``betas``) applies the bounds to each component and has one symbol each;
    a ``triple`` (Muon's ``ns_coefficients``) likewise with three. An ``int`` (L-BFGS's
    ``max_iter``) is a whole number within the bounds; a ``choice`` (``line_search_fn``) one of
    ``choices`` (torch's None is the choice ``"none"``, or the default where there is none).
    Switches, ints and choices are one value for all rows; each number of a pair or triple may be a column.
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
    choices: tuple[str, ...] = field(default=())

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. ``[0, 1)``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        lo = "(" if self.low_open or math.isinf(self.low) else "["  # values must be finite
        hi = ")" if self.high_open or math.isinf(self.high) else "]"
        if self.kind == "int":
            return f"a whole number in {lo}{_whole(self.low)}, {_whole(self.high)}{hi}"
        return f"{lo}{_num(self.low)}, {_num(self.high)}{hi}"

    def _validate_other(self, value: object) -> Value:
        """:meth:`validate` for the kinds ``int``, ``choice`` and ``triple``."""
        if isinstance(value, str):
            return parse_value(self, value)
        if self.kind == "choice":
            if value is None:  # torch's None: the choice "none", or the default (Muon's adjust_lr_fn)
                fallback: Value = "none" if "none" in self.choices else self.default
                return fallback
            raise ValueError(f"Invalid {self.name} value: {value!r} (must be {self.range_text()})")
        if self.kind == "int":
            number: int | None = None
            if isinstance(value, (bool, np.bool_)):
                pass
            elif isinstance(value, numbers.Integral):
                number = operator.index(value)
            elif isinstance(value, numbers.Real) and float(value).is_integer():
                number = int(float(value))
            if number is None:
                raise ValueError(f"Invalid {self.name} value: {value!r} (must be {self.range_text()})")
            if not (number > self.low if self.low_open else number >= self.low) or not (
                number < self.high if self.high_open else number <= self.high
            ):
                raise ValueError(f"Invalid {self.name} value: {number} (must be {self.range_text()})")
            return number
        a, b, c = self._numbers(value, "three", "3.4,-4.8,2.0")
        return (a, b, c)

    def _numbers(self, value: object, count: str, example: str) -> tuple[float, ...]:
        """A pair's or triple's items as floats, each checked against the range, or ValueError."""
        message = f"Invalid {self.name} value: {value!r} (must be {count} numbers, e.g. {example})"
        try:
            if not isinstance(value, Iterable):
                raise TypeError
            items = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(message) from None
        if len(items) != {"two": 2, "three": 3}[count]:
            raise ValueError(message)
        for i, item in enumerate(items):
            self._check_scalar(item, f"{self.name}[{i}]")
        return items

    def _check_scalar(self, value: float, what: str) -> None:
        inside = (
            math.isfinite(value)
            and (value > self.low if self.low_open else value >= self.low)
            and (value < self.high if self.high_open else value <= self.high)
        )
        if not inside:
            raise ValueError(f"Invalid {what} value: {_num(value)} (must be in {self.range_text()})")

    def validate_rows(self, value: object) -> RowValue:
        """:meth:`validate`, also accepting an (N, 1) column for a number or a pair's component."""
        if type(value) is float and self.kind == "float":  # the common case, fast (schedules)
            self._check_scalar(value, self.name)
            return value
        if type(value) is bool and self.kind == "bool":
            return value
        if self.kind in ("bool", "int", "choice"):
            if isinstance(value, np.ndarray) and value.ndim > 0:
                raise ValueError(
                    f"Invalid {self.name} value: array of shape {value.shape} "
                    "(a switch is one value for all rows: per-row values are for numbers only)"
                )
            return self.validate(value)
        if self.kind == "float":
            if isinstance(value, np.ndarray) and value.ndim > 0:
                return self._column(value, self.name)
            return self.validate(value)
        if isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) and v.ndim > 0 for v in value):
            size, example = (3, "3.4445,-4.775,2.0315") if self.kind == "triple" else (2, "0.9,0.999")
            if len(value) != size:
                raise ValueError(f"Invalid {self.name} value: {len(value)} items (must be {size}, e.g. {example})")
            parts: list[Real] = []
            for i, item in enumerate(value):
                what = f"{self.name}[{i}]"
                if isinstance(item, np.ndarray) and item.ndim > 0:
                    parts.append(self._column(item, what))
                    continue
                if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
                    raise ValueError(f"Invalid {what} value: {item!r} (must be a number or an (N, 1) column)")
                number = float(item)
                self._check_scalar(number, what)
                parts.append(number)
            return (parts[0], parts[1]) if size == 2 else (parts[0], parts[1], parts[2])
        return self.validate(value)

    def _column(self, value: npt.NDArray[np.generic], what: str) -> Column:
        """``value`` as a validated read-only (N, 1) float64 column, or ValueError naming the row."""
        if value.ndim != 2 or value.shape[1] != 1 or value.shape[0] < 1:
            raise ValueError(
                f"Invalid {what} value: array of shape {value.shape} (must be a number or an (N, 1) column)"
            )
        if value.dtype.kind not in "fiu":
            raise ValueError(f"Invalid {what} value: array of {value.dtype} (must be numbers)")
        col: Column = value.astype(np.float64)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(col)
            ok &= col > self.low if self.low_open else col >= self.low
            ok &= col < self.high if self.high_open else col <= self.high
        if not ok.all():
            row = int(np.argmin(ok[:, 0]))
            raise ValueError(
                f"Invalid {what} value: {_num(float(col[row, 0]))} (must be in {self.range_text()}) in row {row}"
            )
        col.flags.writeable = False
        return col

    def validate(self, value: object) -> Value:
        """Return ``value`` converted to this parameter's kind, or raise ``ValueError``."""
        if self.kind in ("int", "choice", "triple"):
            return self._validate_other(value)
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, str):
                return parse_value(self, value)
            raise ValueError(f"Invalid {self.name} value: {value!r} (must be true or false)")
        if self.kind == "pair":
            if isinstance(value, str):
                return parse_value(self, value)
            first, second = self._numbers(value, "two", "0.9,0.999")
            return (first, second)
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
    if spec.kind == "choice":
        if raw.lower() in spec.choices:
            return raw.lower()
        raise ValueError(f"Invalid {spec.name} value: {text!r} (must be {spec.range_text()})")
    if spec.kind == "int":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"Invalid {spec.name} value: {text!r} (must be {spec.range_text()})") from None
        if not number.is_integer():
            raise ValueError(f"Invalid {spec.name} value: {text!r} (must be {spec.range_text()})")
        return spec.validate(int(number))
    if spec.kind == "triple":
        parts = [p.strip() for p in raw.strip("()[]").split(",")]
        try:
            triple = [float(p) for p in parts]
        except ValueError:
            triple = []
        if len(triple) != 3:
            raise ValueError(f"Invalid {spec.name} value: {text!r} (must be three numbers, e.g. 3.4,-4.8,2.0)")
        return spec.validate(triple)
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
    if value is None:  # a reference's "automatic" (Prodigy's beta3, AdEMAMix's t_alpha_beta3)
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return ",".join(_num(v) for v in value)
    return _num(value)


def _whole(x: float) -> str:
    """A bound of a whole-number range: ``1``, ``inf``."""
    return _num(x) if math.isinf(x) else str(int(x))


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))
