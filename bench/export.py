"""Export benchmark: frames per second of `gdstudio render` against matplotlib's FuncAnimation.

Usage (from the repository root)::

    .venv/bin/python bench/export.py                  # starts its own Xvfb if DISPLAY is unset
    .venv/bin/python bench/export.py --steps 300 --repeat 3

Scenario: the Himmelblau preset (Adam vs Momentum), 300 steps -> 301 frames at 1280×720, 30 fps,
H.264 MP4. Rows:

* ``gdstudio contour`` / ``gdstudio both``: :func:`gdstudio.ui.render_command.render` in-process — the
  code path of ``gdstudio render`` (offscreen views, caption, encoder thread), renderer set-up
  included; ``(serial)`` rows encode on the GUI thread instead, to show what the thread buys;
* ``matplotlib``: the articles' route — ``contourf`` (25 levels) of the same 256² grid, one
  line with dot markers per run and a title ``"Epoch: i, Error: …"`` updated by
  ``FuncAnimation``, saved with ``FFMpegWriter`` (libx264, the ffmpeg binary of imageio-ffmpeg).

matplotlib and imageio-ffmpeg are benchmark-only (``.venv/bin/pip install matplotlib
imageio-ffmpeg``; never project dependencies): without them the comparison is skipped with a
note. Targets: contour ≥ 5× matplotlib, both views ≥ 2×. Best of ``--repeat`` runs (the machine
is shared). Prints fps and ratios; never asserts.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (1280, 720)
FPS = 30


def _ensure_display() -> None:
    """bench/ui.py's helper: a private Xvfb (1920×1080×24) when DISPLAY is unset."""
    spec = importlib.util.spec_from_file_location("gdstudio_bench_ui", Path(__file__).with_name("ui.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ensure_display()


def make_session(steps: int):
    from gdstudio.model.presets import load_preset
    from gdstudio.model.session import Session

    s = Session()
    load_preset(s, "himmelblau")
    s.set_max_steps(max(s.max_steps, steps))
    s.forward(steps)
    return s


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children (ffmpeg)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of fn(*args)."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0, cpu_seconds() - c0


def bench_gdstudio(session, view: str, steps: int, folder: Path, threaded: bool = True) -> None:
    from gdstudio.export.writers import writer_for
    from gdstudio.ui.render_command import render

    out = folder / f"gdstudio_{view}.mp4"
    frames = list(range(steps + 1))
    render(session, writer_for(out, FPS), view=view, size=SIZE, steps=frames, caption=True, last_step=steps,
           threaded=threaded)


def matplotlib_missing() -> str | None:
    for name in ("matplotlib", "imageio_ffmpeg"):
        if importlib.util.find_spec(name) is None:
            return (f"skipped: {name} is not installed (benchmark-only: .venv/bin/pip install matplotlib "
                    "imageio-ffmpeg)")
    return None


def bench_matplotlib(session, steps: int, folder: Path) -> None:
    import imageio_ffmpeg
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    plt.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
    surf = session.surface()
    runs = [e for e in session.runs if e.run is not None]
    fig = plt.figure(figsize=(SIZE[0] / 100, SIZE[1] / 100), dpi=100)
    ax = plt.subplot(111)
    (x0, x1), (y0, y1) = session.bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(session.problem.params[0])
    ax.set_ylabel(session.problem.params[1])
    title = ax.set_title("Epoch 0")
    ax.contourf(surf.xs, surf.ys, surf.z, 25, alpha=0.8, cmap="viridis")
    lines = [ax.plot([], [], color=e.color, marker=".")[0] for e in runs]

    def animate(i: int):
        for line, e in zip(lines, runs, strict=True):
            pts = e.run.history.points
            k = min(i, len(pts) - 1)
            line.set_data(pts[: k + 1, 0], pts[: k + 1, 1])
        loss = runs[0].run.history.loss
        title.set_text("Epoch: {: d}, Error: {:.4f}".format(i, loss[min(i, len(loss) - 1)]))  # noqa: UP032 (the article's)
        return (*lines, title)

    anim = animation.FuncAnimation(fig, func=animate, frames=steps + 1, blit=False)
    anim.save(str(folder / "matplotlib.mp4"), writer=animation.FFMpegWriter(fps=FPS, codec="libx264"))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per row (default 2)")
    parser.add_argument("--no-matplotlib", action="store_true")
    args = parser.parse_args()
    os.environ.pop("QT_QPA_PLATFORM", None)
    _ensure_display()

    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    from gdstudio.ui.app import apply_color_scheme
    from gdstudio.ui.qt_setup import gl_renderer

    apply_color_scheme(app)
    session = make_session(args.steps)
    n = args.steps + 1
    print(f"gdstudio export benchmark: {n} frames at {SIZE[0]}×{SIZE[1]}, {FPS} fps, H.264; Himmelblau, "
          f"{len(session.runs)} runs; GL: {gl_renderer() or 'none'}; {os.cpu_count()} CPUs; best of {args.repeat}")
    rows: dict[str, tuple[float, float]] = {}  # name -> (fps, CPU ms per frame)

    def measure(name: str, fn, *fn_args) -> None:
        runs = [timed(fn, *fn_args) for _ in range(args.repeat)]
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        rows[name] = (n / wall, 1e3 * cpu / n)
        print(f"  {name:<28} {n / wall:7.1f} fps   ({wall:5.2f} s; CPU {1e3 * cpu / n:5.1f} ms/frame)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = (("gdstudio contour", "contour", True), ("gdstudio contour (serial)", "contour", False),
                 ("gdstudio both", "both", True), ("gdstudio both (serial)", "both", False))
        for name, view, threaded in cases:
            measure(name, bench_gdstudio, session, view, args.steps, folder, threaded)
        missing = "skipped (--no-matplotlib)" if args.no_matplotlib else matplotlib_missing()
        if missing:
            print(f"  {'matplotlib FuncAnimation':<28} {missing}")
        else:
            measure("matplotlib", bench_matplotlib, session, args.steps, folder)
    if "matplotlib" in rows:
        ref_fps, ref_cpu = rows["matplotlib"]
        for name, view, target in (("gdstudio contour", "contour", 5), ("gdstudio both", "both", 2)):
            fps, cpu = rows[name]
            verdict = "met" if fps / ref_fps >= target else "MISSED"
            print(f"ratio {view} / matplotlib: {fps / ref_fps:4.1f}x fps (target ≥ {target}x: {verdict}); "
                  f"{ref_cpu / cpu:4.1f}x less CPU per frame")
    for view in ("contour", "both"):
        print(f"encoder thread ({view}): {rows[f'gdstudio {view}'][0] / rows[f'gdstudio {view} (serial)'][0]:.2f}x "
              "the serial pipeline's fps")


if __name__ == "__main__":
    main()
