"""The window's view options as a user reaches them: the 3-D toggle, the grey surface, the
small-multiples layout, presentation mode, the arrows at the newest step, the race icon."""

from __future__ import annotations

import gdstudio_window_fixtures as wf  # registered by conftest.py
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyle, QWidget

from gdstudio.engine.runs import RunConfig
from gdstudio.ui.main_window import PRESENTATION_SCALE
from gdstudio.ui.views.surface import LIFT


def _race(w, n: int) -> None:
    opts = ["gd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam", "adamax", "adadelta"]
    w.session.replace_runs([RunConfig(opts[i % len(opts)], (-1.5 + 0.1 * i, 2.0), {"lr": 1e-3}) for i in range(n)])


def test_hiding_the_3d_view_widens_the_contour_and_stops_its_work(shared_studio, qtbot):
    w = shared_studio
    wide_before = w.contour.width()
    w.actions["show_surface"].trigger()
    wf.settle(qtbot, w)
    assert not w.session.options.show_surface and not w.surface_pane.isVisible()
    assert w.contour.width() > 1.5 * wide_before
    grabs = w.surface_pane.grabs
    w.session.forward(5)
    wf.settle(qtbot, w)
    qtbot.wait(100)
    assert w.surface_pane.grabs == grabs  # nothing is rendered for a hidden 3-D view
    w.actions["show_surface"].trigger()
    wf.settle(qtbot, w)
    qtbot.waitUntil(lambda: not w.surface_pane.pending)
    assert w.surface_pane.isVisible() and w.surface_pane.grabs > grabs
    # Shown again, it shows the step shown now, not the one it last saw.
    w.surface_view.flush()
    drawn = np.asarray(w.surface_view.heads.pos)
    for e in w.session.runs:
        h = e.run.history
        want = w.surface_view.to_scene(h.points[5:6, 0], h.points[5:6, 1], h.loss[5:6], lift=LIFT)[0]
        assert np.min(np.abs(drawn - want).max(axis=1)) < 1e-4


def _is_grey(rgba: np.ndarray) -> bool:
    rgb = rgba[..., :3].astype(int).reshape(-1, 3)
    return bool(np.abs(rgb - rgb.mean(axis=1, keepdims=True)).max() <= 2)


def test_grey_surface_for_races(shared_studio, qtbot):
    w = shared_studio
    assert not _is_grey(np.asarray(w.contour.image.image))
    w.actions["grey_surface"].trigger()
    wf.settle(qtbot, w)
    assert w.session.options.grey_surface
    assert _is_grey(np.asarray(w.contour.image.image))
    assert w.contour.colormap_name == "grey" and w.surface_view.colormap_name == "grey"
    w.actions["grey_surface"].trigger()
    wf.settle(qtbot, w)
    assert not _is_grey(np.asarray(w.contour.image.image))


def test_small_multiples_layout_one_contour_per_run_on_one_clock(shared_studio, qtbot):
    w = shared_studio
    _race(w, 11)
    wf.settle(qtbot, w)
    w.actions["layout_multiples"].trigger()
    wf.settle(qtbot, w)
    assert w.session.options.small_multiples and w.actions["layout_multiples"].isChecked()
    assert not w.actions["layout_side_by_side"].isChecked()
    assert w.multiples.isVisible() and not w.contour.isVisible() and not w.surface_pane.isVisible()
    panes = w.multiples.panes
    assert len(panes) == 11
    w.session.forward(4)
    wf.settle(qtbot, w)
    for e in w.session.runs:
        drawn = panes[e.id].drawn_run(e.id)
        assert drawn is not None and np.allclose(drawn.xy[-1], e.run.history.points[4])
    # Sharing axes: zooming one pane zooms them all.
    first, second = panes[w.session.runs[0].id], panes[w.session.runs[1].id]
    first.view_box.setRange(xRange=(-1.0, 0.0), yRange=(0.0, 1.0), padding=0)
    qtbot.wait(10)
    assert np.allclose(second.view_box.viewRange(), first.view_box.viewRange())
    w.actions["layout_side_by_side"].trigger()
    wf.settle(qtbot, w)
    assert not w.session.options.small_multiples and w.contour.isVisible() and w.surface_pane.isVisible()


def _tick_point_size(view) -> float:
    return view.plot_item.getAxis("bottom").style["tickFont"].pointSizeF()


def test_presentation_mode_full_screen_large_type_and_back(shared_studio, qtbot):
    w = shared_studio
    normal_font = w.contour.font().pointSizeF()
    docks_before = {k: d.isVisible() for k, d in w.docks.items()}
    bar = [(c, c.font().pointSizeF()) for c in w.playback.findChildren(QWidget) if c.font().pointSizeF() > 0]
    qtbot.keyClick(w, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: w.isFullScreen())
    assert w.actions["presentation"].isChecked()
    assert not any(d.isVisible() for d in w.docks.values())
    assert not w.toolbar.isVisible() and not w.menuBar().isVisible()
    assert w.contour.isVisible() and w.playback.isVisible()
    assert w.contour.font().pointSizeF() >= 1.5 * normal_font
    assert _tick_point_size(w.contour) >= 1.5 * normal_font
    assert w.contour.runs_layer.presentation_scale == PRESENTATION_SCALE  # thicker paths, larger markers
    for child, size in bar:  # every widget scaled once: inherited fonts do not compound
        assert child.font().pointSizeF() == pytest.approx(PRESENTATION_SCALE * size, rel=0.02)
    qtbot.keyClick(w, Qt.Key.Key_Space)  # playback keys still work
    assert w.session.playing
    w.session.set_playing(False)
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.isFullScreen())
    assert not w.actions["presentation"].isChecked()
    assert {k: d.isVisible() for k, d in w.docks.items()} == docks_before
    assert w.toolbar.isVisible() and w.menuBar().isVisible()
    assert w.contour.font().pointSizeF() == normal_font
    assert all(child.font().pointSizeF() == size for child, size in bar)
    assert w.contour.runs_layer.presentation_scale == 1.0


def test_arrows_are_drawn_at_the_newest_step_while_playing_and_at_the_end(shared_studio, qtbot):
    w = shared_studio
    w.session.set_options(show_gradient=True, show_effective_step=True)
    w.session.set_speed(steps_per_tick=1, ticks_per_second=60)
    w.session.set_playing(True)
    qtbot.waitUntil(lambda: w.session.position >= 5, timeout=10_000)
    w.session.set_playing(False)
    w.session.forward(2)
    wf.settle(qtbot, w)
    s = w.session
    assert s.position == s.computed_steps  # at the end: no history row for the newest point yet
    for kind in ("gradient", "effective_step"):
        item = w.contour.arrows[kind]
        assert item.isVisible(), kind
        x, y = item.getData()
        starts = np.column_stack([x[0::2], y[0::2]])
        for e in s.runs:
            head = e.run.history.points[-1]
            assert np.min(np.hypot(*(starts - head).T)) < 1e-6 * (1 + np.abs(head).max()), kind
    # The effective-step arrow points where the next step goes (computed without moving the run).
    e = s.runs[0]
    before = e.run.steps
    nxt = e.run.preview()["update"]
    x, y = w.contour.arrows["effective_step"].getData()
    seg = np.array([x[1] - x[0], y[1] - y[0]])
    assert e.run.steps == before
    cos = seg @ nxt / (np.linalg.norm(seg) * np.linalg.norm(nxt))
    assert cos > 0.99


def test_race_icon_is_not_a_loudspeaker(shared_studio):
    w = shared_studio
    icon = w.actions["race_all"].icon().pixmap(32, 32).toImage()
    speaker = w.style().standardIcon(QStyle.StandardPixmap.SP_MediaVolume).pixmap(32, 32).toImage()
    assert not icon.isNull() and icon != speaker
    arr = wf.image_array(icon)
    opaque = arr[..., 3] > 200
    dark = (arr[..., :3].max(axis=-1) < 60) & opaque
    light = (arr[..., :3].min(axis=-1) > 200) & opaque
    assert dark.sum() > 30 and light.sum() > 30  # a chequered flag: black and white squares


def test_presentation_scaling_restores_every_original_exactly(shared_studio):
    """Scaling twice never compounds, and scaling back gives each font, pen and size back."""
    from gdstudio.ui.presentation import scale_fonts

    w = shared_studio
    view = w.history_view
    axes = [item for v in view.findChildren(pg.GraphicsView) for item in v.scene().items()
            if isinstance(item, pg.AxisItem)]
    before = [(a.style["tickFont"], a.pen().widthF(), a.labelStyle.get("font-size")) for a in axes]
    scale_fonts(view, 2.0)
    scale_fonts(view, 2.0)  # twice: no compounding
    assert all(a.style["tickFont"].pointSizeF() == pytest.approx(2 * b[0].pointSizeF()) for a, b in
               zip(axes, before, strict=True) if b[0] is not None and b[0].pointSizeF() > 0)
    scale_fonts(view, 1.0)
    after = [(a.style["tickFont"], a.pen().widthF(), a.labelStyle.get("font-size")) for a in axes]
    assert [(f.pointSizeF() if f else None, wd) for f, wd, _ in after] == \
        [(f.pointSizeF() if f else None, wd) for f, wd, _ in before]
