"""The IDX file format (MNIST's): a reader with clear errors and a writer (used by tests).

Layout: a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32
dimension sizes, then the data in C order, big-endian. Type codes: 0x08 uint8, 0x09 int8,
0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. Files may be gzip-compressed (detected
from the content, not the name).
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["IDX_TYPES", "IdxError", "read_idx", "write_idx"]

#: IDX type code -> big-endian NumPy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """A file that is not a valid IDX file (the message names the file and what is wrong)."""


_EXTRA_LIMIT = 1 << 20  # bytes read past the data to say how much is left over


def _open(path: Path) -> BinaryIO:
    """The file's data stream (gzip detected from the content), never blocking on a FIFO."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise IdxError(f"IDX file not found: {path}") from None
    except OSError as exc:
        raise IdxError(f"Cannot read IDX file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IdxError(f"IDX path is a folder, not a file: {path}")
    if not stat.S_ISREG(st.st_mode):
        raise IdxError(f"IDX path is not a regular file (a pipe or a device): {path}")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise IdxError(f"Cannot read IDX file {path}: {exc.strerror or exc}") from None
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _read(fh: BinaryIO, n: int, path: Path) -> bytes:
    """Up to ``n`` bytes (fewer at the end of the data)."""
    chunks, got = [], 0
    try:
        while got < n:
            block = fh.read(min(n - got, 1 << 24))
            if not block:
                break
            chunks.append(block)
            got += len(block)
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxError(f"Corrupt or truncated gzip data in {path}: {exc}") from None
    return b"".join(chunks)


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into an array in native byte order.

    ``ndim``, if given, is the number of dimensions the caller needs (3 for images, 1 for
    labels); another count raises :class:`IdxError`. The data is read as a stream and checked
    against the size the header states while it is decompressed: a file whose data goes on past
    that size (e.g. a gzip that inflates to gigabytes) is refused after at most 1 MiB more, and a
    header stating more than the memory available is refused before reading the data.
    """
    from gdstudio.limits import MEMORY_MARGIN, available_memory, format_bytes

    path = Path(path)
    fh = _open(path)
    with fh:
        raw = _read(fh, 4, path)
        if len(raw) < 4:
            raise IdxError(f"Truncated IDX file {path}: {len(raw)} bytes, shorter than the 4-byte magic number")
        if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
            magic = int.from_bytes(raw[:4], "big")
            raise IdxError(
                f"Bad IDX magic number 0x{magic:08x} in {path} (expected 0x0000TTNN: two zero bytes, a type "
                f"code among {', '.join(f'0x{t:02x}' for t in IDX_TYPES)} and a dimension count ≥ 1)"
            )
        dtype = IDX_TYPES[raw[2]]
        dims_count = raw[3]
        header = 4 + 4 * dims_count
        dims = _read(fh, 4 * dims_count, path)
        if len(dims) < 4 * dims_count:
            raise IdxError(
                f"Truncated IDX file {path}: the header needs {header} bytes for {dims_count} dimensions, "
                f"the file has {4 + len(dims)}"
            )
        shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4", count=dims_count))
        if ndim is not None and dims_count != ndim:
            raise IdxError(f"Wrong IDX dimensions in {path}: {dims_count}-D with shape {shape}, expected {ndim}-D")
        expected = math.prod(shape) * dtype.itemsize
        budget = MEMORY_MARGIN * available_memory()
        if expected > budget:
            raise IdxError(f"IDX file {path} states shape {shape} of {dtype.name}: {format_bytes(expected)}, more "
                           f"than the memory available ({format_bytes(budget)})")
        data = _read(fh, expected, path)
        if len(data) < expected:
            raise IdxError(
                f"Truncated IDX file {path}: shape {shape} of {dtype.name} needs {expected} data bytes, "
                f"the file has {len(data)}"
            )
        extra = len(_read(fh, _EXTRA_LIMIT, path))
    if extra:
        more = f"at least {extra}" if extra >= _EXTRA_LIMIT else f"{extra}"
        raise IdxError(
            f"IDX file {path} has {more} bytes beyond the data its header describes (shape {shape}, {dtype.name})"
        )
    arr = np.frombuffer(data, dtype=dtype, count=math.prod(shape)).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip-compressed if ``compress`` (default: the name ends in .gz)."""
    path = Path(path)
    arr = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    native = arr.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"Invalid array dtype for IDX: {arr.dtype} (must be one of uint8, int8, int16, int32, "
                         "float32, float64)")
    if arr.ndim < 1 or arr.ndim > 255:
        raise ValueError(f"Invalid array ndim for IDX: {arr.ndim} (must be 1..255)")
    code = codes[native]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(arr, dtype=IDX_TYPES[code]).tobytes()
    data = header + body
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
