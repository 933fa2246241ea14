"""Undo and redo in the window: the Edit menu names the command, Ctrl+Z / Ctrl+Shift+Z, enabled
states follow the stack; New session and presets need no question (Ctrl+Z brings the runs back);
quitting with unsaved changes asks Save / Discard / Cancel; saving marks the session clean.

Driven through the real menu, shortcuts and panels; the quit question is a monkeypatched
``QMessageBox.question`` that records what it was asked.
"""

from __future__ import annotations

import json

import gdstudio_window_fixtures as wf
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

settle = wf.settle
Button = QMessageBox.StandardButton


def edit_menu(w):
    return {a.objectName(): a for a in w.menus["edit"].actions()}


def press(qtbot, w, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    w.contour.setFocus()  # a view has the focus, not a text field (which keeps Ctrl+Z for its text)
    qtbot.keyClick(w, key, modifiers)
    settle(qtbot, w)


@pytest.fixture
def no_question(monkeypatch):
    """Fail the test if any question is asked."""

    def asked(*args, **kwargs):
        raise AssertionError(f"a question was asked: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", staticmethod(asked))


@pytest.fixture
def answer(monkeypatch):
    """``answer(Button.X)``: the quit question answers X; returns the list of questions asked."""
    asked = []

    def set_answer(button):
        def question(parent, title, text, *args, **kwargs):
            asked.append((title, text))
            return button

        monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
        return asked

    return set_answer


def test_edit_menu_names_the_command_and_ctrl_z_ctrl_shift_z_undo_and_redo(studio, qtbot, no_question):
    w = studio
    s = w.session
    actions = edit_menu(w)
    undo, redo = actions["action_undo"], actions["action_redo"]
    assert undo.shortcut().toString() == "Ctrl+Z" and redo.shortcut().toString() == "Ctrl+Shift+Z"
    assert not undo.isEnabled() and not redo.isEnabled()  # the launch is where the history begins
    assert undo.text() == "&Undo"
    rid = s.selected_id
    label = s.entry(rid).label
    before = s.entry(rid).config.hyperparameters.get("lr")
    w.panels["optimizer"].editors["lr"].spins[0].setValue(0.03)  # as a user types it
    assert s.entry(rid).config.hyperparameters["lr"] == 0.03
    assert undo.isEnabled() and not redo.isEnabled()
    assert undo.text().replace("&", "") == f"Undo: set η of Run {rid} to 0.03", label
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert s.entry(rid).config.hyperparameters.get("lr") == before
    assert w.panels["optimizer"].editors["lr"].spins[0].value() == pytest.approx(before)
    assert redo.isEnabled() and redo.text().replace("&", "") == f"Redo: set η of Run {rid} to 0.03"
    assert not undo.isEnabled()
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert s.entry(rid).config.hyperparameters["lr"] == 0.03
    assert undo.isEnabled() and not redo.isEnabled()


def test_the_edit_menu_entries_undo_adding_and_removing_runs(studio, qtbot, no_question):
    w = studio
    s = w.session
    n = len(s.runs)
    w.menus["runs"].actions()[0].trigger()  # Runs → Add run
    settle(qtbot, w)
    assert len(s.runs) == n + 1
    added = s.selected_id
    undo = edit_menu(w)["action_undo"]
    assert undo.text().replace("&", "").startswith(f"Undo: add Run {added}")
    undo.trigger()
    settle(qtbot, w)
    assert len(s.runs) == n and added not in {e.id for e in s.runs}
    assert {r.key for r in w.contour.runs_layer.runs()} == {e.id for e in s.runs}  # the views follow
    edit_menu(w)["action_redo"].trigger()
    settle(qtbot, w)
    assert len(s.runs) == n + 1 and added in {e.id for e in s.runs}


def test_new_session_and_presets_ask_nothing_and_ctrl_z_brings_the_runs_back(studio, qtbot, no_question):
    w = studio
    s = w.session
    w.actions["add_run"].trigger()
    s.forward(5)
    settle(qtbot, w)
    mine = s.to_dict()
    w.preset_actions["rosenbrock"].trigger()
    settle(qtbot, w)
    assert s.problem.name == "rosenbrock"
    assert edit_menu(w)["action_undo"].text().replace("&", "").startswith("Undo: load preset")
    w.actions["new"].trigger()
    settle(qtbot, w)
    assert s.problem.name == "himmelblau" and len(s.runs) == 2 and w.windowTitle().startswith("untitled")
    assert edit_menu(w)["action_undo"].text().replace("&", "") == "Undo: new session"
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert s.problem.name == "rosenbrock"
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert s.to_dict() == mine  # the runs thrown away by the preset, back
    assert {r.key for r in w.contour.runs_layer.runs()} == {e.id for e in s.runs}


def test_saving_marks_the_session_clean_and_an_edit_after_it_does_not(studio, qtbot, tmp_path, no_question):
    w = studio
    assert not w.modified and "*" not in w.windowTitle()
    w.actions["add_run"].trigger()
    assert w.modified and w.windowTitle().endswith(" * — gdstudio")
    assert w.save_to(tmp_path / "a.json")
    assert not w.modified and w.windowTitle().startswith("a.json —")
    w.actions["remove_run"].trigger()
    assert w.modified and w.windowTitle().startswith("a.json *")
    w.actions["undo"].trigger()  # back to what the file holds
    assert not w.modified


def test_quitting_a_clean_session_asks_nothing(studio, qtbot, no_question):
    w = studio
    w.session.forward(5)  # playback is not an edit
    w.actions["quit"].trigger()
    assert not w.isVisible()


def test_quitting_with_unsaved_changes_cancel_keeps_the_window(studio, qtbot, answer):
    w = studio
    w.actions["add_run"].trigger()
    asked = answer(Button.Cancel)
    qtbot.keyClick(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)  # the real shortcut
    assert len(asked) == 1 and "not saved" in asked[0][1]
    assert w.isVisible() and w.modified
    w.actions["step"].trigger()  # still working, not shut down
    assert w.session.position == 1


def test_quitting_with_unsaved_changes_discard_quits_without_a_file(studio, qtbot, answer, tmp_path):
    w = studio
    w.actions["add_run"].trigger()
    runs = w.session.to_dict()["runs"]
    asked = answer(Button.Discard)
    w.actions["quit"].trigger()
    assert len(asked) == 1 and not w.isVisible()
    assert not list(tmp_path.glob("*.json"))
    # the session is still kept for the next launch, as every quit does
    assert json.loads(w.settings.last_session_path.read_text())["runs"] == runs


def test_quitting_with_unsaved_changes_save_writes_the_file_then_quits(studio, qtbot, answer, tmp_path, monkeypatch):
    w = studio
    w.actions["add_run"].trigger()
    saved = w.session.to_dict()
    target = tmp_path / "kept.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    asked = answer(Button.Save)
    w.actions["quit"].trigger()
    assert len(asked) == 1 and not w.isVisible()
    assert json.loads(target.read_text())["runs"] == saved["runs"]


def test_quitting_save_then_cancelling_the_file_dialog_keeps_the_window(studio, qtbot, answer, monkeypatch):
    w = studio
    w.actions["add_run"].trigger()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    answer(Button.Save)
    w.actions["quit"].trigger()
    assert w.isVisible() and w.modified
