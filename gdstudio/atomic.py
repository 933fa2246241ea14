"""Atomic file writes: a temporary file in the target folder, renamed over the target at the end.

On any error (or cancel) the temporary file is removed, so a half-written file never remains
and an existing target is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_target", "match_mode"]


def check_target(path: str | os.PathLike[str], what: str = "output") -> Path:
    """``path`` as a Path if its folder exists and it is not a folder itself, else ValueError."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"Invalid {what} path: {target} (is a folder, give a file name)")
    if not target.parent.is_dir():
        raise ValueError(f"Invalid {what} path: {target} (folder {target.parent} does not exist)")
    return target


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on normal exit it replaces ``target``.

    ``suffix`` defaults to the target's own suffix (encoders choose formats by extension).
    Raises OSError with the folder named when the folder does not exist or is not writable.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"Folder does not exist: {folder}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
                                    dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        match_mode(tmp, target)
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def match_mode(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Give a temporary file or folder the permissions of the ``target`` it will replace, or the
    umask default for a new one (mkstemp makes 0600 files, mkdtemp 0700 folders)."""
    tmp = Path(tmp)
    try:
        mode = Path(target).stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = (0o777 if tmp.is_dir() else 0o666) & ~umask
    os.chmod(tmp, mode)


def _fsync(path: Path) -> None:
    """Flush a file's data to disk before the rename makes it visible."""
    if not path.is_file():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))
