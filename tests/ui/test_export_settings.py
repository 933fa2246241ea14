"""The export dialogs remember their choices (across openings and launches, through the window's
settings) and the video dialog shows the clip's duration as the choices change (issue 8 item 10)."""

from __future__ import annotations

import json
from pathlib import Path

import gdstudio_window_fixtures as wf  # registered by conftest.py
import pytest

import gdstudio.ui.export_dialog as ed


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def choose(dlg: ed.VideoExportDialog, path: Path) -> None:
    """Choices unlike every default."""
    dlg.view.setCurrentIndex(dlg.view.findData("both"))
    dlg.size_field.combo.setCurrentIndex(dlg.size_field.combo.count() - 1)
    dlg.size_field.width_box.setValue(480)
    dlg.size_field.height_box.setValue(270)
    dlg.fps.setValue(12)
    dlg.spread.setChecked(True)
    dlg.count.setValue(9)
    dlg.mode.setCurrentIndex(dlg.mode.findData("article"))
    dlg.caption.setChecked(False)
    dlg.path_field.edit.setText(str(path))


def state(dlg: ed.VideoExportDialog) -> tuple:
    return (dlg.view.currentData(), dlg.size_field.size_value(), dlg.size_field.combo.currentData(),
            dlg.fps.value(), dlg.spread.isChecked(), dlg.count.value(), dlg.mode.currentData(),
            dlg.caption.isChecked(), Path(dlg.path_field.edit.text()))


def test_video_choices_come_back_at_the_next_opening(qtbot, studio, out_dir) -> None:
    w = studio
    w.session.forward(12)
    w.actions["export_video"].trigger()
    first = w.exports.dialog
    defaults = state(first)
    assert defaults[:8] == ("contour", (1280, 720), (1280, 720), 30, False, 13, "even", True)
    choose(first, out_dir / "clip.gif")
    first.accept()
    assert w.exports.job.wait(120) and w.exports.job.state == "finished", w.exports.job.message
    w.actions["export_video"].trigger()
    again = w.exports.dialog
    assert again is not first
    stem = w.session.problem.name
    assert state(again) == ("both", (480, 270), None, 12, True, 9, "article", False, out_dir / f"{stem}.gif")
    again.reject()


def test_cancel_remembers_nothing(qtbot, studio, out_dir) -> None:
    w = studio
    w.actions["export_video"].trigger()
    dlg = w.exports.dialog
    defaults = state(dlg)
    choose(dlg, out_dir / "x.mp4")
    dlg.reject()
    w.actions["export_video"].trigger()
    assert state(w.exports.dialog) == defaults
    w.exports.dialog.reject()


def test_choices_survive_a_relaunch(qtbot, studio_settings, out_dir) -> None:
    w = wf.make_window(qtbot, studio_settings)
    dlg = ed.VideoExportDialog(w)
    choose(dlg, out_dir / "frames_dir")  # PNG frames: a folder
    dlg.accept()  # nothing is connected: only the choices are kept
    img = ed.ImageDialog(w)
    img.view.setCurrentIndex(img.view.findData("surface"))
    img.size_field.set_size((1280, 720))
    img.caption.setChecked(True)
    img.path_field.edit.setText(str(out_dir / "still.png"))
    img.accept()
    traj = ed.TrajectoryDialog(w)
    traj.format.setCurrentIndex(traj.format.findData("json"))
    traj.per_run.setChecked(True)
    traj.path_field.edit.setText(str(out_dir / "t.json"))
    traj.accept()
    w.close()

    # a new launch: new settings objects over the same files
    w2 = wf.make_window(qtbot, wf.isolated_settings(studio_settings.data_dir.parent))
    stem = w2.session.problem.name
    dlg2 = ed.VideoExportDialog(w2)
    assert state(dlg2) == ("both", (480, 270), None, 12, True, 9, "article", False, out_dir / f"{stem}_frames")
    img2 = ed.ImageDialog(w2)
    assert (img2.view.currentData(), img2.size_field.size_value(), img2.caption.isChecked(),
            Path(img2.path_field.edit.text())) == ("surface", (1280, 720), True, out_dir / f"{stem}.png")
    traj2 = ed.TrajectoryDialog(w2)
    assert (traj2.format.currentData(), traj2.per_run.isChecked(), Path(traj2.path_field.edit.text())) == (
        "json", True, out_dir / f"{stem}_trajectories.json")
    for d in (dlg2, img2, traj2):
        d.reject()
    w2.close()


@pytest.mark.parametrize("stored", [
    "not json",
    json.dumps([1, 2]),
    json.dumps({"view": "hologram", "size": [10, 99999], "fps": 1000, "every": "yes", "frames": -3,
                "mode": "random", "caption": 1, "format": "avi", "folder": "/no/such/folder"}),
    json.dumps({"view": 3, "size": "big", "fps": True, "frames": 2.5, "folder": 7}),
])
def test_bad_remembered_values_fall_back_to_defaults(qtbot, studio, stored) -> None:
    w = studio
    defaults = state(ed.VideoExportDialog(w))
    w.settings.qsettings.setValue("dialogs/export_video", stored)
    assert state(ed.VideoExportDialog(w)) == defaults


def test_a_remembered_3d_view_is_not_chosen_for_a_1d_problem(qtbot, studio, out_dir) -> None:
    w = studio
    dlg = ed.VideoExportDialog(w)
    dlg.view.setCurrentIndex(dlg.view.findData("surface"))
    dlg.path_field.edit.setText(str(out_dir / "a.mp4"))
    dlg.accept()
    assert ed.VideoExportDialog(w).view.currentData() == "surface"
    w.load_preset("line-gd-vs-sgd")
    wf.settle(qtbot, w)
    assert w.session.problem.dim == 1
    assert ed.VideoExportDialog(w).view.currentData() == "contour"


def test_duration_follows_the_choices(qtbot, studio) -> None:
    w = studio
    w.session.forward(40)
    dlg = ed.VideoExportDialog(w)
    assert dlg.duration.text() == "1.4 s: 41 frames at 30 fps, 1 step per frame"  # 41 / 30
    dlg.fps.setValue(10)
    assert dlg.duration.text().startswith("4.1 s: 41 frames at 10 fps")
    dlg.spread.setChecked(True)
    dlg.count.setValue(5)
    assert dlg.duration.text() == "0.5 s: 5 frames at 10 fps, 10 steps per frame"  # steps 0, 10, …, 40
    dlg.mode.setCurrentIndex(dlg.mode.findData("article"))
    assert dlg.duration.text() == "0.5 s: 5 frames at 10 fps, 8 steps per frame"  # int(i·40/5)
    dlg.count.setValue(3)
    dlg.first.setValue(10)
    assert dlg.duration.text() == "0.3 s: 3 frames at 10 fps, 10 steps per frame"
    dlg.every.setChecked(True)
    assert dlg.duration.text() == "3.1 s: 31 frames at 10 fps, 1 step per frame"
    dlg.first.setValue(40)
    dlg.last.setValue(20)
    assert dlg.duration.text() == "—"  # no clip for a reversed range (the summary says why)
    assert "first step must not exceed the last" in dlg.summary.text()
    dlg.reject()


def test_long_clips_in_minutes(qtbot, studio) -> None:
    w = studio
    w.session.forward(40)
    dlg = ed.VideoExportDialog(w)
    dlg.fps.setValue(25)
    dlg.spread.setChecked(True)
    dlg.count.setValue(3000)  # slow motion: steps repeat
    assert dlg.duration.text() == "2 min 00 s: 3000 frames at 25 fps, ≈0.013 steps per frame"  # 40 / 2999
    assert ed.clip_duration(1, 30) == "0.0 s" and ed.clip_duration(90, 1) == "1 min 30 s"
    dlg.reject()
