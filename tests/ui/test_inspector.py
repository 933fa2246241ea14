"""The Step inspector dock: its rows are the engine's values, it follows the selection and the
position, a hovered row draws that quantity's arrow on the contour, Copy gives a table whose
numbers are the values, divergence is named (never NaN), and a hidden dock does no work."""

from __future__ import annotations

import math
import re

import gdstudio_window_fixtures as wf  # registered by conftest.py
import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from gdstudio.engine.runs import RunConfig, Status
from gdstudio.model.session import Session
from gdstudio.ui.panels.inspector import SHOWN_DIGITS, InspectorPanel, format_value, inspector_of
from gdstudio.ui.views import ContourView

RULES = [
    ("gd", {"lr": 0.01}),
    ("momentum", {"lr": 0.005}),
    ("nag", {"lr": 0.005}),
    ("adam", {"lr": 0.1}),
    ("rmsprop", {"lr": 0.01}),
    ("adagrad", {"lr": 0.5}),
]


def _session(optimizer: str, hp: dict, steps: int = 30, problem: str = "himmelblau") -> Session:
    s = Session()
    s.set_problem(name=problem)
    s.replace_runs([RunConfig(optimizer, (-0.5, -0.5), hp), RunConfig("adam", (1.0, 1.0), {"lr": 0.1})])
    s.select(s.runs[0].id)
    s.forward(steps)
    return s


@pytest.fixture
def panel_on(qtbot, show):
    made = []

    def make(session: Session, contour: ContourView | None = None) -> InspectorPanel:
        panel = InspectorPanel(session, contour)
        show(panel, (520, 700))
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close_session()


def _parse(text: str) -> np.ndarray:
    """A shown value back to numbers: ``(1.5, -2)`` → [1.5, −2]; ``0.1`` → [0.1]."""
    return np.array([float(x) for x in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)])


@pytest.mark.parametrize(("optimizer", "hp"), RULES)
def test_rows_are_the_engines_values_at_scrubbed_steps(panel_on, optimizer, hp):
    s = _session(optimizer, hp)
    panel = panel_on(s)
    run = s.selected.run
    h = run.history
    for k in (1, 7, 30):
        s.seek(k)
        panel.refresh()
        expl = panel.explanation
        assert expl is not None and expl.step == k
        # The engine's own record of step k (History row k − 1), independently of explain.
        rows = {name: value for (_sym, value, name) in panel.row_texts()}
        for name, want in (("theta_before", h.points[k - 1]), ("grad", h.grad[k - 1]),
                           ("effective_lr", h.effective_lr[k - 1]), ("update", h.update[k - 1]),
                           ("theta_after", h.points[k]), ("loss_before", [h.loss[k - 1]]),
                           ("loss_after", [h.loss[k]]), ("lr", [h.lr[k - 1]])):
            np.testing.assert_allclose(_parse(rows[name]), np.ravel(want), rtol=1e-4, atol=1e-12, err_msg=name)
            np.testing.assert_array_equal(np.ravel(expl.row(name).value), np.ravel(want))
        buffer = run.optimizer.first_moment_buffer
        if buffer is not None and buffer in rows:  # the first moment under torch's name
            np.testing.assert_allclose(_parse(rows[buffer]), h.first_moment[k - 1], rtol=1e-4)
        # Every row of the explanation is in the table, in order, with its value as shown text.
        assert [n for (_s, _v, n) in panel.row_texts()] == [q.name for q in expl.quantities]
        shown = [format_value(q.value, SHOWN_DIGITS) for q in expl.quantities]
        assert [v for (_s, v, _n) in panel.row_texts()] == shown
        assert panel.formula.text() and "mathrm" not in panel.formula.text()


def test_it_follows_the_selection_and_the_position(panel_on):
    s = _session("momentum", {"lr": 0.005}, steps=20)
    panel = panel_on(s)
    first, second = s.runs
    s.seek(5)
    assert panel.explanation.step == 5 and "step 5" in panel.heading.text()
    np.testing.assert_array_equal(panel.explanation.param_before, first.run.history.points[4])
    s.select(second.id)
    assert first.label not in panel.heading.text() and second.label in panel.heading.text()
    np.testing.assert_array_equal(panel.explanation.param_before, second.run.history.points[4])
    assert panel.explanation.optimizer == "adam"
    s.seek(12)
    assert panel.explanation.step == 12
    np.testing.assert_array_equal(panel.explanation.grad, second.run.history.grad[11])
    s.seek(0)  # the start: no step yet
    assert panel.explanation is None and "step 0" in panel.heading.text() and panel.table.rowCount() == 0
    assert not panel.copy_markdown.isEnabled()
    s.update_run(second.id, optimizer="rmsprop")  # the selected run's config changed: re-explained
    s.forward(3)
    assert panel.explanation.optimizer == "rmsprop" and panel.explanation.step == s.position == 3


def test_a_diverged_run_is_named_never_nan(panel_on):
    s = Session()
    s.set_problem(name="bowl")
    s.replace_runs([RunConfig("gd", (1.0, 1.0), {"lr": 5.0})])
    s.select(s.runs[0].id)
    s.forward(2000)
    run = s.selected.run
    assert run.status is Status.DIVERGED
    panel = panel_on(s)
    s.seek(s.computed_steps)
    text = panel.heading.text()
    assert f"Diverged at step {run.diverged_at}" in text
    assert panel.explanation is not None and panel.explanation.step == run.history.steps
    shown = " ".join(v for (_s, v, _n) in panel.row_texts())
    assert "nan" not in shown.lower()


def test_hidden_dock_does_no_work_and_catches_up_when_shown(panel_on):
    s = _session("adam", {"lr": 0.1}, steps=10)
    panel = panel_on(s)
    s.seek(4)
    assert panel.explanation.step == 4
    panel.hide()
    fired = panel.updates.count
    for k in (5, 6, 7, 8):
        s.seek(k)
    assert panel.updates.count == fired and panel.explanation.step == 4
    panel.show()
    assert panel.explanation.step == 8


def _hover(panel: InspectorPanel, name: str) -> None:
    """Move the mouse over the row of quantity ``name`` (a real move event on the viewport)."""
    row = panel.row_index(name)
    rect = panel.table.visualRect(panel.table.model().index(row, 1))
    panel.table.scrollTo(panel.table.model().index(row, 1))
    rect = panel.table.visualRect(panel.table.model().index(row, 1))
    pos = rect.center()
    viewport = panel.table.viewport()
    event = QMouseEvent(QEvent.Type.MouseMove, pos, viewport.mapToGlobal(pos), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def _direction_matches(segments: np.ndarray, origin: np.ndarray, vector: np.ndarray) -> None:
    np.testing.assert_allclose(segments[0], origin, rtol=1e-12, atol=1e-12)  # the shaft starts at the origin
    shaft = segments[1] - segments[0]
    cos = float(shaft @ vector / (np.linalg.norm(shaft) * np.linalg.norm(vector)))
    assert cos == pytest.approx(1.0, abs=1e-9)  # along the vector, same sense


@pytest.mark.parametrize(("optimizer", "hp"), [("nag", {"lr": 0.005}), ("adam", {"lr": 0.1})])
def test_hovering_a_row_highlights_its_arrow(panel_on, contour_view, himmelblau, qtbot, optimizer, hp):
    s = _session(optimizer, hp, steps=12)
    contour_view.set_surface(himmelblau.grid(64), himmelblau.bounds)
    panel = panel_on(s, contour_view)
    s.seek(9)
    h = s.selected.run.history
    overlay = panel.overlay
    expl = panel.explanation
    # The gradient row: −g drawn from where the gradient was taken (NAG: the look-ahead point θ).
    _hover(panel, "grad")
    hl = overlay.highlighted
    assert hl is not None and hl.kind == "gradient"
    np.testing.assert_array_equal(hl.vector, -h.grad[8])
    at = expl.vectors()["gradient_point"]
    np.testing.assert_array_equal(hl.origin, at.value)
    # torch's NAG takes g at its iterate θ, which is the classical form's look-ahead point: the rule
    # declares that row as the gradient's point; either way the arrow starts at θ before the step.
    assert at.name == ("lookahead" if optimizer == "nag" else "theta_before")
    np.testing.assert_array_equal(hl.origin, h.points[8])
    _direction_matches(overlay.highlight_segments(), hl.origin, hl.vector)
    # Δθ: from θ before, exactly the step to the next point.
    _hover(panel, "update")
    hl = overlay.highlighted
    assert hl.kind == "step"
    np.testing.assert_array_equal(hl.origin, h.points[8])
    np.testing.assert_array_equal(hl.vector, h.points[9] - h.points[8])
    _direction_matches(overlay.highlight_segments(), hl.origin, hl.vector)
    # The new velocity (the first moment under torch's name): −v from θ.
    buffer = s.selected.run.optimizer.first_moment_buffer
    _hover(panel, buffer)
    hl = overlay.highlighted
    assert hl.kind == "velocity"
    np.testing.assert_array_equal(hl.vector, -h.first_moment[8])
    _direction_matches(overlay.highlight_segments(), hl.origin, hl.vector)
    # A row without an arrow (the loss) clears it; leaving the table clears it.
    _hover(panel, "loss_after")
    assert overlay.highlighted is None and len(overlay.highlight_segments()) == 0
    _hover(panel, "grad")
    assert overlay.highlighted is not None
    QApplication.sendEvent(panel.table.viewport(), QEvent(QEvent.Type.Leave))
    assert overlay.highlighted is None


def _markdown_values(text: str) -> dict[str, np.ndarray]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\| \$.*\$ \| `([^`]+)` \| ([^|]*) \|", line)
        if m:
            out[m.group(1)] = _parse(m.group(2))
    return out


@pytest.mark.parametrize(("optimizer", "hp"), [("adam", {"lr": 0.1}), ("momentum", {"lr": 0.005})])
def test_copy_as_markdown_parses_back_to_the_values(panel_on, qtbot, optimizer, hp):
    s = _session(optimizer, hp, steps=15)
    panel = panel_on(s)
    s.seek(11)
    qtbot.mouseClick(panel.copy_markdown, Qt.MouseButton.LeftButton)
    text = QApplication.clipboard().text()
    assert text.startswith("Step 11 of") and "|---|" in text
    values = _markdown_values(text)
    h = s.selected.run.history
    np.testing.assert_allclose(values["grad"], h.grad[10], rtol=1e-5)
    np.testing.assert_allclose(values["update"], h.update[10], rtol=1e-5)
    np.testing.assert_allclose(values["theta_after"], h.points[11], rtol=1e-5)
    np.testing.assert_allclose(values["loss_before"], [h.loss[10]], rtol=1e-5)
    for q in panel.explanation.quantities:  # every row, every number
        want = np.ravel(np.asarray(q.value, dtype=float))
        np.testing.assert_allclose(values[q.name], want, rtol=1e-5, atol=1e-300, err_msg=q.name)
    qtbot.mouseClick(panel.copy_latex, Qt.MouseButton.LeftButton)
    latex = QApplication.clipboard().text()
    assert r"\begin{tabular}" in latex and r"\begin{aligned}" in latex


def test_the_window_dock_and_1280x720(qtbot, studio_settings):
    w = wf.make_window(qtbot, studio_settings)
    assert not w.docks["inspector"].isVisible()  # closed on a first launch (View → Panels opens it)
    w.docks["inspector"].show()
    panel = inspector_of(w)
    assert panel is not None and w.docks["inspector"].isVisible()
    s = w.session
    s.forward(6)
    wf.settle(qtbot, w)
    s.seek(4)
    assert panel.explanation is not None and panel.explanation.step == 4
    assert panel.explanation.optimizer == s.selected.config.optimizer
    # Playing keeps it at most 10 updates a second, and it ends on the step shown.
    s.set_speed(1, 60)
    s.set_playing(True)
    qtbot.wait(600)
    s.set_playing(False)
    qtbot.waitUntil(lambda: panel.explanation is not None and panel.explanation.step == min(
        s.position, s.selected.run.history.steps), timeout=3000)
    # A small screen: the window fits, the dock starts closed and opens narrow but whole.
    w.close()
    w2 = wf.make_window(qtbot, wf.isolated_settings(studio_settings.data_dir.parent / "small"), resize=False)
    w2.resize(1280, 720)
    w2.fit_to_screen()
    w2.docks["inspector"].show()
    wf.settle(qtbot, w2)
    assert w2.width() <= 1280 and w2.height() <= 720
    assert w2.docks["inspector"].width() >= 140
    w2.close()


def test_format_value():
    assert format_value(np.array([1.0, -2.5])) == "(1, -2.5)"
    assert format_value(math.nan) == "—"
    assert format_value(np.array([math.inf, -math.inf])) == "(∞, −∞)"
    assert format_value(0.123456789) == "0.123457"


def test_a_closed_window_leaves_no_inspector_to_the_garbage_collector(qtbot, studio_settings):
    import gc

    from gdstudio.ui.slow_motion import SlowMotion

    gc.collect()  # what earlier tests left is not this window's
    w = wf.make_window(qtbot, studio_settings)
    w.docks["inspector"].show()
    w.session.forward(4)
    wf.settle(qtbot, w)
    panel = inspector_of(w)
    panel._on_row_entered(panel.row_index("grad"), 0)
    w.actions["slow_motion"].trigger()
    assert panel.slow_motion.active
    ours = {id(panel), id(panel.slow_motion)}
    del panel
    w.close()
    w.deleteLater()
    del w
    qtbot.wait(20)
    # no reference cycle: freed by reference counting on the UI thread
    assert wf.left_to_collector((InspectorPanel, SlowMotion), ours) == []
