"""Shared test setup: tests/landscape_fixture.py as the module ``gdstudio_landscape_fixture`` (tests in
engine, model and ui import it by that name: with --import-mode=importlib test folders are not packages)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "gdstudio_landscape_fixture"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("landscape_fixture.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)
