"""The main window end to end: clicks, playback, problem / optimizer switches, divergence,
rendering, sessions, presets, and every action and dock from the tables.

Runs under Xvfb with the real xcb platform (pytest-xvfb). pytest-qt fails a test on any
exception raised inside a Qt slot, so "nothing raises" is checked by every test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gdstudio_window_fixtures as wf  # registered by conftest.py, which also provides the window fixtures
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.runs import RunConfig, Status
from gdstudio.model.presets import list_presets, preset_document
from gdstudio.model.session import RACE_OPTIMIZERS
from gdstudio.ui.actions import ACTIONS, DOCKS, ActionId
from gdstudio.ui.export_dialog import ImageDialog, TrajectoryDialog, VideoExportDialog
from gdstudio.ui.fair_race_dialog import FairRaceDialog
from gdstudio.ui.panels.runs_panel import COLUMNS

settle = wf.settle


def choose(combo, data) -> None:
    """Pick the item with ``data`` as a user would (activated is what the panels listen to)."""
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def drawn_xy(w, run_id) -> np.ndarray:
    """The points of run ``run_id`` the contour draws (n, 2)."""
    drawn = w.contour.drawn_run(run_id)
    assert drawn is not None, run_id
    return np.asarray(drawn.xy)


def head_xy(w, run_id):
    x, y = drawn_xy(w, run_id)[-1]
    return float(x), float(y)


# ------------------------------------------------------------------------------ mouse
@pytest.mark.parametrize("target", [(2.0, -1.5), (-3.7, 3.1)])
def test_click_places_start_at_the_data_point(shared_studio, qtbot, target):
    w = shared_studio
    rid = w.session.selected_id
    pos = wf.scene_point(w.contour, *target)
    qtbot.mouseClick(w.contour.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    settle(qtbot, w)
    start = w.session.entry(rid).config.start
    (x0, x1), (y0, y1) = w.session.bounds
    assert abs(start[0] - target[0]) <= 0.01 * (x1 - x0)
    assert abs(start[1] - target[1]) <= 0.01 * (y1 - y0)
    # The views show the new start (the first point of the run's path).
    assert tuple(drawn_xy(w, rid)[0]) == pytest.approx(start)
    spins = w.panels["optimizer"].start_spins
    assert (spins[0].value(), spins[1].value()) == pytest.approx(start)


def test_shift_click_adds_a_run_there(shared_studio, qtbot):
    w = shared_studio
    n = len(w.session.runs)
    template = w.session.selected.config
    pos = wf.scene_point(w.contour, 1.0, 1.0)
    qtbot.mouseClick(w.contour.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier, pos)
    settle(qtbot, w)
    assert len(w.session.runs) == n + 1
    new = w.session.selected
    assert new.config.optimizer == template.optimizer
    assert new.config.start == pytest.approx((1.0, 1.0), abs=0.1)
    assert w.panels["runs"].model.rowCount() == n + 1


# ------------------------------------------------------------------------------ playback
def test_play_advances_the_runs_on_the_clock(shared_studio, qtbot):
    w = shared_studio
    assert w.session.position == 0
    w.contour.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.session.playing and w.clock.active
    qtbot.waitUntil(lambda: w.session.position >= 5, timeout=10_000)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert not w.session.playing and not w.clock.active
    assert w.clock.ticks >= 5
    settle(qtbot, w)
    p = w.session.position
    for e in w.session.runs:
        k = min(p, e.run.steps)
        assert head_xy(w, e.id) == pytest.approx(tuple(e.run.history.points[k]))
    assert w.playback.timeline.value() == p
    assert f"step {p}" in w.status_step.text()


def test_step_step_back_and_scrub(shared_studio, qtbot):
    w = shared_studio
    w.contour.setFocus()
    for _ in range(4):
        qtbot.keyClick(w, Qt.Key.Key_Right)
    assert w.session.position == 4
    qtbot.keyClick(w, Qt.Key.Key_Left)
    assert w.session.position == 3
    settle(qtbot, w)
    rid = w.session.runs[0].id
    assert head_xy(w, rid) == pytest.approx(tuple(w.session.entry(rid).run.history.points[3]))
    assert w.playback.timeline.maximum() == 4
    w.playback.timeline.setValue(1)  # scrubbing the timeline seeks
    assert w.session.position == 1
    settle(qtbot, w)
    assert head_xy(w, rid) == pytest.approx(tuple(w.session.entry(rid).run.history.points[1]))
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.session.position == 0 and w.session.computed_steps == 0


# ------------------------------------------------------------------------------ switching
def test_switching_problem_updates_both_views(shared_studio, qtbot):
    w = shared_studio
    contour_before = w.contour.image.image.copy()
    surface_before = wf.widget_pixels(w.surface_pane)
    choose(w.panels["problem"].combo, "rosenbrock")
    settle(qtbot, w)
    assert w.session.problem.name == "rosenbrock"
    assert not np.array_equal(w.contour.image.image, contour_before)
    surface_after = wf.widget_pixels(w.surface_pane)
    h, wd = (min(a, b) for a, b in zip(surface_after.shape[:2], surface_before.shape[:2], strict=True))
    # (the model-fit dock closes for an analytic problem, so the pane may have widened)
    assert np.abs(surface_after[:h, :wd].astype(int) - surface_before[:h, :wd].astype(int)).mean() > 2.0
    # Runs moved to the new problem's suggested start and the views show them there.
    for e in w.session.runs:
        assert e.config.start == w.session.problem.start
        assert tuple(drawn_xy(w, e.id)[0]) == pytest.approx(w.session.problem.start)
    (x0, x1), _ = w.contour.view_box.viewRange()
    assert (x0, x1) == pytest.approx(w.session.bounds[0], rel=0.05)


def test_switching_optimizer_updates_the_run_and_views(shared_studio, qtbot):
    w = shared_studio
    rid = w.session.selected_id
    w.session.forward(10)
    settle(qtbot, w)
    before = drawn_xy(w, rid).copy()
    loss_before = w.history_view.curve_data(rid, "loss")[0][1].copy()
    choose(w.panels["optimizer"].combo, "rmsprop")
    settle(qtbot, w)
    e = w.session.entry(rid)
    assert e.config.optimizer == "rmsprop"
    assert e.run.steps == 10  # caught up to the position shown
    after = drawn_xy(w, rid)
    assert not np.allclose(after, before)
    assert not np.allclose(w.history_view.curve_data(rid, "loss")[0][1], loss_before)
    editors = w.panels["optimizer"].editors
    assert set(editors) == {h.name for h in get_spec("rmsprop").hyperparams}


def test_diverging_run_is_flagged_and_nothing_raises(shared_studio, qtbot):
    w = shared_studio
    choose(w.panels["problem"].combo, "rosenbrock")
    rid = w.session.selected_id
    choose(w.panels["optimizer"].combo, "sgd")
    w.panels["optimizer"].editors["lr"].spins[0].setValue(1.0)
    assert w.session.entry(rid).config.hyperparameters["lr"] == 1.0
    w.contour.setFocus()
    run = w.session.entry(rid).run
    for _ in range(10):
        if not run.running:
            break
        qtbot.keyClick(w, Qt.Key.Key_Right)
    settle(qtbot, w)
    assert run.status is Status.DIVERGED
    model = w.panels["runs"].model
    row = model.ids.index(rid)
    status = model.index(row, COLUMNS.index("Status"))
    assert "diverged" in model.data(status)
    assert model.data(status, Qt.ItemDataRole.ForegroundRole).color().red() > 200
    assert "diverged" in w.status_message.text()
    assert "E0301E" in w.status_message.styleSheet()
    w.session.select(rid)
    assert "diverged" in w.status_loss.text()
    # The contour marks the divergence where the finite path ends.
    assert w.contour.drawn_run(rid).crossed


# ------------------------------------------------------------------------------ rendering
def test_gl_view_renders_a_frame_inside_the_window(shared_studio, qtbot):
    w = shared_studio
    qtbot.wait(50)
    px = wf.widget_pixels(w.surface_pane)
    assert px.shape[0] > 200 and px.shape[1] > 200
    rgb = px[..., :3].reshape(-1, 3).astype(int)
    background = rgb[0]
    differs = np.abs(rgb - background).sum(axis=1) > 30
    assert differs.mean() > 0.2  # the surface covers a good part of the view
    assert len(np.unique(rgb[::7], axis=0)) > 200  # shaded and colour-mapped, not flat


def test_views_are_side_by_side_and_filled(shared_studio):
    w = shared_studio
    c, s = w.contour, w.surface_pane  # the 3-D view is mirrored into the window by its pane
    assert c.width() > 400 and s.width() > 400 and c.height() > 400
    assert c.mapTo(w, c.rect().topLeft()).x() < s.mapTo(w, s.rect().topLeft()).x()


# ------------------------------------------------------------------------------ sessions
def test_session_survives_save_and_open_through_the_file_actions(shared_studio, qtbot, tmp_path, monkeypatch):
    w = shared_studio
    s = w.session
    s.forward(7)
    w.actions["add_run"].trigger()
    s.update_run(s.selected_id, hyperparameters={"lr": 0.05})
    w.actions["show_gradient"].trigger()
    path = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))
    w.actions["save_as"].trigger()
    assert path.exists()
    saved = s.to_dict()
    w.load_preset("rosenbrock")
    settle(qtbot, w)
    assert s.to_dict() != saved
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))
    w.actions["open"].trigger()
    settle(qtbot, w)
    assert s.to_dict() == saved
    assert w.actions["show_gradient"].isChecked()
    assert w.windowTitle().startswith("saved.json")
    assert str(path) in w.settings.recent_files()[0]
    assert {r.key for r in w.contour.runs_layer.runs()} == {e.id for e in s.runs}


def test_corrupt_session_file_shows_a_message_and_changes_nothing(shared_studio, qtbot, tmp_path, monkeypatch):
    w = shared_studio
    w.session.forward(3)
    before = w.session.to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bad), "")))
    w.actions["open"].trigger()
    assert w.message_box is not None and w.message_box.isVisible()
    assert "invalid JSON" in w.message_box.text()
    w.message_box.close()
    assert w.session.to_dict() == before
    doc = preset_document("himmelblau")
    doc["runs"][0]["hyperparameters"]["lr"] = -1
    bad.write_text(json.dumps(doc), encoding="utf-8")
    w.actions["open"].trigger()
    assert "runs[0]" in w.message_box.text() and "lr" in w.message_box.text()
    w.message_box.close()
    assert w.session.to_dict() == before


def test_last_session_and_layout_are_restored(qtbot, studio_settings):
    w = wf.make_window(qtbot, studio_settings)
    w.load_preset("rosenbrock")
    w.session.forward(12)
    w.resize(1300, 900)
    saved = w.session.to_dict()
    w.close()
    assert studio_settings.last_session_path.exists()
    w2 = wf.make_window(qtbot, studio_settings, preset=None, resize=False)
    assert w2.session.to_dict() == saved
    assert "Restored" in w2.status_message.text()
    assert (w2.width(), w2.height()) == (1300, 900)
    w2.close()


def test_broken_last_session_is_ignored_with_a_message(qtbot, studio_settings):
    studio_settings.last_session_path.parent.mkdir(parents=True, exist_ok=True)
    studio_settings.last_session_path.write_text('{"format": "gdstudio-session", "version": 1}', "utf-8")
    w = wf.make_window(qtbot, studio_settings, preset=None)
    assert "Cannot restore the last session" in w.status_message.text()
    assert w.session.problem.name == "himmelblau" and len(w.session.runs) == 2
    w.close()


def test_recent_files_keep_the_eight_latest(shared_studio, tmp_path):
    w = shared_studio
    for i in range(10):
        assert w.save_to(tmp_path / f"s{i}.json")
    recent = w.settings.recent_files()
    assert [Path(p).name for p in recent] == [f"s{i}.json" for i in range(9, 1, -1)]
    texts = [a.text() for a in w.recent_menu.actions() if a.data()]
    assert len(texts) == 8 and "s9.json" in texts[0]


# ------------------------------------------------------------------------------ typed functions
def test_typed_function_errors_show_inline(shared_studio, qtbot):
    w = shared_studio
    panel = w.panels["problem"]
    before = w.session.to_dict()
    panel.expr.setText("sin(x) + y**")
    with qtbot.waitSignal(panel.parse_finished, timeout=10_000):  # parsed off the UI thread
        qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
    assert panel.expr_error.isVisible()
    assert panel.expr_error.text()
    assert w.session.to_dict() == before
    panel.expr.setText("sin(x)*cos(y) + 0.1*(x**2 + y**2)")
    with qtbot.waitSignal(panel.parse_finished, timeout=10_000):
        qtbot.keyClick(panel.expr, Qt.Key.Key_Return)
    settle(qtbot, w)
    assert not panel.expr_error.isVisible()
    assert w.session.problem_settings.name == "custom"
    # The contour shows the typed function: compare with the formula evaluated independently.
    surf = w.bridge.last_surface
    xx, yy = np.meshgrid(surf.xs, surf.ys)
    assert surf.z == pytest.approx(np.sin(xx) * np.cos(yy) + 0.1 * (xx**2 + yy**2))


# ------------------------------------------------------------------------------ race
def test_race_all_tunes_off_the_ui_thread(shared_studio, qtbot):
    from gdstudio.engine.explore import fair_race

    w = shared_studio
    start = w.session.selected.config.start
    w.actions["race_all"].trigger()  # the fair-race dialog; its Race tunes on a worker
    dialog = w.findChild(FairRaceDialog, "fair_race_dialog")
    assert dialog.isVisible() and dialog.chosen() == list(RACE_OPTIMIZERS)
    dialog.race_button.click()
    assert w.racing  # returned before the tuning finished
    qtbot.waitUntil(lambda: not w.racing, timeout=60_000)
    dialog.close()
    w.session.set_playing(False)
    settle(qtbot, w)
    runs = w.session.runs
    assert [e.config.optimizer for e in runs] == list(RACE_OPTIMIZERS)
    assert all(e.config.start == start for e in runs)
    adam = next(e for e in runs if e.config.optimizer == "adam")
    [expected] = fair_race(w.session.problem, [RunConfig("adam", start)], 150)
    assert adam.config.hyperparameters["lr"] == expected.tuned["lr"]
    assert w.panels["runs"].model.rowCount() == len(RACE_OPTIMIZERS)


# ------------------------------------------------------------------------------ tables
@pytest.mark.parametrize("preset", [p.id for p in list_presets()])
def test_every_preset_loads_and_runs_20_steps(shared_studio, qtbot, preset):
    w = shared_studio
    w.preset_actions[preset].trigger()
    settle(qtbot, w)
    s = w.session
    assert len(s.runs) == len(preset_document(preset)["runs"])
    for _ in range(20):
        w.actions["step"].trigger()
    settle(qtbot, w)
    longest = max(e.run.steps for e in s.runs)
    assert s.position == min(20, longest)
    for e in s.runs:
        k = min(s.position, len(e.run.history) - 1)
        xy = drawn_xy(w, e.id)
        assert len(xy) == k + 1
        assert xy[-1, 0] == pytest.approx(e.run.history.points[k, 0])
    assert w.panels["runs"].model.rowCount() == len(s.runs)


def _toggles(option):
    """An option bound to a checkable action: the trigger flips it and the action shows it."""

    def prepare(w, _ctx):
        before = getattr(w.session.options, option)
        return lambda: (getattr(w.session.options, option) != before
                        and w.actions[option].isChecked() == getattr(w.session.options, option))

    return prepare


def _opens(dialog_type):
    def prepare(w, _ctx):
        return lambda: isinstance(w.exports.dialog, dialog_type) and w.exports.dialog.isVisible()

    return prepare


def _save_file(w, ctx):
    """A session file holding the state shown now (and its dict)."""
    path = ctx["tmp"] / "before.json"
    assert w.save_to(path)
    return path, w.session.to_dict()


def _prepare_new(w, _ctx):
    w.load_preset("rosenbrock")
    return lambda: (w.session.problem.name == "himmelblau" and w.current_path is None
                    and w.windowTitle().startswith("untitled"))


def _prepare_open(w, ctx):
    path, saved = _save_file(w, ctx)
    w.load_preset("rosenbrock")
    assert w.session.to_dict() != saved
    ctx["open"] = path
    return lambda: w.session.to_dict() == saved and w.current_path == path


def _prepare_save(w, ctx):
    w.current_path = None  # untitled: Save asks where, like Save As
    target = ctx["save"] = ctx["tmp"] / "saved.json"
    saved = w.session.to_dict()
    return lambda: target.exists() and w.current_path == target and json.loads(target.read_text())["problem"] == \
        saved["problem"]


def _prepare_clear_recent(w, ctx):
    _save_file(w, ctx)
    assert w.settings.recent_files()
    return lambda: w.settings.recent_files() == [] and next(a.text() for a in w.recent_menu.actions()) == \
        "(no recent sessions)"


def _prepare_play(w, _ctx):
    return lambda: w.session.playing and w.actions["play"].isChecked()


def _prepare_step(w, _ctx):
    pos = w.session.position
    return lambda: w.session.position == pos + 1


def _prepare_step_back(w, _ctx):
    pos = w.session.position
    return lambda: w.session.position == pos - 1


def _prepare_reset(w, _ctx):
    return lambda: w.session.position == 0 and w.session.computed_steps == 0


def _prepare_faster(w, _ctx):
    spt = w.session.steps_per_tick
    return lambda: w.session.steps_per_tick > spt


def _prepare_slower(w, _ctx):
    w.session.set_speed(steps_per_tick=5)
    return lambda: w.session.steps_per_tick < 5


def _prepare_to_end(w, _ctx):
    w.session.seek(1)
    return lambda: w.session.position == w.session.computed_steps == 3


def _prepare_to_start(w, _ctx):
    assert w.session.position == 3
    return lambda: w.session.position == 0 and w.session.computed_steps == 3


def _run_count_changes_by(delta):
    def prepare(w, _ctx):
        n = len(w.session.runs)
        return lambda: len(w.session.runs) == n + delta

    return prepare


def _opens_child(type_name, object_name):
    def prepare(w, _ctx):
        def check():
            from gdstudio.ui.fair_race_dialog import FairRaceDialog
            from gdstudio.ui.panels.sweep_panel import SweepDialog

            dialog = w.findChild({"fair": FairRaceDialog, "sweep": SweepDialog}[type_name], object_name)
            return dialog is not None and dialog.isVisible()

        return check

    return prepare


def _prepare_log_scale(w, _ctx):
    before = w.session.problem_settings.log_scale
    return lambda: w.session.problem_settings.log_scale != before and w.actions["log_scale"].isChecked() != before


def _prepare_show_surface(w, _ctx):
    assert w.session.options.show_surface and w.surface_pane.isVisible()
    return lambda: not w.session.options.show_surface and not w.surface_pane.isVisible()


def _prepare_side_by_side(w, _ctx):
    w.session.set_options(small_multiples=True)
    assert not w.actions["layout_side_by_side"].isChecked()
    return lambda: (not w.session.options.small_multiples and w.contour.isVisible() and not w.multiples.isVisible()
                    and w.actions["layout_side_by_side"].isChecked())


def _prepare_multiples(w, _ctx):
    return lambda: (w.session.options.small_multiples and w.multiples.isVisible() and not w.contour.isVisible()
                    and not w.actions["layout_side_by_side"].isChecked())


def _prepare_presentation(w, _ctx):
    return lambda: w.presenting and w.isFullScreen() and not w.toolbar.isVisible()


def _prepare_reset_camera(w, _ctx):
    w.surface_view.gl_view.setCameraPosition(distance=1.0, elevation=80.0, azimuth=10.0)
    (x0, x1), (y0, y1) = w.contour.home_range()
    w.contour.view_box.setRange(xRange=(x0, x0 + (x1 - x0) / 4), yRange=(y0, y0 + (y1 - y0) / 4), padding=0)

    def check():
        opts = w.surface_view.gl_view.opts
        (cx0, cx1), _ = w.contour.view_box.viewRange()
        return (opts["elevation"], opts["azimuth"]) == (30.0, -62.0) and opts["distance"] > 1.0 and \
            (cx0, cx1) == pytest.approx((x0, x1), rel=0.05, abs=0.05)

    return check


def _prepare_lab(w, _ctx):
    return lambda: w.training_lab is not None and w.training_lab.isVisible()


def _prepare_info(text):
    def prepare(w, _ctx):
        return lambda: w.info_box is not None and w.info_box.isVisible() and text in w.info_box.text()

    return prepare


def _prepare_undo(w, _ctx):
    before = w.session.to_dict()
    w.actions["add_run"].trigger()
    return lambda: w.session.to_dict() == before and w.actions["redo"].isEnabled()


def _prepare_redo(w, _ctx):
    w.actions["add_run"].trigger()
    after = w.session.to_dict()
    w.actions["undo"].trigger()
    return lambda: w.session.to_dict() == after and not w.actions["redo"].isEnabled()


def _prepare_basin_map(w, _ctx):
    return lambda: (w.docks["basins"].isVisible() and w.panels["basins"].show_box.isChecked()
                    and (w.panels["basins"].computing or w.panels["basins"].overlay.shown))


def _prepare_slow_motion(w, _ctx):
    from gdstudio.ui.panels.inspector import inspector_of

    panel = inspector_of(w)
    return lambda: (panel.slow_motion.active and w.docks["inspector"].isVisible()
                    and panel.overlay.frame is not None)


def _prepare_quit(w, _ctx):
    return lambda: not w.isVisible() and w.settings.last_session_path.exists()


#: For every action: prepare(window, ctx) sets the stage and returns check(), true when the
#: trigger had its effect. The test fails for an action missing here.
ACTION_EFFECTS = {
    "new": _prepare_new,
    "open": _prepare_open,
    "save": _prepare_save,
    "save_as": _prepare_save,
    "clear_recent": _prepare_clear_recent,
    "export_video": _opens(VideoExportDialog),
    "export_image": _opens(ImageDialog),
    "export_trajectories": _opens(TrajectoryDialog),
    "quit": _prepare_quit,
    "undo": _prepare_undo,
    "redo": _prepare_redo,
    "play": _prepare_play,
    "step": _prepare_step,
    "step_back": _prepare_step_back,
    "reset": _prepare_reset,
    "faster": _prepare_faster,
    "slower": _prepare_slower,
    "to_end": _prepare_to_end,
    "to_start": _prepare_to_start,
    "add_run": _run_count_changes_by(+1),
    "duplicate_run": _run_count_changes_by(+1),
    "remove_run": _run_count_changes_by(-1),
    "race_all": _opens_child("fair", "fair_race_dialog"),
    "sweep": _opens_child("sweep", "sweep_dialog"),
    "log_loss": _toggles("log_loss"),
    "show_gradient": _toggles("show_gradient"),
    "show_velocity": _toggles("show_velocity"),
    "show_effective_step": _toggles("show_effective_step"),
    "show_field": _toggles("show_field"),
    "show_internals": _toggles("show_internals"),
    "slow_motion": _prepare_slow_motion,
    "log_scale": _prepare_log_scale,
    "show_surface": _prepare_show_surface,
    "grey_surface": _toggles("grey_surface"),
    "layout_side_by_side": _prepare_side_by_side,
    "layout_multiples": _prepare_multiples,
    "presentation": _prepare_presentation,
    "reset_camera": _prepare_reset_camera,
    "training_lab": _prepare_lab,
    "basin_map": _prepare_basin_map,
    "shortcuts": _prepare_info("Space"),
    "about": _prepare_info("gdstudio"),
}


def test_every_action_has_an_effect_to_check():
    assert set(ACTION_EFFECTS) == {a.id for a in ACTIONS} == set(ActionId)


@pytest.mark.parametrize("action_id", [a.id for a in ACTIONS])
def test_every_action_triggers(shared_studio, qtbot, monkeypatch, request, tmp_path, action_id):
    w = request.getfixturevalue("studio") if action_id == "quit" else shared_studio
    ctx = {"tmp": tmp_path}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(ctx["open"]), "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(ctx["save"]), "")))
    w.session.forward(3)
    settle(qtbot, w)
    action = w.actions[action_id]
    assert action.toolTip() and action.text()
    check = ACTION_EFFECTS[action_id](w, ctx)
    assert not check(), f"{action_id}: the effect is there before the trigger"
    action.trigger()
    if action_id == "race_all":
        qtbot.waitUntil(lambda: not w.racing, timeout=60_000)
    if action_id == "presentation":
        qtbot.waitUntil(w.isFullScreen)
    assert check(), action_id
    # back to the shared window's usual state
    w.session.set_playing(False)
    if action_id != "quit":
        settle(qtbot, w)
    for box in (w.info_box, w.exports.dialog):
        if box is not None and box.isVisible():
            box.close()
    if w.training_lab is not None:
        w.training_lab.close()
    for name in ("fair_race_dialog", "sweep_dialog"):
        child = w.findChild(QWidget, name)
        if child is not None:
            child.close()
    if action.isCheckable() and action_id not in ("play", "layout_side_by_side"):
        action.trigger()  # and back
        settle(qtbot, w)
    if action_id == "presentation":
        qtbot.waitUntil(lambda: not w.isFullScreen())


@pytest.mark.parametrize("dock_id", [d.id for d in DOCKS])
def test_every_dock_opens(shared_studio, qtbot, dock_id):
    w = shared_studio
    if dock_id == "fit":  # the model fit opens by itself for data problems (closed for analytic ones)
        assert not w.docks["fit"].isVisible()
        assert w.load_preset("linreg-adam")
        settle(qtbot, w)
    dock = w.docks[dock_id]
    assert dock.isVisible() and dock.widget() is not None
    dock.close()
    assert not dock.isVisible()
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(dock.isVisible)
    assert dock.widget().isVisible()
    assert dock.widget().width() > 100 and dock.widget().height() > 100


def test_keyboard_shortcuts_are_window_level(shared_studio):
    shortcuts = {a.id: shared_studio.actions[a.id].shortcut().toString() for a in ACTIONS if a.shortcut}
    assert shortcuts["play"] == "Space" and shortcuts["step"] == "Right"
    assert shortcuts["step_back"] == "Left" and shortcuts["reset"] == "R"
    assert len(set(shortcuts.values())) == len(shortcuts)  # no two actions share a key


# ------------------------------------------------------------------------------ launching
@pytest.mark.parametrize("display", [None, ":987"])
def test_no_display_prints_one_line_and_returns_2(display):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    if display:
        env["DISPLAY"] = display
    code = "import sys; from gdstudio.ui.app import run_app; sys.exit(run_app())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdstudio: ") and "Traceback" not in out.stderr


def _mouse(widget, kind, pos, buttons):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    local = QPointF(pos)
    event = QMouseEvent(types[kind], local, QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_dragging_a_start_ring_moves_that_run(shared_studio, qtbot):
    w = shared_studio
    s = w.session
    other = s.runs[1].id
    s.set_start(other, (2.0, 2.0))
    s.select(s.runs[0].id)
    settle(qtbot, w)
    vp = w.contour.plot_widget.viewport()
    a, b = wf.scene_point(w.contour, 2.0, 2.0), wf.scene_point(w.contour, -1.0, 3.0)
    _mouse(vp, "press", a, Qt.MouseButton.LeftButton)
    for t in np.linspace(0.1, 1.0, 8):
        p = a + (b - a) * float(t)
        _mouse(vp, "move", p, Qt.MouseButton.LeftButton)
        qtbot.wait(5)
    _mouse(vp, "release", b, Qt.MouseButton.NoButton)
    settle(qtbot, w)
    assert s.entry(other).config.start == pytest.approx((-1.0, 3.0), abs=0.1)
    assert s.selected_id == other
    assert tuple(drawn_xy(w, other)[0]) == pytest.approx(s.entry(other).config.start)


def test_typing_in_fields_is_not_taken_by_single_key_shortcuts(shared_studio, qtbot):
    w = shared_studio
    w.session.forward(3)
    field = w.panels["problem"].expr
    field.setFocus()
    qtbot.keyClicks(field, "R + x Ev")
    assert field.text() == "R + x Ev"
    assert w.session.position == 3 and not w.session.playing
    assert not w.session.options.show_effective_step


def test_one_parameter_problem_shows_the_curve_and_the_model_fit_instead_of_3d(shared_studio, qtbot):
    w = shared_studio
    assert w.load_preset("line-gd-vs-sgd")
    settle(qtbot, w)
    # No black "does not apply" strip: the loss curve takes the width, the fit dock shows the data.
    assert w.contour.isVisible() and not w.surface_pane.isVisible()
    assert w.docks["fit"].isVisible() and w.fit_view.applies
    curve, strip, _multiples = w.splitter.sizes()
    assert strip == 0 and curve > 300
    assert w.load_preset("himmelblau")
    settle(qtbot, w)
    assert w.surface_pane.isVisible() and not w.docks["fit"].isVisible()
    left, right, _multiples = w.splitter.sizes()
    assert abs(left - right) <= 2
