"""Reading and setting the thread count of the BLAS library NumPy uses (best effort, OpenBLAS).

Mini-batch matrix products in the Training lab are small (128×784 by 784×100): handing them to
several BLAS threads costs more in wake-ups than it saves, and on a busy machine spinning
threads slow everything down. :func:`blas_threads` is a context manager that sets the count
for a block and restores it. When the library cannot be found (another BLAS, another platform)
the functions do nothing and report ``None``.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["blas_threads", "get_blas_threads", "set_blas_threads"]

_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
        "openblas_get_num_threads")
_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
        "openblas_set_num_threads")
_lib: ctypes.CDLL | bool | None = False  # False: not looked up yet


def _candidates() -> list[str]:
    found: list[str] = []
    maps = Path("/proc/self/maps")
    if maps.exists():
        with contextlib.suppress(OSError):
            for line in maps.read_text().splitlines():
                path = line.split()[-1] if line.split() else ""
                if "openblas" in path.lower() and path not in found:
                    found.append(path)
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    if libs.is_dir():
        found += [str(p) for p in sorted(libs.glob("*openblas*")) if str(p) not in found]
    return found


def _load() -> ctypes.CDLL | None:
    global _lib
    if _lib is False:
        _lib = None
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            get = next((getattr(lib, n) for n in _GET if hasattr(lib, n)), None)
            put = next((getattr(lib, n) for n in _SET if hasattr(lib, n)), None)
            if get is not None and put is not None:
                get.restype = ctypes.c_int
                put.argtypes = [ctypes.c_int]
                put.restype = None
                lib.gd_get, lib.gd_set = get, put  # type: ignore[attr-defined]
                _lib = lib
                break
    return _lib if isinstance(_lib, ctypes.CDLL) else None


def get_blas_threads() -> int | None:
    """The BLAS thread count NumPy's OpenBLAS uses now, or None if unknown."""
    lib = _load()
    return int(lib.gd_get()) if lib is not None else None  # type: ignore[attr-defined]


def set_blas_threads(n: int) -> int | None:
    """Set NumPy's OpenBLAS thread count; return the previous count (None if unavailable)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Invalid threads value: {n!r} (must be a whole number ≥ 1)")
    lib = _load()
    if lib is None:
        return None
    old = int(lib.gd_get())  # type: ignore[attr-defined]
    lib.gd_set(n)  # type: ignore[attr-defined]
    return old


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[int | None]:
    """Run a block with ``n`` BLAS threads (``None``: leave as is); yields the count in force."""
    if n is None:
        yield get_blas_threads()
        return
    old = set_blas_threads(n)
    try:
        yield get_blas_threads()
    finally:
        if old is not None:
            set_blas_threads(old)
