"""The Step inspector while playing: its cost per refresh and the window's step rate with it shown
or hidden (10 runs, 60 ticks/s requested). Prints numbers; run under Xvfb:

    DISPLAY=:N .venv/bin/python bench/inspector.py
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import time

from gdstudio.ui.qt_setup import configure_qt

configure_qt()

from PySide6.QtWidgets import QApplication  # noqa: E402

from gdstudio.engine.runs import RunConfig  # noqa: E402
from gdstudio.ui.main_window import MainWindow  # noqa: E402
from gdstudio.ui.panels.inspector import inspector_of  # noqa: E402
from gdstudio.ui.settings import StudioSettings  # noqa: E402

RULES = ["adam", "momentum", "nag", "rmsprop", "adagrad", "gd", "adamw", "nadam", "radam", "adamax"]


def play(app: QApplication, w: MainWindow, seconds: float) -> float:
    s = w.session
    start = s.position
    s.set_playing(True)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
    s.set_playing(False)
    return (s.position - start) / seconds


def main() -> None:
    app = QApplication(sys.argv)
    w = MainWindow(settings=StudioSettings.in_folder(pathlib.Path(tempfile.mkdtemp())))
    w.resize(1600, 1000)
    w.show()
    w.start(preset="himmelblau")
    s = w.session
    s.replace_runs([RunConfig(name, (-0.5 + 0.1 * i, -0.5), {"lr": 0.01}) for i, name in enumerate(RULES)])
    s.select(s.runs[0].id)
    s.set_max_steps(100_000)
    s.set_speed(1, 60)
    panel = inspector_of(w)
    assert panel is not None
    for _ in range(50):
        app.processEvents()
    # One refresh deep into a run (the first replays to it; then from the nearest checkpoint).
    s.forward(2000)
    longest = max(s.runs, key=lambda e: e.run.history.steps if e.run is not None else 0)
    s.select(longest.id)
    print(f"{longest.label}: {longest.run.history.steps} steps" if longest.run is not None else "")
    w.docks["inspector"].hide()  # the seeks below do not refresh it: each timed refresh does the work
    for _ in range(5):
        app.processEvents()
    for k in (1990, 1500, 1501, 700, 701):
        s.seek(k)
        t0 = time.perf_counter()
        panel.refresh()
        took = 1000 * (time.perf_counter() - t0)
        shown = panel.explanation.step if panel.explanation is not None else None
        print(f"refresh at step {k} (explained: {shown}): {took:.2f} ms")
    w.docks["inspector"].show()
    s.seek(s.computed_steps)
    for shown in (True, False, True):
        w.docks["inspector"].setVisible(shown)
        before = panel.updates.count
        rate = play(app, w, 4.0)
        print(f"inspector {'shown ' if shown else 'hidden'}: {rate:.1f} steps/s, "
              f"{(panel.updates.count - before) / 4.0:.1f} inspector refreshes/s")
    w.close()


if __name__ == "__main__":
    main()
