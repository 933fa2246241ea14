"""Finding the data files in ``resources/`` (datasets, presets, icons) from code.

Where they are looked for, in order:

1. ``$GDSTUDIO_RESOURCES`` when set (a folder laid out like ``resources/``);
2. the source tree: ``resources/`` beside the ``gdstudio/`` package folder (a git checkout or an
   editable install — the layout this repository uses);
3. an installed wheel: ``<prefix>/share/gdstudio/resources`` (``sys.prefix`` for a venv or
   system install, ``site.USER_BASE`` for ``pip install --user``), where the wheel's
   data-files put them (pyproject: ``[tool.setuptools.data-files]``
   ``"share/gdstudio/resources/datasets" = ["resources/datasets/*"]``);
4. ``gdstudio/_resources/`` inside the package, for builds that copy them there as package data.

The first folder that holds the requested file wins, so one file is never read from two places.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

__all__ = ["resource_dirs", "resource_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dirs() -> list[Path]:
    """The candidate resource folders, in search order (they need not exist)."""
    dirs: list[Path] = []
    env = os.environ.get("GDSTUDIO_RESOURCES")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(_PACKAGE_DIR.parent / "resources")
    for prefix in (sys.prefix, site.USER_BASE):
        if prefix:
            dirs.append(Path(prefix) / "share" / "gdstudio" / "resources")
    dirs.append(_PACKAGE_DIR / "_resources")
    return dirs


def resource_path(*parts: str) -> Path:
    """The path of ``resources/<parts...>``, or FileNotFoundError naming every place searched."""
    if not parts:
        raise ValueError("resource_path needs at least one path component")
    rel = Path(*parts)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"Invalid resource path: {rel} (must be relative, inside resources/)")
    searched = []
    for base in resource_dirs():
        candidate = base / rel
        if candidate.exists():
            return candidate
        searched.append(str(candidate))
    raise FileNotFoundError(f"Resource not found: {rel} (looked in: {', '.join(searched)})")
