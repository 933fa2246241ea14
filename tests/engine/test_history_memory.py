"""A run's history costs memory for the steps taken, not for its capacity, and a doubling gives
the old buffer back to the OS.

A history row of a D-parameter run holds points, grad, first and second moment, effective lr and
update (D floats each) plus loss and grad norm: 8·(6D + 2) bytes, 112 B for D = 2. Capacity
doubles (256, 512, …, 16,384, 32,768 rows), so right after a doubling a buffer filled with NaN
(as before) was resident at twice the rows used. Measured here: the resident size of each
history buffer's own memory map (``/proc/self/smaps``), and the process RSS.
"""

from __future__ import annotations

import gc
import os
import weakref

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import MMAP_BYTES, Run, RunConfig, lazy_buffer

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def mapping_rss(address: int) -> int | None:
    """Resident bytes of the memory mapping containing ``address`` (None: no such mapping)."""
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5:
                lo, hi = (int(v, 16) for v in head[0].split("-"))
                inside = lo <= address < hi
            elif inside and head[0] == "Rss:":
                return int(head[1]) * 1024
    return None


def buffers(run: Run) -> list[tuple[np.ndarray, int]]:
    """Every history buffer with the bytes of its rows in use."""
    h = run.history
    growers = [h._points, h._loss, h._grad_norm, *h._step.values()]
    return [(g.data, g.n * g.data[0].nbytes) for g in growers]


def test_history_rows_per_step_are_the_documented_bytes():
    run = Run(make_problem("himmelblau"), RunConfig("adam", (-4.0, 0.5), {"lr": 1e-3}, tol=0.0))
    run.advance(1000)
    assert sum(used for _, used in buffers(run)) == 1000 * 8 * (6 * 2 + 2) + 8 * (2 + 1)  # + the start point


def test_history_memory_follows_the_steps_taken_not_the_capacity():
    problem = make_problem("himmelblau")
    runs = [Run(problem, RunConfig("adam", (-4.0, 0.5 + 0.1 * i), {"lr": 1e-3}, tol=0.0)) for i in range(4)]
    while runs[0].steps < 17_000:  # just past the doubling from 16,384 to 32,768 rows
        for run in runs:
            run.advance(500)
    assert all(run.steps == 17_000 and run.history._points.data.shape[0] == 32_768 for run in runs)
    used = sum(u for run in runs for _, u in buffers(run))
    capacity = sum(b.nbytes for run in runs for b, _ in buffers(run))
    assert capacity > 1.9 * used  # the case a NaN-filled capacity would make twice as expensive
    for run in runs:
        for data, nbytes in buffers(run):
            if data.nbytes >= MMAP_BYTES:  # its own map: resident = rows written, page-rounded
                resident = mapping_rss(data.ctypes.data)
                assert resident is not None and resident <= nbytes + 2 * PAGE
    # (the whole process is checked in a fresh interpreter: the next test)


_PROCESS_SCRIPT = """
import gc, os
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
problem = make_problem("himmelblau")
runs = [Run(problem, RunConfig("adam", (-4.0, 0.5 + 0.1 * i), {"lr": 1e-3}, tol=0.0)) for i in range(4)]
for run in runs:
    run.advance(500)  # warm: every code path and temporary has run once
gc.collect()
before = rss()
while runs[0].steps < 17_000:
    for run in runs:
        run.advance(500)
h = [r.history for r in runs]
used = sum(g.n * g.data[0].nbytes for x in h for g in (x._points, x._loss, x._grad_norm, *x._step.values()))
print(rss() - before, used)
"""


def test_the_process_grows_by_the_rows_written():
    """In a fresh interpreter (a test process's RSS also moves with what earlier tests left in
    the allocator): the history rows plus 2 MiB for temporaries and allocator slack. A buffer
    filled to its capacity would add ~2× the rows right after the doubling at 16,384 rows."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _PROCESS_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    grown, used = (int(v) for v in done.stdout.split())
    assert grown <= 1.1 * used + 2 * MiB, (grown, used)


def test_a_doubling_returns_the_old_buffer_to_the_os():
    run = Run(make_problem("bowl"), RunConfig("momentum", (-7.0, 2.0), {"lr": 1e-3}, tol=0.0))
    run.advance(20_000)
    old = run.history._points.data
    assert old.nbytes >= MMAP_BYTES and mapping_rss(old.ctypes.data) is not None
    base = old
    while isinstance(base, np.ndarray):
        base = base.base
    the_map = weakref.ref(base.obj)  # the mmap object; its deallocation unmaps the memory
    del base
    rows = old.shape[0]
    del old
    run.advance(rows)  # past the capacity: the points move to a new, larger map
    assert run.history._points.data.shape[0] >= 2 * rows - 1
    gc.collect()
    assert the_map() is None


def test_lazy_buffer_small_and_large_and_dtype():
    small = lazy_buffer(4, (2,))
    large = lazy_buffer(MMAP_BYTES // 8, (), np.float64)
    f32 = lazy_buffer(MMAP_BYTES // 4, (3,), np.float32)
    assert small.shape == (4, 2) and large.shape == (MMAP_BYTES // 8,) and f32.dtype == np.float32
    assert all(a.flags.c_contiguous and a.flags.writeable for a in (small, large, f32))
    large[:] = 1.5
    f32[-1] = (1, 2, 3)
    assert large.sum() == 1.5 * large.size and f32[-1].tolist() == [1, 2, 3]


def test_an_impossible_buffer_is_a_memory_error_like_numpys():
    for rows in (1 << 45, 1 << 62):  # 512 TiB: beyond the address space; 2⁶⁶ B: beyond ssize_t
        with pytest.raises(MemoryError, match="Unable to allocate"):
            lazy_buffer(rows, (2,))
