"""Undo can replace a run by another with as many steps (the run before an edit, restored): the
contour's step-by-step trail image must notice and repaint in full, not keep the replaced path."""

from __future__ import annotations

import gdstudio_window_fixtures as wf  # registered by conftest.py
import numpy as np

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.ui.views import ContourView, TrajectoryView


def _pixels(view) -> np.ndarray:
    return wf.image_array(view.plot_widget.grab().toImage())[..., :3].astype(int)


def test_a_run_replaced_by_one_as_long_is_repainted(show, qtbot):
    problem = make_problem("himmelblau")
    v = show(ContourView(use_opengl=False), size=(640, 480))
    v.set_surface(problem.grid(128), problem.bounds, problem.minima, False)
    moved = Run(problem, RunConfig("adam", (1.6, 1.2), {"lr": 0.1}, tol=0.0)).run(40)
    v.set_frame([TrajectoryView.from_history(1, moved.history, color="#EF00FF")], 40)
    v.plot_widget.viewport().repaint()
    original = Run(problem, RunConfig("adam", (-0.5, -0.5), {"lr": 0.1}, tol=0.0)).run(40)  # the undo
    v.set_frame([TrajectoryView.from_history(1, original.history, color="#EF00FF")], 40)
    qtbot.wait(10)
    shown = _pixels(v)
    v.runs_layer.cache_trails = False
    v.runs_layer.update()
    full = _pixels(v)
    assert (np.abs(shown - full).max(axis=-1) > 60).mean() < 0.002
