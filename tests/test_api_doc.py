"""The examples of docs/api.md are doctests: every one runs and prints what the page says."""

from __future__ import annotations

import doctest
from pathlib import Path

API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_api_page_examples() -> None:
    result = doctest.testfile(str(API_PAGE), module_relative=False, verbose=False, report=True,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10, f"docs/api.md has {result.attempted} examples; the page lost its doctests"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in docs/api.md failed (see the output)"
