"""Training lab → Show landscape → worker → the studio shows it; Cancel leaves everything as it was."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.ui.qt_setup import configure_qt

configure_qt()

from gdstudio.engine.recorded import RecordedRun  # noqa: E402
from gdstudio.train.datasets import load_dataset  # noqa: E402
from gdstudio.train.landscape import LandscapeOptions, compute_landscape  # noqa: E402
from gdstudio.ui.training import TrainingLab  # noqa: E402

RUN_TIMEOUT = 120_000  # ms: a wait limit for slow shared machines, not a speed assertion
OPTIONS = LandscapeOptions(plane="pca", grid=9, span=1.25, record_every=5, subset=200, workers=1)


@pytest.fixture
def lab(qtbot, shared_studio):
    w = TrainingLab()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    w.hidden.setText("16,16")
    w.iterations.setValue(40)
    w.batch_size.setValue(32)
    w.seed.setValue(0)
    w.eval_every.setValue(10)
    w.optimizers.set_names(("sgd", "momentum", "adam"))
    w.studio = shared_studio
    yield w
    w.close()
    w.work.wait(10_000)
    w.landscape_job.work.wait(10_000)


def _train(lab, qtbot):
    with qtbot.waitSignal(lab.run_finished, timeout=RUN_TIMEOUT) as blocker:
        assert lab.start()
    assert blocker.args[0] is not None


def test_show_landscape_computes_on_a_worker_and_opens_it_in_the_studio(lab, qtbot, shared_studio):
    assert not lab.landscape_action.isEnabled()  # no comparison yet
    assert not lab.show_landscape(OPTIONS)
    assert lab.status.text() == "Show landscape needs a comparison: press Start first"
    _train(lab, qtbot)
    assert lab.landscape_action.isEnabled()
    with qtbot.waitSignal(lab.landscape_shown, timeout=RUN_TIMEOUT) as blocker:
        assert lab.show_landscape(OPTIONS)
        assert lab.landscape_cancel.isVisible() and not lab.landscape_action.isEnabled()
    data = blocker.args[0]
    s = shared_studio.session
    assert s.problem.name == "landscape" and s.problem_settings.landscape == data
    assert [e.label for e in s.runs] == ["SGD η=0.01", "Momentum η=0.01", "Adam η=0.001"]  # the lab's legend
    assert [e.color for e in s.runs] == [r.color for r in lab.optimizers.rows]
    assert all(isinstance(e.run, RecordedRun) for e in s.runs)
    assert s.position == s.computed_steps == 8  # every path whole: iterations 0, 5, …, 40
    assert "loss over 200 of" in shared_studio.panels["problem"].formula.text()
    # the same landscape as gdstudio.train.landscape computes directly for the same settings
    req = lab._request
    ref = compute_landscape(load_dataset("digits", seed=0), list(req.entries), req.config, OPTIONS)
    np.testing.assert_array_equal(data.loss, ref.loss)
    np.testing.assert_array_equal(data.a, ref.axis_a)
    for path, label in zip(data.paths, ref.labels, strict=True):
        np.testing.assert_array_equal(path.points, ref.paths[label])
        np.testing.assert_array_equal(path.loss, ref.path_loss[label])
    np.testing.assert_array_equal(s.runs[2].run.history.loss, ref.path_loss["adam"])  # the true loss
    assert not lab.landscape_cancel.isVisible() and lab.landscape_action.isEnabled()
    assert "Opened the landscape in the studio" in lab.status.text()
    s.undo_stack.undo()  # one command: the previous session is back
    assert s.problem.name == "himmelblau"


def test_cancel_leaves_the_studio_and_the_lab_as_they_were(lab, qtbot, shared_studio):
    _train(lab, qtbot)
    s = shared_studio.session
    before = (s.to_dict(), len(s.undo_stack))
    shown = []
    lab.landscape_shown.connect(shown.append)
    with qtbot.waitSignal(lab.landscape_job.cancelled, timeout=RUN_TIMEOUT):
        assert lab.show_landscape(LandscapeOptions(plane="pca", grid=101, subset=None, record_every=1))
        lab.cancel_landscape()
    qtbot.wait(200)
    assert (s.to_dict(), len(s.undo_stack)) == before and shown == []
    assert lab.status.text() == "Landscape cancelled: the studio is unchanged"
    assert not lab.landscape_cancel.isVisible() and not lab.progress.isVisible()
    assert lab.setup.isEnabled() and lab.landscape_action.isEnabled() and lab.start_action.isEnabled()
