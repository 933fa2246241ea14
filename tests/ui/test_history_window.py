"""The history dock and runs table in the real window: a new preset starts from fresh ranges,
and the Status column follows the clock (Space)."""

from __future__ import annotations

import numpy as np
from gdstudio_window_fixtures import settle
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gdstudio.ui.panels.runs_panel import COLUMNS
from gdstudio.ui.views.history import PLOTS


def _statuses(w) -> set[str]:
    m = w.panels["runs"].model
    return {m.data(m.index(r, COLUMNS.index("Status"))) for r in range(m.rowCount())}


def test_a_new_preset_leaves_nothing_of_the_last_one_in_the_history(shared_studio, qtbot):
    w = shared_studio
    view = w.history_view
    w.load_preset("rosenbrock")
    settle(qtbot, w)
    w.session.forward(400)
    settle(qtbot, w)
    view.flush()
    assert view.plots["loss"].vb.viewRange()[0][1] >= 400
    w.load_preset("book-bowl")  # another problem, new runs at step 0
    settle(qtbot, w)
    view.flush()
    ids = {e.id for e in w.session.runs}
    assert set(view._runs) == ids  # no curve of the old runs is left
    for plot in PLOTS:
        (x0, x1), (y0, y1) = view.plots[plot].vb.viewRange()
        assert x0 <= 0 and x1 <= 15, plot  # a fresh step axis, not 0 … 400
        for e in w.session.runs:
            for _x, y in view.curve_data(e.id, plot):
                finite = y[np.isfinite(y)]
                assert np.all((finite >= y0) & (finite <= y1)), plot
    # The loss axis fits the new runs' start (Rosenbrock's losses were in the thousands).
    loss0 = [e.run.history.loss[0] for e in w.session.runs]
    y0, y1 = view.plots["loss"].vb.viewRange()[1]
    if w.session.options.log_loss:
        assert y1 - y0 < 4 and y0 <= np.log10(min(loss0)) <= y1
    else:
        assert y1 < 3 * max(loss0)


def test_status_follows_space(shared_studio, qtbot):
    w = shared_studio
    assert _statuses(w) == {"paused"}
    QTest.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.playing, timeout=2000)
    assert _statuses(w) == {"playing"}
    qtbot.waitUntil(lambda: w.session.position >= 3, timeout=5000)
    QTest.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not w.session.playing, timeout=2000)
    assert _statuses(w) <= {"paused", "converged @ " + str(w.session.position)}
    assert "paused" in _statuses(w)
