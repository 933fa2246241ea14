"""Issue 10, window: the effective-lr curve follows the schedule, and the optimizers' internals
can be shown (point-like ones as paths on the contour, scalar ones as curves in the history).

Every check compares what the views drew with the engine's History arrays of real runs, or with
a closed form (SGD's effective lr under a step schedule is η·γ^⌊k/s⌋)."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.bridge import ViewBridge, display_options
from gdstudio.ui.views import ContourView, HistoryView, TrajectoryView
from gdstudio.ui.views.history import INTERNALS, PLOTS, SCHEDULE_LABEL
from gdstudio.ui.views.protocol import DisplayOptions

ON = DisplayOptions(internals=True)


def _traj(key, run: Run, color: str = "#E69F00", visible: bool = True) -> TrajectoryView:
    return TrajectoryView.from_history(key, run.history, status=str(run.status), color=color, visible=visible,
                                       scheduled=run.schedule is not None)


def _surface(view, problem) -> None:
    view.set_surface(problem.grid(96), problem.bounds, problem.minima, True, labels=problem.params,
                     gradient_fn=problem.gradient)


@pytest.fixture
def history(qtbot):
    view = HistoryView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    return view


@pytest.fixture
def contour(qtbot):
    view = ContourView(use_opengl=False)
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    return view


# -- the effective learning rate follows the schedule ----------------------------------------
def test_sgd_effective_lr_curve_halves_with_a_step_schedule(history):
    bowl = make_problem("bowl")
    run = Run(bowl, RunConfig("sgd", (-7.0, 2.0), {"lr": 0.04}, tol=0.0, schedule="step",
                              schedule_settings={"step_size": 10, "gamma": 0.5})).run(35)
    closed = 0.04 * 0.5 ** (np.arange(35) // 10)  # torch's StepLR: η·γ^⌊k/s⌋ for step k + 1
    np.testing.assert_allclose(run.history.lr, closed, rtol=1e-15, atol=0)
    history.set_frame([_traj(1, run)], 35)
    curves = history.curve_data(1, "effective_lr")
    assert len(curves) == 3  # x, y, and the scheduled η
    for x, y in curves:
        np.testing.assert_array_equal(x, np.arange(35))
        np.testing.assert_allclose(10.0 ** y, closed, rtol=1e-12)  # log axis: log10 drawn
    key = history.schedule_key
    assert key.isVisible() and [label.text for _sample, label in key.items] == [SCHEDULE_LABEL]
    # The dot at the position sits on the η the step took there.
    history.set_position(25)
    ys = history.markers["effective_lr"].getData()[1]
    np.testing.assert_allclose(10.0 ** ys, 0.01, rtol=1e-12)


def test_no_schedule_no_eta_curve(history):
    bowl = make_problem("bowl")
    run = Run(bowl, RunConfig("adam", (-7.0, 2.0), {"lr": 0.1}, tol=0.0)).run(20)
    history.set_frame([_traj(1, run)], 20)
    assert len(history.curve_data(1, "effective_lr")) == 2
    assert not history.schedule_key.isVisible()


def test_adam_effective_lr_curve_is_the_rate_each_step_used(history):
    """A rule whose effective lr is η·(its own factor): the curve is History's effective lr,
    which halves (up to the factor's slow drift) where the schedule halves η."""
    bowl = make_problem("bowl")
    run = Run(bowl, RunConfig("adam", (-7.0, 2.0), {"lr": 0.1}, tol=0.0, schedule="step",
                              schedule_settings={"step_size": 15, "gamma": 0.5})).run(30)
    history.set_frame([_traj(1, run)], 30)
    (_, yx), _, (_, eta) = history.curve_data(1, "effective_lr")
    np.testing.assert_allclose(10.0 ** yx, run.history.effective_lr[:, 0], rtol=1e-12)
    np.testing.assert_allclose(10.0 ** eta, run.history.lr, rtol=1e-12)
    ratio = run.history.effective_lr[15, 0] / run.history.effective_lr[14, 0]
    assert 0.45 < ratio < 0.55


# -- scalar internals in the history ---------------------------------------------------------
def test_prodigy_d_curve_in_the_internals_plot(history):
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("prodigy", (-1.5, 2.0), {}, tol=0.0)).run(60)
    d = run.history.step_array("d")
    assert d.shape == (60,) and np.all(d > 0) and d[-1] > d[0]  # the estimate grows
    history.set_frame([_traj(1, run)], 60)
    assert history.plot_names == PLOTS and not history.curve_data(1, INTERNALS)  # off by default
    history.set_options(ON)
    assert history.plot_names == (*PLOTS, INTERNALS) and history.plots[INTERNALS].isVisible()
    (x, y), = history.curve_data(1, INTERNALS)
    np.testing.assert_array_equal(x, np.arange(60))
    np.testing.assert_allclose(y, np.log10(d), rtol=1e-12)  # log axis
    assert "d" in history.plots[INTERNALS].titleLabel.text
    history.set_options(DisplayOptions())
    assert history.plot_names == PLOTS and not history.plots[INTERNALS].isVisible()
    assert not history.curve_data(1, INTERNALS)


def test_lbfgs_evaluations_curve(history):
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("lbfgs", (-1.5, 2.0), {"line_search_fn": "strong_wolfe"}, tol=0.0)).run(40)
    evals = run.history.step_array("evals")
    assert evals.shape[0] == run.history.steps and np.all(evals >= 1) and evals.max() > 1
    history.set_options(ON)
    history.set_frame([_traj(7, run)], 40)
    ((_x, y),) = history.curve_data(7, INTERNALS)
    np.testing.assert_allclose(10.0 ** y, evals, rtol=1e-12)
    history.set_position(5)
    ys = history.markers[INTERNALS].getData()[1]
    np.testing.assert_allclose(10.0 ** ys, [evals[5]], rtol=1e-12)


def test_hidden_run_draws_no_internals_curve(history):
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("prodigy", (-1.5, 2.0), {}, tol=0.0)).run(30)
    history.set_options(ON)
    history.set_frame([_traj(1, run, visible=False)], 30)
    history.flush()
    assert not history.tails[INTERNALS]._paths and not history.bodies[INTERNALS]._paths
    assert len(history.markers[INTERNALS].getData()[0]) == 0


# -- point-like internals on the contour -----------------------------------------------------
def test_asgd_average_drawn_as_a_path_up_to_the_step_shown(contour):
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("asgd", (-1.5, 2.0), {"lr": 1e-3, "t0": 5.0}, tol=0.0)).run(200)
    ax = run.history.step_array("ax")
    assert ax.shape == (200, 2)
    assert np.abs(ax[-1] - run.history.points[-1]).max() > 1e-2  # the average trails the iterate
    _surface(contour, rosen)
    contour.set_frame([_traj(3, run, color="#56B4E9")], 120)
    assert contour.internal_paths() == []  # off by default
    contour.set_options(ON)
    (drawn,) = contour.internal_paths()
    assert (drawn.key, drawn.name, drawn.color) == (3, "ax", "#56B4E9")
    np.testing.assert_array_equal(drawn.points, ax[:120])  # rows 0..119: after steps 1..120
    assert drawn.head == (float(ax[119, 0]), float(ax[119, 1]))
    contour.set_position(40)
    (drawn,) = contour.internal_paths()
    np.testing.assert_array_equal(drawn.points, ax[:40])
    contour.set_options(DisplayOptions())
    assert contour.internal_paths() == []


def test_schedulefree_x_path(contour):
    beale = make_problem("beale")
    run = Run(beale, RunConfig("schedulefree-adamw", (1.0, 1.5), {"lr": 0.05}, tol=0.0)).run(150)
    x = run.history.step_array("x")
    assert np.abs(x - run.history.points[1:]).max() > 1e-3  # x is not the train-mode point
    _surface(contour, beale)
    contour.set_options(ON)
    contour.set_frame([_traj(1, run)], 10_000)  # beyond the run: its whole history
    (drawn,) = contour.internal_paths()
    np.testing.assert_array_equal(drawn.points, x)
    lo, hi = contour.clip_box()
    v = drawn.verts[np.isfinite(drawn.verts).all(axis=1)]
    assert np.all((v >= lo - 1e-12) & (v <= hi + 1e-12))


def test_internals_of_a_diverged_run_stop_at_the_last_finite_row(contour):
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("asgd", (-1.5, 2.0), {"lr": 0.003, "t0": 1.0}, tol=0.0)).run(200)
    assert str(run.status) == "diverged"
    ax = run.history.step_array("ax")
    assert np.abs(ax).max() > 1e20  # the average flew off with the run
    _surface(contour, rosen)
    contour.set_options(ON)
    contour.set_frame([_traj(1, run)], 10_000)
    (d,) = contour.internal_paths()
    np.testing.assert_array_equal(d.points, ax)
    lo, hi = contour.clip_box()  # the problem's bounds and a margin
    v = d.verts[np.isfinite(d.verts).all(axis=1)]
    assert len(v) and np.all((v >= lo - 1e-12) & (v <= hi + 1e-12))  # clipped: no strokes to 1e300
    assert d.head is None  # the head is off the plot: no marker at the edge
    contour.grab()  # paints without error
    # A non-finite row ends the path there (nothing after it is drawn).
    bad = ax.copy()
    bad[2] = np.nan
    t = TrajectoryView(2, run.history.points, run.history.loss, internals={"ax": bad})
    contour.set_frame([t], 10_000)
    (d,) = contour.internal_paths()
    np.testing.assert_array_equal(d.points, ax[:2])


def test_rows_before_a_buffer_existed_are_skipped(contour):
    rosen = make_problem("rosenbrock")
    pts = np.array([[-1.0, 1.0], [-0.9, 1.1], [-0.8, 1.2], [-0.7, 1.3]])
    internal = np.array([[np.nan, np.nan], [-0.95, 1.05], [-0.85, 1.15]])
    t = TrajectoryView("k", pts, rosen.loss(pts), internals={"ax": internal})
    _surface(contour, rosen)
    contour.set_options(ON)
    contour.set_frame([t], 3)
    (d,) = contour.internal_paths()
    np.testing.assert_array_equal(d.points, internal[1:])
    assert not np.isnan(d.verts).any()


def test_hidden_runs_and_other_runs_draw_no_internals(contour):
    rosen = make_problem("rosenbrock")
    avg = Run(rosen, RunConfig("asgd", (-1.5, 2.0), {"lr": 1e-3, "t0": 5.0}, tol=0.0)).run(50)
    adam = Run(rosen, RunConfig("adam", (1.5, 2.0), {"lr": 0.05}, tol=0.0)).run(50)
    _surface(contour, rosen)
    contour.set_options(ON)
    contour.set_frame([_traj(1, avg, visible=False), _traj(2, adam)], 50)
    assert contour.internal_paths() == []


# -- through the session and the bridge ------------------------------------------------------
def test_the_option_reaches_both_views_through_the_bridge(qtbot):
    s = Session()
    s.set_problem(name="rosenbrock")
    s.add_run(RunConfig("asgd", (-1.5, 2.0), {"lr": 1e-3, "t0": 5.0}))
    s.add_run(RunConfig("prodigy", (1.0, -0.5), {}, schedule="step", schedule_settings={"step_size": 10}))
    contour, history = ContourView(use_opengl=False), HistoryView()
    for w in (contour, history):
        qtbot.addWidget(w)
    b = ViewBridge(s, contour, None, history)
    try:
        s.forward(40)
        b.flush()
        assert not display_options(s).internals and contour.internal_paths() == []
        s.set_options(show_internals=True)
        assert display_options(s).internals
        qtbot.waitUntil(lambda: not b.stale)
        b.flush()
        asgd, prodigy = s.runs
        (drawn,) = contour.internal_paths()
        assert drawn.key == asgd.id
        np.testing.assert_array_equal(drawn.points, asgd.run.history.step_array("ax")[: s.position])
        (_x, y), = history.curve_data(prodigy.id, INTERNALS)
        np.testing.assert_allclose(10.0 ** y, prodigy.run.history.step_array("d"), rtol=1e-12)
        eta = history.curve_data(prodigy.id, "effective_lr")[-1][1]  # the scheduled run's η curve
        np.testing.assert_allclose(10.0 ** eta, prodigy.run.history.lr, rtol=1e-12)
        assert len(history.curve_data(asgd.id, "effective_lr")) == 2  # no schedule: no η curve
    finally:
        b.close()


def test_show_internals_is_saved_with_the_session():
    s = Session()
    s.set_options(show_internals=True)
    doc = s.to_dict()
    assert doc["view"]["show_internals"] is True
    t = Session()
    t.apply_dict(doc)
    assert t.options.show_internals
    del doc["view"]["show_internals"]  # a file written before the option: off
    t.apply_dict(doc)
    assert not t.options.show_internals


def test_a_growing_run_and_a_restart_under_the_same_key(contour):
    """The contour keeps each internal's clipped path between frames: growing rows extend it,
    a run replaced under its key (a restart from elsewhere) starts it afresh."""
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("asgd", (-1.5, 2.0), {"lr": 1e-3, "t0": 5.0}, tol=0.0))
    _surface(contour, rosen)
    contour.set_options(ON)
    for chunk in (1, 3, 50, 400):
        run.advance(chunk)
        contour.set_frame([_traj(1, run)], run.history.steps)
        (d,) = contour.internal_paths()
        np.testing.assert_array_equal(d.points, run.history.step_array("ax"))
    other = Run(rosen, RunConfig("asgd", (1.0, -0.5), {"lr": 1e-3, "t0": 5.0}, tol=0.0)).run(300)
    contour.set_frame([_traj(1, other)], 300)
    (d,) = contour.internal_paths()
    np.testing.assert_array_equal(d.points, other.history.step_array("ax"))
    assert np.isfinite(d.verts).all() and np.allclose(d.verts[0], other.history.step_array("ax")[0])


def test_the_internals_plot_joins_the_layout(history, qtbot):
    """Five plots: a 2 × 3 grid with room, else pages (each plot reachable, the internals too)."""
    assert history.arrangement == (2, 2)
    history.set_options(ON)
    assert history.arrangement == (2, 3) and history.shown_plots == (*PLOTS, INTERNALS)
    assert not history.tabs.isVisible()
    history.resize(300, 500)  # too narrow for 3 columns or 2: pages of two plots one above the other
    qtbot.waitUntil(lambda: history.tabs.isVisible())
    assert history.tabs.count() == 3
    history.show_plot(INTERNALS)
    assert INTERNALS in history.shown_plots and history.plots[INTERNALS].isVisible()
    history.set_options(DisplayOptions())
    assert history.tabs.count() == 2 and INTERNALS not in history.shown_plots
    assert not history.plots[INTERNALS].isVisible()


def test_an_internal_not_recorded_yet_is_left_out():
    """Before the first step (or before the rule created the buffer) History reads a point-like
    internal as NaN per step: the views get nothing for it, not a scalar curve named ``ax``."""
    rosen = make_problem("rosenbrock")
    run = Run(rosen, RunConfig("asgd", (-1.5, 2.0), {"lr": 1e-3}, tol=0.0))
    assert _traj(1, run).internals == {}
    run.advance(1)
    t = _traj(1, run)
    assert list(t.point_internals()) == ["ax"] and t.scalar_internals() == {}
