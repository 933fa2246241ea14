"""A closed studio window (and its Training lab) is freed by reference counting, on the UI thread.

Qt widgets must be destroyed on the UI thread. An object kept alive only by a Python reference
cycle is freed by the garbage collector, which runs on whichever thread happens to allocate —
often a worker (the problem panel's parser, a race) — and destroying the 3-D view's GL widget
there aborts the process. So nothing of the window may sit in a cycle once it is closed: the
action tables hold their window weakly, the export controller reaches it as its Qt parent, and
the lab's model holds its slots as bound methods (weakly).
"""

from __future__ import annotations

import gdstudio_window_fixtures as wf

from gdstudio.ui.main_window import MainWindow
from gdstudio.ui.training import TrainingLab


def test_a_closed_window_and_its_lab_are_not_left_to_the_garbage_collector(qtbot, studio_settings):
    w = wf.make_window(qtbot, studio_settings)
    w.load_preset("rosenbrock")
    w.actions["add_run"].trigger()
    w.actions["show_gradient"].trigger()
    w.actions["export_image"].trigger()
    w.exports.dialog.reject()
    w.actions["training_lab"].trigger()
    assert isinstance(w.training_lab, TrainingLab)
    # Only this window and its lab count: one an earlier test left (a window that exported a video
    # is freed only by the collector, already so at 7cf1cfd) may reach the collector now.
    ours = {id(w), id(w.training_lab)}
    w.close()
    w.deleteLater()
    del w
    qtbot.wait(20)
    assert wf.left_to_collector((MainWindow, TrainingLab), ours) == []


def test_a_window_that_exported_a_video_is_not_left_to_the_garbage_collector(qtbot, studio_settings, tmp_path):
    from gdstudio.engine.runs import RunConfig
    from gdstudio.ui.export_dialog import VideoSettings

    w = wf.make_window(qtbot, studio_settings)
    w.session.replace_runs([RunConfig("nag", (-0.5, -0.5), {"lr": 0.005})])
    w.session.forward(8)
    wf.settle(qtbot, w)
    job = w.exports.start_video(VideoSettings(path=tmp_path / "frames", view="contour", size=(160, 120), fps=10,
                                              first=0, last=3, caption=False))
    assert job is not None and job.wait(120) and job.state == "finished"
    ours = {id(w)}
    w.close()
    w.deleteLater()
    del w, job  # the controller keeps its finished job (and the job its renderer)
    qtbot.wait(20)
    assert wf.left_to_collector((MainWindow,), ours) == []
