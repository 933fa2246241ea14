"""The runs table says what each run is doing at the step shown, and costs little per tick;
the η slider is logarithmic with a fine resolution and round-trips typed values."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.panels import OptimizerPanel, RunsPanel
from gdstudio.ui.panels.runs_panel import COLUMNS

STATUS = COLUMNS.index("Status")


def _actions(parent: QObject) -> dict[str, QAction]:
    return {aid: QAction(aid, parent) for aid in ("add_run", "duplicate_run", "remove_run", "race_all")}


@pytest.fixture
def table(qtbot):
    """A session with a run that converges, one that diverges and one that keeps going, in a runs panel."""
    s = Session()
    s.set_problem(name="himmelblau")
    conv = s.add_run(RunConfig("sgd", (3.1, 2.1), {"lr": 0.01}, tol=1e-3))
    div = s.add_run(RunConfig("sgd", (4.0, 4.0), {"lr": 0.5}))
    slow = s.add_run(RunConfig("sgd", (-0.5, -0.5), {"lr": 0.0005}))
    holder = QObject()
    panel = RunsPanel(s, _actions(holder))
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    qtbot.waitExposed(panel)
    return s, panel, {"conv": conv, "div": div, "slow": slow}, holder


def _status(panel, s, rid) -> str:
    m = panel.model
    return m.data(m.index(m.ids.index(rid), STATUS))


def test_status_says_paused_playing_limit_converged_diverged(table, qtbot):
    s, panel, ids, _ = table
    assert {_status(panel, s, r) for r in ids.values()} == {"paused"}  # nothing has run yet
    s.set_playing(True)  # playing_changed refreshes at once
    assert {_status(panel, s, r) for r in ids.values()} == {"playing"}
    s.set_playing(False)
    s.forward(60)
    div_at = s.entry(ids["div"]).run.diverged_at
    conv_at = s.entry(ids["conv"]).run.steps
    assert s.entry(ids["conv"]).run.status == "converged" and conv_at < 60 and div_at < 60
    panel.refresh()
    assert _status(panel, s, ids["div"]) == f"diverged @ {div_at}"
    assert _status(panel, s, ids["conv"]) == f"converged @ {conv_at}"
    assert _status(panel, s, ids["slow"]) == "paused"  # not "running" while nothing moves
    # Scrubbing back before the divergence: the run is not diverged at the step shown.
    s.seek(1)
    assert _status(panel, s, ids["div"]) == "paused"
    assert panel.model.data(panel.model.index(panel.model.ids.index(ids["div"]), STATUS),
                            Qt.ItemDataRole.ForegroundRole) is None
    s.seek(60)
    # The step limit: the slow run stops there and says so, also after max steps changes.
    s.set_max_steps(80)
    s.forward(30)
    assert s.position == 80
    assert _status(panel, s, ids["slow"]) == "at step limit"
    s.set_max_steps(200)  # speed_changed refreshes the table
    assert _status(panel, s, ids["slow"]) == "paused"


def test_status_columns_fit_and_a_tick_touches_only_changed_cells(table):
    s, panel, ids, _ = table
    s.forward(3)
    panel.refresh()
    m = panel.model
    fm = panel.table.fontMetrics()
    for row in range(m.rowCount()):
        for col in (COLUMNS.index("Step"), COLUMNS.index("Loss"), STATUS):
            text = m.data(m.index(row, col))
            assert fm.horizontalAdvance(text) <= panel.table.columnWidth(col), (row, col, text)
    # One step while playing: only the step / loss cells (and statuses that change) are emitted,
    # and the table asks the model for far fewer cells than a ResizeToContents header would.
    calls = {"n": 0}
    original = m.data

    def counting(index, role=Qt.ItemDataRole.DisplayRole):
        calls["n"] += 1
        return original(index, role)

    m.data = counting
    before = m.cell_updates
    s.forward(1)
    panel.refresh()
    QApplication.processEvents()
    running = sum(1 for r in ids.values() if s.entry(r).run.running)
    assert running <= m.cell_updates - before <= 2 * running  # step, and loss where its text changed
    assert calls["n"] < 40 * m.rowCount() * len(COLUMNS)


# ------------------------------------------------------------------------------ the η slider
def test_eta_slider_is_logarithmic_and_fine(qtbot):
    s = Session()
    s.set_problem(name="himmelblau")
    rid = s.add_run(RunConfig("sgd", (-0.5, -0.5), {"lr": 0.01}))
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    slider = panel.editors["lr"].slider
    lo, hi = slider.real_value(0), slider.real_value(slider.maximum())
    decades = math.log10(hi / lo)
    assert decades >= 5 and slider.maximum() >= 600
    # Every position is the same ratio (log scale), and a small one.
    ratios = [slider.real_value(p + 1) / slider.real_value(p) for p in (0, slider.maximum() // 2, slider.maximum() - 1)]
    assert ratios == pytest.approx([ratios[0]] * 3, rel=1e-9) and 1 < ratios[0] <= 1.02
    # One step of the slider (a key press) changes η by a small ratio and applies it.
    slider.setValue(slider.value() + 1)
    new = s.entry(rid).config.hyperparameters["lr"]
    assert 1.0 < new / 0.01 <= 1.03
    # A typed value stays exact and moves the handle to it (within half a position).
    spin = panel.editors["lr"].spins[0]
    spin.lineEdit().setText("0.00371")
    spin.interpretText()
    spin.editingFinished.emit()
    assert s.entry(rid).config.hyperparameters["lr"] == 0.00371 and spin.value() == 0.00371
    assert slider.real_value() == pytest.approx(0.00371, rel=math.sqrt(ratios[0]) - 1 + 1e-9)
