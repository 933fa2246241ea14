"""Whole-window benchmark: the real MainWindow, as shipped with every dock, playing a race.

Usage (from the repository root)::

    .venv/bin/python bench/window.py                  # starts its own Xvfb if DISPLAY is unset
    .venv/bin/python bench/window.py --seconds 3 --only race
    .venv/bin/python bench/window.py --profile 8      # cProfile of 8 runs playing, top lines

This measures what a user sees, not the views alone (``bench/ui.py`` times those): the window
is built exactly as ``gdstudio`` builds it (docks, toolbar, runs table, history, status bar),
shown at 1920×1080 or 1280×720 under X (Xvfb + Mesa llvmpipe here), and played by its own
clock (a QTimer asking for 60 ticks/s, one step per tick), as Space does. Measured from the
session's ``position_changed`` signal:

* achieved steps per second (steps shown between the first and the last step of ``--seconds`` of
  play, over the time between them) and its ratio to the target
  (≥ 30 at 8 runs with every dock, ≥ 60 with the 3-D view hidden);
* frame interval (time between two consecutive steps shown) median and p95;
* process CPU per frame (user + system, all threads; Xvfb excluded);
* UI latency: how late a 25 ms repeating timer fires while playing (p95) — what typing or
  dragging would feel;
* history length: the same race played from step 1,000 and from step 98,000 (frame time at
  100,000 steps should be within 1.2× of the row at 1,000);
* seek: ``session.seek(k)`` to a random step of a 98,000-step history until every view has
  repainted (target ≤ 30 ms);
* *Race all*: from the fair-race dialog's Race button (its defaults: 11 optimizers, 150 steps, η
  tuned) to the race being ready (target ≤ 2 s).

Not a test: never asserts; prints ratios (≥ 1 meets a target). On this 2-core machine a load
average above ~0.7 makes absolute numbers noisy; the load is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from ui import ensure_display

#: Optimizer, hyperparameters and start of each racing run on Himmelblau (none converges early).
RACERS = (
    ("gd", {"lr": 0.01}, (-0.5, -0.5)),
    ("momentum", {"lr": 0.005, "momentum": 0.9}, (0.5, -4.0)),
    ("nag", {"lr": 0.005, "momentum": 0.9, "nesterov": True}, (-4.0, 4.5)),
    ("adagrad", {"lr": 0.5}, (4.5, 4.5)),
    ("rmsprop", {"lr": 0.02}, (-4.5, -1.0)),
    ("adam", {"lr": 0.1}, (1.0, 4.8)),
    ("nadam", {"lr": 0.05}, (-1.5, -4.5)),
    ("adadelta", {"lr": 1.0}, (4.5, -0.5)),
    ("radam", {"lr": 0.05}, (-3.0, -3.0)),
    ("adamax", {"lr": 0.05}, (3.0, 1.0)),
    ("adamw", {"lr": 0.05}, (-2.0, 2.0)),
    ("adam", {"lr": 0.01}, (0.0, 0.0)),
)
TICKS_PER_SECOND = 60


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1)))] if s else float("nan")


class Bench:
    """One real MainWindow with isolated settings, reused across scenarios."""

    def __init__(self) -> None:
        from PySide6.QtWidgets import QApplication

        from gdstudio.ui.app import apply_color_scheme
        from gdstudio.ui.main_window import MainWindow
        from gdstudio.ui.settings import StudioSettings

        self.app = QApplication.instance() or QApplication(sys.argv)
        apply_color_scheme(self.app)
        self.tmp = tempfile.TemporaryDirectory(prefix="gdstudio-bench-")
        self.window = MainWindow(settings=StudioSettings.in_folder(self.tmp.name))
        self.window.show()
        self.window.start(preset="himmelblau")
        self.settle()

    def settle(self, seconds: float = 0.3) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or self.window.bridge.stale or self.window.bridge.busy:
            self.app.processEvents()
            time.sleep(0.002)

    def layout(self, size: tuple[int, int], surface: bool) -> None:
        w = self.window
        w.showNormal()
        w.resize(*size)
        w.default_layout()
        w.session.set_options(show_surface=surface)  # View → 3-D view, as a user hides it
        self.settle()

    def race(self, n: int, position: int = 0) -> None:
        """Replace the runs by the first ``n`` racers (tol 0: nobody stops), computed to ``position``."""
        from gdstudio.engine.runs import RunConfig
        from gdstudio.model.session import MAX_STEPS_LIMIT

        s = self.window.session
        s.set_playing(False)
        s.set_max_steps(MAX_STEPS_LIMIT)
        s.replace_runs([RunConfig(opt, start, hp, tol=0.0) for opt, hp, start in RACERS[:n]])
        if position:
            s.forward(position)
        s.set_speed(steps_per_tick=1, ticks_per_second=TICKS_PER_SECOND)
        self.settle()

    def play(self, seconds: float) -> dict[str, float]:
        """Play with the window's own clock for ``seconds``; what a user would see."""
        from PySide6.QtCore import QEventLoop, QTimer

        s = self.window.session
        stamps: list[float] = []
        late: list[float] = []
        probe = QTimer()
        probe.setInterval(25)
        last = [time.perf_counter()]

        def on_probe() -> None:
            now = time.perf_counter()
            late.append(max(0.0, now - last[0] - 0.025))
            last[0] = now

        probe.timeout.connect(on_probe)

        def on_position(_step: int) -> None:
            stamps.append(time.perf_counter())

        s.position_changed.connect(on_position)
        p0 = s.position
        cpu0 = cpu()
        t0 = time.perf_counter()
        s.set_playing(True)
        probe.start()
        # The event loop as the application runs it (blocking between events, so the CPU time
        # per frame is the window's work, not a polling loop's).
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        stopped = s.playing_changed.connect(lambda playing: None if playing else loop.quit())
        loop.exec()
        s.playing_changed.disconnect(stopped)
        s.set_playing(False)
        probe.stop()
        elapsed = time.perf_counter() - t0
        cpu_used = cpu() - cpu0
        s.position_changed.disconnect(on_position)
        steps = s.position - p0
        intervals = [b - a for a, b in itertools.pairwise(stamps)][3:]
        self.settle(0.1)
        # Steady rate between the first and the last step shown (the first tick is one period
        # after Space; counting from Space would charge that period to the rate).
        rate = (steps - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 and steps > 1 else steps / elapsed
        return {
            "steps_per_s": rate,
            "median_ms": statistics.median(intervals) * 1e3 if intervals else float("nan"),
            "p95_ms": percentile(intervals, 0.95) * 1e3,
            "cpu_ms": cpu_used / max(1, len(stamps)) * 1e3,
            "latency_p95_ms": percentile(late[2:], 0.95) * 1e3,
        }

    def seek_ms(self, count: int = 20) -> list[float]:
        """Seek to random steps; time until every view has repainted at the new step."""
        from gdstudio.ui.views import HistoryView
        from gdstudio.ui.views.protocol import DeferredFrames

        w = self.window
        s = w.session
        rng = random.Random(0)
        views = [v for v in (w.contour, w.surface_view, w.history_view) if v.isVisible()]
        times = []
        for _ in range(count):
            k = rng.randrange(0, s.computed_steps)
            t = time.perf_counter()
            s.seek(k)
            self.app.processEvents()  # the bridge's queued push
            for v in views:
                if isinstance(v, DeferredFrames | HistoryView):  # views that defer a frame: apply it now
                    v.flush()
                v.repaint()
            times.append(time.perf_counter() - t)
            self.settle(0.02)
        return times

    def race_all_s(self) -> float:
        w = self.window
        w.load_preset("rosenbrock")
        self.settle()
        from gdstudio.ui.fair_race_dialog import FairRaceDialog

        w.race_all()  # the fair-race dialog, with its defaults (11 optimizers, 150 steps, η tuned)
        dialog = w.findChild(FairRaceDialog, "fair_race_dialog")
        t = time.perf_counter()
        dialog.race()  # its Race button
        while w.racing:
            self.app.processEvents()
            time.sleep(0.001)
        seconds = time.perf_counter() - t
        dialog.close()
        return seconds

    def close(self) -> None:
        self.window.close()
        self.app.processEvents()
        self.tmp.cleanup()


def row(name: str, r: dict[str, float], target: float | None) -> str:
    ratio = f"  ratio to {target:.0f}/s: {r['steps_per_s'] / target:5.2f}" if target else ""
    return (f"{name:40s} {r['steps_per_s']:6.1f} steps/s  frame median {r['median_ms']:6.1f} ms"
            f"  p95 {r['p95_ms']:6.1f}  cpu/frame {r['cpu_ms']:6.1f} ms  ui-latency p95 {r['latency_p95_ms']:5.1f} ms"
            f"{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="play time per scenario")
    parser.add_argument("--only", choices=["race", "history", "seek", "race-all"], default=None)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="instead: cProfile N runs playing at 1920x1080 with every dock, print the top lines")
    parser.add_argument("--sort", default="cumulative", choices=["cumulative", "tottime"], help="profile order")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 0.5 s rows, 2 runs at 1280x720, histories of 1,000 and 3,000 steps")
    args = parser.parse_args()
    os.environ.pop("QT_QPA_PLATFORM", None)
    ensure_display()
    from gdstudio.ui.qt_setup import configure_qt, gl_renderer

    configure_qt()
    sizes, counts, long_history = ((1920, 1080), (1280, 720)), (2, 8, 12), 98_000
    if args.quick:
        args.seconds = 0.5
        sizes, counts, long_history = ((1280, 720),), (2,), 3_000
    bench = Bench()
    print(f"gdstudio MainWindow, every dock; GL renderer: {gl_renderer() or 'none'}; {TICKS_PER_SECOND} ticks/s "
          f"requested, 1 step per tick; {args.seconds:g} s per row; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    try:
        if args.profile:
            bench.layout((1920, 1080), surface=True)
            bench.race(args.profile)
            prof = cProfile.Profile()
            prof.enable()
            r = bench.play(args.seconds)
            prof.disable()
            print(row(f"{args.profile} runs, 1920x1080 (profiled)", r, None))
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(35)
            print(out.getvalue())
            return
        if args.only in (None, "race"):
            for size in sizes:
                for surface in (True, False):
                    bench.layout(size, surface)
                    for n in counts:
                        bench.race(n)
                        target = (30 if surface else 60) if n == 8 and size == (1920, 1080) else None
                        label = f"{n:2d} runs {size[0]}x{size[1]} {'with 3-D' if surface else '3-D hidden'}"
                        print(row(label, bench.play(args.seconds), target), flush=True)
            # The explaining docks too (Step inspector, Quadratic theory, Basin map: closed on a first launch)
            bench.layout((1920, 1080), True)
            for dock_id in ("inspector", "theory", "basins"):
                bench.window.docks[dock_id].show()
            bench.race(8)
            print(row(" 8 runs 1920x1080, every dock open", bench.play(args.seconds), 30), flush=True)
            for dock_id in ("inspector", "theory", "basins"):
                bench.window.docks[dock_id].hide()
        if args.only in (None, "history", "seek"):
            bench.layout((1920, 1080), True)
            bench.race(8, 1_000)
            short = bench.play(args.seconds)
            bench.race(8, long_history)
            long = bench.play(args.seconds) if args.only != "seek" else None
            if long is not None:
                print(row("8 runs from step 1,000", short, None))
                print(row(f"8 runs from step {long_history:,}", long, None))
                ratio = long["median_ms"] / short["median_ms"]
                print(f"{f'history length: frame {long_history // 1000}k / frame 1k':40s} {ratio:5.2f}  "
                      "(target ≤ 1.2)")
            seeks = bench.seek_ms(5 if args.quick else 20)
            print(f"{f'seek in a {long_history:,}-step history':40s} median {statistics.median(seeks) * 1e3:6.1f} ms  "
                  f"max {max(seeks) * 1e3:6.1f} ms  ratio to 30 ms: {0.030 / statistics.median(seeks):5.2f}")
        if args.only in (None, "race-all"):
            seconds = bench.race_all_s()
            print(f"{'Race all (tuning, Rosenbrock)':40s} {seconds:6.2f} s  ratio to 2 s: {2.0 / seconds:5.2f}")
    finally:
        bench.close()


if __name__ == "__main__":
    main()
