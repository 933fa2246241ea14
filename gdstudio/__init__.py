"""gdstudio: a desktop studio for watching, comparing and explaining gradient-descent optimizers.

From Python: ``import gdstudio as gd; gd.trace("rosenbrock", "adam", lr=0.05)`` (see
:mod:`gdstudio.api`). The API's names are loaded on first use (module ``__getattr__``), so
``import gdstudio`` stays fast and Qt-free; and the package itself imports none of its layers (ui
reads ``__version__`` here, and gdstudio.api sits above ui: a static import would cross the layers).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The public API, re-exported from :mod:`gdstudio.api`.
_API = ("Image", "Problem", "Run", "Session", "Video", "optimizers", "problem", "problems", "race", "render",
        "schedules", "show", "trace")

__all__ = ["__version__", *_API]

def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module("gdstudio.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gdstudio' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
