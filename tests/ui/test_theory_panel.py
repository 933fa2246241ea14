"""The Quadratic theory dock on real widgets: its numbers equal the closed forms, the eigen-axes on the
contour point along the eigenvectors through the minimum, "Use optimal" sets η (and γ) on the selected
run as one undoable command, the error curves equal the run's projections and the predicted rates,
a local analysis at the run's head (and "no optimum" where not convex), the preset in the window, and
divergence explained in the status line and the runs table's tooltip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gdstudio_window_fixtures import settle
from PySide6.QtCore import Qt

from gdstudio.engine.quadratic import analyze
from gdstudio.engine.runs import RunConfig
from gdstudio.model import Session
from gdstudio.ui.panels.theory import TheoryPanel


def session_on(problem: str, optimizer: str = "gd", start=(-4.0, -2.0), **hp) -> Session:
    s = Session()
    s.set_problem(name=problem)
    s.clear_runs()
    rid = s.add_run(RunConfig(optimizer, start, hp))
    s.select(rid)
    return s


@pytest.fixture
def panel_on(qtbot, contour_view):
    made = []

    def make(session: Session) -> TheoryPanel:
        p = session.problem  # the contour shows the session's surface
        contour_view.set_surface(p.grid(64), p.bounds)
        panel = TheoryPanel(session, contour_view)
        qtbot.addWidget(panel)
        panel.resize(420, 700)
        panel.show()
        qtbot.waitExposed(panel)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close_session()


def test_numbers_are_the_closed_forms_of_the_rotated_bowl(panel_on):
    s = session_on("rotated-bowl", lr=0.1)
    panel = panel_on(s)
    a = panel.analysis
    assert a is not None and a.quadratic
    lo, hi = 0.4, 8.0  # 0.1(x+y)² + 2(x−y)²: 0.2 and 4 along the unit diagonals, times 2
    assert a.eigenvalues.tolist() == pytest.approx([lo, hi])
    assert a.gd_optimal_lr == pytest.approx(2 / (lo + hi))
    assert a.momentum_optimal == pytest.approx(((math.sqrt(20) - 1) / (math.sqrt(20) + 1)) ** 2)
    text = panel.numbers.text()
    for shown in ("κ = λmax/λmin = <b>20</b>", "2/λmax = 0.25", "<b>0.2381</b>", "<b>0.9048</b>", "<b>0.334</b>",
                  "<b>0.4026</b>", "<b>0.6345</b>", "λ₁ = 0.4", "λ₂ = 8"):
        assert shown in text, shown
    assert "Quadratic surface" in panel.header.text()
    assert "nan" not in text.lower()
    assert panel.use_gd.isEnabled() and panel.use_momentum.isEnabled()


def test_eigen_axes_on_the_contour_follow_the_eigenvectors_through_the_minimum(panel_on, contour_view):
    s = session_on("booth", lr=0.01)
    panel = panel_on(s)
    a = panel.analysis
    assert a is not None
    items = contour_view.plot_item.items
    for i, line in enumerate(panel.axis_items):
        assert line in items and line.isVisible()
        x, y = line.getData()
        d = np.array([x[1] - x[0], y[1] - y[0]])
        d /= np.linalg.norm(d)
        assert abs(d @ a.eigenvectors[:, i]) == pytest.approx(1.0, abs=1e-12)  # along qᵢ
        mid = np.array([(x[0] + x[1]) / 2, (y[0] + y[1]) / 2])
        np.testing.assert_allclose(mid, [1.0, 3.0], atol=1e-9)  # Booth's minimum
        assert panel.axis_labels[i].isVisible() and f"λ = {a.eigenvalues[i]:.4g}" in panel.axis_labels[i].toPlainText()
    # Booth's H = [[10, 8], [8, 10]]: q₁ ∥ (1, −1) (λ = 2), q₂ ∥ (1, 1) (λ = 18)
    assert abs(a.eigenvectors[:, 0] @ np.array([1, -1]) / math.sqrt(2)) == pytest.approx(1.0)
    panel.hide()
    assert not any(line.isVisible() for line in panel.axis_items)
    panel.show()
    assert all(line.isVisible() for line in panel.axis_items)
    panel.close_session()
    assert not any(line in contour_view.plot_item.items for line in panel.axis_items)


def test_use_optimal_sets_the_selected_run_and_is_undoable(panel_on, qtbot):
    s = session_on("rotated-bowl", "adam", lr=0.3)
    panel = panel_on(s)
    rid = s.selected_id
    a = panel.analysis
    qtbot.mouseClick(panel.use_gd, Qt.MouseButton.LeftButton)
    cfg = s.entry(rid).config
    assert cfg.optimizer == "gd" and cfg.hyperparameters == {"lr": pytest.approx(a.gd_optimal_lr)}
    assert s.undo_stack.commands[-1].label == f"use the optimal GD step for Run {rid}"
    qtbot.mouseClick(panel.use_momentum, Qt.MouseButton.LeftButton)
    cfg = s.entry(rid).config
    assert cfg.optimizer == "momentum"
    assert cfg.hyperparameters == {"lr": pytest.approx(a.momentum_optimal_lr),
                                   "momentum": pytest.approx(0.4026054841552224)}
    s.undo_stack.undo()
    assert s.entry(rid).config.optimizer == "gd"
    s.undo_stack.undo()
    cfg = s.entry(rid).config
    assert cfg.optimizer == "adam" and cfg.hyperparameters == {"lr": 0.3}


def test_error_curves_are_the_projections_and_gd_matches_its_prediction(panel_on, qtbot):
    s = session_on("rotated-bowl", lr=0.2)
    s.set_max_steps(200)
    panel = panel_on(s)
    s.forward(40)
    panel.refresh()
    a = panel.analysis
    run = s.selected.run
    e = np.abs((run.history.points[:41] - np.zeros(2)) @ a.eigenvectors)  # θ* = (0, 0)
    for i in range(2):
        k, y = panel.measured[i].xData, panel.measured[i].yData  # the data (getData: log10 of it)
        assert len(k) == 41 and panel.measured[i].getData()[1] == pytest.approx(np.log10(y))
        np.testing.assert_allclose(y, e[:, i], rtol=1e-12)
        pred = panel.predicted[i].yData
        rate = abs(1 - 0.2 * a.eigenvalues[i])  # 0.92 and 0.6
        np.testing.assert_allclose(pred, e[0, i] * rate ** np.arange(41), rtol=1e-12)
        np.testing.assert_allclose(y, pred, rtol=1e-6)  # GD on a quadratic: the prediction is exact
    assert panel.rates.tolist() == pytest.approx([0.92, 0.6])
    assert panel.plot.getPlotItem().getAxis("left").logMode and panel.plot.isVisible()
    assert "|1 − ηλᵢ|" in panel.note.text()


def test_heavy_ball_curves_use_the_companion_matrix_rate(panel_on):
    s = session_on("rotated-bowl", "momentum", lr=0.05, momentum=0.9)
    panel = panel_on(s)
    s.forward(30)
    panel.refresh()
    # ρ = |root| of z² − (1 + γ − ηλ)z + γ: complex roots here, so ρ = √γ for both directions
    assert panel.rates.tolist() == pytest.approx([math.sqrt(0.9)] * 2)
    assert "heavy ball" in panel.note.text()
    for i in range(2):  # the rate drawn through the error at the step shown
        measured, pred = panel.measured[i].yData, panel.predicted[i].yData
        assert pred[-1] == pytest.approx(measured[-1], rel=1e-12)
        assert np.isnan(pred[:15]).all()  # drawn over the last half
        np.testing.assert_allclose(pred[16:] / pred[15:-1], math.sqrt(0.9), rtol=1e-12)
    adam = session_on("rotated-bowl", "adam", lr=0.1)
    other = panel_on(adam)
    adam.forward(10)
    other.refresh()
    assert other.rates is None and "not Adam" in other.note.text()
    assert len(other.measured[0].xData) == 11
    assert other.predicted[0].xData is None or len(other.predicted[0].xData) == 0


def test_local_analysis_at_the_head_and_no_optimum_where_not_convex(panel_on):
    s = session_on("rosenbrock", start=(0.0, 1.0), lr=1e-4)
    panel = panel_on(s)
    assert panel.analysis is None and panel.failure is not None
    text = panel.numbers.text()
    assert "No optimal settings" in text and "negative eigenvalue −398" in text and "not convex here" in text
    assert "κ" not in text and "nan" not in text.lower()
    assert "Local" in panel.header.text() and f"head of Run {s.selected_id}" in panel.header.text()
    assert not panel.use_gd.isEnabled() and not panel.use_momentum.isEnabled()
    assert all(line.isVisible() for line in panel.axis_items)  # the Hessian's axes still shown, at the head
    # Near the minimum: convex, a local analysis of the Hessian there
    s.update_run(s.selected_id, start=[1.0, 1.0])
    panel.refresh()
    a = panel.analysis
    assert a is not None and not a.quadratic and a.point == (1.0, 1.0)
    assert a.condition_number == pytest.approx(analyze(s.problem, (1.0, 1.0)).condition_number)
    assert "error curves need a convex quadratic" in panel.note.text().lower()
    assert not panel.plot.isVisible()  # no empty plot


def test_typed_quadratic_is_detected_in_the_panel(panel_on):
    s = Session()
    s.set_problem(name="custom", expr="x**2 + 3*y**2 + x*y")
    s.clear_runs()
    s.select(s.add_run(RunConfig("gd", (2.0, 1.0), {"lr": 0.1})))
    panel = panel_on(s)
    assert panel.analysis is not None and panel.analysis.quadratic
    np.testing.assert_allclose(panel.analysis.hessian, [[2, 1], [1, 6]])


def test_the_preset_in_the_window_with_the_dock_and_divergence_explained(studio, qtbot):
    w = studio
    assert "theory" in w.docks
    w.load_preset("optimal-momentum-ill-conditioned")
    settle(qtbot, w)
    dock = w.docks["theory"]
    dock.show()
    panel = dock.widget()
    qtbot.waitUntil(lambda: panel.analysis is not None, timeout=5_000)
    assert panel.analysis.condition_number == pytest.approx(100.0)
    gd, hb = w.session.runs
    assert gd.config.hyperparameters["lr"] == pytest.approx(panel.analysis.gd_optimal_lr)
    assert hb.config.hyperparameters["momentum"] == pytest.approx(panel.analysis.momentum_optimal)
    assert all(line in w.contour.plot_item.items and line.isVisible() for line in panel.axis_items)
    # A GD run beyond the stability limit: the status line and the runs table say why.
    rid = w.session.add_run(RunConfig("gd", (-4.0, -2.0), {"lr": 0.25}))  # η·λmax = 2.5 > 2
    w.session.set_max_steps(2000)
    w.session.forward(2000)
    settle(qtbot, w)
    assert w.session.entry(rid).run.status == "diverged"
    line = w.status_message.text()
    assert f"Run {rid}" in line and "η·λmax = 2.5 > 2: GD is unstable on this surface for η > 0.2" in line
    model = w.panels["runs"].model
    row = model.ids.index(rid)
    tip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "η·λmax = 2.5 > 2: GD is unstable on this surface for η > 0.2" in tip
