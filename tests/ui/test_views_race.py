"""Issue 8 for the contour and 3-D views: 1-D overlays, arrows at the newest step (preview),
divergence clipped honestly, the grey map, the 3-D axes, coalesced 3-D redraws.

References are computed independently: clipping by hand (the segment's line equation), arrow
directions from the vectors given, colours from the colour-map definition.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.ui.colormaps import COLORMAPS, colormap_rgb, lookup_table
from gdstudio.ui.views import ContourView, TrajectoryView
from gdstudio.ui.views._paths import ClippedPath, SegmentSet, Thinning, clip_segments
from gdstudio.ui.views.contour import CLIP_MARGIN


def set_problem(view, problem, resolution: int = 128):
    surface = problem.grid(resolution)
    view.set_surface(surface, problem.bounds, problem.minima, False, labels=problem.params,
                     gradient_fn=problem.gradient)
    return surface


def arrow(view: ContourView, kind: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = view.arrows[kind].getData()
    return np.array([x[0], y[0]]), np.array([x[1], y[1]])


def screen_cos(view: ContourView, kind: str, want: np.ndarray) -> float:
    """Cosine between the drawn arrow and ``want``, both on screen (pixels)."""
    origin, tip = arrow(view, kind)
    px = np.array(view.view_box.viewPixelSize())
    a, b = (tip - origin) / px, np.asarray(want, float) / px
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- 1. overlays on one- and two-parameter problems -----------------------------------------
OVERLAYS = ("gradient", "velocity", "effective_step", "field")


@pytest.mark.parametrize("combo", [c for n in range(1, 5) for c in itertools.combinations(OVERLAYS, n)])
def test_every_overlay_combination_on_1d_and_2d_problems_and_switching_between_them(
        contour_view, run_trajectory, combo):
    line = make_problem("line-through-origin")
    bowl = make_problem("himmelblau")
    on = dict.fromkeys(OVERLAYS, False) | dict.fromkeys(combo, True)
    contour_view.set_overlays(**on)
    set_problem(contour_view, bowl)
    runs2 = [run_trajectory(bowl, "momentum", (-0.5, -0.5), 12, key=0, lr=0.005)]
    contour_view.set_frame(runs2, 6)
    # A load as the bridge does it: the new gradient function first, with the old runs still shown.
    contour_view.set_gradient_fn(line.gradient)
    set_problem(contour_view, line)
    contour_view.set_frame(runs2, 12)  # stale 2-D runs on a 1-D surface: not drawn, no error
    assert contour_view.drawn_run(0) is None
    runs1 = [run_trajectory(line, "momentum", (4.0,), 12, key=1, lr=0.01)]
    for step in (0, 5, 12, 50):
        contour_view.set_frame(runs1, step)
    if "gradient" in combo:
        # 1-D: −∇f at the last point runs along w, horizontally, with the sign of −L'(w).
        origin, tip = arrow(contour_view, "gradient")
        g = float(line.gradient(runs1[0].points[12:13])[0, 0])
        assert tip[1] == pytest.approx(origin[1]) and np.sign(tip[0] - origin[0]) == np.sign(-g)
    assert not contour_view.field.isVisible()  # no field in 1-D
    contour_view.set_gradient_fn(bowl.gradient)
    set_problem(contour_view, bowl)
    contour_view.set_frame(runs2, 6)
    for kind in ("gradient", "velocity", "effective_step"):
        assert contour_view.arrows[kind].isVisible() == (kind in combo)
    assert contour_view.field.isVisible() == ("field" in combo)


# -- 2. arrows at the newest point ----------------------------------------------------------
def _preview_run(problem, run_trajectory, preview):
    t = run_trajectory(problem, "momentum", (-0.5, -0.5), 10, key=0, lr=0.005)
    return TrajectoryView(0, t.points, t.loss, color=t.color, grad=t.grad, first_moment=t.first_moment,
                          effective_lr=t.effective_lr, update=t.update, preview=preview)


def test_arrows_at_the_newest_point_use_the_preview(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    preview = {"grad": np.array([3.0, -1.0]), "first_moment": np.array([-0.5, 2.0]),
               "effective_lr": np.array([0.01, 0.01]), "update": np.array([0.2, 0.7])}
    t = _preview_run(himmelblau, run_trajectory, preview)
    contour_view.set_overlays(gradient=True, velocity=True, effective_step=True)
    contour_view.set_frame([t], 10)  # the last point: no row 10
    assert {k: contour_view.arrows[k].isVisible() for k in contour_view.arrows} == dict.fromkeys(
        ("gradient", "velocity", "effective_step"), True)
    for kind, want in (("gradient", -preview["grad"]), ("velocity", -preview["first_moment"]),
                       ("effective_step", preview["update"])):
        origin, _ = arrow(contour_view, kind)
        assert origin == pytest.approx(t.points[10])
        assert screen_cos(contour_view, kind, want) > 0.9999, kind
    # Earlier steps still use the recorded rows.
    contour_view.set_frame([t], 4)
    assert screen_cos(contour_view, "velocity", -t.first_moment[4]) > 0.9999
    assert screen_cos(contour_view, "effective_step", t.update[4]) > 0.9999


def test_without_a_preview_only_the_gradient_arrow_is_drawn_at_the_end(contour_view, himmelblau,
                                                                      run_trajectory):
    set_problem(contour_view, himmelblau)
    t = _preview_run(himmelblau, run_trajectory, None)
    contour_view.set_overlays(gradient=True, velocity=True, effective_step=True)
    contour_view.set_frame([t], 10)
    assert not contour_view.arrows["velocity"].isVisible()
    assert not contour_view.arrows["effective_step"].isVisible()
    assert screen_cos(contour_view, "gradient", -himmelblau.gradient(t.points[10:11])[0]) > 0.9999
    # A rule without momentum: an all-NaN first moment draws no velocity arrow.
    nan_velocity = {"grad": np.ones(2), "first_moment": np.full(2, np.nan), "effective_lr": np.ones(2),
                    "update": np.array([-0.1, 0.0])}
    contour_view.set_frame([_preview_run(himmelblau, run_trajectory, nan_velocity)], 10)
    assert not contour_view.arrows["velocity"].isVisible()
    assert screen_cos(contour_view, "effective_step", nan_velocity["update"]) > 0.9999


def test_bad_previews_are_rejected_with_clear_messages():
    pts, loss = np.zeros((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="missing 'update'"):
        TrajectoryView(0, pts, loss, preview={"grad": [1, 2], "first_moment": [1, 2], "effective_lr": [1, 2]})
    with pytest.raises(ValueError, match=r"preview\['grad'\] shape"):
        TrajectoryView(0, pts, loss, preview={"grad": [1, 2, 3], "first_moment": [1, 2], "effective_lr": [1, 2],
                                              "update": [1, 2]})


# -- 3. divergence --------------------------------------------------------------------------
def hand_clip(a, b, lo, hi):
    """Clip a → b to the box by intersecting with each side (no Liang–Barsky): (entry, exit) or None."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ts = [0.0, 1.0]
    for axis in range(len(a)):
        for bound in (lo[axis], hi[axis]):
            if b[axis] != a[axis]:
                t = (bound - a[axis]) / (b[axis] - a[axis])
                if 0 < t < 1:
                    ts.append(t)
    ts = sorted(set(ts))
    inside = []
    for t0, t1 in itertools.pairwise(ts):
        mid = a + (t0 + t1) / 2 * (b - a)
        if np.all(mid >= lo) and np.all(mid <= hi):
            inside.append((t0, t1))
    if not inside:
        return None
    return a + inside[0][0] * (b - a), a + inside[-1][1] * (b - a)


def test_clip_segments_matches_a_hand_computed_clipping():
    rng = np.random.default_rng(3)
    lo, hi = np.array([-1.0, -2.0]), np.array([3.0, 1.0])
    a = rng.uniform(-6, 6, (400, 2))
    b = rng.uniform(-6, 6, (400, 2))
    start, end, visible = clip_segments(a, b, lo, hi)
    for i in range(len(a)):
        ref = hand_clip(a[i], b[i], lo, hi)
        assert visible[i] == (ref is not None), i
        if ref is not None:
            assert start[i] == pytest.approx(ref[0], abs=1e-12) and end[i] == pytest.approx(ref[1], abs=1e-12)
    # Huge and non-finite coordinates: no overflow, no NaN, the exit on the box.
    s, e, v = clip_segments(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1e308, 0.0], [np.inf, 0.0]]), lo, hi)
    assert v.tolist() == [True, False] and e[0] == pytest.approx([3.0, 0.0]) and s[0] == pytest.approx([1.0, 0.0])


def diverging_points() -> np.ndarray:
    """A path on Himmelblau's [-5, 5]² that leaves through the right side and goes to 1e150."""
    return np.array([[-1.0, -1.0], [1.0, 0.0], [4.0, 1.0], [8.0, 2.0], [1e6, 1e5], [1e150, -1e149]])


def test_a_diverged_run_is_clipped_where_it_leaves_and_never_sets_the_range(contour_view, himmelblau):
    set_problem(contour_view, himmelblau)
    pts = diverging_points()
    t = TrajectoryView("d", pts, np.full(len(pts), 1.0), color="#56B4E9", status="diverged")
    contour_view.set_frame([t], 100)
    lo, hi = contour_view.clip_box()
    assert lo == pytest.approx([-5 - 10 * CLIP_MARGIN, -5 - 10 * CLIP_MARGIN])
    drawn = contour_view.drawn_run("d")
    exit_point = hand_clip(pts[2], pts[3], lo, hi)[1]  # x = 5.5 on the segment (4, 1) -> (8, 2)
    assert exit_point == pytest.approx([5.5, 1.375])
    assert np.allclose(drawn.line, np.vstack([pts[:3], exit_point]))
    assert drawn.cross == pytest.approx(tuple(exit_point)) and drawn.head is None
    assert np.all(np.abs(drawn.line) <= 5.5 + 1e-9)
    # Auto-range (the menu's "View all", the axes' auto mode) shows the bounds, not the run.
    contour_view.view_box.autoRange(padding=0.0)
    (x0, x1), (y0, y1) = contour_view.view_box.viewRange()
    assert (x0, x1, y0, y1) == pytest.approx((-5, 5, -5, 5))
    contour_view.view_box.enableAutoRange()
    contour_view.view_box.updateAutoRange()
    (x0, x1), _ = contour_view.view_box.viewRange()
    assert abs(x1) < 10
    contour_view.view_box.disableAutoRange()
    # The runs layer's extent is the clip box, whatever the run did.
    rect = contour_view.runs_layer.boundingRect()
    assert rect.width() < 100 and contour_view.runs_layer.dataBounds(0) is None


def test_a_path_that_leaves_and_comes_back_is_drawn_in_pieces(contour_view, himmelblau):
    set_problem(contour_view, himmelblau)
    pts = np.array([[0.0, 0.0], [0.0, 9.0], [2.0, 0.0], [3.0, 0.0]])
    t = TrajectoryView("r", pts, np.zeros(4), color="#E69F00")
    contour_view.set_frame([t], 3)
    lo, hi = contour_view.clip_box()
    drawn = contour_view.drawn_run("r")
    first = hand_clip(pts[0], pts[1], lo, hi)
    second = hand_clip(pts[1], pts[2], lo, hi)
    pieces = drawn.pieces()
    assert len(pieces) == 2
    assert np.allclose(pieces[0], [pts[0], first[1]])
    assert np.allclose(pieces[1], [second[0], pts[2], pts[3]])
    assert drawn.head == pytest.approx((3.0, 0.0)) and drawn.cross is None


def test_the_cross_slides_to_the_edge_of_the_visible_area(contour_view, qtbot, himmelblau, image_array):
    from gdstudio.ui.colormaps import DIVERGED_COLOR
    from gdstudio.ui.views._pg import clip_point_to_rect

    set_problem(contour_view, himmelblau)
    pts = diverging_points()
    contour_view.set_frame([TrajectoryView("d", pts, np.ones(len(pts)), status="diverged")], 100)
    drawn = contour_view.drawn_run("d")
    visible = contour_view.view_box.viewRect()
    at = clip_point_to_rect(drawn.cross_from, drawn.cross, visible)
    assert at == pytest.approx(tuple(hand_clip(pts[2], pts[3], [-5, -5], [5, 5])[1]))  # x = 5 exactly
    qtbot.wait(10)
    shot = image_array(contour_view.plot_widget.viewport().grab().toImage())
    p = contour_view.plot_widget.mapFromScene(contour_view.view_box.mapViewToScene(
        pg_point(at[0] - 0.0, at[1])))
    want = np.array([int(DIVERGED_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    patch = shot[p.y() - 9 : p.y() + 9, p.x() - 12 : p.x() + 1, :3].reshape(-1, 3).astype(int)
    assert np.sum(np.abs(patch - want).max(axis=1) < 40) >= 5  # the red cross is painted at the edge


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_3d_paths_are_clipped_to_the_box(surface_view, himmelblau):
    set_problem(surface_view, himmelblau, 64)
    pts = diverging_points()
    loss = himmelblau.loss(np.clip(pts, -5, 5))
    t = TrajectoryView("d", pts, loss, color="#56B4E9", status="diverged")
    surface_view.set_frame([t], 100)
    surface_view.flush()
    seg = surface_view.paths.pos
    ex, ey = surface_view._extent
    assert np.all(np.abs(seg[:, 0]) <= ex + 1e-4) and np.all(np.abs(seg[:, 1]) <= ey + 1e-4)
    # The last segment ends where (4, 1) -> (8, 2) crosses x = 5 (the box's side), scene x = ex.
    exit_xy = hand_clip(pts[2], pts[3], [-5, -5], [5, 5])[1]
    assert seg[-1, :2] == pytest.approx((2 * exit_xy[0], 2 * exit_xy[1]), abs=1e-4)
    assert surface_view.crosses.pos[0][:2] == pytest.approx(seg[-1, :2], abs=1e-4)
    assert len(surface_view.heads.pos) == 0  # the head left the box


# -- incremental geometry -------------------------------------------------------------------
def test_growing_a_path_point_by_point_equals_building_it_at_once():
    rng = np.random.default_rng(5)
    pts = np.cumsum(rng.normal(0, 0.3, (3000, 2)), axis=0)
    lo, hi = np.array([-4.0, -4.0]), np.array([4.0, 4.0])
    whole, grown = ClippedPath(lo, hi), ClippedPath(lo, hi)
    whole.extend(pts)
    thin_whole, thin_grown = Thinning(np.array([0.05, 0.05])), Thinning(np.array([0.05, 0.05]))
    seg_whole, seg_grown = SegmentSet(np.array([0.05, 0.05])), SegmentSet(np.array([0.05, 0.05]))
    thin_whole.extend(whole.verts)
    seg_whole.extend(whole.verts)
    i = 0
    while i < len(pts):
        n = int(rng.integers(1, 40))
        grown.extend(pts[i : i + n])
        thin_grown.extend(grown.verts)
        seg_grown.extend(grown.verts)
        i += n
    assert np.array_equal(seg_whole.first, seg_grown.first)
    assert np.array_equal(whole.verts, grown.verts, equal_nan=True)
    assert np.array_equal(whole.count, grown.count)
    assert np.array_equal(thin_whole.keep, thin_grown.keep)
    assert np.isnan(whole.verts[:, 0]).any()  # the walk left the box and came back


def test_contour_frames_grow_incrementally_and_restart_for_a_new_run(contour_view, himmelblau, run_trajectory):
    set_problem(contour_view, himmelblau)
    full = run_trajectory(himmelblau, "adam", (-4.0, 4.5), 400, key=0, lr=0.05)
    for n in (1, 2, 50, 51, 401):
        part = TrajectoryView(0, full.points[:n], full.loss[:n], color=full.color)
        contour_view.set_frame([part], n - 1)
    drawn = contour_view.drawn_run(0)
    # From scratch at the same cell size: the same clipped path and the same segments.
    cell = np.array(contour_view._geoms[0].pixel)
    lo, hi = contour_view.clip_box()
    path = ClippedPath(lo, hi)
    path.extend(full.points)
    segs = SegmentSet(cell)
    segs.extend(path.verts)
    m = path.prefix_len(400)
    assert np.array_equal(drawn.line, path.verts[:m], equal_nan=True)
    j = segs.prefix(m)
    assert np.array_equal(drawn.segments[0::2], path.verts[j])
    assert np.array_equal(drawn.segments[1::2], path.verts[j + 1])
    assert drawn.segments[-1] == pytest.approx(full.points[400])  # ends exactly at the head
    assert len(drawn.segments) < 2 * 400  # thinned to screen pixels
    # Same key, another run (a restart): the cache notices and rebuilds.
    other = run_trajectory(himmelblau, "sgd", (4.0, -4.0), 30, key=0, lr=0.01)
    contour_view.set_frame([other], 30)
    assert contour_view.drawn_run(0).line[0] == pytest.approx(other.points[0])
    assert contour_view.drawn_run(0).line[-1] == pytest.approx(other.points[30])


def test_segments_of_a_run_circling_a_minimum_stay_bounded():
    """100,000 steps bouncing around a point: the drawn segments do not grow with the steps, and
    every distinct pixel-to-pixel segment of the path is among them (checked by brute force)."""
    t = np.arange(100_000)
    pts = 0.01 * np.column_stack([np.cos(2.1 * t), np.sin(2.1 * t)]) * (1 + 0.2 * np.sin(0.001 * t))[:, None]
    path = ClippedPath(np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    path.extend(pts)
    cell = np.array([0.002, 0.002])
    segs = SegmentSet(cell)
    segs.extend(path.verts)
    j = segs.prefix(len(path.verts))
    assert len(j) < 2_000
    cells = np.floor(path.verts / cell).astype(int)
    pairs = [tuple(sorted((tuple(a), tuple(b)))) for a, b in itertools.pairwise(cells.tolist())]
    every = {p for p in pairs if p[0] != p[1]}
    drawn = {pairs[i] for i in j if pairs[i][0] != pairs[i][1]}
    assert drawn == every


# -- 5. colour maps ---------------------------------------------------------------------------
def test_colormap_rgb_is_qt_free_and_grey_is_a_light_to_mid_ramp():
    for name in COLORMAPS:
        rgb = colormap_rgb(name, 64)
        assert rgb.shape == (64, 3) and rgb.min() >= 0 and rgb.max() <= 1
    grey = colormap_rgb("grey", 256)
    assert np.all(grey[:, 0] == grey[:, 1]) and np.all(grey[:, 1] == grey[:, 2])
    assert np.all(np.diff(grey[:, 0]) > 0) and 0.3 < grey[0, 0] < 0.6 and 0.75 < grey[-1, 0] < 0.95
    viridis = colormap_rgb("viridis", 256)
    assert viridis[0] == pytest.approx(np.array([68, 1, 84]) / 255, abs=1 / 255)
    assert viridis[-1] == pytest.approx(np.array([253, 231, 37]) / 255, abs=1 / 255)
    with pytest.raises(ValueError, match="Invalid colormap value: 'jet'"):
        colormap_rgb("jet")


def test_set_colormap_recolours_both_views(contour_view, surface_view, himmelblau):
    for view in (contour_view, surface_view):
        set_problem(view, himmelblau, 64)
        view.set_colormap("grey")
    img = contour_view.image.image
    assert np.all(img[..., 0] == img[..., 1]) and np.all(img[..., 1] == img[..., 2])
    assert set(np.unique(img[..., 0])) <= set(lookup_table(256, "grey")[:, 0])
    colors = np.asarray(surface_view.mesh._colors, float).reshape(-1, 4)
    assert np.allclose(colors[:, 0], colors[:, 1], atol=1 / 255)
    assert np.allclose(colors[:, 1], colors[:, 2], atol=1 / 255)
    contour_view.set_colormap("viridis")
    assert not np.all(contour_view.image.image[..., 0] == contour_view.image.image[..., 2])
    with pytest.raises(ValueError, match="Invalid colormap value"):
        surface_view.set_colormap("rainbow")


# -- 6. 3-D axes ------------------------------------------------------------------------------
def test_3d_view_has_axes_with_ticks_and_parameter_names(surface_view, qtbot, image_array):
    problem = make_problem("rosenbrock")
    surface = problem.grid(64)
    surface_view.set_surface(surface, problem.bounds, problem.minima, True, labels=("w", "b"))
    texts = surface_view.axis_labels()
    assert {"w", "b", "loss"} <= set(texts)
    assert "0" in texts and any(t in texts for t in ("−2", "−1.5"))
    assert all(item.visible() for item in surface_view.label_panes) and surface_view.axes.visible()
    # The label panes are in the picture (light text on dark plates): rendering with and without them differs.
    surface_view.flush()
    qtbot.wait(20)
    with_labels = image_array(surface_view.gl_view.grabFramebuffer()).astype(int)
    for item in surface_view.label_panes:
        item.hide()
    without = image_array(surface_view.gl_view.grabFramebuffer()).astype(int)
    changed = np.abs(with_labels - without).max(axis=2) > 60
    assert changed.sum() > 300


# -- 7. coalesced 3-D redraws -----------------------------------------------------------------
def test_3d_redraws_are_coalesced_and_always_catch_up(surface_view, qtbot, himmelblau, run_trajectory):
    set_problem(surface_view, himmelblau, 64)
    t = run_trajectory(himmelblau, "adam", (-4.0, 4.5), 60, key="a", lr=0.1)
    surface_view.set_frame([t], 0)
    surface_view.flush()
    for step in range(1, 41):
        surface_view.set_frame([t], step)
    assert surface_view.pending  # not redrawn at every call
    qtbot.waitUntil(lambda: not surface_view.pending, timeout=2000)  # the timer catches up alone
    assert surface_view.heads.pos[0] == pytest.approx(surface_view.head_positions()["a"])
    surface_view.set_position(17)
    surface_view.flush()
    assert not surface_view.pending
    assert surface_view.heads.pos[0] == pytest.approx(surface_view.to_scene(
        t.points[17:18, 0], t.points[17:18, 1], t.loss[17:18], lift=0.12)[0])
