"""Limits on what the command line and session files may ask for: counts checked against the
memory available before anything is allocated, and offending input quoted briefly. Qt-free.

The memory estimate is deliberately simple: bytes per item (a step, an iteration, a frame) times
the count, against :func:`available_memory` (``MemAvailable`` from ``/proc/meminfo``) times a
margin of 3/4, so the machine keeps room for everything else.
"""

from __future__ import annotations

import os

__all__ = ["MEMORY_MARGIN", "CountError", "available_memory", "brief", "check_count", "format_bytes"]

#: The share of the available memory one command may plan to use.
MEMORY_MARGIN = 0.75
#: Characters of offending input a message quotes.
QUOTE_LIMIT = 80


class CountError(ValueError):
    """A count too large for the memory available (the message names the largest that fits)."""


def available_memory() -> int:
    """Bytes of memory available to a new allocation: ``MemAvailable`` from /proc/meminfo, else
    free pages (sysconf), else 1 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def format_bytes(n: float) -> str:
    """``15 GiB``, ``512 MiB``, ``3 KiB`` (rounded, for messages); ``7.0e+32 bytes`` beyond 1000 PiB."""
    if n >= 1000 * (1 << 50):
        return f"{n:.1e} bytes"
    units = (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
    for unit, size in units:
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{n:.0f} bytes"


def check_count(option: str, count: int, bytes_each: float, what: str, *, fixed: float = 0.0,
                memory: int | None = None) -> None:
    """CountError when ``count`` items of ``bytes_each`` (plus ``fixed``) exceed the memory
    available with its margin, e.g. "--steps 1000000000 needs ~15 GiB of history; at most
    ~120,000,000 fit in the memory available (20 GiB)"."""
    budget = MEMORY_MARGIN * (available_memory() if memory is None else memory)
    need = fixed + float(count) * bytes_each
    if need <= budget:
        return
    most = max(0, int((budget - fixed) // bytes_each)) if bytes_each > 0 else 0
    raise CountError(f"{option} {count} needs ~{format_bytes(need)} of {what}; at most ~{most:,} fit in the "
                     f"memory available ({format_bytes(budget / MEMORY_MARGIN)})")


def brief(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters; a cut list, tuple or string says how
    long it was: ``[1.0, 2.0, 3.0, … (1000000 values)]``. Never builds the whole repr of a huge
    sequence."""
    if isinstance(value, (list, tuple)):
        parts: list[str] = []
        size = 2
        for item in value:
            text = brief(item, limit)
            if size + len(text) > limit and parts:
                opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
                return f"{opening}{', '.join(parts)}, … ({len(value)} values){closing}"
            parts.append(text)
            size += len(text) + 2
        return repr(value)
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"… ({len(value)} characters)"
    if isinstance(value, dict) and len(value) > 8:
        return f"{{… ({len(value)} keys)}}"
    text = repr(value)
    if len(text) > limit:
        return text[:limit] + f"… ({len(text)} characters)"
    return text

