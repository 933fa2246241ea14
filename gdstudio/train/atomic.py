"""Atomic writes: a temporary file in the target's folder, renamed over the target when complete.

A failed or interrupted write removes the temporary file and leaves any existing target untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "check_writable_target"]


def check_writable_target(path: str | os.PathLike[str], what: str = "output") -> Path:
    """``path`` as a Path if its folder exists and it is not a folder itself, else ValueError."""
    target = Path(path).expanduser()
    folder = target.parent
    if target.is_dir():
        raise ValueError(f"Invalid {what} path: {target} (is a folder, give a file name)")
    if not folder.is_dir():
        raise ValueError(f"Invalid {what} path: {target} (folder {folder} does not exist)")
    return target


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then ``os.replace`` it into place."""
    target = Path(path).expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target
