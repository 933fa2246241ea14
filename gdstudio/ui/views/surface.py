"""The 3-D view: the loss as a shaded, colour-mapped OpenGL surface with the runs walking on it.

The scene lives in a normalized box: the longer parameter axis spans ``±BOX`` (the shorter at
least half of that, so a 20 × 1 range is still a surface, not a ribbon) and the height is
``HEIGHT · unit(loss)`` with ``unit`` a :class:`HeightScale` fitted to the surface (linear, or
log10(z − zmin + δ) with the log flag; clipped at the 99 % quantile so Rosenbrock's corners do
not squash its valley flat). The colours are exactly the contour view's. Under the surface lies a
floor carrying a dim heat map, the contour lines, and each run's shadow.

Everything static is computed once per :meth:`SurfaceView.set_surface`: the mesh (at most
``MESH_MAX``² vertices) with its lighting baked into the vertex colours, and the floor texture
with the contour lines painted in. A frame uploads two line sets (all runs on the surface, all
shadows) and the head markers. Mouse: drag to orbit, wheel to zoom, ctrl/middle-drag to pan
(GLViewWidget's defaults); :meth:`reset_camera` restores the default view.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QVector3D
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from gdstudio.ui.colormaps import DIVERGED_COLOR, hex_to_rgba, lookup_table
from gdstudio.ui.views._pg import path_keep
from gdstudio.ui.views.types import HeightScale, TrajectoryView, contour_path, shown_index

__all__ = ["BOX", "HEIGHT", "MESH_MAX", "ONE_D_MESSAGE", "SurfaceView", "shade"]

BOX = 10.0
HEIGHT = 8.0
MESH_MAX = 128
FLOOR = -0.25 * HEIGHT
LIFT = 0.015 * HEIGHT
FLOOR_TEXTURE = 768
#: Long paths are thinned to one point per PATH_CELL³ scene cell (the box is 2·BOX wide).
PATH_CELL = 0.02
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


class SurfaceView(QWidget):
    """OpenGL surface of the loss with the runs drawn on it and their shadows on the floor.

    Same driving methods as the contour view: :meth:`set_surface`, :meth:`set_trajectories`,
    :meth:`set_position` (and :meth:`set_frame` for both at once). For a one-parameter problem
    it shows :data:`ONE_D_MESSAGE` instead.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gl_view = gl.GLViewWidget()
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
        for item in (self.floor, self.mesh, self.shadows, self.paths, self.minima, self.starts, self.head_rims,
                     self.heads, self.crosses):
            self.gl_view.addItem(item)
        for item in (self.mesh, self.floor, self.paths, self.shadows):
            item.hide()

        self._trajs: list[TrajectoryView] = []
        self._pos3: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}
        self._rgba: dict[str, tuple[float, float, float, float]] = {}
        self._step = 0
        self._dim = 2
        self._scale: HeightScale | None = None
        self._map: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)  # cx, sx, cy, sy
        self._extent = (BOX, BOX)
        self._minima_pos = np.zeros((0, 3), np.float32)
        self.reset_camera()

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
                    log_scale: bool = False, **_ignored) -> None:
        """Show a new surface (``gdstudio.engine.problems.Surface``); see the module docstring.

        Keywords only the contour view uses (labels, gradient_fn) are accepted and ignored.
        """
        self._dim = 1 if surface.ys is None else 2
        self._pos3.clear()
        if self._dim == 1:
            self._scale = None
            self._stack.setCurrentWidget(self.message)
            return
        bounds = tuple((float(lo), float(hi)) for lo, hi in problem_bounds)
        if len(bounds) != 2:
            raise ValueError(f"Invalid problem_bounds value: {problem_bounds!r} (need 2 (lo, hi) pairs)")
        self._stack.setCurrentWidget(self.gl_view)
        self._fit_box(bounds)
        z = np.asarray(surface.z, dtype=np.float64)
        xs, ys = np.asarray(surface.xs, float), np.asarray(surface.ys, float)
        # Colours: the contour view's scale. Heights: in log mode a softer δ (10⁻² of the range),
        # so minima are wells rather than needles; both are monotone in the loss.
        colour_scale = HeightScale.fit(z, log_scale)
        self._scale = HeightScale.fit(z, log_scale, delta_rel=1e-2) if log_scale else colour_scale
        unit = np.nan_to_num(self._scale.unit(z), nan=1.0)
        colors = lookup_table()[np.rint(np.nan_to_num(colour_scale.unit(z), nan=1.0) * 255).astype(np.intp)]

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
        self.floor.setData(self._floor_texture(xs, ys, z, colors, colour_scale))
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
        self._refresh()

    @staticmethod
    def _floor_texture(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, colors: np.ndarray,
                       scale: HeightScale) -> np.ndarray:
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
            table = lookup_table()
            for value in np.unique(unit[np.isfinite(unit)]):
                sel = (unit == value) | ~np.isfinite(unit)
                r, g, b, _ = table[int(np.clip(round(value * 255), 0, 255))]
                pen = QPen(QColor(int(r), int(g), int(b), 235), 1.0)
                pen.setCosmetic(True)  # the raster engine's fast thin-line stroker (10x a 1.6 px pen)
                painter.setPen(pen)
                painter.drawPath(pg.arrayToQPath(u[sel], v[sel], connect="finite"))
        painter.end()
        ptr = image.constBits()
        arr = np.frombuffer(ptr, np.uint8, count=image.sizeInBytes()).reshape(n, image.bytesPerLine())
        arr = arr[:, : 4 * n].reshape(n, n, 4)
        return np.ascontiguousarray(arr.transpose(1, 0, 2))

    def reset_camera(self) -> None:
        """The default view: from the front-left, 30° above the floor, the whole box in sight."""
        self.gl_view.opts["fov"] = 40.0
        self.gl_view.setCameraPosition(pos=QVector3D(0.0, 0.0, 0.1 * HEIGHT), distance=4.5 * BOX,
                                       elevation=30.0, azimuth=-62.0)

    # -- runs ----------------------------------------------------------------------------
    def set_trajectories(self, trajectories: Sequence[TrajectoryView]) -> None:
        """The runs to draw."""
        self.set_frame(trajectories, self._step)

    def set_position(self, step: int) -> None:
        """Show every run up to min(step, its last index)."""
        self._step = max(0, int(step))
        self._refresh()

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs to draw and the step to show them at, with one update."""
        self._trajs = list(trajectories)
        self._pos3.clear()
        self._step = max(0, int(step))
        self._refresh()

    def _color(self, name: str) -> tuple[float, float, float, float]:
        rgba = self._rgba.get(name)
        if rgba is None:
            rgba = self._rgba[name] = hex_to_rgba(name)
        return rgba

    def _scene_points(self, t: TrajectoryView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The whole run in scene coordinates, on the surface and on the floor, and the indices
        worth drawing (long paths thinned to ~1 px cells); cached until the next
        set_trajectories / set_surface."""
        cached = self._pos3.get(t.key)
        if cached is None:
            on = self.to_scene(t.points[:, 0], t.points[:, 1], t.loss, lift=LIFT)
            floor = on.copy()
            floor[:, 2] = FLOOR + 0.02
            keep = path_keep(on, (PATH_CELL, PATH_CELL, PATH_CELL))
            cached = self._pos3[t.key] = (on, floor, keep)
        return cached

    def head_positions(self) -> dict[Hashable, np.ndarray]:
        """Scene position of each visible run's head (for tests and exports)."""
        return {t.key: self._scene_points(t)[0][shown_index(t, self._step)]
                for t in self._trajs if t.visible and t.dim == 2 and self._scale is not None}

    def _refresh(self) -> None:
        if self._dim != 2 or self._scale is None:
            return
        segs, shadow_segs, seg_colors = [], [], []
        heads, head_colors, starts, start_colors, crosses = [], [], [], [], []
        for t in self._trajs:
            if not t.visible or t.dim != 2:
                continue
            k = shown_index(t, self._step)
            on, floor, keep = self._scene_points(t)
            rgba = self._color(t.color)
            if k > 0:
                idx = np.append(keep[: np.searchsorted(keep, k)], k)
                m = len(idx) - 1
                for src, out in ((on, segs), (floor, shadow_segs)):
                    pts = src[idx]
                    s = np.empty((2 * m, 3), np.float32)
                    s[0::2] = pts[:-1]
                    s[1::2] = pts[1:]
                    out.append(s)
                seg_colors.append(np.broadcast_to(np.array(rgba, np.float32), (2 * m, 4)))
            heads.append(on[k])
            head_colors.append(rgba)
            starts.append(on[0])
            start_colors.append(rgba)
            if t.status == "diverged" and k == t.last_index:
                crosses.append(on[k])
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
