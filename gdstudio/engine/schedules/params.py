"""Keyword specifications of the learning-rate schedules (torch.optim.lr_scheduler names).

A :class:`ScheduleParam` is the schedules' sibling of :class:`gdstudio.engine.hyperparams.HyperParam`:
the same fields for widgets (symbol, help, bounds, soft slider range, log scale) and the same
validation messages (``Invalid gamma value: -1.0 (must be in (0, inf))``), plus the kinds a
schedule needs and an optimizer does not: whole numbers (``step_size``), lists of whole numbers
(``milestones``), a choice among words (``mode``) and an automatic default (``None``: derived
from the run, e.g. ``T_max`` is the run's number of steps; ``auto`` says how).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["ParamKind", "ParamValue", "ScheduleParam", "format_param_value"]

ParamKind = str  # "float" | "int" | "bool" | "choice" | "ints"
#: A validated keyword value; None only for a keyword whose default is automatic.
ParamValue = float | int | bool | str | tuple[int, ...] | None

_KINDS = ("float", "int", "bool", "choice", "ints")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class ScheduleParam:
    """One keyword of a schedule, with torch's name.

    ``low``/``high`` bound numbers (``*_open`` makes a bound exclusive; for ``ints`` they bound
    each item); ``soft_low``/``soft_high`` are the range a slider offers (finite); ``choices``
    lists the words a ``choice`` accepts. ``default`` None means automatic, described by ``auto``
    (e.g. "the run's steps"); None is then also a valid value, written ``auto`` on a command line.
    """

    name: str
    symbol: str
    default: ParamValue
    help: str
    kind: ParamKind = "float"
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    soft_low: float = 0.0
    soft_high: float = 1.0
    log: bool = False
    choices: tuple[str, ...] = ()
    auto: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Invalid kind: {self.kind!r} (must be one of {', '.join(_KINDS)})")

    @property
    def optional(self) -> bool:
        """True when the default is automatic (None)."""
        return self.default is None

    def range_text(self) -> str:
        """What a valid value looks like, e.g. ``[0, 1)`` or ``one of min, max``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        lo = "(" if self.low_open or math.isinf(self.low) else "["
        hi = ")" if self.high_open or math.isinf(self.high) else "]"
        whole = self.kind in ("int", "ints")
        interval = f"{lo}{_num(self.low, whole)}, {_num(self.high, whole)}{hi}"
        if self.kind == "int":
            return "a whole number in " + interval
        if self.kind == "ints":
            return "whole numbers in " + interval + ", e.g. 30,80"
        return interval

    def _fail(self, value: object) -> ValueError:
        shown = _num(value) if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)
        return ValueError(f"Invalid {self.name} value: {shown} (must be {self._must()})")

    def _must(self) -> str:
        text = self.range_text()
        if self.kind == "float":
            text = "in " + text
        return text + (" or auto" if self.optional else "")

    def _inside(self, x: float) -> bool:
        return (
            math.isfinite(x)
            and (x > self.low if self.low_open else x >= self.low)
            and (x < self.high if self.high_open else x <= self.high)
        )

    def validate(self, value: object) -> ParamValue:
        """``value`` converted to this keyword's kind, or ``ValueError`` naming it; text is parsed."""
        if isinstance(value, str):
            return self.parse(value)
        if value is None:
            if self.optional:
                return None
            raise self._fail(value)
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise self._fail(value)
        if self.kind == "choice":
            raise self._fail(value)
        if self.kind == "ints":
            if isinstance(value, (bool, np.bool_, numbers.Number)):
                items: list[object] = [value]
            else:
                try:
                    items = list(value)  # type: ignore[call-overload]
                except TypeError:
                    raise self._fail(value) from None
            if not items:
                raise self._fail(value)
            return tuple(sorted(self._whole(item, value) for item in items))
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise self._fail(value)
        if self.kind == "int":
            return self._whole(value, value)
        number = float(value)
        if not self._inside(number):
            raise self._fail(number)
        return number

    def _whole(self, item: object, shown: object) -> int:
        """``item`` as a whole number within the bounds (integral floats are accepted)."""
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
            raise self._fail(shown)
        number = float(item)
        if not (math.isfinite(number) and number == int(number) and self._inside(number)):
            raise self._fail(shown)
        return int(number)

    def parse(self, text: str) -> ParamValue:
        """Command-line text (``0.1``, ``30``, ``30,80``, ``true``, ``cos``, ``auto``) to a valid value."""
        raw = text.strip()
        low = raw.lower()
        if self.optional and low in ("auto", "none"):
            return None
        if self.kind == "bool":
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise self._fail(text)
        if self.kind == "choice":
            if raw in self.choices:
                return raw
            raise self._fail(text)
        if self.kind == "ints":
            parts = [p.strip() for p in raw.strip("()[]").split(",")]
            try:
                numbers_ = [float(p) for p in parts]
            except ValueError:
                raise self._fail(text) from None
            if not all(math.isfinite(n) and n == int(n) for n in numbers_):
                raise self._fail(text)
            try:
                return self.validate(numbers_)
            except ValueError:
                raise self._fail(text) from None
        try:
            number = float(raw)
        except ValueError:
            raise self._fail(text) from None
        if self.kind == "int":
            if not (math.isfinite(number) and number == int(number)):
                raise self._fail(text)
            return self._whole(number, text)
        return self.validate(number)

    def default_text(self) -> str:
        """The default as text (``auto`` plus its rule for an automatic default)."""
        if self.default is None:
            return f"auto ({self.auto})" if self.auto else "auto"
        return format_param_value(self.default)


def format_param_value(value: ParamValue) -> str:
    """Short text for a value, accepted back by :meth:`ScheduleParam.parse`."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return _num(value)
    return str(value)


def _num(x: object, whole: bool = False) -> str:
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return str(int(x)) if whole and x == int(x) else repr(x)
    return str(x)
