"""The fit view (issue 8 item 9): data points and each run's ŷ(x) at the step shown, through the
real widget. Curves are checked against the problem's predict() at the run's own points, and one
against the closed form; positions on screen from the ViewBox's scene rectangle and range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from gdstudio.engine.problems import make_problem
from gdstudio.ui.colormaps import RUN_PALETTE
from gdstudio.ui.views.fit import FitView
from gdstudio.ui.views.types import TrajectoryView

DATA_PROBLEMS = ("sigmoid-neuron", "linear-regression", "line-through-origin")


@pytest.fixture
def fit_view(show):
    return show(FitView())


def drawn(view: FitView, key) -> tuple[np.ndarray, np.ndarray]:
    x, y = view.curves[key].getData()
    return np.asarray(x, float), np.asarray(y, float)


def screen_xy(view: FitView, x: float, y: float) -> tuple[int, int]:
    """Widget pixel of data (x, y) from the ViewBox's scene rect and range (y up)."""
    vb = view.view_box
    rect = vb.sceneBoundingRect()
    (x0, x1), (y0, y1) = vb.viewRange()
    sp = QPointF(rect.left() + (x - x0) / (x1 - x0) * rect.width(), rect.top() + (y1 - y) / (y1 - y0) * rect.height())
    p = view.plot_widget.mapFromScene(sp)
    return p.x(), p.y()


@pytest.mark.parametrize("name", DATA_PROBLEMS)
def test_curves_are_predict_at_the_step_shown(fit_view, run_trajectory, name) -> None:
    p = make_problem(name)
    start = tuple(v + 0.5 for v in p.start)
    runs = [run_trajectory(p, "gd", start, 30, key=0, color=RUN_PALETTE[0], lr=0.05),
            run_trajectory(p, "adam", start, 12, key=1, color=RUN_PALETTE[1], lr=0.2)]
    fit_view.set_problem(p)
    sx, sy = fit_view.data_points.getData()
    np.testing.assert_array_equal(sx, p.x)
    np.testing.assert_array_equal(sy, p.y)
    assert fit_view.plot_item.getAxis("bottom").labelText == "x"
    assert fit_view.plot_item.getAxis("left").labelText == "y"
    for step in (0, 7, 25, 500):  # 25 and 500 are past the Adam run's end: it stays at its last point
        fit_view.set_frame(runs, step)
        for t in runs:
            k = min(step, t.last_index)
            x, y = drawn(fit_view, t.key)
            (x0, x1), _ = fit_view.view_box.viewRange()
            assert x[0] == pytest.approx(x0) and x[-1] == pytest.approx(x1)  # the whole visible x
            np.testing.assert_allclose(y, p.predict(t.points[k], x), rtol=1e-12)
            assert fit_view.curves[t.key].opts["pen"].color().name() == t.color.lower()
    # set_position moves the curves; set_trajectories keeps the step
    fit_view.set_position(3)
    fit_view.set_trajectories(runs[:1])
    assert list(fit_view.curves) == [0]
    np.testing.assert_allclose(drawn(fit_view, 0)[1], p.predict(runs[0].points[3], drawn(fit_view, 0)[0]), rtol=1e-12)


def test_line_fit_closed_form_and_on_screen(fit_view, qtbot, image_array) -> None:
    """y = a·x + b drawn where a hand-made point says, in the run's colour."""
    p = make_problem("linear-regression")
    color = "#E69F00"
    t = TrajectoryView("r", np.array([[0.0, 0.0], [1.5, 4.0]]), np.zeros(2), color=color)
    fit_view.set_problem(p)
    fit_view.set_frame([t], 1)
    x, y = drawn(fit_view, "r")
    np.testing.assert_allclose(y, 1.5 * x + 4.0, rtol=1e-13)
    qtbot.wait(20)
    img = image_array(fit_view.grab().toImage())
    want = np.array([0xE6, 0x9F, 0x00])
    for xv in (-0.9, 0.1, 0.8):  # x in the data, away from the data points' markers at y = 2x + 3
        px, py = screen_xy(fit_view, xv, 1.5 * xv + 4.0)
        patch = img[py - 2 : py + 3, px - 2 : px + 3, :3].reshape(-1, 3).astype(int)
        assert np.abs(patch - want).sum(axis=1).min() < 40, (xv, patch)


def test_hidden_runs_hidden_and_only_matching_dimension(fit_view, run_trajectory) -> None:
    p = make_problem("sigmoid-neuron")
    a = run_trajectory(p, "gd", (-2, -2), 5, key="a", lr=0.5)
    b = run_trajectory(p, "gd", (-1, -1), 5, key="b", lr=0.5)
    b.visible = False
    other = TrajectoryView("1d", np.array([[1.0], [2.0]]), np.zeros(2))  # a 1-D run: not of this problem
    fit_view.set_problem(p)
    fit_view.set_frame([a, b, other], 5)
    assert list(fit_view.curves) == ["a"]
    b.visible = True
    fit_view.set_trajectories([a, b, other])
    assert sorted(fit_view.curves) == ["a", "b"]
    assert set(fit_view.shown_params()) == {"a", "b"}


def test_diverged_run_stops_at_its_last_finite_point_and_never_sets_the_range(fit_view, run_trajectory) -> None:
    p = make_problem("line-through-origin")
    boom = run_trajectory(p, "gd", (1.0,), 2000, key="boom", lr=1.0)  # |1 − 2·lr·⟨x²⟩| = 8.3 > 1
    assert boom.status == "diverged"
    calm = run_trajectory(p, "gd", (1.0,), 50, key="calm", lr=0.02)
    fit_view.set_problem(p)
    before = fit_view.view_box.viewRange()
    for step in (3, boom.last_index, boom.last_index + 100):
        fit_view.set_frame([boom, calm], step)
        assert fit_view.view_box.viewRange() == before
        x, y = drawn(fit_view, "boom")
        w = boom.points[min(step, boom.last_index), 0]
        assert np.isfinite(w)
        (_, _), (y0, y1) = before
        # what is drawn is predict at that point, clipped far outside the view (never inf / 1e300)
        np.testing.assert_allclose(y, np.clip(w * x, y0 - 1000 * (y1 - y0), y1 + 1000 * (y1 - y0)), rtol=1e-12)
        assert np.isfinite(y).all() and np.abs(y).max() <= 1001 * (y1 - y0) + abs(y0)
    assert fit_view.curves["boom"].opts["pen"].style().name == "DashLine"  # diverged at its end
    fit_view.set_frame([boom, calm], 3)
    assert fit_view.curves["boom"].opts["pen"].style().name == "SolidLine"


def test_default_range_holds_the_data(fit_view) -> None:
    for name in DATA_PROBLEMS:
        p = make_problem(name)
        fit_view.set_problem(p)
        (x0, x1), (y0, y1) = fit_view.view_box.viewRange()
        assert x0 < p.x.min() and x1 > p.x.max() and y0 < p.y.min() and y1 > p.y.max()
        if name == "sigmoid-neuron":
            assert y0 < 0 and y1 > 1  # σ's whole output range
        if name == "line-through-origin":
            assert x0 < 0 < x1 and y0 < 0 < y1  # the origin the line goes through


def test_problem_without_data_shows_a_note_then_data_again(fit_view, qtbot, run_trajectory, himmelblau) -> None:
    p = make_problem("linear-regression")
    t = run_trajectory(p, "gd", (0, 0), 5, key=0, lr=0.1)
    fit_view.set_problem(p)
    fit_view.set_frame([t], 5)
    assert fit_view.applies and fit_view.plot_widget.isVisible() and not fit_view.note.isVisible()
    fit_view.set_problem(himmelblau)
    h = run_trajectory(himmelblau, "gd", (0, 0), 5, key=0, lr=0.01)
    fit_view.set_frame([h], 5)  # runs of a problem without data: nothing to draw, no error
    assert not fit_view.applies and fit_view.note.isVisible() and not fit_view.plot_widget.isVisible()
    assert "data problems" in fit_view.note.text()
    assert fit_view.curves == {}
    fit_view.set_problem(p)
    fit_view.set_frame([t], 2)
    assert fit_view.plot_widget.isVisible() and not fit_view.note.isVisible()
    np.testing.assert_allclose(drawn(fit_view, 0)[1], p.predict(t.points[2], drawn(fit_view, 0)[0]), rtol=1e-12)


def test_zoom_resamples_over_the_visible_x(fit_view, run_trajectory) -> None:
    p = make_problem("sigmoid-neuron")
    t = run_trajectory(p, "gd", (-2, -2), 10, key=0, lr=1.0)
    fit_view.set_problem(p)
    fit_view.set_frame([t], 10)
    fit_view.view_box.setRange(xRange=(-20.0, 30.0), padding=0.0)
    x, y = drawn(fit_view, 0)
    assert x[0] == pytest.approx(-20.0) and x[-1] == pytest.approx(30.0)
    w, b = t.points[10]
    np.testing.assert_allclose(y, [1 / (1 + math.exp(-(w * v + b))) for v in x], rtol=1e-12)
    fit_view.reset_view()
    assert fit_view.view_box.viewRange()[0][0] > -20.0
