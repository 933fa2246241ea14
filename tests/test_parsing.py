"""gdstudio.parsing.parse_floats: the one float-list parser (CLI text, model sequences, session lists)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.cli_common import CliError, float_option
from gdstudio.parsing import FloatListError, parse_floats


@pytest.mark.parametrize("value, expected", [
    ("1, 2.5", (1.0, 2.5)),
    (" -7 ,2 ", (-7.0, 2.0)),
    ("1e-3", (0.001,)),
    ([1, 2.5, np.float32(0.5), np.int64(3)], (1.0, 2.5, 0.5, 3.0)),
    (np.array([1.0, -2.0]), (1.0, -2.0)),
    ((), ()),
])
def test_floats_from_text_and_sequences(value, expected) -> None:
    got = parse_floats(value)
    assert got == expected and all(type(v) is float for v in got)


@pytest.mark.parametrize("value, reason, index, item", [
    ("", "empty", 0, ""),
    ("1,,2", "empty", 1, ""),
    ("1,,x", "not a number", 2, "x"),      # a non-number is reported before a blank
    ("1,nan", "not finite", 1, "nan"),
    ("a,inf", "not a number", 0, "a"),     # ... and before a non-finite value
    ([1.0, True], "not a number", 1, True),  # bools are not numbers here
    ([np.bool_(False)], "not a number", 0, np.bool_(False)),
    (["1"], "not a number", 0, "1"),      # nor is text inside a sequence
    ([1.0, None], "not a number", 1, None),
    ([math.inf], "not finite", 0, math.inf),
    ([10**400], "not finite", 0, 10**400),  # too large for a float
    (b"1,2", "not a list", None, b"1,2"),
    (3.0, "not a list", None, 3.0),
])
def test_the_error_says_what_and_where(value, reason, index, item) -> None:
    with pytest.raises(FloatListError) as info:
        parse_floats(value)
    assert (info.value.reason, info.value.index) == (reason, index)
    assert info.value.item == item or info.value.item is item
    assert isinstance(info.value, ValueError)


def test_non_finite_values_pass_when_asked() -> None:
    got = parse_floats([math.nan, -math.inf, 1], finite=False)
    assert math.isnan(got[0]) and got[1:] == (-math.inf, 1.0)
    assert parse_floats("nan,inf", finite=False)[1] == math.inf


def test_a_huge_list_is_quoted_briefly() -> None:
    bad = [*range(100_000), "x"]
    with pytest.raises(FloatListError) as info:
        parse_floats(bad)
    assert info.value.index == 100_000 and len(str(info.value)) < 200


@pytest.mark.parametrize("text, message", [
    ("a,b", "Invalid --start: 'a,b' (expected comma-separated numbers; 'a' is not a number)"),
    ("1,", "Invalid --start: '1,' (expected comma-separated numbers)"),
    ("1,nan", "Invalid --start: '1,nan' (every value must be a finite number)"),
])
def test_the_cli_words_its_own_messages(text, message) -> None:
    with pytest.raises(CliError) as info:
        float_option(text, "--start")
    assert str(info.value) == message and info.value.status == 2
    assert float_option("-7, 2", "--start") == [-7.0, 2.0]
