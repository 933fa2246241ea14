"""The sweep dialog on real widgets: its cells are the engine's sweep (and single runs), the heat
map's colours and divergence boundary follow the cells' statuses, a click sets that cell's values
on the run (undoable), the 1-D curve is the engine's, and Cancel changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from gdstudio.engine.explore import STATUS_NAMES, sweep
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.model.session import Session
from gdstudio.ui.colormaps import DIVERGED_COLOR, map_unit
from gdstudio.ui.panels.sweep_panel import SweepDialog, boundary_segments, sweep_keys

START = (-1.5, 2.0)
LRS = np.geomspace(1e-5, 1e-2, 9)
GAMMAS = np.linspace(0.0, 0.99, 7)
STEPS = 60


@pytest.fixture
def session():
    s = Session()
    s.set_problem(name="rosenbrock")
    s.replace_runs([RunConfig("momentum", START, {"lr": 1e-3})])
    return s


@pytest.fixture
def dialog(session, qtbot):
    d = SweepDialog(session)
    qtbot.addWidget(d)
    d.resize(900, 650)
    d.show()
    qtbot.waitExposed(d)
    return d


def compute(dialog, qtbot, x=("lr", 1e-5, 1e-2, 9, True), y=("momentum", 0.0, 0.99, 7, False), steps=STEPS):
    dialog.set_axis(0, *x)
    if y is None:
        dialog.key_box[1].setCurrentIndex(0)
    else:
        dialog.set_axis(1, *y)
    dialog.steps_box.setValue(steps)
    with qtbot.waitSignal(dialog.finished, timeout=60_000):
        dialog.compute()
    return dialog.grid


def rgba(color):
    c = color.lstrip("#")
    return np.array([int(c[k:k + 2], 16) / 255 for k in (0, 2, 4)] + [1.0], dtype=np.float32)


def test_keys_are_the_optimizers_numbers_and_pair_components():
    assert [k.id for k in sweep_keys("momentum")] == ["lr", "momentum", "dampening", "weight_decay"]
    adam = {k.id: k for k in sweep_keys("adam")}
    assert list(adam) == ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]
    assert adam["betas[0]"].symbol == "β₁" and adam["lr"].log and adam["eps"].log and not adam["betas[0]"].log
    assert [k.id for k in sweep_keys("adan")][:4] == ["lr", "betas[0]", "betas[1]", "betas[2]"]  # a triple


def test_heatmap_cells_equal_the_engine_sweep_and_single_runs(session, dialog, qtbot):
    grid = compute(dialog, qtbot)
    config = session.selected.config
    ref = sweep(session.problem, config, [("lr", LRS), ("momentum", GAMMAS)], STEPS)
    np.testing.assert_array_equal(grid.axes[0].values, LRS)
    np.testing.assert_array_equal(grid.axes[1].values, GAMMAS)
    np.testing.assert_array_equal(grid.final_loss, ref.final_loss)
    np.testing.assert_array_equal(grid.best_loss, ref.best_loss)
    np.testing.assert_array_equal(grid.steps, ref.steps)
    assert (grid.status == np.asarray(STATUS_NAMES)[ref.status]).all()
    assert grid.diverged.any() and (~grid.diverged).any()  # the range crosses the boundary
    # a few cells against a single Run (independent of the sweep engine)
    for i, j in [(0, 0), (4, 3), (8, 6), (6, 5)]:
        run = Run(session.problem, config.with_(hyperparameters={"lr": LRS[i], "momentum": GAMMAS[j]})).run(STEPS)
        assert (run.status is Status.DIVERGED) == bool(grid.diverged[i, j])
        if run.status is not Status.DIVERGED:
            assert grid.final_loss[i, j] == pytest.approx(run.history.loss[-1], rel=1e-12, abs=0)
    # The image: row = γ, column = η; diverged cells in their colour, the others by log10 final loss.
    image = dialog.image.image
    assert image.shape[:2] == (len(GAMMAS), len(LRS))
    logs = np.log10(grid.final_loss[~grid.diverged])
    lo, hi = logs.min(), logs.max()
    for i in range(len(LRS)):
        for j in range(len(GAMMAS)):
            if grid.diverged[i, j]:
                np.testing.assert_allclose(image[j, i], rgba(DIVERGED_COLOR))
            else:
                expected = map_unit(np.array([(np.log10(grid.final_loss[i, j]) - lo) / (hi - lo)]))[0]
                np.testing.assert_allclose(image[j, i], expected)
    # placed in log10 coordinates on x (η), linear on y, cells centred on the values
    rect = dialog.image.mapRectToView(dialog.image.boundingRect())
    step_x = np.log10(LRS[1]) - np.log10(LRS[0])
    assert rect.left() == pytest.approx(np.log10(LRS[0]) - step_x / 2)
    assert rect.right() == pytest.approx(np.log10(LRS[-1]) + step_x / 2)
    assert rect.top() == pytest.approx(GAMMAS[0] - (GAMMAS[1] - GAMMAS[0]) / 2)
    assert dialog.x_axis.log and not dialog.y_axis.log
    assert dialog.x_axis.tickStrings([-3.0, -5.0], 1, 1) == ["0.001", "1e-05"]


def test_boundary_separates_diverged_from_finite_cells(dialog, qtbot):
    grid = compute(dialog, qtbot)
    xs, ys = dialog.boundary.getData()
    assert len(xs) > 0 and len(xs) % 2 == 0
    d = grid.diverged
    lx, ly = np.log10(LRS), GAMMAS
    hx, hy = (lx[1] - lx[0]) / 2, (ly[1] - ly[0]) / 2

    def cell(x, y):
        i, j = int(np.argmin(np.abs(lx - x))), int(np.argmin(np.abs(ly - y)))
        assert abs(lx[i] - x) <= hx * 1.001 and abs(ly[j] - y) <= hy * 1.001
        return i, j

    for k in range(0, len(xs), 2):
        (x0, y0), (x1, y1) = (xs[k], ys[k]), (xs[k + 1], ys[k + 1])
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        if x0 == x1:  # vertical edge: one cell left, one right
            assert abs(y1 - y0) == pytest.approx(2 * hy)
            a, b = cell(mx - hx / 2, my), cell(mx + hx / 2, my)
        else:
            assert y0 == y1 and abs(x1 - x0) == pytest.approx(2 * hx)
            a, b = cell(mx, my - hy / 2), cell(mx, my + hy / 2)
        assert d[a] != d[b]
    # as many segments as neighbouring pairs that differ
    pairs = int((d[1:, :] != d[:-1, :]).sum() + (d[:, 1:] != d[:, :-1]).sum())
    assert len(xs) // 2 == pairs
    assert dialog.boundary.isVisible() and dialog.boundary.opts["pen"].widthF() >= 2
    # the dashed line: cells that end at or above the start's loss (or diverge) against the others
    start_loss = dialog.session.problem.loss(np.array([START]))[0]
    assert grid.start_loss == start_loss
    above = d | ~(grid.final_loss < start_loss)
    ax, ay = dialog.ascent.getData()
    assert len(ax) // 2 == int((above[1:, :] != above[:-1, :]).sum() + (above[:, 1:] != above[:, :-1]).sum())
    for k in range(0, len(ax), 2):
        mx, my = (ax[k] + ax[k + 1]) / 2, (ay[k] + ay[k + 1]) / 2
        if ax[k] == ax[k + 1]:
            a, b = cell(mx - hx / 2, my), cell(mx + hx / 2, my)
        else:
            a, b = cell(mx, my - hy / 2), cell(mx, my + hy / 2)
        assert above[a] != above[b]


def test_boundary_segments_on_a_known_mask():
    d = np.array([[False, False], [False, True]])  # only cell (1, 1) diverged
    segs = boundary_segments(d, np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]))
    assert sorted(map(tuple, segs.reshape(-1, 4).tolist())) == [(1.0, 1.0, 1.0, 2.0), (1.0, 1.0, 2.0, 1.0)]


def _click(dialog, qtbot, point: QPointF) -> None:
    scene = dialog.plot.vb.mapViewToScene(point)
    pos = dialog.layout_widget.mapFromScene(scene)
    qtbot.mouseClick(dialog.layout_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_clicking_a_cell_sets_its_values_and_undo_restores(session, dialog, qtbot):
    grid = compute(dialog, qtbot)
    rid = session.selected_id
    before = session.to_dict()
    i, j = 3, 5
    _click(dialog, qtbot, dialog.cell_center((i, j)))
    hp = session.entry(rid).config.hyperparameters
    assert hp["lr"] == grid.axes[0].values[i] and hp["momentum"] == grid.axes[1].values[j]
    assert session.entry(rid).run.steps == 0 or session.position == 0  # the run restarted with them
    assert "Run" in session.undo_stack.undo_text
    marker = dialog.marker.getData()
    assert marker[0][0] == pytest.approx(np.log10(LRS[i])) and marker[1][0] == pytest.approx(GAMMAS[j])
    session.undo_stack.undo()
    assert session.to_dict() == before


def test_a_pair_component_cell_keeps_the_other_component(session, dialog, qtbot):
    session.update_run(session.selected_id, optimizer="adam", hyperparameters={"lr": 0.01, "betas": (0.9, 0.95)})
    dialog.refresh()
    grid = compute(dialog, qtbot, x=("lr", 1e-3, 1.0, 4, True), y=("betas[0]", 0.0, 0.9, 3, False), steps=20)
    assert dialog.apply_cell((2, 1))
    hp = session.selected.config.hyperparameters
    assert hp["lr"] == grid.axes[0].values[2] and hp["betas"] == (grid.axes[1].values[1], 0.95)


def test_one_key_draws_the_engine_curve_with_diverged_marks(session, dialog, qtbot):
    lrs = np.geomspace(1e-5, 1e-1, 15)
    grid = compute(dialog, qtbot, x=("lr", 1e-5, 1e-1, 15, True), y=None)
    ref = sweep(session.problem, session.selected.config, [("lr", lrs)], STEPS)
    np.testing.assert_array_equal(grid.final_loss, ref.final_loss)
    x, y = dialog.curve.getData()
    np.testing.assert_allclose(x, np.log10(lrs))
    div = ref.status == 2
    assert div.any() and (~div).any()
    np.testing.assert_allclose(y[~div], np.log10(ref.final_loss[~div]))
    assert np.isnan(y[div]).all()
    cx, _cy = dialog.crosses.getData()
    np.testing.assert_allclose(np.sort(cx), np.sort(np.log10(lrs[div])))
    assert dialog.y_axis.log  # final loss on a log axis


def test_clicking_the_curve_sets_eta(session, dialog, qtbot):
    grid = compute(dialog, qtbot, x=("lr", 1e-5, 1e-2, 7, True), y=None)
    point = dialog.cell_center((2,))
    y0, y1 = dialog.plot.vb.viewRange()[1]
    _click(dialog, qtbot, QPointF(point.x(), (y0 + y1) / 2))
    assert session.selected.config.hyperparameters["lr"] == grid.axes[0].values[2]


def test_cancel_leaves_dialog_and_session_as_they_were(session, dialog, qtbot):
    compute(dialog, qtbot)
    shown, image = dialog.grid, dialog.image.image.copy()
    before, undo = session.to_dict(), session.undo_stack.undo_text
    dialog.set_axis(0, "lr", 1e-6, 1e-2, 300, True)
    dialog.set_axis(1, "momentum", 0.0, 0.99, 300)
    dialog.steps_box.setValue(3000)
    dialog.compute()
    assert dialog.busy and dialog.cancel_button.isEnabled()
    dialog.cancel_button.click()
    assert not dialog.busy and dialog.compute_button.isEnabled()
    dialog.work.wait(60_000)
    qtbot.wait(50)
    assert dialog.grid is shown
    np.testing.assert_array_equal(dialog.image.image, image)
    assert session.to_dict() == before and session.undo_stack.undo_text == undo
    assert "cancelled" in dialog.message.text()


def test_bad_range_says_what_is_wrong_and_computes_nothing(dialog):
    dialog.set_axis(0, "lr", 0.1, 0.01, 5, True)
    dialog.compute()
    assert not dialog.busy and "lr" in dialog.message.text() and "below" in dialog.message.text()


def test_measures_recolour_without_recomputing(dialog, qtbot):
    grid = compute(dialog, qtbot)
    for text in ("best loss", "steps to tolerance", "diverged"):
        dialog.measure_box.setCurrentText(text)
        image = dialog.image.image
        for i, j in zip(*np.nonzero(grid.diverged), strict=True):
            np.testing.assert_allclose(image[j, i], rgba(DIVERGED_COLOR))
    assert dialog.grid is grid


def test_a_mini_batch_cell_equals_the_single_run_with_the_runs_seed(qtbot):
    s = Session()
    s.set_problem(name="linear-regression")
    s.replace_runs([RunConfig("sgd", (0.5, -0.5), {"lr": 0.01}, batch_size=2, seed=7)])
    d = SweepDialog(s)
    qtbot.addWidget(d)
    grid = compute(d, qtbot, x=("lr", 1e-3, 1.0, 6, True), y=("momentum", 0.0, 0.9, 3, False), steps=40)
    config = s.selected.config
    for i, j in [(0, 0), (3, 2), (5, 1)]:
        hp = {"lr": grid.axes[0].values[i], "momentum": grid.axes[1].values[j]}
        run = Run(s.problem, config.with_(hyperparameters=hp)).run(40)
        if run.status is Status.DIVERGED:
            assert grid.diverged[i, j]
        else:
            assert grid.final_loss[i, j] == run.history.loss[-1]  # the same batches: bit for bit
            assert grid.best_loss[i, j] == run.history.loss.min()


def test_a_sweep_of_another_problem_is_not_applied(session, dialog, qtbot):
    compute(dialog, qtbot, x=("lr", 1e-4, 1e-3, 3, True), y=None, steps=10)
    session.set_problem(name="himmelblau")
    before = session.to_dict()
    assert not dialog.apply_cell((1,))
    assert session.to_dict() == before and "problem changed" in dialog.message.text()


def test_a_sweep_too_large_for_memory_says_how_large_fits(dialog, monkeypatch):
    import gdstudio.engine.explore.memory as memory

    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)  # 1 MiB
    dialog.set_axis(0, "lr", 1e-4, 1e-1, 200, True)
    dialog.set_axis(1, "momentum", 0.0, 0.9, 200)
    dialog.compute()
    text = dialog.message.text()
    assert not dialog.busy and "200×200 sweep needs" in text and "fits" in text


def test_the_session_outlives_a_closed_window(session, qtbot):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    d = SweepDialog(session, parent)
    d.refresh()
    parent.deleteLater()
    qtbot.wait(20)
    session.replace_runs([RunConfig("adam", START)])  # the dialog is gone: nothing to refresh, no error
    session.select(session.runs[0].id)
    assert len(session.runs) == 1
    del d
