"""An L-BFGS run converged by its own test: "converged @ k" in the runs table, its reason in the tooltip."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction

from gdstudio.engine.runs import RunConfig, Status
from gdstudio.model.session import Session
from gdstudio.ui.panels import RunsPanel
from gdstudio.ui.panels.runs_panel import COLUMNS


def test_runs_table_shows_the_rules_reason(qtbot):
    s = Session()
    s.set_problem(name="rosenbrock")
    rid = s.add_run(RunConfig("lbfgs", (-1.5, 2.0), {"line_search_fn": "strong_wolfe"}))
    holder = QObject()
    actions = {aid: QAction(aid, holder) for aid in ("add_run", "duplicate_run", "remove_run", "race_all")}
    panel = RunsPanel(s, actions)
    qtbot.addWidget(panel)
    s.forward(60)
    panel.refresh()
    m = panel.model
    row = m.ids.index(rid)
    run = s.entry(rid).run
    assert run is not None and run.status is Status.CONVERGED and run.stop_reason is not None
    assert m.data(m.index(row, COLUMNS.index("Status"))) == "converged @ 40"
    assert f"converged: {run.stop_reason}" in m.data(m.index(row, 1), Qt.ItemDataRole.ToolTipRole)
