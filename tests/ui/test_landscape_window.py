"""A network landscape in the studio window: contour and 3-D with the axis titles, each recorded
path in its colour and equal to the projected path at the step shown, play / scrub, read-only runs."""

from __future__ import annotations

import gdstudio_landscape_fixture as fx
import numpy as np
import pytest

from gdstudio.engine.recorded import RecordedRun
from gdstudio.model.landscape import landscape_document
from gdstudio.ui.bridge import LANDSCAPE_CLICK
from gdstudio.ui.panels.optimizer_panel import RECORDED_NOTE


def _settle(qtbot, w):
    qtbot.waitUntil(lambda: not w.bridge.stale and not w.bridge.busy, timeout=10_000)
    qtbot.wait(1)


@pytest.fixture
def landscape_window(shared_studio, qtbot):
    w = shared_studio
    data = fx.make_landscape()
    loaded = []
    assert w.load_document(landscape_document(data, colors=fx.COLORS), "the landscape", lambda: loaded.append(1),
                           label="open landscape")
    qtbot.waitUntil(lambda: loaded == [1], timeout=10_000)
    _settle(qtbot, w)
    yield w, data
    w.session.set_playing(False)


def test_contour_and_3d_show_the_grid_with_axis_titles(landscape_window, qtbot):
    w, data = landscape_window
    contour = w.contour
    assert contour.plot_item.getAxis("bottom").labelText == "PC1 38%"
    assert contour.plot_item.getAxis("left").labelText == "PC2 12%"
    assert w.bridge.last_surface is not None and np.array_equal(w.bridge.last_surface.z, data.loss)
    labels = w.surface_view.axis_labels()
    assert "PC1 38%" in labels and "PC2 12%" in labels
    assert "loss over 100 of 1,797 training images" in w.panels["problem"].formula.text()
    assert w.session.options.show_internals  # the slice loss beside the true loss
    w.session.forward(3)
    _settle(qtbot, w)
    title = w.bridge.history.plots["internals"].titleLabel.text
    assert "slice_loss" in title


def _drawn(w):
    return {r.key: r for r in w.contour.runs_layer.runs()}


def test_each_path_in_its_colour_equals_the_projected_path_at_the_scrubbed_step(landscape_window, qtbot):
    w, data = landscape_window
    s = w.session
    s.forward(10)
    for step in (0, 3, 7, 10):
        s.seek(step)
        _settle(qtbot, w)
        drawn = _drawn(w)
        assert len(drawn) == 3
        for e, path, color in zip(s.runs, data.paths, fx.COLORS, strict=True):
            r = drawn[e.id]
            assert r.color == color and e.label == path.label
            np.testing.assert_array_equal(r.xy, path.points[: step + 1])
        surf = {t.key: t for t in w.surface_view._trajs}
        for e, path in zip(s.runs, data.paths, strict=True):
            np.testing.assert_array_equal(surf[e.id].points[: step + 1], path.points[: step + 1])
            np.testing.assert_array_equal(surf[e.id].loss[: step + 1], path.loss[: step + 1])  # the true loss


def test_play_reveals_the_recording_and_stops_at_its_end(landscape_window, qtbot):
    w, data = landscape_window
    s = w.session
    s.seek(0)
    s.set_speed(2, 60)
    s.set_playing(True)
    qtbot.waitUntil(lambda: not s.playing, timeout=10_000)
    assert s.position == len(data.paths[0].points) - 1
    assert all(isinstance(e.run, RecordedRun) and e.run.stop_reason.startswith("end of the recorded path")
               for e in s.runs)


def test_optimizer_panel_is_read_only_and_clicks_add_no_run(landscape_window, qtbot):
    w, _data = landscape_window
    panel = w.panels["optimizer"]
    s = w.session
    s.select(s.runs[1].id)
    qtbot.wait(1)
    assert panel.recorded_note.isVisibleTo(panel) and panel.recorded_note.text() == RECORDED_NOTE
    assert not panel.params_box.isEnabled() and not panel.combo.isEnabled() and not panel.start_box.isEnabled()
    messages = []
    w.bridge.message.connect(messages.append)
    n = len(s.runs)
    w.bridge._on_start_clicked(0.1, 0.2)
    w.bridge._on_start_added(0.1, 0.2)
    assert len(s.runs) == n and messages == [LANDSCAPE_CLICK, LANDSCAPE_CLICK]
    assert s.runs[0].config.start == tuple(fx.make_landscape().paths[0].points[0])
    # undo brings the previous session back (opening a landscape is one command)
    s.undo_stack.undo()
    _settle(qtbot, w)
    assert s.problem.name == "himmelblau" and not panel.recorded_note.isVisibleTo(panel)
    assert panel.params_box.isEnabled()


def test_landscape_is_named_and_its_recorded_steps_are_not_explained(landscape_window, qtbot):
    from gdstudio.engine.explain import explain_run
    from gdstudio.ui.panels.inspector import inspector_of
    from gdstudio.ui.panels.runs_panel import COLUMNS

    w, data = landscape_window
    s = w.session
    problem = w.panels["problem"]
    assert problem.combo.currentIndex() == -1 and "Network landscape" in problem.combo.placeholderText()
    assert not problem.expr_box.isVisibleTo(problem)  # a typed function would replace the landscape
    s.forward(3)
    _settle(qtbot, w)
    run = s.selected.run
    with pytest.raises(ValueError, match="recorded training iterates"):
        explain_run(run, 2)
    w.docks["inspector"].show()
    panel = inspector_of(w)
    panel.refresh()
    assert panel.explanation is None and "recorded training iterates" in panel.note
    # the end of a recording is not a warning: the table says the recording ends there
    s.forward(len(data.paths[0].points) + 1)
    assert s.selected.run.status == "stopped"
    runs = w.panels["runs"]
    runs.refresh()
    m = runs.model
    status = COLUMNS.index("Status")
    assert m.data(m.index(0, status)) == f"recording ends @ {len(data.paths[0].points) - 1}"
    s.undo_stack.undo()  # the previous surface lists itself again
    _settle(qtbot, w)
    assert problem.combo.currentIndex() >= 0 and problem.expr_box.isVisibleTo(problem)
