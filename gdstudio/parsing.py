"""Parsing of user values shared by the command line, the model and session files. Qt-free.

:func:`parse_floats` is the one float-list parser: the CLI's ``--start=-7,2`` / ``--data-x 1,2,3``
(text), a run's start or a problem's data given as a sequence (the model), and the lists of a
session file (JSON). It raises :class:`FloatListError` carrying what was wrong and where, so each
caller words its own one-line message (``Invalid --start: …``, ``runs[0].start: expected …``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from gdstudio.limits import brief

__all__ = ["FloatListError", "parse_floats"]

#: Why a value is not a float list, in the order they are looked for.
NOT_A_LIST, NOT_A_NUMBER, EMPTY, NOT_FINITE = "not a list", "not a number", "empty", "not finite"


class FloatListError(ValueError):
    """A value that is not a list of (finite) numbers.

    ``reason``: one of ``"not a list"``, ``"not a number"``, ``"empty"`` (a blank item of a text list,
    or no items in text), ``"not finite"``; ``index``: the offending item's position (None for the
    whole value); ``item``: the offending item (the whole value for ``"not a list"``).
    """

    def __init__(self, reason: str, index: int | None, item: object) -> None:
        where = "" if index is None else f" at index {index}"
        super().__init__(f"Invalid number list: {reason}{where} ({brief(item)})")
        self.reason = reason
        self.index = index
        self.item = item


def _real(item: object) -> float | None:
    """``item`` as a float if it is a real number (not a bool, not text), else None; a number too
    large for a float becomes inf (so it is reported as "not finite")."""
    if isinstance(item, bool) or not isinstance(item, numbers.Real):
        return None  # NumPy's bool_ is not a numbers.Real either
    try:
        return float(item)
    except OverflowError:
        return math.inf


def _text_number(part: str) -> float | None:
    try:
        return float(part)
    except ValueError:
        return None


def parse_floats(value: str | Iterable[object], *, finite: bool = True) -> tuple[float, ...]:
    """The floats of ``value``: comma-separated text (``"1, 2.5"``; blanks around items ignored) or
    an iterable of real numbers (ints, floats, NumPy scalars; bools and strings are refused).

    With ``finite`` (the default) nan and ±inf are refused too. Raises :class:`FloatListError`
    for the first problem found, looking for non-numbers first, then blank text items (text with
    no items at all is ``"empty"`` at index 0), then non-finite values.
    """
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        parsed = [None if p == "" else _text_number(p) for p in parts]
        bad = next((i for i, (p, v) in enumerate(zip(parts, parsed, strict=True)) if p != "" and v is None), None)
        if bad is not None:
            raise FloatListError(NOT_A_NUMBER, bad, parts[bad])
        blank = next((i for i, p in enumerate(parts) if p == ""), None)
        if blank is not None:
            raise FloatListError(EMPTY, blank, parts[blank])
        items: list[object] = list(parts)
        values = [v for v in parsed if v is not None]
    else:
        if isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
            raise FloatListError(NOT_A_LIST, None, value)
        items = list(value)
        converted = [_real(item) for item in items]
        bad = next((i for i, v in enumerate(converted) if v is None), None)
        if bad is not None:
            raise FloatListError(NOT_A_NUMBER, bad, items[bad])
        values = [v for v in converted if v is not None]
    if finite:
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is not None:
            raise FloatListError(NOT_FINITE, bad, items[bad])
    return tuple(values)
