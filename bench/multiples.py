"""Small-multiples benchmark: an 11-run race on Rosenbrock, one contour per run, against the single
contour view drawing the same 11 runs.

Usage (from the repository root)::

    .venv/bin/python bench/multiples.py                  # starts its own Xvfb if DISPLAY is unset
    .venv/bin/python bench/multiples.py --frames 5 --warmup 1   # quick (the smoke test)

Each frame seeks the session one step further and pushes it through the window's
:class:`~gdstudio.ui.bridge.ViewBridge` (``set_frame`` on the view), then ``repaint()`` +
``processEvents()``, at ``--size`` (default 1920×1080, the whole screen: the layout's worst case).
Printed: frame time median / p95 and process CPU per frame for both layouts, their ratio, the
cost of a new surface (``set_surface`` on every pane, the contour lines shared) and of a rebuild
(a run hidden: the grid relaid, no pane recomputed). Ratios against a 30 fps budget (33 ms);
≥ 1 meets it. Not a test: never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BUDGET_MS = 1000 / 30


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--size", default="1920x1080")
    args = ap.parse_args()
    from ui import ensure_display  # bench/ui.py: a private Xvfb when DISPLAY is unset

    ensure_display()
    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gdstudio.model.session import Session
    from gdstudio.ui.bridge import ViewBridge
    from gdstudio.ui.views.contour import ContourView
    from gdstudio.ui.views.multiples import SmallMultiplesView

    w, h = (int(v) for v in args.size.lower().split("x"))
    steps = args.warmup + args.frames + 1
    session = Session()
    session.set_problem(name="rosenbrock")
    ids = session.race_all((-1.5, 2.0), tune=False)
    session.update_run(ids[0], hyperparameters={"lr": 0.01})  # one run diverges, as in the issue
    session.set_max_steps(max(session.max_steps, steps))
    session.forward(steps)

    def timed(view) -> tuple[list[float], list[float]]:
        view.resize(w, h)
        view.show()
        for _ in range(5):
            app.processEvents()
        bridge = ViewBridge(session, view, None, None)
        wall, cpu = [], []
        try:
            for k in range(steps):
                t0, c0 = time.perf_counter(), time.process_time()
                session.seek(k)
                bridge.flush()
                view.repaint()
                app.processEvents()
                if k >= args.warmup:
                    wall.append(1e3 * (time.perf_counter() - t0))
                    cpu.append(1e3 * (time.process_time() - c0))
        finally:
            bridge.close()
        return wall, cpu

    def row(name: str, wall: list[float], cpu: list[float]) -> float:
        med = statistics.median(wall)
        p95 = sorted(wall)[int(0.95 * (len(wall) - 1))]
        print(f"{name:<34} median {med:6.1f} ms  p95 {p95:6.1f} ms  CPU {statistics.median(cpu):6.1f} ms  "
              f"→ {BUDGET_MS / med:5.2f}× the 30 fps budget")
        return med

    n = len(session.runs)
    print(f"{n} runs on Rosenbrock at {w}×{h}, {args.frames} frames")
    single = ContourView()
    one = row("contour view (11 runs in one)", *timed(single))
    multi = SmallMultiplesView()
    many = row(f"small multiples ({n} panes)", *timed(multi))
    print(f"small multiples / contour: {many / one:.2f}x per frame")

    surface = session.surface()
    t0 = time.perf_counter()
    single.set_surface(surface, session.bounds, session.problem.minima, False, labels=session.problem.params)
    t_one = 1e3 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    multi.set_surface(surface, session.bounds, session.problem.minima, False, labels=session.problem.params)
    t_many = 1e3 * (time.perf_counter() - t0)
    print(f"set_surface: contour {t_one:.1f} ms, {n} panes {t_many:.1f} ms "
          f"({t_many / max(t_one, 1e-9):.1f}x; contour lines computed once)")
    trajs = __import__("gdstudio.ui.bridge", fromlist=["trajectories"]).trajectories(session)
    trajs[3].visible = False
    t0 = time.perf_counter()
    multi.set_frame(trajs, session.position)
    app.processEvents()
    print(f"rebuild (a run hidden, {n - 1} panes kept): {1e3 * (time.perf_counter() - t0):.1f} ms, "
          f"rebuilds so far {multi.rebuilds}x")
    single.close()
    multi.close()


if __name__ == "__main__":
    main()
