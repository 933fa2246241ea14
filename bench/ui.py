"""UI frame-time benchmark: 8 runs racing on a 256² Himmelblau, and the cost of a problem switch.

Usage (from the repository root)::

    .venv/bin/python bench/ui.py                 # starts its own Xvfb if DISPLAY is unset
    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/ui.py
    .venv/bin/python bench/ui.py --frames 600 --only both --mesh 96   # one scenario, a coarser 3-D mesh

OpenGL needs a real X server (Xvfb + Mesa llvmpipe works; ``QT_QPA_PLATFORM=offscreen``
cannot draw the 3-D view). Without DISPLAY the script starts ``Xvfb -displayfd`` itself at
1920×1080×24 and stops it (by its pid) at exit.

Each frame advances the 8 runs one step (gdstudio.engine.runs.Run), wraps their histories
as TrajectoryViews, calls ``set_frame(trajectories, step)`` on the views (what the window's
bridge does; ``--separate``: ``set_trajectories`` then ``set_position``), then ``repaint()`` +
``processEvents()``. Also printed: the process CPU time per frame (user + system, all threads,
Xvfb excluded), steadier than wall time on a shared machine. Scenarios, in a 1280×720 window:

* contour + 3-D side by side (target ≥ 30 fps),
* contour alone (target ≥ 60 fps),
* contour + 3-D + history (informational),
* problem switch: ``set_surface`` of a new 256² surface (colour image, contour lines, GL
  mesh + floor) and the first repaint (target < 300 ms); the grid itself is the engine's
  cost and is reported apart.
* history length (``--only length``): contour + 3-D with 8 and 12 runs whose histories already
  hold 1,000 and 100,000 steps, one step per frame; each row prints its ratio to the 1,000-step
  row of the same run count (target ≤ 1.2: frame time independent of history length), and a
  seek (``set_frame`` at a random earlier step + repaint; target ≤ 30 ms). The 3-D view redraws
  at most every REDRAW_MS (coalesced), as in the window.

Prints times and ratios to target (ratio ≥ 1 meets the target). Not a test: never asserts.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EXTRA_RUNS = (
    ("sgd", {"lr": 0.005}, (2.0, 2.0)),
    ("momentum", {"lr": 0.002}, (-3.0, -3.0)),
    ("adam", {"lr": 0.05}, (3.5, -3.5)),
    ("rmsprop", {"lr": 0.01}, (-2.5, 2.5)),
)
RUNS = (
    ("sgd", {"lr": 0.01}, (-0.5, -0.5)),
    ("momentum", {"lr": 0.005}, (0.5, -4.0)),
    ("nag", {"lr": 0.005}, (-4.0, 4.5)),
    ("adagrad", {"lr": 0.5}, (4.5, 4.5)),
    ("rmsprop", {"lr": 0.02}, (-4.5, -1.0)),
    ("adam", {"lr": 0.1}, (1.0, 4.8)),
    ("nadam", {"lr": 0.05}, (-1.5, -4.5)),
    ("adadelta", {"lr": 1.0}, (4.5, -0.5)),
)


def ensure_display() -> None:
    """Start a private Xvfb when there is no DISPLAY (stopped at exit)."""
    if os.environ.get("DISPLAY"):
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("No DISPLAY and no Xvfb: run under xvfb-run or install xvfb")
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        sys.exit("Xvfb did not start")
    os.environ["DISPLAY"] = f":{number}"

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()

    atexit.register(stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="measured frames per scenario")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--mesh", type=int, default=None, help="override SurfaceView's MESH_MAX (default 128)")
    parser.add_argument("--only", choices=["both", "contour", "history", "switch", "length"], default=None)
    parser.add_argument("--lengths", default="1000,100000", help="history lengths for the length rows")
    parser.add_argument("--runs", default="8,12", help="run counts for the length rows")
    parser.add_argument("--separate", action="store_true",
                        help="call set_trajectories then set_position (two updates) instead of set_frame")
    args = parser.parse_args()
    os.environ.pop("QT_QPA_PLATFORM", None)
    ensure_display()

    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtWidgets import QApplication, QHBoxLayout, QSplitter, QWidget

    app = QApplication.instance() or QApplication(sys.argv)

    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig
    from gdstudio.ui.colormaps import run_color
    from gdstudio.ui.qt_setup import gl_renderer
    from gdstudio.ui.views import ContourView, HistoryView, SurfaceView, TrajectoryView

    if args.mesh:
        import gdstudio.ui.views.surface as surface_module

        surface_module.MESH_MAX = args.mesh
    problem = make_problem("himmelblau")
    t0 = time.perf_counter()
    surface = problem.grid(args.resolution)
    grid_ms = (time.perf_counter() - t0) * 1e3

    def make_window(with_surface: bool, with_history: bool):
        window = QWidget()
        layout = QHBoxLayout(window)
        layout.setContentsMargins(0, 0, 0, 0)
        split = QSplitter()
        layout.addWidget(split)
        views = [ContourView()]
        if with_surface:
            views.append(SurfaceView())
        if with_history:
            views.append(HistoryView())
        for v in views:
            split.addWidget(v)
            if not isinstance(v, HistoryView):
                v.set_surface(surface, problem.bounds, problem.minima, False, labels=problem.params,
                              gradient_fn=problem.gradient)
        window.resize(1280, 720)
        window.show()
        for _ in range(5):
            app.processEvents()
        return window, views

    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    def race(with_surface: bool, with_history: bool = False) -> tuple[list[float], float]:
        window, views = make_window(with_surface, with_history)
        runs = [Run(problem, RunConfig(opt, start, hp, tol=0.0)) for opt, hp, start in RUNS]
        times = []
        cpu0 = 0.0
        for frame in range(args.warmup + args.frames):
            if frame == args.warmup:
                cpu0 = cpu()
            t = time.perf_counter()
            for r in runs:
                r.advance(1)
            trajs = [TrajectoryView.from_history(i, r.history, status=r.status, color=run_color(i))
                     for i, r in enumerate(runs)]
            for v in views:
                if args.separate:
                    v.set_trajectories(trajs)
                    v.set_position(frame + 1)
                else:
                    v.set_frame(trajs, frame + 1)
            window.repaint()
            app.processEvents()
            if frame >= args.warmup:
                times.append(time.perf_counter() - t)
        cpu_per_frame = (cpu() - cpu0) / args.frames
        window.close()
        window.deleteLater()
        app.processEvents()
        return times, cpu_per_frame

    def report(name: str, result: tuple[list[float], float], target_fps: float | None) -> None:
        times, cpu_frame = result
        mean = statistics.fmean(times)
        med = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        fps = 1.0 / mean
        ratio = f"  ratio to {target_fps:.0f} fps: {fps / target_fps:5.2f}" if target_fps else ""
        print(f"{name:26s} mean {mean * 1e3:6.2f} ms  median {med * 1e3:6.2f}  p95 {p95 * 1e3:6.2f}"
              f"  cpu {cpu_frame * 1e3:6.2f}  -> {fps:6.1f} fps{ratio}")

    print(f"GL renderer: {gl_renderer() or 'none'}; surface {args.resolution}² (grid {grid_ms:.1f} ms); "
          f"{len(RUNS)} runs; {args.frames} frames at 1280x720; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    if args.only == "length":
        history_length(args, app, problem, make_window, Run, RunConfig, TrajectoryView, run_color)
        return
    if args.only in (None, "both"):
        report("contour + 3-D", race(True), 30)
    if args.only in (None, "contour"):
        report("contour alone", race(False), 60)
    if args.only in (None, "history"):
        report("contour + 3-D + history", race(True, True), None)
    if args.only not in (None, "switch"):
        return

    # Problem switch: both views, a new surface each time (the contour-path cache cannot help).
    window, views = make_window(True, False)
    names = ["rosenbrock", "rastrigin", "beale", "styblinski-tang", "ackley", "six-hump-camel"]
    switch, grids = [], []
    for i in range(12):
        p = make_problem(names[i % len(names)])
        t = time.perf_counter()
        s = p.grid(args.resolution)
        grids.append(time.perf_counter() - t)
        t = time.perf_counter()
        for v in views:
            v.set_surface(s, p.bounds, p.minima, i % 2 == 1, labels=p.params, gradient_fn=p.gradient)
        window.repaint()
        app.processEvents()
        switch.append(time.perf_counter() - t)
    switch = switch[2:]
    mean = statistics.fmean(switch)
    print(f"{'problem switch':26s} mean {mean * 1e3:6.1f} ms  max {max(switch) * 1e3:6.1f}"
          f"  ratio to 300 ms: {0.3 / mean:5.2f}  (set_surface on both views + paint; "
          f"the grid itself: {statistics.fmean(grids) * 1e3:.1f} ms)")
    window.close()


def history_length(args, app, problem, make_window, Run, RunConfig, TrajectoryView, run_color) -> None:
    """Frame and seek times of contour + 3-D against history length (see the module docstring)."""
    import numpy as np

    lengths = [int(v) for v in args.lengths.split(",")]
    rng = np.random.default_rng(0)
    frames = min(args.frames, 200)
    for n_runs in [int(v) for v in args.runs.split(",")]:
        base = None
        configs = (RUNS + EXTRA_RUNS)[:n_runs]
        for length in lengths:
            t0 = time.perf_counter()
            runs = [Run(problem, RunConfig(opt, start, hp, tol=0.0)).run(length) for opt, hp, start in configs]
            prep = time.perf_counter() - t0
            window, views = make_window(True, False)

            def trajs(runs=runs):
                return [TrajectoryView.from_history(i, r.history, status=str(r.status), color=run_color(i))
                        for i, r in enumerate(runs)]

            times, seeks = [], []
            for frame in range(args.warmup + frames):
                t = time.perf_counter()
                for r in runs:
                    r.advance(1)
                tv = trajs()
                step = max(r.steps for r in runs)
                for v in views:
                    v.set_frame(tv, step)
                window.repaint()
                app.processEvents()
                if frame >= args.warmup:
                    times.append(time.perf_counter() - t)
            tv = trajs()
            for _ in range(40):  # seeks: any earlier step, then the paint of both views
                step = int(rng.integers(0, length))
                t = time.perf_counter()
                for v in views:
                    v.set_frame(tv, step)
                    if hasattr(v, "flush"):
                        v.flush()
                window.repaint()
                app.processEvents()
                seeks.append(time.perf_counter() - t)
            window.close()
            window.deleteLater()
            app.processEvents()
            med = statistics.median(times)
            p95 = sorted(times)[int(0.95 * (len(times) - 1))]
            seek = statistics.median(seeks)
            base = base or med
            print(f"{n_runs:2d} runs × {length:>7,d} steps   frame median {med * 1e3:6.2f} ms  p95 {p95 * 1e3:6.2f}"
                  f"  ratio to the {lengths[0]:,}-step row {med / base:5.2f} (target ≤ 1.2)"
                  f"   seek median {seek * 1e3:6.2f} ms  ratio to 30 ms {0.03 / seek:5.2f}"
                  f"   (runs prepared in {prep:.1f} s)")


if __name__ == "__main__":
    main()
