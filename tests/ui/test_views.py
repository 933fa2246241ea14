"""The three views, driven by plain method calls, checked against independent references.

Positions are computed from the ViewBox's scene rectangle and view range (not from the mapping
the view itself uses), contour lines are checked against the problem's own loss function, and
rendered pixels are read back from the widgets (the GL one from its framebuffer).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from gdstudio.engine.problems import make_problem
from gdstudio.ui.colormaps import DIVERGED_COLOR, RUN_PALETTE, hex_to_rgba, lookup_table
from gdstudio.ui.views import ContourView, HeightScale, HistoryView, SurfaceView, TrajectoryView
from gdstudio.ui.views._pg import arrow_segments
from gdstudio.ui.views.history import log10_masked
from gdstudio.ui.views.surface import ONE_D_MESSAGE
from gdstudio.ui.views.types import contour_levels, contour_path


# -- helpers -------------------------------------------------------------------------------
def scene_pos(view: ContourView, x: float, y: float) -> QPointF:
    """Scene position of data (x, y), from the ViewBox's scene rect and range (y axis up)."""
    vb = view.view_box
    rect = vb.sceneBoundingRect()
    (x0, x1), (y0, y1) = vb.viewRange()
    return QPointF(rect.left() + (x - x0) / (x1 - x0) * rect.width(),
                   rect.top() + (y1 - y) / (y1 - y0) * rect.height())


def widget_pos(view: ContourView, x: float, y: float) -> QPoint:
    """Viewport pixel of data (x, y)."""
    return view.plot_widget.mapFromScene(scene_pos(view, x, y))


def set_problem(view, problem, log: bool = False, resolution: int = 256):
    surface = problem.grid(resolution)
    view.set_surface(surface, problem.bounds, problem.minima, log, labels=problem.params,
                     gradient_fn=problem.gradient)
    return surface


def send_move(widget, pos: QPoint) -> None:
    """A mouse move with the left button held (QTest.mouseMove cannot hold a button)."""
    local = QPointF(pos)
    glob = QPointF(widget.mapToGlobal(pos))
    ev = QMouseEvent(QEvent.Type.MouseMove, local, glob, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def pixel(view: ContourView, image: np.ndarray, x: float, y: float) -> np.ndarray:
    p = widget_pos(view, x, y)
    return image[p.y(), p.x(), :3].astype(int)


def near(rgb: np.ndarray, color: str, tol: int = 12) -> bool:
    want = np.array(hex_to_rgba(color)[:3]) * 255
    return bool(np.all(np.abs(rgb - want) <= tol))


# -- contour view: clicks and drags ---------------------------------------------------------
@pytest.mark.parametrize("name", ["himmelblau", "bowl"])  # square and 2:1 ranges
def test_click_emits_data_coordinates_within_one_percent(contour_view, qtbot, name):
    problem = make_problem(name)
    set_problem(contour_view, problem)
    (x0, x1), (y0, y1) = problem.bounds
    vb = contour_view.view_box
    # The independent mapping agrees with pyqtgraph's own.
    s = vb.mapViewToScene(QPointF(x0 + 0.3 * (x1 - x0), y0 + 0.8 * (y1 - y0)))
    p = scene_pos(contour_view, x0 + 0.3 * (x1 - x0), y0 + 0.8 * (y1 - y0))
    assert (s.x(), s.y()) == pytest.approx((p.x(), p.y()), abs=0.5)
    for fx, fy in [(0.25, 0.75), (0.8, 0.1), (0.5, 0.5), (0.05, 0.95)]:
        x, y = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
        with qtbot.waitSignal(contour_view.startClicked, timeout=2000) as blocker:
            qtbot.mouseClick(contour_view.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                             pos=widget_pos(contour_view, x, y))
        ex, ey = blocker.args
        assert abs(ex - x) <= 0.01 * (x1 - x0)
        assert abs(ey - y) <= 0.01 * (y1 - y0)


def test_shift_click_emits_start_added_only(contour_view, qtbot, himmelblau):
    set_problem(contour_view, himmelblau)
    clicked, added = [], []
    contour_view.startClicked.connect(lambda x, y: clicked.append((x, y)))
    contour_view.startAdded.connect(lambda x, y: added.append((x, y)))
    qtbot.mouseClick(contour_view.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier, pos=widget_pos(contour_view, 2.0, -3.0))
    qtbot.wait(20)
    assert clicked == []
    assert len(added) == 1
    assert added[0] == pytest.approx((2.0, -3.0), abs=0.1)


def _drag(qtbot, view: ContourView, path: list[tuple[float, float]]) -> None:
    vp = view.plot_widget.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=widget_pos(view, *path[0]))
    for x, y in path[1:]:
        qtbot.wait(25)  # pyqtgraph drops mouse moves closer than its rate limit
        send_move(vp, widget_pos(view, x, y))
    qtbot.wait(25)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=widget_pos(view, *path[-1]))


def test_dragging_a_start_marker_emits_dragged_then_dropped(contour_view, qtbot, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    t = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 20, key="run-a", lr=0.01)
    contour_view.set_trajectories([t])
    contour_view.set_position(20)
    dragged, dropped, clicked = [], [], []
    contour_view.startDragged.connect(lambda k, x, y: dragged.append((k, x, y)))
    contour_view.startDropped.connect(lambda k, x, y: dropped.append((k, x, y)))
    contour_view.startClicked.connect(lambda x, y: clicked.append((x, y)))
    range_before = contour_view.view_box.viewRange()
    # Press 3 px off the ring's centre: still "near" the start.
    start = (-0.5 + 3 * contour_view.view_box.viewPixelSize()[0], -0.5)
    _drag(qtbot, contour_view, [start, (0.0, 0.0), (1.0, 1.0), (2.0, 1.5)])
    assert len(dragged) >= 2 and all(k == "run-a" for k, _, _ in dragged)
    assert dragged[-1][1:] == pytest.approx((2.0, 1.5), abs=0.1)
    assert len(dropped) == 1
    assert dropped[0][0] == "run-a"
    assert dropped[0][1:] == pytest.approx((2.0, 1.5), abs=0.1)
    assert clicked == []
    assert contour_view.view_box.viewRange() == range_before  # the drag did not pan


def test_dragging_away_from_starts_pans_without_signals(contour_view, qtbot, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    contour_view.set_trajectories([run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 5, key=1, lr=0.01)])
    dragged, dropped = [], []
    contour_view.startDragged.connect(lambda *a: dragged.append(a))
    contour_view.startDropped.connect(lambda *a: dropped.append(a))
    (x0, _), _ = contour_view.view_box.viewRange()
    _drag(qtbot, contour_view, [(3.0, 3.0), (2.0, 3.0), (1.0, 3.0)])
    assert dragged == [] and dropped == []
    assert contour_view.view_box.viewRange()[0][0] != pytest.approx(x0)


# -- contour view: surface ---------------------------------------------------------------
@pytest.mark.parametrize("log", [False, True])
def test_contour_lines_follow_the_problems_own_loss(contour_view, himmelblau, log):
    surface = set_problem(contour_view, himmelblau, log=log)
    scale = HeightScale.fit(surface.z, log)
    levels = contour_levels(scale, scale.transform(surface.z), 20)
    assert 10 <= len(levels) <= 20
    px, py = contour_view.contours.getData()
    pts = np.column_stack([px, py])
    pts = pts[np.isfinite(pts).all(axis=1)]
    assert len(pts) > 1000
    # Each vertex lies on one of the levels of s(loss), evaluated by the problem itself.
    s = scale.transform(himmelblau.loss(pts))
    gap = np.min(np.abs(s[:, None] - levels[None, :]), axis=1)
    step = np.min(np.diff(levels))
    assert np.quantile(gap, 0.99) < 0.1 * step
    if log:
        assert np.allclose(np.diff(levels), levels[1] - levels[0])  # log-spaced in z − zmin


def test_heat_map_colours_follow_the_scale(contour_view, himmelblau, image_array):
    surface = set_problem(contour_view, himmelblau)
    image = contour_view.image.image
    assert image.shape == (256, 256, 4) and image.dtype == np.uint8
    table = lookup_table()
    i, j = np.unravel_index(np.argmin(surface.z), surface.z.shape)
    assert np.array_equal(image[i, j], table[0])
    # Row-major: row i is y = ys[i]; a pixel on screen at (x, y) shows loss(x, y).
    contour_view.contours.hide()
    contour_view.minima.hide()
    shot = image_array(contour_view.plot_widget.viewport().grab().toImage())
    scale = HeightScale.fit(surface.z, False)
    for x, y in [(4.5, 4.5), (0.0, -4.5), (-2.0, 1.0), (3.0, 2.0)]:
        want = table[round(float(scale.unit(himmelblau.loss(np.array([x, y])))) * 255)][:3]
        assert np.abs(pixel(contour_view, shot, x, y) - want).max() <= 25, (x, y)


def test_switching_surface_or_log_changes_the_image(contour_view, himmelblau):
    set_problem(contour_view, himmelblau, log=False)
    linear = contour_view.image.image.copy()
    set_problem(contour_view, himmelblau, log=True)
    assert not np.array_equal(linear, contour_view.image.image)
    set_problem(contour_view, make_problem("rosenbrock"))
    assert contour_view.view_box.viewRange()[0] == pytest.approx([-2.0, 2.0], abs=1e-6)


def test_minima_are_starred(contour_view, himmelblau):
    set_problem(contour_view, himmelblau)
    x, y = contour_view.minima.getData()
    assert np.allclose(np.column_stack([x, y]), himmelblau.minima)


# -- contour view: runs --------------------------------------------------------------------
def test_position_moves_each_head_to_its_point(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    long = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 40, key="long", lr=0.01)
    short = run_trajectory(himmelblau, "adam", (2.0, -3.5), 10, key="short", lr=0.1)
    hidden = run_trajectory(himmelblau, "sgd", (1.0, 1.0), 10, key="hidden", lr=0.01)
    hidden.visible = False
    contour_view.set_trajectories([long, short, hidden])
    for step in (0, 5, 10, 25, 40, 100):
        contour_view.set_position(step)
        for t in (long, short):
            drawn = contour_view.drawn_run(t.key)
            k = min(step, t.last_index)
            assert drawn.xy[-1] == pytest.approx(t.points[k])
            assert drawn.xy[0] == pytest.approx(t.points[0])
            assert len(drawn.xy) == k + 1
        assert contour_view.drawn_run("hidden") is None


def test_set_frame_equals_set_trajectories_then_position(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    t = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 30, key=7, lr=0.01)
    contour_view.set_frame([t], 12)
    assert contour_view.drawn_run(7).xy[-1] == pytest.approx(t.points[12])


def test_heads_are_painted_in_their_run_colour(contour_view, qtbot, himmelblau, run_trajectory, image_array):
    set_problem(contour_view, himmelblau)
    trajs = [run_trajectory(himmelblau, "sgd", s, 30, key=i, color=RUN_PALETTE[i], lr=0.01)
             for i, s in enumerate([(-0.5, -0.5), (4.0, 4.0), (-4.0, -4.0)])]
    contour_view.set_trajectories(trajs)
    contour_view.set_position(15)
    qtbot.wait(10)
    shot = image_array(contour_view.plot_widget.viewport().grab().toImage())
    for t in trajs:
        assert near(pixel(contour_view, shot, *t.points[15]), t.color), t.color


def test_diverged_run_gets_a_red_cross_at_its_last_point(contour_view, qtbot, himmelblau, image_array):
    set_problem(contour_view, himmelblau)
    points = np.array([[-1.0, -1.0], [0.0, -0.5], [1.5, 0.5], [3.5, 2.5]])  # the next point overflowed
    t = TrajectoryView("boom", points, himmelblau.loss(points), color=RUN_PALETTE[1], status="diverged")
    contour_view.set_trajectories([t])
    contour_view.set_position(1)
    assert not contour_view.drawn_run("boom").crossed
    contour_view.set_position(10_000)
    drawn = contour_view.drawn_run("boom")
    assert drawn.crossed and drawn.xy[-1] == pytest.approx(points[-1])
    # The cross is painted: red on its diagonals, 5 px from the centre (inside the head it is covered).
    qtbot.wait(10)
    shot = image_array(contour_view.plot_widget.viewport().grab().toImage())
    c = widget_pos(contour_view, *points[-1])
    for dx, dy in [(6, 6), (-6, 6), (6, -6), (-6, -6)]:
        assert near(shot[c.y() + dy, c.x() + dx, :3].astype(int), DIVERGED_COLOR, tol=40), (dx, dy)
    # A running run gets no cross.
    t.status = "running"
    contour_view.set_trajectories([t])
    assert not contour_view.drawn_run("boom").crossed


def test_one_item_layer_is_reused_across_frames(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    t = run_trajectory(himmelblau, "adam", (-0.5, -0.5), 60, key=0, lr=0.1)
    contour_view.set_overlays(gradient=True, velocity=True, effective_step=True)
    contour_view.set_frame([t], 0)
    items = list(contour_view.plot_item.items)
    for step in range(60):
        contour_view.set_frame([t], step)
    assert list(contour_view.plot_item.items) == items


# -- contour view: overlays ------------------------------------------------------------------
def _arrow(view: ContourView, kind: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = view.arrows[kind].getData()
    return np.array([x[0], y[0]]), np.array([x[1], y[1]])


def test_overlays_are_drawn_only_when_on_and_point_the_right_way(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    t = run_trajectory(himmelblau, "momentum", (-0.5, -0.5), 30, key=0, lr=0.005)
    contour_view.set_trajectories([t])
    contour_view.set_position(10)
    assert not any(a.isVisible() for a in contour_view.arrows.values())
    assert not contour_view.field.isVisible()
    contour_view.set_overlays(gradient=True, velocity=True, effective_step=True, field=True)
    sx, sy = contour_view.view_box.viewPixelSize()
    expected = {"gradient": -t.grad[10], "velocity": -t.first_moment[10], "effective_step": t.update[10]}
    for kind, vec in expected.items():
        item = contour_view.arrows[kind]
        assert item.isVisible()
        assert len(item.getData()[0]) == 6  # shaft + two head strokes
        origin, tip = _arrow(contour_view, kind)
        assert origin == pytest.approx(t.points[10])
        screen = (tip - origin) / (sx, sy)
        want = vec / (sx, sy)
        cos = screen @ want / (np.linalg.norm(screen) * np.linalg.norm(want))
        assert cos > 0.9999, kind
    # The field: 20x20 arrows of equal screen length along −∇f.
    fx, fy = contour_view.field.getData()
    seg = np.column_stack([fx, fy]).reshape(-1, 6, 2)
    assert contour_view.field.isVisible() and len(seg) == 400
    d = (seg[:, 1] - seg[:, 0]) / (sx, sy)
    g = -himmelblau.gradient((seg[:, 0] + seg[:, 1]) / 2) / (sx, sy)
    cos = np.sum(d * g, axis=1) / (np.linalg.norm(d, axis=1) * np.linalg.norm(g, axis=1))
    assert np.all(cos > 0.99)
    assert np.ptp(np.linalg.norm(d, axis=1)) < 1e-6 * np.linalg.norm(d, axis=1).max()
    contour_view.set_overlays(gradient=False, velocity=False, effective_step=False, field=False)
    assert not any(a.isVisible() for a in contour_view.arrows.values())
    assert not contour_view.field.isVisible()


def test_velocity_arrow_is_absent_for_a_rule_without_momentum(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    contour_view.set_trajectories([run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 10, key=0, lr=0.01)])
    contour_view.set_position(3)
    contour_view.set_overlays(velocity=True, gradient=True)
    assert not contour_view.arrows["velocity"].isVisible()
    assert contour_view.arrows["gradient"].isVisible()


def test_gradient_arrow_at_the_last_point_uses_the_gradient_function(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    t = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 10, key=0, lr=0.01)
    contour_view.set_trajectories([t])
    contour_view.set_position(10)  # the last point: no recorded gradient row
    contour_view.set_overlays(gradient=True)
    origin, tip = _arrow(contour_view, "gradient")
    sx, sy = contour_view.view_box.viewPixelSize()
    g = -himmelblau.gradient(t.points[10])
    screen, want = (tip - origin) / (sx, sy), g / (sx, sy)
    assert screen @ want / (np.linalg.norm(screen) * np.linalg.norm(want)) > 0.9999


def test_arrow_segments_have_the_requested_screen_length():
    pixel_size = (0.01, 0.05)
    seg = arrow_segments(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 0.0]]),
                         np.array([50.0, 50.0]), pixel_size).reshape(-1, 6, 2)
    assert len(seg) == 1  # the zero vector gives no arrow
    shaft = (seg[0, 1] - seg[0, 0]) / pixel_size
    assert np.linalg.norm(shaft) == pytest.approx(50.0)
    assert shaft / 50.0 == pytest.approx(np.array([300.0, 80.0]) / math.hypot(300.0, 80.0))
    for i in (3, 5):  # head strokes: 8 px, 26° off the shaft, pointing back
        stroke = (seg[0, i] - seg[0, i - 1]) / pixel_size
        assert np.linalg.norm(stroke) == pytest.approx(8.0)
        cos = -stroke @ shaft / (8.0 * 50.0)
        assert cos == pytest.approx(math.cos(math.radians(26.0)))


# -- one-parameter problems ---------------------------------------------------------------
def test_one_parameter_problem_plots_the_loss_curve(contour_view, surface_view, qtbot, run_trajectory):
    problem = make_problem("line-through-origin")
    surface = set_problem(contour_view, problem)
    surface_view.set_surface(surface, problem.bounds, problem.minima, False)
    assert contour_view.curve_1d.isVisible() and not contour_view.image.isVisible()
    assert not contour_view.contours.isVisible()
    x, y = contour_view.curve_1d.getData()
    assert np.allclose(y, problem.loss(x[:, None]))
    assert contour_view.plot_item.getAxis("bottom").labelText == problem.params[0]
    # Runs move along the curve: the head is (w_k, L(w_k)).
    t = run_trajectory(problem, "sgd", (4.0,), 20, key=0, lr=0.01)
    contour_view.set_trajectories([t])
    contour_view.set_position(7)
    head = contour_view.drawn_run(0).xy[-1]
    assert head == pytest.approx((t.points[7, 0], float(problem.loss(t.points[7]))))
    # A click gives (w, nan).
    w = 1.5
    with qtbot.waitSignal(contour_view.startClicked, timeout=2000) as blocker:
        qtbot.mouseClick(contour_view.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                         pos=widget_pos(contour_view, w, float(problem.loss(np.array([w])))))
    (lo, hi), = problem.bounds
    assert abs(blocker.args[0] - w) <= 0.01 * (hi - lo)
    assert math.isnan(blocker.args[1])
    # The 3-D view explains itself instead.
    assert surface_view._stack.currentWidget() is surface_view.message
    assert surface_view.message.text() == ONE_D_MESSAGE
    assert surface_view.message.isVisible() and not surface_view.gl_view.isVisible()
    surface_view.set_trajectories([t])  # no error: nothing to draw
    surface_view.set_position(3)


# -- 3-D view --------------------------------------------------------------------------------
def _frame(surface_view: SurfaceView, qtbot, image_array) -> np.ndarray:
    surface_view.gl_view.update()
    qtbot.wait(30)
    return image_array(surface_view.gl_view.grabFramebuffer())


def test_gl_frame_shows_the_surface_and_the_runs(surface_view, qtbot, himmelblau, run_trajectory, image_array):
    surface = himmelblau.grid(256)
    surface_view.set_surface(surface, himmelblau.bounds, himmelblau.minima, False)
    empty = _frame(surface_view, qtbot, image_array)
    rgb = empty[..., :3].reshape(-1, 3)
    background = np.array(hex_to_rgba("#15171c")[:3]) * 255
    covered = np.abs(rgb - background).max(axis=1) > 8
    assert covered.mean() > 0.2  # the surface and floor fill a good part of the frame
    colours = np.unique(rgb[covered], axis=0)
    assert len(colours) > 500  # shaded, colour-mapped: not a flat blob
    # Viridis hues are there: purple-blue lows (b > r) and green-yellow highs (g > b).
    assert np.sum((rgb[:, 2] > rgb[:, 0] + 30) & covered) > 500
    assert np.sum((rgb[:, 1] > rgb[:, 2] + 30) & covered) > 500
    trajs = [run_trajectory(himmelblau, "sgd", s, 50, key=i, lr=0.01)
             for i, s in enumerate([(-0.5, -0.5), (0.5, -4.0)])]
    surface_view.set_trajectories(trajs)
    surface_view.set_position(50)
    with_runs = _frame(surface_view, qtbot, image_array)
    changed = np.abs(with_runs.astype(int) - empty.astype(int)).max(axis=2) > 30
    assert changed.sum() > 200
    # Run colours appear in the frame (heads, paths).
    for t in trajs:
        want = np.array(hex_to_rgba(t.color)[:3]) * 255
        assert np.sum(np.abs(with_runs[..., :3].astype(int) - want).max(axis=2) <= 20) > 20, t.color


def test_surface_heads_follow_the_position(surface_view, himmelblau, run_trajectory):
    surface = himmelblau.grid(128)
    surface_view.set_surface(surface, himmelblau.bounds, himmelblau.minima, True)
    t = run_trajectory(himmelblau, "adam", (-4.0, 4.5), 30, key="a", lr=0.1)
    surface_view.set_trajectories([t])
    scale = HeightScale.fit(surface.z, True, delta_rel=1e-2)
    for step in (0, 12, 30, 99):
        surface_view.set_position(step)
        surface_view.flush()  # the 3-D view redraws coalesced; flush applies the frame now
        k = min(step, t.last_index)
        head = surface_view.head_positions()["a"]
        x, y = t.points[k]
        # The box maps [-5, 5]² to [-10, 10]²; heights are HEIGHT · unit(loss) + lift.
        assert head[:2] == pytest.approx((2 * x, 2 * y), abs=1e-4)
        assert head[2] == pytest.approx(8.0 * float(scale.unit(t.loss[k])) + 0.12, abs=1e-3)
        assert surface_view.heads.pos[0] == pytest.approx(head)


def test_reset_camera_restores_the_default_view(surface_view):
    before = dict(surface_view.gl_view.cameraParams())
    surface_view.gl_view.orbit(40, 10)
    surface_view.gl_view.opts["distance"] *= 2
    assert surface_view.gl_view.cameraParams() != before
    surface_view.reset_camera()
    assert surface_view.gl_view.cameraParams() == before


def test_surface_view_reuses_its_items(surface_view, himmelblau, run_trajectory):
    surface_view.set_surface(himmelblau.grid(64), himmelblau.bounds, himmelblau.minima, False)
    t = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 40, key=0, lr=0.01)
    surface_view.set_frame([t], 0)
    items = list(surface_view.gl_view.items)
    for step in range(40):
        surface_view.set_frame([t], step)
    assert surface_view.gl_view.items == items


# -- history view --------------------------------------------------------------------------
def _awkward_trajectory(key="odd") -> TrajectoryView:
    """Zeros, negatives, NaN and inf everywhere a log axis could choke."""
    k = 6
    points = np.column_stack([np.linspace(-1, 1, k), np.zeros(k)])
    loss = np.array([3.0, 1.0, 0.0, -2.0, np.nan, 5.0])
    eff = np.array([[0.1, 0.0], [-1.0, 1e-3], [np.inf, 0.2], [0.0, 0.0], [1.0, np.nan]])
    grad = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 4.0], [0.0, -2.0], [np.nan, 1.0]])
    return TrajectoryView(key, points, loss, color="#56B4E9", grad=grad, effective_lr=eff)


def test_history_log_axes_mask_zero_negative_and_non_finite_values(history_view):
    t = _awkward_trajectory()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history_view.set_trajectories([t])
        history_view.set_log_loss(True)
        history_view.set_position(3)
        history_view.set_log_loss(False)
        history_view.set_log_loss(True)
    # effective lr (log): log10 where positive and finite, NaN elsewhere.
    (x0, y0), (_, y1) = history_view.curve_data("odd", "effective_lr")
    assert np.array_equal(x0, np.arange(5))
    expected = np.array([-1.0, np.nan, np.nan, np.nan, 0.0])
    assert np.array_equal(np.isnan(y0), np.isnan(expected))
    assert np.allclose(y0[~np.isnan(y0)], expected[~np.isnan(expected)])
    assert np.allclose(y1, [np.nan, -3.0, math.log10(0.2), np.nan, np.nan], equal_nan=True)
    # gradient norm from grad rows: 0, 1, 5, 2, nan -> log10 with 0 masked.
    _, g = history_view.curve_data("odd", "grad_norm")[0]
    assert np.allclose(g, [np.nan, 0.0, math.log10(5.0), math.log10(2.0), np.nan], equal_nan=True)
    # loss has values ≤ 0: plotted as loss − min (min = −2), the minimum itself masked.
    _, y = history_view.curve_data("odd", "loss")[0]
    assert np.allclose(y, log10_masked(np.array([5.0, 3.0, 2.0, 0.0, np.nan, 7.0])), equal_nan=True)
    assert "min" in history_view.plots["loss"].titleLabel.text
    # Linear parameters untouched.
    _, p = history_view.curve_data("odd", "parameters")[0]
    assert np.allclose(p, t.points[:, 0])


def test_history_linear_loss_and_position_line(history_view, himmelblau, run_trajectory):
    a = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 30, key="a", lr=0.01)
    b = run_trajectory(himmelblau, "adam", (2.0, 2.0), 12, key="b", lr=0.1)
    history_view.set_trajectories([a, b])
    history_view.set_log_loss(False)
    history_view.set_position(20)
    x, y = history_view.curve_data("a", "loss")[0]
    assert np.array_equal(x, np.arange(31)) and np.allclose(y, a.loss)  # the whole history
    assert len(history_view.curve_data("a", "parameters")) == 2
    assert all(line.value() == 20 for line in history_view.position_lines.values())
    mx, my = history_view.markers["loss"].getData()
    assert sorted(zip(mx, my, strict=True)) == sorted([(20.0, a.loss[20]), (12.0, b.loss[12])])
    # Effective learning rate of plain SGD is lr on both axes (log axis: log10(0.01) = −2).
    _, e = history_view.curve_data("a", "effective_lr")[0]
    assert np.allclose(e, -2.0)
    history_view.set_trajectories([a])  # b's curves are removed
    with pytest.raises(KeyError):
        history_view.curve_data("b", "loss")


def test_history_switches_between_one_and_two_parameter_runs(history_view, himmelblau, run_trajectory):
    history_view.set_trajectories([run_trajectory(himmelblau, "sgd", (0.0, 0.0), 5, key="r", lr=0.01)])
    problem = make_problem("line-through-origin")
    history_view.set_trajectories([run_trajectory(problem, "sgd", (3.0,), 5, key="r", lr=0.01)])
    assert len(history_view.curve_data("r", "parameters")) == 1
    assert isinstance(history_view, HistoryView)


# -- data types ------------------------------------------------------------------------------
def test_trajectory_view_rejects_bad_shapes_with_clear_messages():
    with pytest.raises(ValueError, match="points"):
        TrajectoryView(0, np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="loss"):
        TrajectoryView(0, np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="grad"):
        TrajectoryView(0, np.zeros((3, 2)), np.zeros(3), grad=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="status"):
        TrajectoryView(0, np.zeros((3, 2)), np.zeros(3), status="exploded")


def test_height_scale_is_monotone_and_finite_at_the_minimum():
    z = np.array([[0.0, 1.0, 10.0], [100.0, 1e3, np.inf]])
    for log in (False, True):
        scale = HeightScale.fit(z, log)
        u = scale.unit(np.array([0.0, 1.0, 10.0, 100.0, 1e3, 1e9]))
        assert np.all(np.diff(u) >= 0) and u[0] == 0.0 and u[-1] == 1.0
        assert np.isfinite(scale.transform(0.0))
    assert HeightScale.fit(z, True).unit(1.0) > HeightScale.fit(z, False).unit(1.0)  # log lifts the lows


def test_contour_path_is_cached_per_surface(himmelblau):
    s = himmelblau.grid(64)
    scale = HeightScale.fit(s.z, False)
    first = contour_path(s.xs, s.ys, s.z, scale)
    assert contour_path(s.xs, s.ys, s.z, scale) is first
    other = himmelblau.grid(64)
    assert contour_path(other.xs, other.ys, other.z, scale) is not first


def test_contour_view_uses_raster_painting_on_a_software_renderer(contour_view):
    from gdstudio.ui.qt_setup import gl_renderer, is_software_gl

    name = gl_renderer()
    assert is_software_gl() == (not name or any(s in name.lower() for s in ("llvmpipe", "softpipe", "swrast",
                                                                           "software", "lavapipe")))
    assert contour_view.uses_opengl == (not is_software_gl())
    assert ContourView(use_opengl=False).uses_opengl is False


def test_history_catches_up_with_growing_runs(history_view, qtbot, himmelblau, run_trajectory):
    full = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 40, key="g", lr=0.002)
    assert full.last_index == 40

    def prefix(n: int) -> TrajectoryView:
        return TrajectoryView("g", full.points[:n], full.loss[:n], color=full.color, grad=full.grad[: n - 1],
                              effective_lr=full.effective_lr[: n - 1], grad_norm=full.grad_norm[: n - 1])

    for n in range(2, 42):  # a fast clock: one step per call
        history_view.set_frame([prefix(n)], n - 1)
    # While playing, curves, line and dots follow together at most every CURVE_INTERVAL: the
    # timer brings them up to date without any further call.
    curve = history_view._runs["g"].curves["loss"][0]
    qtbot.waitUntil(lambda: len(curve.getData()[0]) == 41, timeout=2000)
    mx, my = history_view.markers["loss"].getData()
    assert list(mx) == [40.0] and my[0] == pytest.approx(full.loss[40])
    assert history_view.position_lines["loss"].value() == 40
    assert np.allclose(curve.getData()[1], full.loss)


def test_nothing_covers_the_plot_the_arrow_key_is_a_row_under_it(contour_view, qtbot, himmelblau, run_trajectory):
    import pyqtgraph as pg

    set_problem(contour_view, himmelblau)
    a = run_trajectory(himmelblau, "sgd", (-0.5, -0.5), 5, key="a", lr=0.01)
    b = run_trajectory(himmelblau, "adam", (2.0, 2.0), 5, key="b", lr=0.1)
    a.label, b.label = "GD η=0.01", ""
    contour_view.set_trajectories([a, b])
    # No legend item anywhere in the plot's scene (the runs table is the legend).
    scene_items = contour_view.plot_widget.scene().items()
    assert not any(isinstance(i, pg.LegendItem) for i in scene_items)
    assert contour_view.legend_entries() == [] and not contour_view.key_label.isVisible()
    contour_view.set_overlays(gradient=True, velocity=True)
    qtbot.wait(10)
    assert contour_view.legend_entries() == ["−∇f", "velocity (−m)"]
    key = contour_view.key_label
    assert key.isVisible() and "−∇f" in key.text()
    # The key sits below the plot widget, not over it.
    plot = contour_view.plot_widget.geometry()
    assert key.geometry().top() >= plot.bottom() and not key.geometry().intersects(plot)
    contour_view.set_legend_visible(False)
    assert not key.isVisible() and contour_view.legend_entries() == []


# -- thinning long runs ----------------------------------------------------------------------
def _long_path(n: int = 5000) -> np.ndarray:
    """A spiral into the origin that ends bouncing between two nearby points."""
    t = np.linspace(0, 1, n)
    xy = np.column_stack([np.exp(-8 * t) * np.cos(40 * t), np.exp(-8 * t) * np.sin(40 * t)])
    xy[n // 2 :: 2] += 1e-5
    return xy


def test_path_thinning_keeps_every_screen_cell_and_the_ends():
    from gdstudio.ui.views._pg import dot_keep, path_keep

    xy = _long_path()
    pixel = (0.002, 0.002)
    keep = path_keep(xy, pixel)
    assert keep[0] == 0 and keep[-1] == len(xy) - 1 and np.all(np.diff(keep) > 0)
    assert len(keep) < len(xy) / 2
    cells = {tuple(c) for c in np.floor(xy / pixel).astype(int)}
    assert cells == {tuple(c) for c in np.floor(xy[keep] / pixel).astype(int)}
    dots = dot_keep(xy, pixel)
    dot_cells = np.floor(xy[dots] / (4 * np.array(pixel))).astype(int)
    assert len({tuple(c) for c in dot_cells}) == len(dots)  # one dot per 4-px cell
    assert {tuple(c) for c in np.floor(xy / (4 * np.array(pixel))).astype(int)} == {tuple(c) for c in dot_cells}
    short = xy[:100]
    assert np.array_equal(path_keep(short, pixel), np.arange(100))


def test_peak_decimation_keeps_the_envelope():
    from gdstudio.ui.views.history import peak_decimate

    rng = np.random.default_rng(0)
    y = np.cumsum(rng.standard_normal(50_000))
    y[1234] = 1e3  # a spike
    y[30_000:30_100] = np.nan
    x, yy = peak_decimate(y, 400)
    assert len(x) <= 2 * 400 + 200
    assert np.nanmax(yy) == 1e3 and np.nanmin(yy) == np.nanmin(y)
    assert np.all(np.diff(x) >= 0) and x[-1] == len(y) - 1
    x, yy = peak_decimate(y[:1000], 400)  # short: exact
    assert np.array_equal(x, np.arange(1000)) and np.array_equal(yy, y[:1000], equal_nan=True)


def test_long_runs_still_end_exactly_at_their_heads(contour_view, surface_view, himmelblau):
    xy = _long_path(6000) * 3
    t = TrajectoryView("long", xy, himmelblau.loss(xy), color=RUN_PALETTE[0])
    set_problem(contour_view, himmelblau)
    surface_view.set_surface(himmelblau.grid(64), himmelblau.bounds, himmelblau.minima, False)
    for view in (contour_view, surface_view):
        view.set_frame([t], 4000)
    surface_view.flush()
    assert contour_view.drawn_run("long").xy[-1] == pytest.approx(xy[4000])
    seg = surface_view.paths.pos
    assert len(seg) < 2 * 4000  # thinned
    assert seg[-1] == pytest.approx(surface_view.head_positions()["long"])
    assert seg[0] == pytest.approx(surface_view.to_scene(xy[:1, 0], xy[:1, 1], t.loss[:1], lift=0.12)[0])


@pytest.mark.parametrize("kind", ["holes", "flat", "all-nan"])
@pytest.mark.parametrize("log", [False, True])
def test_surfaces_with_holes_or_no_relief_do_not_raise_or_warn(contour_view, surface_view, kind, log):
    from gdstudio.engine.problems.base import Surface

    xs = np.linspace(-1, 1, 64)
    ys = np.linspace(-2, 2, 48)
    xx, yy = np.meshgrid(xs, ys)
    z = {"holes": np.where(xx * yy > 0.3, np.nan, xx**2 + yy**2), "flat": np.full(xx.shape, 3.0),
         "all-nan": np.full(xx.shape, np.nan)}[kind]
    if kind == "holes":
        z[0, :5] = np.inf
    t = TrajectoryView(0, np.array([[0.5, 0.5], [0.2, 0.1]]), np.array([np.nan, 1.0]), color=RUN_PALETTE[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for view in (contour_view, surface_view):
            view.set_surface(Surface(xs, ys, z), ((-1, 1), (-2, 2)), np.empty((0, 2)), log)
            view.set_frame([t], 1)
    assert contour_view.image.image.shape == (48, 64, 4)
    assert contour_view.drawn_run(0).xy[-1] == pytest.approx((0.2, 0.1))
