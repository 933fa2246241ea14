"""Finding the data files in ``gdstudio/_resources/`` (datasets, presets) from code.

They ship as package data inside the ``gdstudio`` package (pyproject:
``[tool.setuptools.package-data]``), so a wheel installed anywhere — a venv, the system site, a
``pip install --user`` site — and an editable install of the source tree all find them beside this
module. Where they are looked for, in order:

1. ``$GDSTUDIO_RESOURCES`` when set (a folder laid out like ``gdstudio/_resources/``);
2. ``gdstudio/_resources/`` inside the package.

The first folder that holds the requested file wins, so one file is never read from two places.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resource_dirs", "resource_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dirs() -> list[Path]:
    """The candidate resource folders, in search order (they need not exist)."""
    dirs: list[Path] = []
    env = os.environ.get("GDSTUDIO_RESOURCES")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(_PACKAGE_DIR / "_resources")
    return dirs


def resource_path(*parts: str) -> Path:
    """The path of ``_resources/<parts...>``, or FileNotFoundError naming every place searched."""
    if not parts:
        raise ValueError("resource_path needs at least one path component")
    rel = Path(*parts)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"Invalid resource path: {rel} (must be relative, inside gdstudio/_resources/)")
    searched = []
    for base in resource_dirs():
        candidate = base / rel
        if candidate.exists():
            return candidate
        searched.append(str(candidate))
    raise FileNotFoundError(f"Resource not found: {rel} (looked in: {', '.join(searched)})")
