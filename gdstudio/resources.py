"""Finding the data files in ``resources/`` (datasets, presets, icons) from code.

Where they are looked for, in order:

1. ``$GDSTUDIO_RESOURCES`` when set (a folder laid out like ``resources/``);
2. the source tree: ``resources/`` beside the ``gdstudio/`` package folder (a git checkout or an
   editable install — the layout this repository uses);
3. an installed wheel: ``gdstudio/_resources/`` inside the package, which is where a build
   that maps the top-level ``resources/`` folder into the package as package data puts it.

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
    dirs.append(_PACKAGE_DIR.parent / "resources")
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
