"""The contour's paths are painted through an image extended step by step while runs grow; what
it shows must be what a full repaint shows, and it must repaint in full when a run restarts,
goes back, leaves the view or the view moves."""

from __future__ import annotations

import gdstudio_window_fixtures as wf  # registered by conftest.py
import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.ui.views import ContourView, TrajectoryView

CONFIGS = [("adam", (-4.0, 4.0), 0.2), ("momentum", (4.0, -4.0), 0.01), ("gd", (-1.0, -4.5), 0.01)]


def _runs(problem, steps: int) -> list[Run]:
    return [Run(problem, RunConfig(o, s, {"lr": lr}, tol=0.0)).run(steps) for o, s, lr in CONFIGS]


def _trajs(runs) -> list[TrajectoryView]:
    return [TrajectoryView.from_history(i, r.history, color=c)
            for i, (r, c) in enumerate(zip(runs, ("#EF00FF", "#00FFFF", "#FF7060"), strict=True))]


@pytest.fixture
def view(show):
    problem = make_problem("himmelblau")
    v = show(ContourView(use_opengl=False), size=(640, 480))
    v.set_surface(problem.grid(128), problem.bounds, problem.minima, False)
    return problem, v


def _pixels(view) -> np.ndarray:
    return wf.image_array(view.plot_widget.grab().toImage())[..., :3].astype(int)


def _shown_and_full(view, qtbot) -> tuple[np.ndarray, np.ndarray]:
    """What the view shows now, and what it shows once its paths are painted in full."""
    qtbot.wait(10)
    shown = _pixels(view)
    layer = view.runs_layer
    layer.cache_trails = False
    layer.update()
    full = _pixels(view)
    layer.cache_trails = True
    return shown, full


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    diff = np.abs(a - b).max(axis=-1)
    return (diff > 60).mean() < 0.002  # antialiased joints may differ by a few edge pixels


def test_growing_runs_painted_step_by_step_match_a_full_repaint(view, qtbot):
    problem, v = view
    runs = _runs(problem, 0)
    extended = 0
    for step in range(1, 60):
        for r in runs:
            r.advance(1)
        before = v.runs_layer._trail_cache
        v.set_frame(_trajs(runs), step)
        v.plot_widget.viewport().repaint()
        after = v.runs_layer._trail_cache
        extended += before is not None and after is not None and after[1] is before[1]  # same image, extended
    assert extended > 50  # painted step by step, not in full
    shown, full = _shown_and_full(v, qtbot)
    assert _same(shown, full)


@pytest.mark.parametrize("change", ["seek back", "restart", "zoom", "diverge"])
def test_the_cache_is_repainted_in_full_when_it_cannot_be_extended(view, qtbot, change):
    problem, v = view
    runs = _runs(problem, 40)
    v.set_frame(_trajs(runs), 40)
    v.plot_widget.viewport().repaint()
    if change == "seek back":
        step = 10
    elif change == "restart":
        runs[0] = Run(problem, RunConfig("adam", (-4.0, 4.0), {"lr": 0.02}, tol=0.0)).run(45)
        for r in runs[1:]:
            r.advance(5)
        step = 45
    elif change == "zoom":
        v.view_box.setRange(xRange=(-5, 0), yRange=(0, 5), padding=0)
        step = 40
    else:  # a run jumps far out of the view (a diverging step)
        runs[1] = Run(problem, RunConfig("gd", (4.0, -4.0), {"lr": 0.3}, tol=0.0)).run(40)
        step = 40
    v.set_frame(_trajs(runs), step)
    shown, full = _shown_and_full(v, qtbot)
    assert _same(shown, full), change
