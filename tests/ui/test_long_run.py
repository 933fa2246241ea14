"""A long race in the real window: 8 runs played past 20,000 steps on the real clock, with the
process RSS (/proc/self/statm) sampled at every step shown. Nothing is timed.

What may grow, per step and run (D = 2 parameters):

* the history, 8·(6D + 2) = 112 B: points, grad, first / second moment, effective lr, update
  (D floats each), loss and grad norm. Its buffers double, but large ones are memory maps whose
  pages become resident only when written (``gdstudio.engine.runs.lazy_buffer``), so RSS follows
  the rows written, not the capacity; 8 runs × 100,000 steps = 89.6 MB at the step limit;
* the views' incremental caches, O(1) per new point by design (the contour's and the 3-D view's
  clipped, thinned paths; the history plots' min/max pyramids). Measured at 24,000 steps:
  17.7 MiB of path buffers + 3.2 MiB of pyramids beside 20.5 MiB of history, so ≈ 1× the
  history; they double through malloc, so up to 2× of it right after a doubling;
* a doubling's transient: the old and the new copy of the rows written coexist until the views
  drop their views of the old buffer at their next draw.

Bound: growth ≤ 3 × (history bytes written since the baseline) + 24 MiB: the history, the views'
caches and their doubling overshoot, one each; the constant for what does not scale with steps
(Qt / GL buffers, pyqtgraph and font caches, per-tick NumPy temporaries of 1,000 steps × 8 runs,
allocator slack). Measured on this build: +31 MiB at 10,000 steps (allowed 44), +50 at 19,000
(allowed 67), +55 at 24,000 (allowed 80). A view that kept a copy of every run's path at each
tick (an O(n²) leak of ~30 MiB here) fails it from 18,000 steps on. That the history itself
is resident only for the rows written (not its doubled capacity) is checked exactly in
tests/engine/test_history_memory.py.
"""

from __future__ import annotations

import os

import gdstudio_window_fixtures as wf  # registered by conftest.py
import pytest

from gdstudio.engine.runs import RunConfig, Status

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20
TARGET = 24_000  # past the doubling at 16,384 rows
STEPS_PER_TICK = 1_000
BASELINE_STEP = 2_000  # after the first ticks have built the views' caches, fonts and GL buffers
OPTIMIZERS = ("gd", "momentum", "nag", "adagrad", "rmsprop", "adam", "nadam", "adamax")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def history_bytes(session) -> int:
    """Bytes of history rows written: 8·(D + 1) per point, 8·(5D + 1) per step."""
    total = 0
    for e in session.runs:
        h, d = e.run.history, e.run.problem.dim
        total += len(h) * 8 * (d + 1) + h.steps * 8 * (5 * d + 1)
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc/self/statm (Linux)")
def test_eight_runs_play_past_20000_steps_and_memory_grows_only_with_history(studio, qtbot):
    w = studio
    s = w.session
    configs = [RunConfig(name, (-4.0, 0.2 + 0.15 * i), {"lr": 1e-3}, tol=0.0) for i, name in enumerate(OPTIMIZERS)]
    s.replace_runs(configs)
    s.set_max_steps(TARGET)
    s.set_speed(STEPS_PER_TICK, 60)
    wf.settle(qtbot, w)
    samples: list[tuple[int, int, int]] = []  # (step shown, RSS, history bytes)
    s.position_changed.connect(lambda step: samples.append((step, rss(), history_bytes(s))))
    s.set_playing(True)
    qtbot.waitUntil(lambda: not s.playing, timeout=300_000)
    wf.settle(qtbot, w)
    samples.append((s.position, rss(), history_bytes(s)))

    assert s.position == TARGET
    assert all(e.run.status is Status.RUNNING and e.run.steps == TARGET for e in s.runs)
    base = next(i for i, (step, _, _) in enumerate(samples) if step >= BASELINE_STEP)
    _, rss0, hist0 = samples[base]
    report = []
    for step, now, hist in samples[base:]:
        grown, allowed = now - rss0, 3 * (hist - hist0) + 24 * MiB
        report.append(f"step {step}: RSS +{grown / MiB:.1f} MiB, history +{(hist - hist0) / MiB:.1f} MiB")
        assert grown <= allowed, "\n".join(report)
    assert len(samples) - base >= 10  # sampled along the way, not only at the end
    assert samples[-1][2] - hist0 >= 8 * (TARGET - BASELINE_STEP) * 112  # the history did grow
