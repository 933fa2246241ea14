"""Small multiples (issue 8 item 6): one contour per run, linked axes, panes rebuilt only when the set
of runs changes, fed by the window's own bridge; and exports in that layout."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from gdstudio.model.session import Session
from gdstudio.ui.bridge import ViewBridge
from gdstudio.ui.frames import VIEWS, FrameRenderer, image_to_rgb
from gdstudio.ui.views.contour import ContourView
from gdstudio.ui.views.multiples import SmallMultiplesView, grid_shape


def race(n_steps: int = 40, problem: str = "himmelblau") -> Session:
    """Eleven optimizers racing from one start (untuned: fast), ``n_steps`` computed."""
    s = Session()
    s.set_problem(name=problem)
    s.race_all((-1.0, 1.0), tune=False)
    s.set_max_steps(max(s.max_steps, n_steps))
    s.forward(n_steps)
    return s


@pytest.fixture
def multiples(show):
    return show(SmallMultiplesView(), (1600, 900))


def stable_grab(qtbot, widget) -> np.ndarray:
    """What ``widget`` shows once painting has settled (pyqtgraph sizes its axes to the tick labels
    it painted, so the first paints of new panes can still move the plots)."""
    last = None
    for _ in range(20):
        qtbot.wait(20)
        img = image_to_rgb(widget.grab().toImage()).astype(int)
        if last is not None and np.array_equal(img, last):
            break
        last = img
    return img


def hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])


def test_grid_shape_is_near_square() -> None:
    assert [grid_shape(n) for n in (0, 1, 2, 3, 4, 5, 9, 10, 11, 12)] == [
        (0, 0), (1, 1), (1, 2), (2, 2), (2, 2), (2, 3), (3, 3), (3, 4), (3, 4), (3, 4)]


def test_one_pane_per_visible_run_each_showing_only_its_run(multiples, qtbot) -> None:
    s = race()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        entries = s.runs
        assert len(entries) == 11
        assert list(multiples.panes) == [e.id for e in entries]
        for i, (e, pane) in enumerate(zip(entries, multiples.panes.values(), strict=True)):
            pos = multiples.grid.getItemPosition(multiples.grid.indexOf(pane))
            assert pos[:2] == (i // 4, i % 4)  # 3 rows × 4 columns, in the runs' order
            assert multiples.title_of(e.id) == (e.label, e.color)
            assert pane.plot_item.titleLabel.text == e.label
            assert pane.drawn_run(e.id) is not None
            assert all(pane.drawn_run(o.id) is None for o in entries if o.id != e.id)
            np.testing.assert_array_equal(pane.drawn_run(e.id).xy, e.run.history.points[: s.position + 1])
        # on screen: each pane shows its run's colour at its path's head
        img = stable_grab(qtbot, multiples)
        for e, pane in zip(entries, multiples.panes.values(), strict=True):
            head = e.run.history.points[s.position]
            p = pane.plot_widget.mapFromScene(pane.view_box.mapViewToScene(QPointF(*head)))
            p = pane.plot_widget.mapTo(multiples, p)
            patch = img[p.y() - 3 : p.y() + 4, p.x() - 3 : p.x() + 4]
            assert (np.abs(patch - hex_rgb(e.color)).sum(axis=2) < 40).any(), e.label
    finally:
        bridge.close()


def test_hidden_runs_get_no_pane_and_frames_never_rebuild(multiples) -> None:
    s = race()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        panes = dict(multiples.panes)
        rebuilds = multiples.rebuilds
        for k in range(0, 41, 5):  # playback: one clock, no rebuild
            s.seek(k)
            bridge.flush()
            for e in s.runs:
                assert len(multiples.panes[e.id].drawn_run(e.id).xy) == k + 1
        s.forward(10)  # the runs grow: still the same panes
        bridge.flush()
        assert multiples.rebuilds == rebuilds
        assert all(multiples.panes[k] is p for k, p in panes.items())
        hidden = s.runs[2].id
        s.set_visible(hidden, False)
        bridge.flush()
        assert hidden not in multiples.panes and len(multiples.panes) == 10
        assert multiples.rebuilds == rebuilds + 1
        assert all(multiples.panes[k] is panes[k] for k in multiples.panes)  # the others are kept
        assert grid_shape(10) == (3, 4)
    finally:
        bridge.close()


def test_axes_are_linked_and_kept_through_rebuilds(multiples) -> None:
    s = race()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        panes = list(multiples.panes.values())
        panes[6].view_box.setRange(xRange=(-2.0, 1.0), yRange=(0.0, 2.5), padding=0.0)
        for pane in panes:
            (x0, x1), (y0, y1) = pane.view_box.viewRange()
            assert (x0, x1, y0, y1) == pytest.approx((-2.0, 1.0, 0.0, 2.5))
        s.set_visible(s.runs[0].id, False)  # the first pane (the one the others link to) goes
        bridge.flush()
        first = next(iter(multiples.panes.values()))
        first.view_box.setRange(xRange=(-3.0, 3.0), yRange=(-1.0, 1.0), padding=0.0)
        for pane in multiples.panes.values():
            assert np.ravel(pane.view_box.viewRange()) == pytest.approx([-3.0, 3.0, -1.0, 1.0])
        s.set_visible(s.runs[0].id, True)  # a new pane joins at the shared zoom
        bridge.flush()
        for pane in multiples.panes.values():
            assert np.ravel(pane.view_box.viewRange()) == pytest.approx([-3.0, 3.0, -1.0, 1.0])
        multiples.reset_view()
        lo, hi = s.bounds[0]
        for pane in multiples.panes.values():
            assert pane.view_box.viewRange()[0] == pytest.approx([lo, hi])
    finally:
        bridge.close()


def test_surface_computed_once_and_given_to_later_panes(multiples) -> None:
    s = race()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        panes = list(multiples.panes.values())
        lines = [p.contours.getData() for p in panes]
        # one contourpy computation: every pane's curve holds views of the same arrays
        assert all(np.shares_memory(x, lines[0][0]) and np.shares_memory(y, lines[0][1]) for x, y in lines)
        s.set_problem(name="rosenbrock")
        bridge.flush()
        new = list(multiples.panes.values())
        ref = ContourView(use_opengl=False)
        ref.set_surface(bridge.last_surface, s.bounds, s.problem.minima, s.problem_settings.log_scale,
                        labels=s.problem.params)
        for pane in new:
            np.testing.assert_array_equal(pane.contours.getData()[0], ref.contours.getData()[0])
            np.testing.assert_array_equal(pane.image.image, ref.image.image)
            assert pane.view_box.viewRange()[0] == pytest.approx(list(s.bounds[0]))
        ref.deleteLater()
    finally:
        bridge.close()


def test_overlays_reach_every_pane_also_new_ones(multiples) -> None:
    s = race()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        s.set_options(show_gradient=True)
        bridge.flush()
        assert all(p.overlays["gradient"] for p in multiples.panes.values())
        s.set_visible(s.runs[0].id, False)
        bridge.flush()
        s.set_visible(s.runs[0].id, True)
        bridge.flush()
        assert all(p.overlays["gradient"] for p in multiples.panes.values())
        assert all(p.arrows["gradient"].isVisible() for p in multiples.panes.values())
    finally:
        bridge.close()


def test_colour_map_reaches_every_pane_also_new_ones(multiples) -> None:
    s = race()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        multiples.set_colormap("grey")
        with pytest.raises(ValueError):
            multiples.set_colormap("no-such-map")
        s.set_visible(s.runs[0].id, False)
        bridge.flush()
        s.set_visible(s.runs[0].id, True)
        bridge.flush()
        ref = ContourView(use_opengl=False)
        ref.set_colormap("grey")
        ref.set_surface(bridge.last_surface, s.bounds)
        for pane in multiples.panes.values():
            assert pane.colormap_name == "grey"
            np.testing.assert_array_equal(pane.image.image, ref.image.image)
        ref.deleteLater()
    finally:
        bridge.close()


def test_a_click_in_a_pane_reaches_the_session(multiples, qtbot) -> None:
    s = race(5)
    bridge = ViewBridge(s, multiples, None, None)
    try:
        pane = list(multiples.panes.values())[5]
        pos = pane.plot_widget.mapFromScene(pane.view_box.mapViewToScene(QPointF(2.0, -1.5)))
        with qtbot.waitSignal(multiples.startClicked, timeout=2000) as sig:
            qtbot.mouseClick(pane.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))
        assert sig.args == pytest.approx([2.0, -1.5], abs=0.05)
        assert s.selected.config.start == pytest.approx((2.0, -1.5), abs=0.05)  # the bridge moved the start
    finally:
        bridge.close()


def test_no_runs_shows_a_note(multiples) -> None:
    s = Session()
    bridge = ViewBridge(s, multiples, None, None)
    try:
        s.clear_runs()
        bridge.flush()
        assert multiples.panes == {} and multiples.note.isVisible()
        assert "one contour per run" in multiples.note.text().lower()
        multiples.set_position(3)  # harmless without panes
        multiples.reset_view()
    finally:
        bridge.close()


def test_diverged_run_titled_so(multiples) -> None:
    s = Session()
    s.set_problem(name="rosenbrock")
    s.race_all((-1.5, 2.0), tune=False, optimizers=["gd", "adam"])
    s.update_run(s.runs[0].id, hyperparameters={"lr": 0.01})
    s.set_max_steps(200)
    s.forward(200)
    assert str(s.runs[0].run.status) == "diverged"
    bridge = ViewBridge(s, multiples, None, None)
    try:
        gd, adam = s.runs
        assert multiples.title_of(gd.id)[0] == f"{gd.label} — diverged"
        assert multiples.title_of(adam.id)[0] == adam.label
        s.seek(1)
        bridge.flush()
        assert multiples.title_of(gd.id)[0] == gd.label  # not yet diverged at step 1
    finally:
        bridge.close()


def test_panes_of_stopped_runs_are_not_redrawn_until_they_change(multiples) -> None:
    s = Session()
    s.set_problem(name="rosenbrock")
    s.race_all((-1.5, 2.0), tune=False, optimizers=["gd", "adam", "momentum"])
    gd, adam, _ = s.runs
    s.update_run(gd.id, hyperparameters={"lr": 0.01})  # diverges within a few steps
    s.set_max_steps(60)
    s.forward(60)
    last = s.entry(gd.id).run.history.points.shape[0] - 1
    assert str(s.entry(gd.id).run.status) == "diverged" and last < 30
    bridge = ViewBridge(s, multiples, None, None)
    calls: dict = {}
    try:
        for key, pane in multiples.panes.items():
            real = pane.set_frame
            pane.set_frame = lambda trajs, step, real=real, key=key: (calls.__setitem__(key, calls.get(key, 0) + 1),
                                                                      real(trajs, step))
        for k in range(last + 1, last + 11):
            s.seek(k)
            bridge.flush()
        assert calls.get(gd.id, 0) == 0 and calls[adam.id] == 10  # the diverged run's picture is final
        s.update_run(gd.id, hyperparameters={"lr": 0.0001})  # restarted: drawn again, the new path
        bridge.flush()
        assert calls[gd.id] == 1
        np.testing.assert_array_equal(multiples.panes[gd.id].drawn_run(gd.id).xy,
                                      s.entry(gd.id).run.history.points[: s.position + 1])
        s.seek(3)
        bridge.flush()
        assert calls[gd.id] == 2 and len(multiples.panes[gd.id].drawn_run(gd.id).xy) == 4
    finally:
        bridge.close()


# ------------------------------------------------------------------------------ export
def test_multiples_frames_look_like_the_live_view(qtbot) -> None:
    assert "multiples" in VIEWS
    s = race(40)
    size = (960, 540)
    view = SmallMultiplesView(use_opengl=False)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    bridge = ViewBridge(s, view, None, None)
    s.seek(30)
    bridge.flush()
    live = stable_grab(qtbot, view)
    bridge.close()
    with FrameRenderer(s, "multiples", size) as r:
        assert len(r.contour.panes) == 11
        same = r.frame(30).astype(int)
        other = r.frame(5).astype(int)
    assert same.shape == live.shape == (540, 960, 3)
    diff_same, diff_other = np.abs(same - live).mean(), np.abs(other - live).mean()
    assert diff_same < 1.0, diff_same
    assert diff_other > 4 * max(diff_same, 0.05)


def test_multiples_export_follows_the_live_zoom() -> None:
    s = race(10)
    like = ContourView(use_opengl=False)
    like.set_surface(s.surface(), s.bounds)
    like.view_box.setRange(xRange=(-1.0, 0.5), yRange=(0.0, 2.0), padding=0.0)
    with FrameRenderer(s, "multiples", (800, 450), like_contour=like) as r:
        for pane in r.contour.panes.values():
            assert np.ravel(pane.view_box.viewRange()) == pytest.approx([-1.0, 0.5, 0.0, 2.0])
    like.deleteLater()
