"""History dock and runs table benchmark: cost per frame while 8 runs grow, at short and long
histories, and the cost of a seek.

Usage (from the repository root)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/history.py
    .venv/bin/python bench/history.py --frames 120 --profile     # also a cProfile of one scenario
    .venv/bin/python bench/history.py --quick                     # smoke run (seconds)

Synthetic runs (random walks with positive losses, noisy gradients and per-parameter step sizes:
a worst case for stroking) are wrapped as TrajectoryViews and fed to a HistoryView of 960×300 px
the way the bridge does while playing: ``set_frame`` on every tick of a 60 Hz clock, one step
longer each time (the view redraws its curves, line and dots at most every CURVE_INTERVAL).
Rows: history length 1,000 and 100,000. Printed: median / p95 time of a tick (push + paints) and
process CPU per tick (the number to read on a shared machine), the ratio long / short (target
≤ 1.2: frame time independent of history length), a seek (``set_position`` to a random step +
repaint, target ≤ 30 ms), and the runs table's refresh + repaint with 8 real runs (the window
refreshes it at most every 100 ms while playing). Not a test: never asserts.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RUNS = 8
SIZE = (960, 300)


def synthetic(n: int, seed: int):
    """(points, loss, grad, eff, gnorm) of a plausible run of n points."""
    rng = np.random.default_rng(seed)
    pts = np.cumsum(rng.standard_normal((n, 2)) * 0.01, axis=0)
    loss = np.exp(-np.linspace(0, 8, n)) * 100 + np.abs(rng.standard_normal(n)) * 1e-3
    grad = rng.standard_normal((n - 1, 2))
    eff = np.abs(rng.standard_normal((n - 1, 2))) * 0.01 + 1e-4
    gnorm = np.sqrt((grad**2).sum(axis=1))
    return pts, loss, grad, eff, gnorm


def views(data, n: int):
    from gdstudio.ui.colormaps import run_color
    from gdstudio.ui.views import TrajectoryView

    return [TrajectoryView(i, d[0][:n], d[1][:n], color=run_color(i), grad=d[2][: n - 1], effective_lr=d[3][: n - 1],
                           grad_norm=d[4][: n - 1]) for i, d in enumerate(data)]


def frames(app, view, data, start: int, count: int, rate: int = 60) -> tuple[list[float], float]:
    """``count`` ticks of a ``rate`` Hz clock, each pushing one more step (as the bridge does while
    playing); returns the wall time of each tick's push + the paints it causes, and the process
    CPU per tick over the whole run (throttled redraws included)."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    times: list[float] = []
    state = {"k": 0}
    loop = QEventLoop()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(round(1000 / rate))
    clock = QElapsedTimer()

    def tick() -> None:
        k = state["k"]
        if k >= count:
            timer.stop()
            loop.quit()
            return
        n = start + k
        clock.start()
        view.set_frame(views(data, n), n - 1)
        app.processEvents()  # the paints this tick causes (the position line, a throttled redraw)
        times.append(clock.nsecsElapsed() / 1e9)
        state["k"] = k + 1

    timer.timeout.connect(tick)
    c0 = time.process_time()
    timer.start()
    loop.exec()
    return times, (time.process_time() - c0) / count


def stats(ts: list[float]) -> tuple[float, float]:
    ts = sorted(ts)
    return statistics.median(ts) * 1e3, ts[int(0.95 * (len(ts) - 1))] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--long", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true", help="cProfile the long-history frames")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 ticks, a 3,000-step long row")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.long = 10, 3_000
    if not os.environ.get("DISPLAY"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from ui import ensure_display

        ensure_display()
    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    from gdstudio.ui.views import HistoryView

    total = args.long + args.frames + 1
    data = [synthetic(total, seed) for seed in range(RUNS)]
    rows = {}
    for length in (1_000, args.long):  # the short row is the in-process baseline
        view = HistoryView()
        view.resize(*SIZE)
        view.show()
        app.processEvents()
        view.set_frame(views(data, length), length - 1)  # first push: summaries built here
        view.flush()
        app.processEvents()
        prof = cProfile.Profile() if args.profile and length == args.long else None
        if prof:
            prof.enable()
        ts, cpu = frames(app, view, data, length, args.frames)
        if prof:
            prof.disable()
        med, p95 = stats(ts)
        rng = np.random.default_rng(0)
        seeks = []
        for k in rng.integers(0, length, 30):
            t0 = time.perf_counter()
            view.set_position(int(k))
            view.repaint()
            app.processEvents()
            seeks.append(time.perf_counter() - t0)
        rows[length] = (med, p95, cpu * 1e3, stats(seeks)[0])
        print(f"history {RUNS} runs, {length:>7,} steps: tick median {med:6.2f} ms  p95 {p95:6.2f} ms  "
              f"CPU {cpu * 1e3:6.2f} ms/tick  seek median {rows[length][3]:5.2f} ms")
        view.close()
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    short, long_ = rows[1_000], rows[args.long]
    print(f"ratio {args.long:,} / 1,000 steps: tick median {long_[0] / short[0]:.2f}×, CPU per tick "
          f"{long_[2] / short[2]:.2f}×  (target ≤ 1.2×)")
    print(f"ratio seek target 30 ms / seek median at {args.long:,}: {30 / long_[3]:.1f}×  (≥ 1× meets it)")
    print(f"ratio frame budget 33 ms / CPU per tick at {args.long:,}: {33.3 / long_[2]:.1f}×")

    # The runs table: refresh + repaint per tick with 8 real runs.
    from PySide6.QtCore import QObject
    from PySide6.QtGui import QAction

    from gdstudio.engine.runs import RunConfig
    from gdstudio.model.session import Session
    from gdstudio.ui.panels import RunsPanel

    s = Session()
    s.set_problem(name="himmelblau")
    for i in range(RUNS):
        s.add_run(RunConfig("adam", (-4.0 + i, 4.0 - i), {"lr": 0.05}))
    holder = QObject()
    panel = RunsPanel(s, {a: QAction(a, holder) for a in ("add_run", "duplicate_run", "remove_run", "race_all")})
    panel.resize(900, 300)
    panel.show()
    app.processEvents()
    ts = []
    for _ in range(args.frames):
        s.forward(1)
        t0 = time.perf_counter()
        panel.refresh()
        app.processEvents()  # paints the cells that changed
        ts.append(time.perf_counter() - t0)
    med, p95 = stats(ts)
    print(f"runs table {RUNS} runs: refresh + paint median {med:.2f} ms  p95 {p95:.2f} ms "
          f"(the window refreshes it at most every 100 ms while playing)")


if __name__ == "__main__":
    main()
