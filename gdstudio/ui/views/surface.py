"""The 3-D view: the loss as a shaded, colour-mapped OpenGL surface with the runs walking on it.

The scene lives in a normalized box: the longer parameter axis spans ``±BOX`` (the shorter at
least half of that, so a 20 × 1 range is still a surface, not a ribbon) and the height is
``HEIGHT · unit(loss)`` with ``unit`` a :class:`HeightScale` fitted to the surface (linear, or
log10(z − zmin + δ) with the log flag; clipped at the 99 % quantile so Rosenbrock's corners do
not squash its valley flat). The colours are exactly the contour view's. Under the surface lies a
floor carrying a dim heat map, the contour lines, and each run's shadow.

Paths are clipped to the box (the problem bounds in x, y; heights lie in [0, HEIGHT] like the
mesh's): a diverged run is drawn up to where it leaves the box, with the ✕ there. The runs'
geometry is cached per run and grows with it (a frame costs O(new points + drawn vertices)),
and the GL items are updated at most every :data:`REDRAW_MS` (coalesced by a single-shot
timer; :meth:`SurfaceView.flush` forces it, and ``render`` / ``grab`` of the view flush first).
Axis lines, ticks and labels run along the floor's front edges and a vertical edge.

Everything static is computed once per :meth:`SurfaceView.set_surface`: the mesh (at most
``MESH_MAX``² vertices) with its lighting baked into the vertex colours, and the floor texture
with the contour lines painted in. A frame uploads two line sets (all runs on the surface, all
shadows) and the head markers. Mouse: drag to orbit, wheel to zoom, ctrl/middle-drag to pan
(GLViewWidget's defaults); :meth:`reset_camera` restores the default view.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QVector3D
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from gdstudio.ui.colormaps import DIVERGED_COLOR, SURFACE_MAP, check_colormap, hex_to_rgba, lookup_table
from gdstudio.ui.qimage import qimage_array
from gdstudio.ui.views._paths import ClippedPath, SegmentSet
from gdstudio.ui.views.protocol import DeferredFrames, DisplayOptions, FrameMixin, GradientFn
from gdstudio.ui.views.types import HeightScale, TrajectoryView, contour_path, shown_index

if TYPE_CHECKING:
    from gdstudio.engine.problems import Problem

__all__ = ["BOX", "HEIGHT", "MESH_MAX", "ONE_D_MESSAGE", "SurfaceView", "shade"]

BOX = 10.0
HEIGHT = 8.0
MESH_MAX = 128
FLOOR = -0.25 * HEIGHT
LIFT = 0.015 * HEIGHT
FLOOR_TEXTURE = 768
#: Long paths are thinned to one point per PATH_CELL³ scene cell (the box is 2·BOX wide).
PATH_CELL = 0.02
#: The runs are redrawn at most every REDRAW_MS (or 3× the last paint, up to REDRAW_MAX_MS):
#: a fast clock does not make the 3-D view repaint at the tick rate. The first change after a
#: quiet spell (a seek, a single step, a pause) is drawn at the next pass of the event loop.
REDRAW_MS = 40.0
REDRAW_MAX_MS = 120.0
BACKGROUND = "#15171c"
_MINIMUM = (1.0, 1.0, 1.0, 0.9)
_RIM = (0.05, 0.05, 0.05, 1.0)
ONE_D_MESSAGE = "The 3-D view applies to two-parameter problems"

#: Direction of the (fixed, world-space) light: from the upper left of the default camera.
LIGHT = np.array([-0.13, -0.63, 0.77]) / np.linalg.norm([-0.13, -0.63, 0.77])


def shade(colors: np.ndarray, heights: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Colours (ny, nx, 4) uint8 lit by :data:`LIGHT` over the height field ``heights`` (ny, nx).

    Lighting is baked into the vertex colours once per surface (ambient 0.45 + diffuse 0.65 ·
    max(n·L, 0), n the normal of the height field with grid spacings dx, dy): the mesh then
    draws with the plain colour program, which llvmpipe runs ~2x faster than a lit shader.
    """
    gy, gx = np.gradient(heights.astype(np.float64), dy, dx)
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    diffuse = np.maximum((-gx * LIGHT[0] - gy * LIGHT[1] + LIGHT[2]) / norm, 0.0)
    factor = 0.45 + 0.65 * diffuse
    out = colors.copy()
    out[..., :3] = np.clip(colors[..., :3] * factor[..., None], 0, 255).astype(np.uint8)
    return out


def _on_top() -> dict:
    """GL state for markers: depth test off (visible behind hills), alpha blending on.

    The destination alpha stays 1 (separate alpha factors ONE, ONE_MINUS_SRC_ALPHA): with the
    plain SRC_ALPHA blend, translucent edges left alpha < 1 in the framebuffer, which
    ``QWidget.grab()`` composites over garbage (stray red / green dots in exported frames).
    """
    from OpenGL import GL

    return {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True, GL.GL_CULL_FACE: False,
            "glBlendFuncSeparate": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)}


def _points(size: float) -> gl.GLScatterPlotItem:
    item = gl.GLScatterPlotItem(pos=np.zeros((0, 3), np.float32), color=np.zeros((0, 4), np.float32),
                                size=np.zeros(0, np.float32), pxMode=True, glOptions=_on_top())
    item.setDepthValue(10)  # after the opaque scene
    item.point_size = size
    return item


def _set_points(item: gl.GLScatterPlotItem, pos: list | np.ndarray, color: Sequence | np.ndarray) -> None:
    """Points with per-point colour and size arrays."""
    p = np.asarray(pos, np.float32).reshape(-1, 3)
    c = np.asarray(color, np.float32)
    c = np.broadcast_to(c, (len(p), 4)) if c.ndim == 1 else c.reshape(-1, 4)
    item.setData(pos=p, color=np.ascontiguousarray(c), size=np.full(len(p), item.point_size, np.float32))


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About ``n`` round tick values (1, 2, 5 × 10^k steps) within [lo, hi]."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return np.array([lo]) if math.isfinite(lo) else np.empty(0)
    raw = span / max(1, n - 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-6, step)
    ticks[np.abs(ticks) < step * 1e-9] = 0.0
    return ticks


def tick_text(v: float) -> str:
    return f"{v:.3g}".replace("-", "−")


class _GLView(gl.GLViewWidget):
    """GLViewWidget that times its paints (the owner's redraw interval adapts to them). The
    pending frame is applied by the owner's timer, ``flush``, ``render`` and ``grab`` — never
    inside ``paintGL`` (changing the items there crashed Qt later, in a QOpenGLWidget paint)."""

    paint_ms = 0.0
    renders = 0  # paintGL calls (diagnostics, tests)

    def paintGL(self) -> None:
        t = time.perf_counter()
        super().paintGL()
        self.paint_ms = (time.perf_counter() - t) * 1e3
        self.renders += 1


#: Texture pixels per scene unit of the axis-label panes.
LABEL_PX = 40


def text_pane(width: float, height: float, texts: list[tuple[float, float, str, str, bool]]) -> np.ndarray:
    """An RGBA texture (GLImageItem layout [ix, iy, 4]) of ``width`` × ``height`` scene units
    with each text (x, y in scene units from the pane's corner, text, align "left" / "right" /
    "center", bold) on a dark rounded plate, readable on light and dark backgrounds; the rest
    is transparent. Texture row i is scene +y (the text's up points along +y)."""
    w, h = max(2, round(width * LABEL_PX)), max(2, round(height * LABEL_PX))
    image = QImage(w, h, QImage.Format.Format_RGBA8888)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    for x, y, text, align, bold in texts:
        font = QFont()
        font.setPixelSize(28 if bold else 22)
        font.setBold(bold)
        fm = QFontMetricsF(font)
        tw, th = fm.horizontalAdvance(text), fm.height()
        px = x * LABEL_PX - (tw + 8 if align == "right" else 0 if align == "left" else tw / 2)
        py = y * LABEL_PX
        painter.save()
        painter.translate(px, py)
        painter.scale(1, -1)  # texture rows grow along +y: the text's up must point along +y
        box = QRectF(-4, -th / 2 - 2, tw + 8, th + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(12, 13, 16, 190))
        painter.drawRoundedRect(box, 4, 4)
        painter.setFont(font)
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
    painter.end()
    return np.ascontiguousarray(qimage_array(image, copy=False).transpose(1, 0, 2))


class _Geometry3D:
    """One run's path for the 3-D view: clipped to the box in (x, y, height) and thinned to
    :data:`PATH_CELL` scene cells, both incremental (see ``_paths``)."""

    def __init__(self, view: SurfaceView) -> None:
        (x0, x1), (y0, y1) = view._bounds
        self.clip = ClippedPath(np.array([x0, y0, -LIFT]), np.array([x1, y1, HEIGHT + 2 * LIFT]))
        _, sx, _, sy = view._map
        self.thin = SegmentSet(np.array([PATH_CELL / sx, PATH_CELL / sy, PATH_CELL]))
        self.n = 0
        self._checks: list[tuple[int, np.ndarray]] = []

    def matches(self, t: TrajectoryView) -> bool:
        if t.points.shape[0] < self.n:
            return False
        return all(np.array_equal(t.points[i], p, equal_nan=True) for i, p in self._checks)

    def extend(self, t: TrajectoryView, heights) -> None:
        n = t.points.shape[0]
        if n <= self.n:
            return
        a = self.n
        pts = np.column_stack([t.points[a:n, 0], t.points[a:n, 1], heights(t.loss[a:n])])
        self.clip.extend(pts)
        self.thin.extend(self.clip.verts)
        self.n = n
        self._checks = [(i, t.points[i].copy()) for i in sorted({0, n // 2, n - 1})]

    def segments(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of rows (x, y, height) of the segments to draw for the path up to point k (the
        distinct cell-to-cell ones, the last one always), and the last vertex (empty if none)."""
        m = self.clip.prefix_len(k)
        verts = self.clip.verts
        j = self.thin.prefix(m)
        pairs = np.empty((2 * len(j), 3))
        pairs[0::2] = verts[j]
        pairs[1::2] = verts[j + 1]
        return pairs, verts[m - 1 : m]



class SurfaceView(DeferredFrames, FrameMixin, QWidget):
    """OpenGL surface of the loss with the runs drawn on it and their shadows on the floor.

    A :class:`~gdstudio.ui.views.protocol.View` like the contour view: :meth:`set_surface`,
    :meth:`set_trajectories`, :meth:`set_position` (and :meth:`set_frame` for both at once);
    frames are applied at the next redraw (:class:`~gdstudio.ui.views.protocol.DeferredFrames`).
    For a one-parameter problem it shows :data:`ONE_D_MESSAGE` instead.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gl_view = _GLView()  # no reference back to self: a cycle would leave the GL widget to the GC
        self.gl_view.setBackgroundColor(BACKGROUND)
        self.message = QLabel(ONE_D_MESSAGE)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"background: {BACKGROUND}; color: #c8c8c8; font-size: 13pt;")
        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.addWidget(self.gl_view)
        self._stack.addWidget(self.message)

        self.mesh = gl.GLSurfacePlotItem(computeNormals=False, glOptions="opaque")
        self.floor = gl.GLImageItem(np.zeros((2, 2, 4), np.uint8), smooth=True, glOptions="opaque")
        # All runs in one segment list each (one draw call): on the surface, and on the floor.
        self.paths = gl.GLLinePlotItem(mode="lines", width=2.5, antialias=True, glOptions=_on_top())
        self.paths.setDepthValue(5)
        self.shadows = gl.GLLinePlotItem(mode="lines", width=1.5, antialias=False, glOptions="translucent")
        self.minima = _points(9)
        self.starts = _points(9)
        self.head_rims = _points(17)
        self.heads = _points(13)
        self.crosses = _points(17)
        # Axes: lines and ticks along the floor's front edges and a vertical edge, with labels.
        self.axes = gl.GLLinePlotItem(mode="lines", width=1.5, antialias=True, glOptions=_on_top())
        self.axes.setDepthValue(4)
        # Label panes (textures, so they show in every grab and render): x along the front edge,
        # y along the right edge (both on the floor), loss on a vertical pane at the back left.
        self.label_panes = [gl.GLImageItem(np.zeros((2, 2, 4), np.uint8), smooth=True, glOptions=_on_top())
                            for _ in range(3)]
        for item in self.label_panes:
            item.setDepthValue(4)
        self._label_entries: list[str] = []
        for item in (self.floor, self.mesh, self.shadows, self.paths, self.minima, self.starts, self.head_rims,
                     self.heads, self.crosses, self.axes, *self.label_panes):
            self.gl_view.addItem(item)
        for item in (self.mesh, self.floor, self.paths, self.shadows, self.axes, *self.label_panes):
            item.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._pending = False
        self._last_apply = 0.0
        self._geoms: dict[Hashable, _Geometry3D] = {}
        self._cmap = SURFACE_MAP
        self._labels_names: tuple[str, str] = ("x", "y")
        self._surface_args: tuple | None = None
        self._bounds: tuple[tuple[float, float], ...] = ((-1.0, 1.0), (-1.0, 1.0))

        self._trajs: list[TrajectoryView] = []
        self._rgba: dict[str, tuple[float, float, float, float]] = {}
        self._step = 0
        self._dim = 2
        self._scale: HeightScale | None = None
        self._map: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)  # cx, sx, cy, sy
        self._extent = (BOX, BOX)
        self._minima_pos = np.zeros((0, 3), np.float32)
        self.reset_camera()

    def render(self, *args, **kwargs) -> None:
        """QWidget.render with the pending frame applied first (exports call it after set_frame)."""
        self.flush()
        super().render(*args, **kwargs)

    def grab(self, *args, **kwargs):
        """QWidget.grab with the pending frame applied first."""
        self.flush()
        return super().grab(*args, **kwargs)

    def hideEvent(self, event) -> None:
        self._timer.stop()  # a hidden view draws nothing; the next paint applies what is pending
        super().hideEvent(event)

    # -- geometry ------------------------------------------------------------------------
    def _fit_box(self, bounds: tuple[tuple[float, float], ...]) -> None:
        (x0, x1), (y0, y1) = bounds
        wx, wy = x1 - x0, y1 - y0
        longer = max(wx, wy)
        ex = BOX * max(wx / longer, 0.5)
        ey = BOX * max(wy / longer, 0.5)
        self._map = ((x0 + x1) / 2, 2 * ex / wx, (y0 + y1) / 2, 2 * ey / wy)
        self._extent = (ex, ey)

    def to_scene(self, x: np.ndarray, y: np.ndarray, loss: np.ndarray, lift: float = 0.0) -> np.ndarray:
        """(n, 3) float32 scene coordinates of parameter points and their losses.

        x, y are clipped to twice the box, the height to [0, HEIGHT] (+ ``lift``); a non-finite
        loss sits at the top.
        """
        cx, sx, cy, sy = self._map
        ex, ey = self._extent
        out = np.empty((len(x), 3), dtype=np.float32)
        out[:, 0] = np.clip((np.asarray(x, float) - cx) * sx, -2 * ex, 2 * ex)
        out[:, 1] = np.clip((np.asarray(y, float) - cy) * sy, -2 * ey, 2 * ey)
        unit = self._scale.unit(loss) if self._scale is not None else np.zeros(len(out))
        out[:, 2] = HEIGHT * np.nan_to_num(unit, nan=1.0) + lift
        return out

    # -- surface -------------------------------------------------------------------------
    def set_surface(self, surface, problem_bounds: Sequence[Sequence[float]], minima: np.ndarray | None = None,
                    log_scale: bool = False, *, labels: Sequence[str] | None = None,
                    gradient_fn: GradientFn | None = None) -> None:
        """Show a new surface (``gdstudio.engine.problems.Surface``); see the module docstring.

        ``labels``: the parameter names for the axes. ``gradient_fn`` is not drawn here.
        """
        self._dim = 1 if surface.ys is None else 2
        self._geoms.clear()
        if labels is not None and len(labels) >= 2:
            self._labels_names = (str(labels[0]), str(labels[1]))
        self._surface_args = (surface, problem_bounds, minima, log_scale)
        if self._dim == 1:
            self._scale = None
            self._stack.setCurrentWidget(self.message)
            return
        bounds = tuple((float(lo), float(hi)) for lo, hi in problem_bounds)
        if len(bounds) != 2:
            raise ValueError(f"Invalid problem_bounds value: {problem_bounds!r} (need 2 (lo, hi) pairs)")
        self._stack.setCurrentWidget(self.gl_view)
        self._bounds = bounds
        self._fit_box(bounds)
        z = np.asarray(surface.z, dtype=np.float64)
        xs, ys = np.asarray(surface.xs, float), np.asarray(surface.ys, float)
        # Colours: the contour view's scale. Heights: in log mode a softer δ (10⁻² of the range),
        # so minima are wells rather than needles; both are monotone in the loss.
        colour_scale = HeightScale.fit(z, log_scale)
        self._scale = HeightScale.fit(z, log_scale, delta_rel=1e-2) if log_scale else colour_scale
        unit = np.nan_to_num(self._scale.unit(z), nan=1.0)
        table = lookup_table(256, self._cmap)
        colors = table[np.rint(np.nan_to_num(colour_scale.unit(z), nan=1.0) * 255).astype(np.intp)]

        # Mesh: at most MESH_MAX² vertices (endpoints kept). GLSurfacePlotItem wants z[ix, iy].
        iy = np.unique(np.linspace(0, len(ys) - 1, min(len(ys), MESH_MAX)).round().astype(int))
        ix = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), MESH_MAX)).round().astype(int))
        cx, sx, cy, sy = self._map
        mx = ((xs[ix] - cx) * sx).astype(np.float32)
        my = ((ys[iy] - cy) * sy).astype(np.float32)
        heights = HEIGHT * unit[np.ix_(iy, ix)]
        lit = shade(colors[np.ix_(iy, ix)], heights, float(mx[1] - mx[0]), float(my[1] - my[0]))
        self.mesh.setData(x=mx, y=my, z=heights.T.astype(np.float32),
                          colors=np.ascontiguousarray(lit.transpose(1, 0, 2).reshape(-1, 4)))
        self.mesh.show()

        ex, ey = self._extent
        self.floor.setData(self._floor_texture(xs, ys, z, colors, colour_scale, self._cmap))
        self.floor.resetTransform()
        self.floor.scale(2 * ex / FLOOR_TEXTURE, 2 * ey / FLOOR_TEXTURE, 1)
        self.floor.translate(-ex, -ey, FLOOR)
        self.floor.show()

        if minima is not None and len(minima):
            m = np.asarray(minima, dtype=np.float64).reshape(-1, 2)
            jx = np.clip(np.searchsorted(xs, m[:, 0]), 0, len(xs) - 1)
            jy = np.clip(np.searchsorted(ys, m[:, 1]), 0, len(ys) - 1)
            self._minima_pos = self.to_scene(m[:, 0], m[:, 1], z[jy, jx], lift=LIFT)
        else:
            self._minima_pos = np.zeros((0, 3), np.float32)
        self._set_axes(bounds, self._scale)
        self._pending = True
        self.flush()

    @staticmethod
    def _floor_texture(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, colors: np.ndarray,
                       scale: HeightScale, cmap: str = SURFACE_MAP) -> np.ndarray:
        """The floor as an RGBA texture (GLImageItem layout: [ix, iy, 4]): a dim heat map with
        the contour lines (coloured by level) painted over it, once per surface."""
        n = FLOOR_TEXTURE
        dim = (colors[..., :3].astype(np.float32) * 0.12 + np.array([14.0, 15.0, 19.0])).astype(np.uint8)
        base = np.ascontiguousarray(np.dstack([dim, np.full(dim.shape[:2], 255, np.uint8)]))
        src = QImage(base.data, base.shape[1], base.shape[0], base.strides[0], QImage.Format.Format_RGBA8888)
        image = QImage(n, n, QImage.Format.Format_RGBA8888)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(0, 0, n, n), src)  # row r of the image holds ys[r]
        px, py, level = contour_path(xs, ys, z, scale)
        if px.size:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            u = (px - xs[0]) / (xs[-1] - xs[0]) * n
            v = (py - ys[0]) / (ys[-1] - ys[0]) * n
            unit = (level - scale.lo) / (scale.hi - scale.lo)
            table = lookup_table(256, cmap)
            for value in np.unique(unit[np.isfinite(unit)]):
                sel = (unit == value) | ~np.isfinite(unit)
                r, g, b, _ = table[int(np.clip(round(value * 255), 0, 255))]
                pen = QPen(QColor(int(r), int(g), int(b), 235), 1.0)
                pen.setCosmetic(True)  # the raster engine's fast thin-line stroker (10x a 1.6 px pen)
                painter.setPen(pen)
                painter.drawPath(pg.arrayToQPath(u[sel], v[sel], connect="finite"))
        painter.end()
        return np.ascontiguousarray(qimage_array(image, copy=False).transpose(1, 0, 2))

    def reset_camera(self) -> None:
        """The default view: from the front-left, 30° above the floor, the whole box in sight."""
        self.gl_view.opts["fov"] = 40.0
        self.gl_view.setCameraPosition(pos=QVector3D(0.0, 0.0, 0.1 * HEIGHT), distance=4.5 * BOX,
                                       elevation=30.0, azimuth=-62.0)

    # -- colours and axes -----------------------------------------------------------------
    def set_colormap(self, name: str) -> None:
        """Colour the mesh and the floor with the colour map ``name`` ("viridis", the default, or
        "grey"; see ``gdstudio.ui.colormaps.COLORMAPS``); ValueError for an unknown name."""
        name = check_colormap(name)
        if name == self._cmap:
            return
        self._cmap = name
        if self._surface_args is not None and self._dim == 2:
            self.set_surface(*self._surface_args)

    @property
    def colormap_name(self) -> str:
        return self._cmap

    def _set_axes(self, bounds: tuple[tuple[float, float], ...], scale: HeightScale) -> None:
        """Axis lines with ticks along the floor's front edge (x, at y = lo), its right edge (y,
        at x = hi) and the back-left vertical edge (loss), and texture panes with the tick values
        and the parameter names next to them."""
        (x0, x1), (y0, y1) = bounds
        ex, ey = self._extent
        cx, sx, cy, sy = self._map
        z0 = FLOOR
        tick = 0.025 * BOX
        segs: list[tuple[float, float, float]] = []
        segs += [(-ex, -ey, z0), (ex, -ey, z0), (ex, -ey, z0), (ex, ey, z0), (-ex, ey, 0.0), (-ex, ey, HEIGHT)]
        band, margin, loss_w = 3.2, 1.2, 5.0
        front: list[tuple[float, float, str, str, bool]] = []
        right: list[tuple[float, float, str, str, bool]] = []
        loss: list[tuple[float, float, str, str, bool]] = []
        for v in nice_ticks(x0, x1):
            X = (v - cx) * sx
            segs += [(X, -ey, z0), (X, -ey - tick, z0)]
            front.append((X + ex + margin, band - 0.9, tick_text(v), "center", False))
        for v in nice_ticks(y0, y1):
            Y = (v - cy) * sy
            segs += [(ex, Y, z0), (ex + tick, Y, z0)]
            right.append((0.45, Y + ey + margin, tick_text(v), "left", False))
        for u in np.linspace(0.0, 1.0, 5):
            Z = HEIGHT * u
            segs += [(-ex, ey, Z), (-ex - tick, ey, Z)]
            loss.append((loss_w - 0.35, Z + 0.2, tick_text(self.loss_at_unit(scale, u)), "right", False))
        names = self._labels_names
        front.append((ex + margin, 0.6, names[0], "center", True))
        right.append((band + 0.6, ey + margin, names[1], "center", True))
        loss.append((loss_w - 0.35, HEIGHT + 1.1, "loss", "right", True))
        self.axes.setData(pos=np.array(segs, np.float32), color=(0.85, 0.85, 0.85, 0.8))
        self.axes.show()
        panes = (
            (front, 2 * ex + 2 * margin, band, (-ex - margin, -ey - band, z0), False),
            (right, band + 3.6, 2 * ey + 2 * margin, (ex, -ey - margin, z0), False),  # room for "PC2 12%"
            (loss, loss_w, HEIGHT + 1.8, (-ex - loss_w, ey, -0.2), True),
        )
        for item, (texts, w, h, (tx, ty, tz), upright) in zip(self.label_panes, panes, strict=True):
            data = text_pane(w, h, texts)
            item.setData(data)
            item.resetTransform()
            item.scale(w / data.shape[0], h / data.shape[1], 1)
            if upright:
                item.rotate(90, 1, 0, 0)  # the pane's +y becomes +z
            item.translate(tx, ty, tz)
            item.show()
        self._label_entries = [t[2] for t in (*front, *right, *loss)]

    @staticmethod
    def loss_at_unit(scale: HeightScale, u: float) -> float:
        """The loss drawn at height ``HEIGHT · u`` (the inverse of ``scale.unit``)."""
        s = scale.lo + u * (scale.hi - scale.lo)
        return s if not scale.log else scale.zmin + 10.0**s - scale.delta

    def axis_labels(self) -> list[str]:
        """The texts along the axes (ticks and names), for tests."""
        return list(self._label_entries)

    # -- the View calls ------------------------------------------------------------------
    def set_problem(self, problem: Problem) -> None:
        """Nothing to do before the surface arrives."""

    def set_options(self, options: DisplayOptions) -> None:
        """The colour map of the mesh and the floor (no overlays in 3-D)."""
        self.set_colormap(options.colormap)

    # -- runs ----------------------------------------------------------------------------
    def _show_position(self) -> None:
        self._schedule()  # drawn at the next redraw, see flush

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs to draw and the step to show them at (drawn at the next redraw, see flush)."""
        self._trajs = list(trajectories)
        self._step = max(0, int(step))
        self._schedule()

    def redraw_interval_ms(self) -> float:
        """Least time between two redraws of the runs: REDRAW_MS, or 3× the last paint when that
        is slower (at most REDRAW_MAX_MS)."""
        return min(REDRAW_MAX_MS, max(REDRAW_MS, 3.0 * self.gl_view.paint_ms))

    def _schedule(self) -> None:
        self._pending = True
        if self.on_pending is not None:  # shown through a mirror: it applies the frame when it grabs
            self.on_pending()
            return
        if self._timer.isActive():
            return
        since = (time.perf_counter() - self._last_apply) * 1e3
        self._timer.start(int(max(0.0, self.redraw_interval_ms() - since)))

    @property
    def pending(self) -> bool:
        """A frame is waiting for the next redraw."""
        return self._pending

    def flush(self) -> None:
        """Apply the pending frame to the GL items now and request a paint (exports and tests
        call it after set_frame; any paint applies it too)."""
        self._timer.stop()
        if self._pending:
            self._apply_pending()
            self.gl_view.update()

    def _color(self, name: str) -> tuple[float, float, float, float]:
        rgba = self._rgba.get(name)
        if rgba is None:
            rgba = self._rgba[name] = hex_to_rgba(name)
        return rgba

    def _heights(self, loss: np.ndarray) -> np.ndarray:
        unit = self._scale.unit(loss) if self._scale is not None else np.zeros(len(loss))
        return HEIGHT * np.nan_to_num(unit, nan=1.0) + LIFT

    def _geometry(self, t: TrajectoryView) -> _Geometry3D:
        g = self._geoms.get(t.key)
        if g is None or not g.matches(t):
            g = self._geoms[t.key] = _Geometry3D(self)
        g.extend(t, self._heights)
        return g

    def _scene(self, xyz: np.ndarray) -> np.ndarray:
        """Scene coordinates (float32) of (x, y, height) rows (NaN rows stay NaN)."""
        cx, sx, cy, sy = self._map
        out = np.empty((len(xyz), 3), np.float32)
        out[:, 0] = (xyz[:, 0] - cx) * sx
        out[:, 1] = (xyz[:, 1] - cy) * sy
        out[:, 2] = xyz[:, 2]
        return out

    def head_positions(self) -> dict[Hashable, np.ndarray]:
        """Scene position of each visible run's head (for tests and exports)."""
        out: dict[Hashable, np.ndarray] = {}
        if self._scale is None:
            return out
        for t in self._trajs:
            if t.visible and t.dim == 2:
                k = shown_index(t, self._step)
                out[t.key] = self.to_scene(t.points[k : k + 1, 0], t.points[k : k + 1, 1], t.loss[k : k + 1],
                                           lift=LIFT)[0]
        return out

    def _apply_pending(self) -> None:
        if not self._pending:
            return
        self._pending = False
        self._last_apply = time.perf_counter()
        self._refresh()

    def _refresh(self) -> None:
        if self._dim != 2 or self._scale is None:
            return
        segs, shadow_segs, seg_colors = [], [], []
        heads, head_colors, starts, start_colors, crosses = [], [], [], [], []
        seen = set()
        for t in self._trajs:
            if not t.visible or t.dim != 2:
                continue
            seen.add(t.key)
            k = shown_index(t, self._step)
            g = self._geometry(t)
            rgba = self._color(t.color)
            pair, last = g.segments(k)
            ok = ~np.isnan(pair[:, 0]).reshape(-1, 2).any(axis=1)
            pair = pair.reshape(-1, 2, 3)[ok].reshape(-1, 3)
            m = len(pair) // 2
            if m:
                on = self._scene(pair)
                floor = on.copy()
                floor[:, 2] = FLOOR + 0.02
                segs.append(on)
                shadow_segs.append(floor)
                seg_colors.append(np.broadcast_to(np.array(rgba, np.float32), (2 * m, 4)))
            clip = g.clip
            inside_k = k < clip.n and clip.point_inside(np.array([*t.points[k], self._heights(t.loss[k : k + 1])[0]]))
            if inside_k:
                heads.append(self._scene(np.array([[*t.points[k], self._heights(t.loss[k : k + 1])[0]]]))[0])
                head_colors.append(rgba)
            if clip.n and clip.point_inside(np.array([*t.points[0], self._heights(t.loss[:1])[0]])):
                starts.append(self._scene(np.array([[*t.points[0], self._heights(t.loss[:1])[0]]]))[0])
                start_colors.append(rgba)
            if t.status == "diverged" and k == t.last_index:
                if inside_k:
                    crosses.append(heads[-1])
                elif len(last) and np.isfinite(last).all():  # where the path left the box
                    crosses.append(self._scene(last)[0])
        for key in [key for key in self._geoms if key not in seen]:
            del self._geoms[key]
        if segs:
            colors = np.concatenate(seg_colors)
            self.paths.setData(pos=np.concatenate(segs), color=colors)
            shadow_colors = colors.copy()
            shadow_colors[:, 3] = 0.8
            self.shadows.setData(pos=np.concatenate(shadow_segs), color=shadow_colors)
        self.paths.setVisible(bool(segs))
        self.shadows.setVisible(bool(segs))
        _set_points(self.heads, heads, np.array(head_colors, np.float32).reshape(-1, 4))
        _set_points(self.head_rims, heads, _RIM)
        _set_points(self.starts, starts, np.array(start_colors, np.float32).reshape(-1, 4))
        _set_points(self.crosses, crosses, hex_to_rgba(DIVERGED_COLOR))
        _set_points(self.minima, self._minima_pos, _MINIMUM)
