"""Explore in the real window: how soon a basin map shows, how long the full map takes, and whether
the window keeps playing meanwhile.

Usage (from the repository root)::

    .venv/bin/python bench/explore_window.py                 # starts its own Xvfb if DISPLAY is unset
    .venv/bin/python bench/explore_window.py --grid 512 --steps 500 --repeat 3

The studio window (every dock, 1600×1000) on the default session (Himmelblau, Adam η=0.1 selected,
Momentum beside it) computes the Basin map dock's map (Explore → Basin map): a G×G grid of starts
× K Adam steps, coarse to fine (16², then the rest of 32², 64², … G²) on a worker thread, while
the session plays (its clock asks for 60 ticks/s, one step a tick, as Space does). Printed:

* **first map**: from the request to the first coarse level on screen (target ≤ 100 ms);
* **full map**: from the request to the complete G² map on screen;
* **responsiveness**: clock ticks delivered during the computation against those requested
  (60/s × duration), playback steps shown, and the longest gap between two ticks of a separate
  16 ms probe timer (what typing or dragging would feel).

Not a test: prints numbers, never asserts. On this 2-core machine a load average above ~0.7 makes
absolute numbers noisy; the load is printed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui import ensure_display


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", type=int, default=256)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-play", action="store_true", help="compute with playback paused")
    args = ap.parse_args()
    ensure_display()

    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gdstudio.ui.main_window import MainWindow
    from gdstudio.ui.panels.basins_panel import panel_of
    from gdstudio.ui.settings import StudioSettings

    folder = Path(tempfile.mkdtemp(prefix="gdstudio-bench-"))
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder / "qsettings"))
    w = MainWindow(settings=StudioSettings.in_folder(folder / "studio"))
    w.resize(1600, 1000)
    w.show()
    w.start(preset="himmelblau")

    def pump(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(round(1000 * seconds), loop.quit)
        loop.exec()

    pump(1.5)
    panel = panel_of(w)
    if args.grid not in [panel.grid_combo.itemData(i) for i in range(panel.grid_combo.count())]:
        panel.grid_combo.addItem(f"{args.grid} × {args.grid}", args.grid)
    panel.grid_combo.setCurrentIndex(panel.grid_combo.findData(args.grid))
    panel.steps_spin.setValue(args.steps)
    w.docks["basins"].show()
    panel.show_box.blockSignals(True)  # shown without computing: each repeat below is one request
    panel.show_box.setChecked(True)
    panel.show_box.blockSignals(False)
    s = w.session
    s.set_speed(steps_per_tick=1, ticks_per_second=60)
    s.set_max_steps(100_000)
    selected = s.selected
    assert selected is not None
    print(f"window {w.width()}x{w.height()}, {selected.label} on {s.problem.title}, "
          f"{args.grid}² starts × {args.steps} steps, playback {'paused' if args.no_play else '60 ticks/s'}, "
          f"load {os.getloadavg()[0]:.2f}")

    def idle_play(seconds: float) -> tuple[float, float, float]:
        """The baseline: (ticks delivered / requested, steps/s, longest probe gap) playing without a map."""
        probe = QTimer()
        probe.setInterval(16)
        stamps: list[float] = []
        probe.timeout.connect(lambda: stamps.append(time.perf_counter()))
        ticks = [0]

        def on_tick() -> None:
            ticks[0] += 1

        w.clock._timer.timeout.connect(on_tick)
        s.set_playing(True)
        pump(0.3)
        ticks[0], pos0, t0 = 0, s.position, time.perf_counter()
        probe.start()
        pump(seconds)
        dur = time.perf_counter() - t0
        probe.stop()
        s.set_playing(False)
        w.clock._timer.timeout.disconnect(on_tick)
        steps = (s.position - pos0) / dur
        s.seek(0)
        gap = max((b - a for a, b in itertools.pairwise(stamps)), default=float("nan"))
        return ticks[0] / (60 * dur), steps, gap

    firsts, fulls, tick_ratios, gaps, steps_per_s = [], [], [], [], []
    for rep in range(args.repeat):
        probe = QTimer()
        probe.setInterval(16)
        stamps: list[float] = []
        probe.timeout.connect(lambda st=stamps: st.append(time.perf_counter()))
        ticks = [0]
        clock_timer = w.clock._timer

        def on_tick(t=ticks) -> None:
            t[0] += 1

        clock_timer.timeout.connect(on_tick)
        shown: dict[str, float] = {}
        clock = QElapsedTimer()

        def on_progress(_job, value, shown=shown, clock=clock) -> None:
            if "first" not in shown and not isinstance(value, float):
                w.contour.plot_widget.viewport().repaint()  # on screen: the dock's slot set the image just before
                shown["first"] = clock.nsecsElapsed() / 1e9

        panel.work.progress.connect(on_progress)
        if not args.no_play:
            s.set_playing(True)
        pos0 = s.position
        pump(0.3)  # playing steadily before the request
        probe.start()
        clock.start()
        t0 = time.perf_counter()
        ticks[0] = 0
        pos0 = s.position
        loop = QEventLoop()  # the window idles in its event loop, as it does for a user (no busy polling)
        panel.work.done.connect(loop.quit)
        panel.work.failed.connect(loop.quit)
        before_map = panel.overlay.map
        panel.compute()
        if "first" not in shown and panel.overlay.map is not before_map:  # the first level, drawn by the UI thread
            w.contour.plot_widget.viewport().repaint()
            shown["first"] = clock.nsecsElapsed() / 1e9
        loop.exec()
        panel.work.done.disconnect(loop.quit)
        panel.work.failed.disconnect(loop.quit)
        app.processEvents()  # the full map painted
        full = clock.nsecsElapsed() / 1e9
        t1 = time.perf_counter()
        probe.stop()
        s.set_playing(False)
        panel.work.progress.disconnect(on_progress)
        clock_timer.timeout.disconnect(on_tick)
        dur = t1 - t0
        requested = 60 * dur
        firsts.append(shown.get("first", float("nan")))
        fulls.append(full)
        tick_ratios.append(ticks[0] / requested if not args.no_play else float("nan"))
        steps_per_s.append((s.position - pos0) / dur)
        gap = max((b - a for a, b in itertools.pairwise(stamps)), default=float("nan"))
        gaps.append(gap)
        m = panel.overlay.map
        assert m is not None and m.complete
        print(f"  run {rep + 1}: first map {1000 * firsts[-1]:6.0f} ms   full map {full:6.2f} s   "
              f"clock ticks {ticks[0]}/{requested:.0f} requested ({tick_ratios[-1]:.2f})   "
              f"playback {steps_per_s[-1]:5.1f} steps/s   longest UI gap {1000 * gap:5.0f} ms")
        s.seek(0)
        pump(0.3)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    base = idle_play(med(fulls))
    print(f"  baseline (playing, no map, {med(fulls):.1f} s): clock ticks {base[0]:.2f} of requested, "
          f"playback {base[1]:5.1f} steps/s, longest UI gap {1000 * base[2]:.0f} ms")

    print(f"median: first map {1000 * med(firsts):.0f} ms (target ≤ 100 ms: ratio {0.1 / med(firsts):.2f}), "
          f"full {args.grid}² map {med(fulls):.2f} s, ticks delivered {med(tick_ratios):.2f} of requested, "
          f"longest UI gap {1000 * med(gaps):.0f} ms; playback {med(steps_per_s):.1f} steps/s while computing vs "
          f"{base[1]:.1f} without ({med(steps_per_s) / base[1]:.2f}); load {os.getloadavg()[0]:.2f}")
    w.close()


if __name__ == "__main__":
    main()
