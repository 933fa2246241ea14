"""Panels, widgets, the clock, the bridge and the settings, tested without the whole window.

Hyperparameter editors are checked against the registry (one parametrized test per optimizer),
edits against the session's run configs, and the bridge against stand-in views that record
what they are given.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QCheckBox, QTableWidgetItem

from gdstudio.engine.optimizers import OPTIMIZERS, get_spec
from gdstudio.engine.problems import PROBLEMS, make_problem
from gdstudio.engine.problems.data import DATASETS
from gdstudio.engine.runs import RunConfig
from gdstudio.export.schedule import format_loss
from gdstudio.mathtext import latex_to_text, rule_text
from gdstudio.model.session import Session
from gdstudio.ui import bridge as bridge_mod
from gdstudio.ui.bridge import ViewBridge, trajectories
from gdstudio.ui.clock import Clock
from gdstudio.ui.panels import OptimizerPanel, PlaybackBar, ProblemPanel, RunsPanel
from gdstudio.ui.panels.runs_panel import COLUMNS, key_hyperparameters
from gdstudio.ui.settings import MAX_RECENT
from gdstudio.ui.views.protocol import PickingView
from gdstudio.ui.widgets.numbers import LogSlider, NumberSpinBox, ValueSlider


def session_with(optimizer: str = "adam", problem: str = "himmelblau", **hp) -> Session:
    s = Session()
    if problem != s.problem_settings.name:
        s.set_problem(name=problem)
    s.add_run(RunConfig(optimizer, s.problem.start, hp))
    return s


def choose(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


# ------------------------------------------------------------------------------ math text
@pytest.mark.parametrize(("tex", "text"), [
    (r"\frac{\eta}{\sqrt{v_t} + \epsilon}", "η/(√vₜ + ε)"),
    (r"\theta_t \leftarrow \theta_{t-1} - \eta\, g_t", "θₜ ← θₜ₋₁ - η gₜ"),
    (r"\hat m_t \leftarrow m_t / (1-\beta_1^t)", "m̂ₜ ← mₜ / (1-β₁ᵗ)"),
    (r"v_t &\leftarrow \alpha v_{t-1} \\ x", "vₜ ← α vₜ₋₁\nx"),
    (r"\text{initial\_value}", "initial_value"),
])
def test_latex_to_text(tex, text):
    assert latex_to_text(tex) == text


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_rule_text_has_the_update_and_no_latex(name):
    text = rule_text(get_spec(name).docstring)
    assert "θₜ" in text and "←" in text
    assert "\\" not in text and ".. math" not in text


# ------------------------------------------------------------------------------ number widgets
def test_log_slider_maps_decades_evenly(qtbot):
    s = LogSlider(1e-4, 10.0)
    qtbot.addWidget(s)
    for value in (1e-4, 3e-3, 0.1, 2.0, 10.0):
        s.set_real_value(value)
        assert s.real_value() == pytest.approx(value, rel=0.01)
    s.setValue(s.maximum() // 2)
    assert s.real_value() == pytest.approx(10 ** ((math.log10(1e-4) + 1) / 2), rel=0.01)
    s.set_real_value(1e-9)  # below the range: clamped to the left end
    assert s.value() == 0
    with pytest.raises(ValueError, match="0 < lo < hi"):
        LogSlider(0.0, 1.0)


def test_value_slider_is_linear(qtbot):
    s = ValueSlider(-2.0, 2.0)
    qtbot.addWidget(s)
    s.setValue(s.maximum() // 4)
    assert s.real_value() == pytest.approx(-1.0)


def test_number_spin_box_shows_any_magnitude(qtbot):
    box = NumberSpinBox(log=True, low=0.0, high=1e6)
    qtbot.addWidget(box)
    box.setValue(1e-8)
    assert box.value() == 1e-8 and box.text() == "1e-08"
    assert box.valueFromText("2.5e-3") == 0.0025
    box.setValue(0.01)
    box.stepBy(4)  # four arrow presses: one decade
    assert box.value() == pytest.approx(0.1)


# ------------------------------------------------------------------------------ optimizer panel
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_hyperparameter_editors_are_generated_from_the_registry(qtbot, name):
    s = session_with(name)
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    spec = get_spec(name)
    assert list(panel.editors) == [h.name for h in spec.hyperparams]
    values = spec.resolve({})
    first_rule_line = rule_text(spec.docstring).split("\n\n")[1].splitlines()[0]
    for hp in spec.hyperparams:
        ed = panel.editors[hp.name]
        assert hp.symbol in ed.label.text()
        tip = ed.toolTip()
        assert hp.help in tip and hp.range_text() in tip and first_rule_line in tip
        if hp.kind == "bool":
            assert isinstance(ed.check, QCheckBox) and ed.check.isChecked() == values[hp.name]
        elif hp.kind == "choice":
            assert [ed.combo.itemText(i) for i in range(ed.combo.count())] == list(hp.choices)
            assert ed.combo.currentText() == values[hp.name] == ed.value()
        elif hp.kind in ("pair", "triple"):
            assert len(ed.spins) == (2 if hp.kind == "pair" else 3) and ed.slider is None
            assert tuple(spin.value() for spin in ed.spins) == values[hp.name] == ed.value()  # exact values
        elif values[hp.name] is None:  # a reference's None ("auto"): Prodigy's β₃, AdEMAMix's T
            assert ed.auto is not None and ed.auto.isChecked() and ed.value() is None
            assert not ed.spins[0].isEnabled()
        else:
            assert isinstance(ed.slider, LogSlider if hp.log else ValueSlider)
            assert ed.spins[0].value() == values[hp.name]
    assert panel.combo.currentData() == name
    rules = [panel.combo.itemData(i) for i in range(panel.combo.count()) if panel.combo.itemData(i) is not None]
    assert sorted(rules) == sorted(OPTIMIZERS)  # every rule, once (under its group: test_schedule_picker)


def test_slider_drag_applies_on_release_only(qtbot):
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    ed = panel.editors["lr"]
    ed.slider.setSliderDown(True)
    ed.slider.setSliderPosition(ed.slider.maximum() * 3 // 4)  # emits sliderMoved (a drag)
    preview = ed.spins[0].value()
    assert preview != 0.1
    assert s.entry(rid).config.hyperparameters["lr"] == 0.1  # not applied while dragging
    ed.slider.setSliderDown(False)  # release
    assert s.entry(rid).config.hyperparameters["lr"] == preview
    assert ed.slider.real_value() == pytest.approx(preview, rel=0.01)


def test_spin_box_edit_applies_to_the_selected_run(qtbot):
    s = session_with("momentum", lr=0.005)
    other = s.add_run(RunConfig("adam", (1.0, 1.0), {"lr": 0.1}))
    first = s.runs[0].id
    s.select(first)
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    panel.editors["momentum"].spins[0].setValue(0.5)
    assert s.entry(first).config.hyperparameters == {"lr": 0.005, "momentum": 0.5}
    assert s.entry(other).config.hyperparameters == {"lr": 0.1}
    s.select(other)  # the panel follows the selection
    assert panel.combo.currentData() == "adam" and panel.editors["lr"].spins[0].value() == 0.1


def test_invalid_values_show_a_message_and_change_nothing(qtbot):
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    before = s.entry(rid).config
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    panel.editors["betas"].spins[1].setValue(1.0)  # β₂ must be < 1
    assert panel.error.isVisible()
    assert panel.error.text() == "Invalid betas[1] value: 1.0 (must be in [0.0, 1.0))"
    assert s.entry(rid).config == before
    assert panel.editors["betas"].spins[1].value() == 0.999  # the editor shows the model again
    panel.editors["lr"].spins[0].setValue(0.2)  # a valid edit clears the message
    assert not panel.error.isVisible() and s.entry(rid).config.hyperparameters["lr"] == 0.2


def test_cross_parameter_errors_come_from_the_engine(qtbot):
    s = session_with("nag", lr=0.01)
    rid = s.selected_id
    before = s.entry(rid).config
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    panel.editors["momentum"].spins[0].setValue(0.0)
    assert "nesterov" in panel.error.text()
    assert s.entry(rid).config == before
    assert panel.editors["momentum"].spins[0].value() == 0.9


def test_switching_optimizer_keeps_lr_within_a_family(qtbot):
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    choose(panel.combo, "rmsprop")
    assert s.entry(rid).config.optimizer == "rmsprop"
    assert s.entry(rid).config.hyperparameters == {"lr": 0.1}
    choose(panel.combo, "gd")  # adaptive -> plain GD: η = 0.1 would mean something else
    assert s.entry(rid).config.hyperparameters == {}
    assert panel.editors["lr"].spins[0].value() == get_spec("gd").resolve({})["lr"]


def test_batch_size_shuffle_noise_seed(qtbot):
    s = session_with("gd", lr=0.5)
    rid = s.selected_id
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.batch.isVisible()  # analytic: no data, no batches
    s.set_problem(name="sigmoid-neuron", dataset="six-point")
    assert panel.batch.isVisible() and panel.batch.maximum() == 6
    assert panel.batch.text() == "all" and not panel.shuffle.isEnabled()
    panel.batch.setValue(2)
    assert s.entry(rid).config.batch_size == 2 and panel.shuffle.isEnabled()
    panel.shuffle.setChecked(False)
    assert s.entry(rid).config.shuffle is False
    panel.batch.setValue(0)
    assert s.entry(rid).config.batch_size is None
    panel.noise.setValue(0.3)
    panel.seed.setValue(7)
    cfg = s.entry(rid).config
    assert (cfg.noise, cfg.seed) == (0.3, 7)


def test_start_spin_boxes_follow_the_run(qtbot):
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    s.set_start(rid, (1.5, -2.25))
    assert [sp.value() for sp in panel.start_spins] == [1.5, -2.25]
    panel.start_spins[0].setValue(0.5)
    assert s.entry(rid).config.start == (0.5, -2.25)
    s.set_problem(name="line-through-origin")  # one parameter: one spin box
    panel.show()
    assert panel.start_spins[0].isVisible() and not panel.start_spins[1].isVisible()


def test_no_run_selected_disables_the_editors(qtbot):
    s = Session()
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    assert not panel.combo.isEnabled() and not panel.empty.isHidden()
    s.add_run(RunConfig("adam", (0.0, 0.0)))
    assert panel.combo.isEnabled() and panel.empty.isHidden()


# ------------------------------------------------------------------------------ problem panel
def test_problem_combo_shows_every_formula(qtbot):
    panel = ProblemPanel(Session())
    qtbot.addWidget(panel)
    assert [panel.combo.itemData(i) for i in range(panel.combo.count())] == list(PROBLEMS)
    for i, info in enumerate(PROBLEMS.values()):
        assert info.formula in panel.combo.itemText(i)


def test_choosing_a_problem_moves_runs_to_its_start(qtbot):
    s = session_with("adam", lr=0.1)
    panel = ProblemPanel(s)
    qtbot.addWidget(panel)
    choose(panel.combo, "rosenbrock")
    assert s.problem.name == "rosenbrock"
    assert s.runs[0].config.start == make_problem("rosenbrock").start
    assert [sp.value() for sp in panel.bound_spins] == [v for b in make_problem("rosenbrock").bounds for v in b]


def _apply_expression(qtbot, panel) -> bool:
    """apply_expression parses off the UI thread: wait for its outcome."""
    with qtbot.waitSignal(panel.parse_finished, timeout=10_000) as blocker:
        panel.apply_expression()
    return blocker.args[0]


def test_typed_function_error_points_at_the_column(qtbot):
    s = session_with("adam", lr=0.1)
    panel = ProblemPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    panel.expr.setText("sin(x) + y**")
    assert not _apply_expression(qtbot, panel)
    assert panel.expr_error.isVisible() and "column" in panel.expr_error.text()
    assert panel.expr.cursorPosition() == len("sin(x) + y**")
    assert s.problem.name == "himmelblau"
    panel.expr.setText("import os")
    assert not _apply_expression(qtbot, panel) and s.problem.name == "himmelblau"
    panel.expr.setText("x**2 + 3*y**2")
    assert _apply_expression(qtbot, panel)
    assert s.problem.loss(np.array([1.0, 2.0])) == pytest.approx(13.0)
    assert not panel.expr_error.isVisible()


def test_dataset_editor(qtbot):
    s = session_with("gd", problem="sigmoid-neuron", lr=1.0)
    panel = ProblemPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.data_box.isVisible()
    names = [panel.dataset.itemData(i) for i in range(panel.dataset.count())]
    assert names[:-1] == list(DATASETS["sigmoid-neuron"])
    choose(panel.dataset, "six-point")
    assert s.problem.n_samples == 6 and panel.table.rowCount() == 6
    x6, y6 = DATASETS["sigmoid-neuron"]["six-point"]
    assert panel.table_data() == (x6, y6)
    # Edit a cell, add a row, apply.
    panel.table.item(0, 0).setText("1.25")
    panel._add_row()
    panel.table.item(6, 0).setText("2")
    panel.table.item(6, 1).setText("0.75")
    assert panel.apply_data()
    assert s.problem.n_samples == 7
    assert s.problem.x[0] == 1.25 and s.problem.x[6] == 2.0 and s.problem.y[6] == 0.75
    assert panel.dataset.currentData() is None  # "(edited)"
    # A bad cell: a message naming it, and nothing changes.
    before = s.to_dict()
    panel.table.setItem(1, 1, QTableWidgetItem("abc"))
    assert not panel.apply_data()
    assert panel.data_error.text() == "Invalid y in row 2: 'abc' (must be a number)"
    assert s.to_dict() == before
    # Removing every row: refused with a message.
    panel.table.setRowCount(0)
    assert not panel.apply_data() and "no data points" in panel.data_error.text()
    assert s.to_dict() == before


def test_bounds_resolution_and_colour_scale(qtbot):
    s = session_with("adam", lr=0.1)
    panel = ProblemPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    for spin, v in zip(panel.bound_spins, (-2.0, 3.0, -1.0, 4.0), strict=True):
        spin.setValue(v)
    assert panel.apply_bounds()
    assert s.bounds == ((-2.0, 3.0), (-1.0, 4.0))
    panel.bound_spins[1].setValue(-5.0)  # hi < lo
    assert not panel.apply_bounds()
    assert panel.bounds_error.isVisible() and "bounds" in panel.bounds_error.text()
    assert s.bounds == ((-2.0, 3.0), (-1.0, 4.0))
    assert panel.bound_spins[1].value() == 3.0  # back to the model's value
    panel.default_bounds_button.click()
    assert s.problem_settings.bounds is None
    panel.resolution.setValue(128)
    assert s.problem_settings.resolution == 128
    panel.log_scale.setChecked(True)
    assert s.problem_settings.log_scale is True


# ------------------------------------------------------------------------------ runs panel
def _actions(parent):
    from PySide6.QtGui import QAction

    return {a: QAction(a, parent) for a in ("add_run", "duplicate_run", "remove_run", "race_all", "reset",
                                            "step_back", "play", "step")}


def test_key_hyperparameters():
    s = Session()
    ids = [s.add_run(RunConfig(n, (0.0, 0.0), hp)) for n, hp in
           (("momentum", {}), ("adam", {}), ("nag", {}), ("rmsprop", {"eps": 1e-3}), ("gd", {}))]
    texts = [key_hyperparameters(s.entry(i)) for i in ids]
    assert texts[0] == "γ=0.9"
    assert texts[1] == "β₁=0.9 β₂=0.999"
    assert "γ=0.9" in texts[2] and "nesterov" in texts[2]
    alpha = next(h.symbol for h in get_spec("rmsprop").hyperparams if h.name == "alpha")
    assert texts[3] == f"{alpha}=0.99  ε=0.001"
    assert texts[4] == ""


def test_runs_table_selection_visibility_and_cells(qtbot):
    s = session_with("adam", lr=0.1)
    second = s.add_run(RunConfig("momentum", (1.0, 1.0), {"lr": 0.005}))
    first = s.runs[0].id
    container = QObject()
    panel = RunsPanel(s, _actions(container))
    qtbot.addWidget(panel)
    m = panel.model
    assert m.rowCount() == 2 and m.columnCount() == len(COLUMNS)
    assert m.data(m.index(0, COLUMNS.index("Optimizer"))) == s.entry(first).label
    assert m.data(m.index(1, COLUMNS.index("Start"))) == "1, 1"
    # Selecting a row selects the run; selecting the run selects the row.
    panel.table.selectRow(0)
    assert s.selected_id == first
    s.select(second)
    assert panel.table.selectionModel().currentIndex().row() == 1
    # The check box hides the run.
    m.setData(m.index(0, 0), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert s.entry(first).visible is False
    assert m.data(m.index(0, 0), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    # Stepping changes only the step and loss cells.
    updates = m.cell_updates
    s.forward(1)
    panel.refresh()
    assert m.cell_updates - updates == 2 * 2
    step_col, loss_col = COLUMNS.index("Step"), COLUMNS.index("Loss")
    for row, rid in enumerate(m.ids):
        run = s.entry(rid).run
        assert m.data(m.index(row, step_col)) == "1"
        assert float(m.data(m.index(row, loss_col))) == pytest.approx(run.history.loss[1], rel=1e-3)


def test_runs_table_marks_divergence_red(qtbot):
    s = session_with("sgd", problem="rosenbrock", lr=1.0)
    container = QObject()
    panel = RunsPanel(s, _actions(container))
    qtbot.addWidget(panel)
    s.forward(10)
    m = panel.model
    idx = m.index(0, COLUMNS.index("Status"))
    assert m.data(idx) == f"diverged @ {s.runs[0].run.diverged_at}"
    assert m.data(idx, Qt.ItemDataRole.ForegroundRole).color().name().upper() == "#E0301E"
    assert "diverged at step" in m.data(idx, Qt.ItemDataRole.ToolTipRole)


# ------------------------------------------------------------------------------ playback bar, clock
def test_playback_bar(qtbot):
    s = session_with("adam", lr=0.1)
    container = QObject()
    bar = PlaybackBar(s, _actions(container))
    qtbot.addWidget(bar)
    bar.steps_per_tick.setValue(4)
    bar.ticks_per_second.setValue(12)
    assert (s.steps_per_tick, s.ticks_per_second) == (4, 12)
    s.set_speed(2, 60)
    assert (bar.steps_per_tick.value(), bar.ticks_per_second.value()) == (2, 60)
    s.forward(9)
    assert bar.timeline.maximum() == 9 and bar.timeline.value() == 9
    bar.timeline.setValue(3)
    assert s.position == 3
    loss = s.selected.run.history.loss[3]
    assert bar.readout.text().startswith("step 3 / 9") and f"{loss:.4g}" in bar.readout.text()


def test_clock_ticks_the_session_while_playing(qtbot):
    s = session_with("adam", lr=0.1)
    s.set_speed(2, 50)
    clock = Clock(s)
    assert clock.interval_ms == 20 and not clock.active
    s.set_playing(True)
    assert clock.active
    qtbot.waitUntil(lambda: s.position >= 6, timeout=5_000)
    s.set_playing(False)
    assert not clock.active and s.position % 2 == 0  # two steps per tick
    assert clock.ticks == s.position // 2
    s.set_speed(ticks_per_second=8)
    assert clock.interval_ms == 125
    clock.close()
    s.set_playing(True)
    assert not clock.active  # disconnected: the session no longer drives it
    s.set_playing(False)


# ------------------------------------------------------------------------------ bridge
class FakeView(PickingView):
    """Records what the bridge pushes through the View interface (and offers the contour's mouse signals)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []

    def set_problem(self, problem):
        self.calls.append(("problem", problem))

    def set_surface(self, surface, bounds, minima=None, log_scale=False, *, labels=None, gradient_fn=None):
        self.calls.append(("surface", surface))

    def set_frame(self, trajs, step):
        self.calls.append(("trajectories", trajs))
        self.calls.append(("position", step))

    def set_position(self, step):
        self.calls.append(("position", step))

    def set_options(self, options):
        self.calls.append(("overlays", options.overlays))
        self.calls.append(("log_loss", options.log_loss))

    def last(self, kind):
        return next((v for k, v in reversed(self.calls) if k == kind), None)

    def count(self, kind):
        return sum(k == kind for k, _ in self.calls)


@pytest.fixture
def bridged(qtbot):
    s = session_with("adam", lr=0.1)
    views = [FakeView(), FakeView(), FakeView()]
    b = ViewBridge(s, *views)
    yield s, views, b
    b.close()


def test_bridge_pushes_coalesced_trajectories_and_positions(qtbot, bridged):
    s, (contour, _surface, history), b = bridged
    n = contour.count("trajectories")
    s.add_run(RunConfig("momentum", (0.0, 0.0), {"lr": 0.005}))
    s.add_run(RunConfig("nag", (0.0, 0.0), {"lr": 0.005}))
    s.forward(5)
    assert contour.count("trajectories") == n  # nothing yet: pushed once per event-loop pass
    qtbot.waitUntil(lambda: not b.stale)
    assert contour.count("trajectories") == n + 1
    trajs = contour.last("trajectories")
    assert [t.key for t in trajs] == [e.id for e in s.runs]
    for t, e in zip(trajs, s.runs, strict=True):
        assert np.shares_memory(t.points, e.run.history.points)  # views of the history, no copies
        assert t.color == e.color and t.label == e.label
    assert contour.last("position") == 5 == history.last("position")
    s.step_back()
    qtbot.waitUntil(lambda: not b.stale)
    assert contour.last("position") == 4 and contour.count("trajectories") == n + 1


def test_bridge_routes_clicks_to_the_session(qtbot, bridged):
    s, (contour, _surface, _history), _b = bridged
    rid = s.selected_id
    contour.startClicked.emit(1.5, -0.5)
    assert s.entry(rid).config.start == (1.5, -0.5)
    contour.startAdded.emit(2.0, 2.0)
    assert len(s.runs) == 2 and s.selected.config.start == (2.0, 2.0)
    assert s.selected.config.optimizer == "adam"
    contour.startDragged.emit(rid, -0.5, 0.5)  # live while the position is small
    assert s.entry(rid).config.start == (-0.5, 0.5)
    contour.startDropped.emit(rid, -1.0, 1.0)
    assert s.entry(rid).config.start == (-1.0, 1.0) and s.selected_id == rid
    s.forward(bridge_mod.LIVE_DRAG_STEPS + 1)
    contour.startDragged.emit(rid, 0.25, 0.25)  # too long to recompute per mouse move: drop only
    assert s.entry(rid).config.start == (-1.0, 1.0)
    contour.startClicked.emit(float("nan"), 0.0)  # refused by the engine: no exception, no change
    assert s.entry(rid).config.start == (-1.0, 1.0)


def test_bridge_options(qtbot, bridged):
    s, (contour, _surface, history), _b = bridged
    s.set_options(show_velocity=True, log_loss=False)
    assert contour.last("overlays")["velocity"] is True
    assert history.last("log_loss") is False


def test_expensive_surfaces_are_computed_off_the_ui_thread(qtbot, bridged, monkeypatch):
    s, (contour, surface, _history), b = bridged
    monkeypatch.setattr(bridge_mod, "SYNC_SURFACE_COST", 0)  # everything counts as expensive
    n = contour.count("surface")
    s.set_problem(name="rosenbrock")
    s.set_problem(name="sigmoid-neuron")  # the first result arrives stale and is dropped
    assert b.busy
    qtbot.waitUntil(lambda: not b.busy, timeout=10_000)
    qtbot.wait(50)
    assert contour.count("surface") == n + 1
    got = contour.last("surface")
    ref = make_problem("sigmoid-neuron").grid(s.problem_settings.resolution)
    np.testing.assert_allclose(got.z, ref.z, rtol=1e-12)
    assert surface.last("surface") is got


def test_bridge_close_disconnects(qtbot, bridged):
    s, (contour, _surface, _history), b = bridged
    b.close()
    qtbot.wait(1)
    n = len(contour.calls)
    s.forward(3)
    s.set_problem(name="rosenbrock")
    qtbot.wait(1)
    assert len(contour.calls) == n


def test_trajectories_skip_nothing():
    s = session_with("adam", lr=0.1)
    s.set_visible(s.selected_id, False)
    s.forward(4)
    (t,) = trajectories(s)
    assert t.visible is False and t.points.shape == (5, 2) and t.status == "running"


# ------------------------------------------------------------------------------ settings
def test_recent_files(studio_settings, tmp_path):
    st = studio_settings
    assert st.recent_files() == []
    for i in range(MAX_RECENT + 3):
        st.add_recent(tmp_path / f"f{i}.json")
    st.add_recent(tmp_path / "f5.json")  # re-opening moves it to the top, no duplicate
    files = [Path(f).name for f in st.recent_files()]
    assert len(files) == MAX_RECENT and files[0] == "f5.json" and files.count("f5.json") == 1
    assert files[1] == f"f{MAX_RECENT + 2}.json"
    st.remove_recent(tmp_path / "f5.json")
    assert "f5.json" not in [Path(f).name for f in st.recent_files()]
    st.clear_recent()
    assert st.recent_files() == []
    assert st.last_session_path.parent == st.data_dir
    assert Path(st.qsettings.fileName()).is_relative_to(tmp_path)


# ------------------------------------------------------------------------------ field subscriptions, undo
def test_panels_follow_field_events_and_new_entries_after_a_load(qtbot):
    """A recolour reaches the table and the optimizer panel through the entry's colour field; after
    a load replaced every entry, the panels follow the new entries (not the ones they had bound)."""
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    container = QObject()
    runs = RunsPanel(s, _actions(container))
    opt = OptimizerPanel(s)
    bar = PlaybackBar(s, _actions(container))
    for w in (runs, opt, bar):
        qtbot.addWidget(w)
    updates = runs.model.cell_updates
    s.set_color(rid, "#123456")
    assert runs.model._meta[0][0] == "#123456" and "#123456" in opt.run_label.text()
    assert runs.model.cell_updates > updates
    doc = session_with("momentum", "bowl", lr=0.02).to_dict()
    s.apply_dict(doc)
    assert opt.entry is s.runs[0] and opt.editors["lr"].value() == 0.02
    s.set_color(s.runs[0].id, "#654321")  # the new entry's field reaches the panel
    assert "#654321" in opt.run_label.text() and runs.model._meta[0][0] == "#654321"
    s.forward(3)
    bar.refresh(force=True)
    assert bar.timeline.maximum() == 3
    assert s.undo_stack.undo_text == "recolour Run 1"
    s.undo_stack.undo()
    assert s.undo_stack.undo_text == "open session"
    s.undo_stack.undo()  # the load is undone: the old session, its entry, its colour
    assert opt.entry.id == rid and "#123456" in opt.run_label.text()
    assert runs.model._meta[0][0] == "#123456"
    for w in (runs, opt, bar):
        w.close_session()


def test_choosing_a_problem_is_one_undo_step_with_the_moved_starts(qtbot):
    s = session_with("adam", lr=0.1)
    s.set_start(s.selected_id, (1.0, 1.0))
    s.undo_stack.clear()
    before = s.to_dict()
    panel = ProblemPanel(s)
    qtbot.addWidget(panel)
    choose(panel.combo, "rosenbrock")
    assert s.undo_stack.labels == ["change problem to Rosenbrock"]
    assert s.runs[0].config.start == make_problem("rosenbrock").start
    s.undo_stack.undo()
    assert s.to_dict() == before and panel.combo.currentData() == "himmelblau"
    panel.close_session()


def test_a_hyperparameter_edit_in_the_panel_is_a_named_undo_step(qtbot):
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    s.undo_stack.clear()
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    panel.editors["lr"].spins[0].setValue(0.03)
    assert s.undo_stack.undo_text == f"set η of Run {rid} to 0.03"
    s.undo_stack.undo()
    assert s.entry(rid).config.hyperparameters["lr"] == 0.1 and panel.editors["lr"].value() == 0.1
    panel.close_session()


def test_table_and_readout_show_a_restarted_run_at_the_step_shown(qtbot):
    """An edit (or its undo) at step 30 gives the entry a run already computed to step 30: the
    row and the readout read it when the entry's ``run`` event arrives (no coarse signal needed)."""
    s = session_with("adam", lr=0.1)
    rid = s.selected_id
    s.forward(30)
    container = QObject()
    runs = RunsPanel(s, _actions(container))
    bar = PlaybackBar(s, _actions(container))
    for w in (runs, bar):
        qtbot.addWidget(w)
    step_col, loss_col = COLUMNS.index("Step"), COLUMNS.index("Loss")

    def shown() -> tuple[str, str]:
        m = runs.model
        return m.data(m.index(0, step_col)), m.data(m.index(0, loss_col))

    for change in (lambda: s.set_start(rid, (1.0, 1.0)), s.undo_stack.undo, s.undo_stack.redo):
        change()
        run = s.entry(rid).run
        assert run.steps == 30 and shown() == ("30", format_loss(float(run.history.loss[30])))
        assert bar.readout.text().endswith(format_loss(float(run.history.loss[30])))
    runs.close_session()
    bar.close_session()
