"""The problem panel's typed function: parsed off the UI thread, stale results dropped, Enter gives
the keyboard back to the views, and picking a built-in surface clears the field."""

from __future__ import annotations

import numpy as np
import pytest
from gdstudio_window_fixtures import settle
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from gdstudio.engine import expressions as ex
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.panels import ProblemPanel

# Refused by the engine's time limit (SymPy's assumption system recurses for minutes on it):
# the slowest kind of refusal, ~1.75 s of work on the parse thread.
SLOW = "".join(["sin(", "exp(", "log(", "tanh(", "sqrt("] * 9) + "x*y+2" + ")" * 45
# Refused by the size budget before anything big is computed (the issue's case).
HUGE = "(((1/9**100)**100)**100)**100"


def _panel(qtbot) -> tuple[ProblemPanel, Session]:
    s = Session()
    s.add_run(RunConfig("adam", s.problem.start, {"lr": 0.1}))
    panel = ProblemPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, s


def _choose(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def _wait_idle(qtbot, panel: ProblemPanel) -> None:
    """Until no parse job runs, then deliver its queued result."""
    qtbot.waitUntil(lambda: panel.parse_pool.activeThreadCount() == 0, timeout=20_000)
    qtbot.wait(20)


def test_a_slow_parse_leaves_the_event_loop_running_and_its_error_appears(qtbot):
    panel, s = _panel(qtbot)
    before = s.to_dict()
    seen: list[bool] = []  # for each loop event: was the parse still pending when it ran?
    panel.expr.setFocus()
    panel.expr.setText(SLOW)
    with qtbot.waitSignal(panel.parse_finished, timeout=20_000) as done:
        qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
        assert panel.parse_pending and panel.expr_status.isVisible()  # Enter returned at once
        QTimer.singleShot(0, lambda: seen.append(panel.parse_pending))
        QTimer.singleShot(100, lambda: seen.append(panel.parse_pending))
    # The UI thread was free while the worker parsed: both events ran before the result came (a
    # blocked loop would run them only after it). An order, not a rate: on 2 shared cores, with
    # the worker holding the GIL most of the ~2 s, how many timer ticks fit varies (1 to 6 seen).
    assert seen == [True, True]
    assert done.args == [False]
    assert panel.expr_error.isVisible() and not panel.expr_status.isVisible()
    assert panel.expr_error.text() == (f"Expression too complex: parsing it took more than {ex.TIME_LIMIT:g} s "
                                       "(simplify it)")
    assert s.to_dict() == before


def test_the_issue_expression_is_refused_inline_naming_the_part(qtbot):
    panel, s = _panel(qtbot)
    before = s.to_dict()
    panel.expr.setFocus()
    qtbot.keyClicks(panel.expr, HUGE)
    with qtbot.waitSignal(panel.parse_finished, timeout=20_000):
        qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
    assert panel.expr_error.text().startswith("Number too large in (1/9**100)**100 at column 13:")
    assert panel.expr.cursorPosition() == 12  # at the ** of the part that is too large
    assert s.to_dict() == before


def test_a_good_expression_applies_when_its_parse_arrives(qtbot):
    panel, s = _panel(qtbot)
    panel.expr.setText("x**2 + 3*y**2 + sin(x*y)")
    with qtbot.waitSignal(panel.parse_finished, timeout=20_000) as done:
        panel.apply_expression()
        assert s.problem_settings.name == "himmelblau"  # nothing applied yet
    assert done.args == [True]
    assert s.problem_settings.name == "custom" and s.problem_settings.expr == "x**2 + 3*y**2 + sin(x*y)"
    p = np.array([1.0, 2.0])
    assert s.problem.loss(p) == pytest.approx(1 + 12 + np.sin(2.0))
    assert s.runs[0].config.start == s.problem.start  # a new problem: runs moved to its start


def test_an_edit_while_parsing_drops_the_old_result(qtbot):
    panel, s = _panel(qtbot)
    finished: list[bool] = []
    panel.parse_finished.connect(finished.append)
    panel.expr.setFocus()
    panel.expr.setText("x**2 + y**2")
    qtbot.keyClick(panel.expr, Qt.Key.Key_Return)  # queued on the pool
    qtbot.keyClicks(panel.expr, " + x")  # edited before its result could be delivered
    _wait_idle(qtbot, panel)
    assert finished == [] and not panel.parse_pending
    assert s.problem_settings.name == "himmelblau"  # the stale result was not applied
    assert not panel.expr_error.isVisible() and not panel.expr_status.isVisible()
    with qtbot.waitSignal(panel.parse_finished, timeout=20_000):
        qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
    assert s.problem_settings.expr == "x**2 + y**2 + x"


def test_a_problem_chosen_while_parsing_wins(qtbot):
    panel, s = _panel(qtbot)
    panel.expr.setText("x**2 + y**2")
    panel.apply_expression()
    s.set_problem(name="rosenbrock")  # e.g. a preset loaded meanwhile
    _wait_idle(qtbot, panel)
    assert s.problem_settings.name == "rosenbrock"
    panel.expr.setText("x**2 + y**2")
    panel.apply_expression()
    _choose(panel.combo, "booth")  # the combo drops the request too
    _wait_idle(qtbot, panel)
    assert s.problem_settings.name == "booth" and panel.expr.text() == ""


def test_picking_a_built_in_surface_clears_the_typed_function(qtbot):
    panel, s = _panel(qtbot)
    panel.expr.setText("x**2 + y**2")
    with qtbot.waitSignal(panel.parse_finished, timeout=20_000):
        panel.apply_expression()
    assert s.problem_settings.name == "custom" and panel.expr.text() == "x**2 + y**2"
    panel.expr.setFocus()  # even while the field has the keyboard
    _choose(panel.combo, "rosenbrock")
    assert s.problem_settings.name == "rosenbrock"
    assert panel.expr.text() == ""
    # Text typed but never applied is cleared too, also when the same surface is picked again.
    qtbot.keyClicks(panel.expr, "sin(x")
    panel.expr_error.setText("stale message")
    panel.expr_error.show()
    _choose(panel.combo, "rosenbrock")
    assert panel.expr.text() == "" and not panel.expr_error.isVisible()
    # Choosing "Typed function" again brings back the last one used.
    _choose(panel.combo, "custom")
    qtbot.waitUntil(lambda: s.problem_settings.name == "custom", timeout=20_000)
    assert panel.expr.text() == "x**2 + y**2"


# ------------------------------------------------------------------------------ in the window
def test_enter_commits_and_gives_the_keyboard_back_to_the_views(shared_studio, qtbot):
    w = shared_studio
    panel = w.panels["problem"]
    committed: list[bool] = []

    def on_committed() -> None:
        committed.append(True)

    panel.committed.connect(on_committed)
    try:
        panel.expr.setFocus()
        qtbot.waitUntil(panel.expr.hasFocus, timeout=5_000)
        qtbot.keyClicks(panel.expr, "x^2 + 3*y^2")
        with qtbot.waitSignal(panel.parse_finished, timeout=20_000):
            qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
        settle(qtbot, w)
        assert committed == [True]
        assert w.session.problem_settings.expr == "x^2 + 3*y^2"
        focus = QApplication.focusWidget()
        assert focus is w.contour or w.contour.isAncestorOf(focus)
        # Space now plays (in the field it would have typed a space).
        assert not w.session.playing
        qtbot.keyClick(focus, Qt.Key.Key_Space)
        assert w.session.playing
        assert panel.expr.text() == "x^2 + 3*y^2"
        w.session.set_playing(False)
        # A refused expression keeps the keyboard in the field, at the error.
        panel.expr.setFocus()
        panel.expr.setText("x^2 + ")
        with qtbot.waitSignal(panel.parse_finished, timeout=20_000):
            qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
        assert committed == [True] and panel.expr.hasFocus() and panel.expr_error.isVisible()
    finally:
        panel.committed.disconnect(on_committed)
