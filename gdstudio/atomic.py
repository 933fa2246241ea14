"""The one output helper: every file gdstudio writes (trace, train, render, the window's exports,
session saves) goes through :func:`resolve_output` and :class:`Output`.

What happens depends on what is at the path, never replacing something that is not a file:

* a regular file or a new path: a temporary file (or folder) beside it, renamed over it at the
  end (atomic replace). On any error or cancel the temporary is removed, so a half-written file
  never remains and an existing target is left untouched;
* a symbolic link: followed (link by link) and its *target* is replaced atomically; a dangling
  link creates its target, the link itself is never replaced;
* a character device (``/dev/null``, ``/dev/full``), a FIFO, or a path through ``/proc`` (such as
  ``/dev/stdout`` → ``/proc/self/fd/1``): written directly, as ``cat > path`` would;
* ``-`` (where the caller allows it): standard output;
* a folder, a block device or a socket: refused with a clear message (:class:`OutputPathError`).

The checks run before any work starts (callers resolve their outputs first), so a bad path is
reported in one line at once, never after a long computation.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

__all__ = [
    "STDOUT",
    "Output",
    "OutputPathError",
    "OutputTarget",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_target",
    "match_mode",
    "resolve_output",
    "same_output",
    "write_output",
]

#: The path that means standard output where the caller allows it (``--out -``).
STDOUT = "-"
_MAX_LINKS = 40


class OutputPathError(OSError, ValueError):
    """An output path that cannot be written (a folder, a missing or read-only folder, …).

    Both an OSError and a ValueError, so callers catching either report it in one line."""

    def __str__(self) -> str:  # OSError(str) would print as "[Errno None] ..." with two args
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class OutputTarget:
    """Where and how an output is written.

    ``path``: the file that receives the data (a symlink's final target; the device or FIFO
    itself); ``mode``: ``"replace"`` (atomic, an existing regular file), ``"new"`` (atomic, nothing
    there yet), ``"direct"`` (device, FIFO, /proc path: written in place) or ``"stdout"``.
    """

    given: str
    path: Path
    mode: str

    @property
    def atomic(self) -> bool:
        return self.mode in ("replace", "new")

    @property
    def direct(self) -> bool:
        return self.mode in ("direct", "stdout")


def _under_proc(path: Path) -> bool:
    return path.parts[:2] == ("/", "proc")


def _describe(st: os.stat_result) -> str:
    m = st.st_mode
    if stat.S_ISDIR(m):
        return "a folder"
    if stat.S_ISBLK(m):
        return "a block device (a disk)"
    if stat.S_ISSOCK(m):
        return "a socket"
    return "not a regular file"


def resolve_output(target: str | os.PathLike[str], what: str = "output", *, folder: bool = False,
                   allow_stdout: bool = False) -> OutputTarget:
    """Classify ``target`` (see the module docstring); OutputPathError naming ``what`` and the
    path when it cannot be written. ``folder=True``: the output is a folder (PNG frames), so an
    existing folder is accepted and a device is refused. Creates nothing."""
    given = os.fspath(target)
    if isinstance(given, bytes):  # pragma: no cover - gdstudio passes text paths
        given = os.fsdecode(given)
    if not given.strip():
        raise OutputPathError(f"Invalid {what} path: {given!r} (empty; give a file name)")
    if given == STDOUT and allow_stdout:
        return OutputTarget(given, Path(STDOUT), "stdout")
    p = Path(os.path.abspath(os.path.expanduser(given)))
    st: os.stat_result | None = None
    for _ in range(_MAX_LINKS + 1):
        if p.name in ("", ".", ".."):
            raise OutputPathError(f"Invalid {what} path: {given} (is a folder, give a file name)")
        parent = Path(os.path.realpath(p.parent))
        p = parent / p.name
        if _under_proc(p):  # /dev/stdout, /dev/fd/N: the process's own descriptors
            return OutputTarget(given, p, "direct")
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            st = None
            break
        except NotADirectoryError:
            raise OutputPathError(f"Invalid {what} path: {given} ({_first_non_folder(p)} is not a folder)") from None
        except OSError as exc:
            raise OutputPathError(f"Invalid {what} path: {given} ({exc.strerror or exc})") from None
        if not stat.S_ISLNK(st.st_mode):
            break
        p = parent / os.readlink(p)  # relative links are relative to the link's folder
    else:
        raise OutputPathError(f"Invalid {what} path: {given} (too many levels of symbolic links)")
    if st is None:
        _check_folder(p.parent, given, what)
        return OutputTarget(given, p, "new")
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        if folder:
            _check_folder(p.parent, given, what)
            return OutputTarget(given, p, "replace")
        raise OutputPathError(f"Invalid {what} path: {given} (is a folder, give a file name)")
    if folder and not stat.S_ISREG(mode):
        raise OutputPathError(f"Invalid {what} path: {given} ({_describe(st)}; PNG frames need a folder)")
    if stat.S_ISREG(mode):
        _check_folder(p.parent, given, what)
        return OutputTarget(given, p, "replace")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        if not os.access(p, os.W_OK):
            raise OutputPathError(f"Invalid {what} path: {given} (not writable)")
        return OutputTarget(given, p, "direct")
    raise OutputPathError(f"Invalid {what} path: {given} (is {_describe(st)}; refusing to write to it)")


def _first_non_folder(p: Path) -> Path:
    for parent in reversed(p.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return p.parent


def _check_folder(folder: Path, given: str, what: str) -> None:
    """The folder that will hold the temporary must exist and be writable."""
    if not folder.is_dir():
        if folder.exists() or any(q.exists() and not q.is_dir() for q in folder.parents):
            raise OutputPathError(f"Invalid {what} path: {given} ({_first_non_folder(folder / 'x')} is not a folder)")
        raise OutputPathError(f"Invalid {what} path: {given} (folder {folder} does not exist)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"Invalid {what} path: {given} (folder {folder} is not writable)")


def check_target(path: str | os.PathLike[str], what: str = "output", *, allow_stdout: bool = False) -> Path:
    """``path`` as a Path if it can be written (see :func:`resolve_output`), else OutputPathError
    (a ValueError)."""
    resolved = resolve_output(path, what, allow_stdout=allow_stdout)
    return Path(resolved.given) if resolved.mode == "stdout" else Path(os.path.expanduser(resolved.given))


def same_output(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two output paths would write the same file (links followed)."""
    ra, rb = resolve_output(a, allow_stdout=True), resolve_output(b, allow_stdout=True)
    if ra.mode == "stdout" or rb.mode == "stdout":
        return ra.mode == rb.mode
    if ra.path == rb.path:
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(ra.path, rb.path)
    return False


class Output:
    """One output being written: ``path`` is where to write now (a temporary beside the target,
    or the device / FIFO itself); :meth:`commit` moves it into place, :meth:`discard` removes it.

    ``folder=True`` makes the temporary a folder (PNG frames). Standard output (``-``) has no
    path: write to :attr:`stream` (sys.stdout's binary buffer)."""

    def __init__(self, target: str | os.PathLike[str] | OutputTarget, *, suffix: str | None = None,
                 folder: bool = False, what: str = "output", allow_stdout: bool = False) -> None:
        self.target = target if isinstance(target, OutputTarget) else resolve_output(
            target, what, folder=folder, allow_stdout=allow_stdout)
        self.folder = folder
        self._done = False
        final = self.target.path
        if not self.target.atomic:
            self.path = final
            return
        prefix = f".{final.name}."
        if folder:
            self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=final.suffix if suffix is None else suffix,
                                        dir=final.parent)
            os.close(fd)
            self.path = Path(name)

    @property
    def direct(self) -> bool:
        return self.target.direct

    @property
    def stream(self) -> BinaryIO:
        out = sys.stdout
        if out is None:
            raise OSError("standard output is closed")
        return cast(BinaryIO, getattr(out, "buffer", out))  # a text stream's bytes, or a binary stream itself

    def commit(self) -> Path:
        """Move the temporary into place (atomic) — nothing to do for a direct output."""
        if self._done:
            return self.target.path
        if self.target.atomic:
            final = self.target.path
            match_mode(self.path, final)
            _fsync(self.path)
            if self.folder and final.is_dir():
                final.rmdir()  # an empty folder (the writer checks it is empty)
            os.replace(self.path, final)
        self._done = True
        return self.target.path

    def discard(self) -> None:
        """Remove the temporary (a direct output keeps what was written, as ``cat`` would)."""
        if self._done:
            return
        self._done = True
        if self.target.atomic:
            if self.folder:
                shutil.rmtree(self.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    self.path.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None, *, what: str = "output",
                folder: bool = False) -> Iterator[Path]:
    """Yield the path to write ``target`` through; on normal exit it is put in place.

    For a regular file or a new path this is a temporary beside the (link-resolved) target with
    the target's suffix (encoders choose formats by extension), renamed over it at the end; for a
    device or FIFO it is the path itself. OutputPathError (an OSError) names the path when it
    cannot be written.
    """
    out = Output(target, suffix=suffix, what=what, folder=folder)
    try:
        yield out.path
        out.commit()
    except BaseException:
        out.discard()
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


def write_output(target: str | os.PathLike[str] | OutputTarget, data: bytes | str, *,
                 allow_stdout: bool = False, what: str = "output") -> None:
    """Write ``data`` (text is UTF-8) to ``target`` as described in the module docstring."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    out = Output(target, what=what, allow_stdout=allow_stdout)
    if out.target.mode == "stdout":
        stream = out.stream
        stream.write(raw)
        stream.flush()
        return
    try:
        out.path.write_bytes(raw)  # on a device or FIFO: opened and written as `cat > path` would
        out.commit()
    except BaseException:
        out.discard()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` (atomically for a regular file; see the module docstring)."""
    write_output(target, data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` (atomically for a regular file)."""
    write_output(target, text.encode("utf-8"))
