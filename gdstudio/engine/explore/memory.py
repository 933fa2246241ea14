"""Memory estimates for many-row explorations, checked before anything is allocated.

Bytes per row: the row's point, exact gradient, previous point, loss, best loss and flags, the
optimizer's (N, D) buffers, the update's temporaries (about six (N, D) arrays) and the results
(final point, losses, steps, status, evaluations): 8·D·(10 + buffers) + 64, plus what the caller
adds per row (the text of a CSV line, an image pixel). The budget is
:data:`gdstudio.limits.MEMORY_MARGIN` of :func:`gdstudio.limits.available_memory`.
"""

from __future__ import annotations

import math

import numpy as np

from gdstudio.engine.optimizers import get_spec
from gdstudio.limits import MEMORY_MARGIN, available_memory, format_bytes

__all__ = ["bytes_per_row", "check_memory", "estimate_bytes"]


def bytes_per_row(dim: int, optimizer: str, extra: int = 0) -> int:
    """The memory one row needs (see the module docstring)."""
    opt = get_spec(optimizer).create({})
    buffers = len(opt.init_state(np.zeros((1, dim))).buffers)
    return 8 * dim * (10 + buffers) + 64 + int(extra)


def estimate_bytes(rows: int, dim: int, optimizer: str, *, extra: int = 0) -> int:
    """Bytes ``rows`` rows of ``optimizer`` in ``dim`` parameters need (plus ``extra`` per row)."""
    return int(rows) * bytes_per_row(dim, optimizer, extra)


def check_memory(shape: tuple[int, ...], dim: int, optimizer: str, *, what: str = "grid", extra: int = 0,
                 memory: int | None = None) -> None:
    """ValueError when ``shape`` (a grid's or sweep's (n,) or (n, m)) does not fit, naming the
    largest square (or length) that does: "a 4096×4096 grid needs ~12 GiB; at most 1448×1448 fits
    in the 8 GiB available"."""
    rows = math.prod(shape)
    each = bytes_per_row(dim, optimizer, extra)
    available = available_memory() if memory is None else memory
    budget = MEMORY_MARGIN * available
    need = rows * each
    if need <= budget:
        return
    most = max(0, int(budget // each))
    size = "×".join(str(s) for s in shape)
    if len(shape) == 1:
        largest = f"at most {most:,} values fit"
    else:
        side = math.isqrt(most)
        largest = f"at most {side}×{side} fits"
    raise ValueError(f"a {size} {what} needs ~{format_bytes(need)}; {largest} in the "
                     f"{format_bytes(available)} available")
