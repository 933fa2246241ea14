"""A run that stops (Newton's singular H + λI) shows as "stopped" in the runs table, its reason in
the tooltip, and reaches the views as a status they accept, without a traceback."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction

from gdstudio.engine.runs import RunConfig, Status
from gdstudio.model.session import Session
from gdstudio.ui.bridge import trajectories
from gdstudio.ui.panels import RunsPanel
from gdstudio.ui.panels.runs_panel import COLUMNS

STATUS = COLUMNS.index("Status")
REASON = "singular Hessian (H + λI not invertible) at step 1: add damping"


@pytest.fixture
def stopped(qtbot):
    s = Session()
    s.set_problem(name="custom", expr="x**4 + y**4")
    stop = s.add_run(RunConfig("newton", (0.0, 1.0)))
    go = s.add_run(RunConfig("newton", (1.0, 1.0), {"damping": 0.1}))
    holder = QObject()
    actions = {aid: QAction(aid, holder) for aid in ("add_run", "duplicate_run", "remove_run", "race_all")}
    panel = RunsPanel(s, actions)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return s, panel, stop, go, holder


def test_runs_table_says_stopped_with_the_reason(stopped):
    s, panel, stop, go, _ = stopped
    messages: list[str] = []
    s.message.connect(messages.append)
    s.forward(5)
    panel.refresh()
    m = panel.model
    row = m.ids.index(stop)
    assert s.entry(stop).status is Status.STOPPED
    assert m.data(m.index(row, STATUS)) == "stopped @ 0"
    assert f"stopped: {REASON}" in m.data(m.index(row, 1), Qt.ItemDataRole.ToolTipRole)
    assert m.data(m.index(m.ids.index(go), STATUS)) == "paused"
    assert any(msg.endswith(f"stopped: {REASON}") for msg in messages)


def test_views_accept_the_stopped_status(stopped):
    s, _, stop, _, _ = stopped
    s.forward(3)
    views = {t.key: t for t in trajectories(s, preview=True)}
    assert views[stop].status == "stopped" and views[stop].points.shape == (1, 2)


def test_main_window_shows_the_stop_without_a_traceback(studio, qtbot):
    import gdstudio_window_fixtures as wf

    w = studio
    w.session.set_problem(name="custom", expr="x**4 + y**4")
    rid = w.session.add_run(RunConfig("newton", (0.0, 1.0)))
    w.session.forward(5)
    wf.settle(qtbot, w)
    assert w.session.entry(rid).status is Status.STOPPED
    assert w.status_message.text().endswith(f"stopped: {REASON}")
    model = w.panels["runs"].model
    assert model.data(model.index(model.ids.index(rid), STATUS)) == "stopped @ 0"
    drawn = w.contour.drawn_run(rid)
    assert drawn is not None and not drawn.crossed  # a stop is not a divergence: no cross
