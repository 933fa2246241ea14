"""The 2-D view: heat map + contour lines of the loss, the runs' paths, arrows, and start placing.

Everything that depends only on the surface (colour image, contour lines from contourpy) is
computed in :meth:`ContourView.set_surface`; a frame (:meth:`~ContourView.set_trajectories` /
:meth:`~ContourView.set_position`) only calls ``setData`` on items that already exist.

Mouse (left button): a click emits ``startClicked(x, y)``, a shift-click ``startAdded(x, y)``,
and a drag that begins within 12 px of a run's start ring emits ``startDragged(key, x, y)`` while
moving and ``startDropped(key, x, y)`` on release; other drags pan, the wheel zooms, the right
button keeps pyqtgraph's menu. For a one-parameter problem the view plots the loss curve L(w)
and y is NaN in those signals (only w is meaningful).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gdstudio.ui.colormaps import lookup_table
from gdstudio.ui.qt_setup import is_software_gl
from gdstudio.ui.views._pg import DrawnRun, PassiveScatter, RunsLayer, arrow_segments, mk_pen
from gdstudio.ui.views.types import HeightScale, TrajectoryView, contour_path, shown_index

__all__ = ["OVERLAY_COLORS", "ContourView"]

GradientFn = Callable[[np.ndarray], np.ndarray]

#: Arrow colours: −gradient, velocity (first moment), effective step (the update).
OVERLAY_COLORS = {"gradient": "#FFFFFF", "velocity": "#FF5CCB", "effective_step": "#7CFF5C"}
_OVERLAYS = ("gradient", "velocity", "effective_step", "field")
_OVERLAY_NAMES = {"gradient": "−∇f", "velocity": "velocity (−m)", "effective_step": "next step"}
_DRAG_RADIUS_PX = 12.0
_FIELD_N = 20
_N_LEVELS = 20
# Paths are clipped to the bounds widened by this many ranges (QPainter dislikes 1e200).
_CLIP_RANGES = 10.0

# Stacking order of the items.
_Z_IMAGE, _Z_CONTOUR, _Z_FIELD, _Z_CURVE = -100, -50, -40, -30
_Z_MIN, _Z_RUNS, _Z_ARROW = 9, 10, 20


class _Sample(pg.graphicsItems.LegendItem.ItemSample):
    """A legend swatch that does not toggle anything when clicked (clicks place starts)."""

    def mouseClickEvent(self, event) -> None:
        event.ignore()


class _StartViewBox(pg.ViewBox):
    """A ViewBox whose left clicks and start-marker drags go to the owning view."""

    def __init__(self, owner: ContourView) -> None:
        super().__init__(enableMenu=True)
        self._owner = owner
        self._drag_key: Hashable | None = None
        self._dragging = False

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._owner._clicked(p.x(), p.y(), shift)
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and axis is None:
            if ev.isStart():
                self._drag_key = self._owner._start_near(ev.buttonDownScenePos())
                self._dragging = self._drag_key is not None
            if self._dragging:
                ev.accept()
                p = self.mapSceneToView(ev.scenePos())
                if ev.isFinish():
                    key, self._drag_key, self._dragging = self._drag_key, None, False
                    self._owner._dragged(key, p.x(), p.y(), final=True)
                else:
                    self._owner._dragged(self._drag_key, p.x(), p.y(), final=False)
                return
        super().mouseDragEvent(ev, axis)


class ContourView(QWidget):
    """Heat map and contour lines of the loss with the runs drawn over them.

    Drive it with :meth:`set_surface` (when the problem or the log flag changes),
    :meth:`set_trajectories` (when runs change or grow) and :meth:`set_position` (each tick).
    ``use_opengl`` None chooses OpenGL painting only with a hardware renderer.
    """

    startClicked = Signal(float, float)
    startAdded = Signal(float, float)
    startDragged = Signal(object, float, float)
    startDropped = Signal(object, float, float)

    def __init__(self, parent: QWidget | None = None, *, use_opengl: bool | None = None) -> None:
        super().__init__(parent)
        self.view_box = _StartViewBox(self)
        self.plot_widget = pg.PlotWidget(viewBox=self.view_box)
        if use_opengl is None:
            use_opengl = not is_software_gl()
        self.uses_opengl = bool(use_opengl)
        if self.uses_opengl:
            self.plot_widget.useOpenGL(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

        pi = self.plot_item = self.plot_widget.getPlotItem()
        pi.hideButtons()
        pi.showGrid(False, False)
        for name in ("left", "bottom"):
            pi.getAxis(name).setZValue(1000)
        self.view_box.disableAutoRange()

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(_Z_IMAGE)
        self.contours = pg.PlotCurveItem(connect="finite", pen=mk_pen("#FFFFFF", 1.0, alpha=70), antialias=True)
        self.contours.setZValue(_Z_CONTOUR)
        # Static between surfaces: paint it once into a pixmap (redrawn only on zoom / resize).
        self.contours.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.curve_1d = pg.PlotCurveItem(pen=mk_pen("#A0A0A8", 2.0), antialias=True)
        self.curve_1d.setZValue(_Z_CURVE)
        self.field = pg.PlotCurveItem(connect="pairs", pen=mk_pen("#FFFFFF", 1.0, alpha=85), antialias=True)
        self.field.setZValue(_Z_FIELD)
        self.minima = PassiveScatter(symbol="star", size=17, brush=pg.mkBrush("#FFFFFF"),
                                     pen=mk_pen("#000000", 1.0), pxMode=True)
        self.minima.setZValue(_Z_MIN)
        self.arrows = {
            kind: pg.PlotCurveItem(connect="pairs", pen=mk_pen(color, 2.2), antialias=True)
            for kind, color in OVERLAY_COLORS.items()
        }
        self.runs_layer = RunsLayer()
        self.runs_layer.setZValue(_Z_RUNS)
        for item in (self.image, self.contours, self.curve_1d, self.field, self.minima, self.runs_layer,
                     *self.arrows.values()):
            pi.addItem(item)
        for item in self.arrows.values():
            item.setZValue(_Z_ARROW)
            item.hide()
        self.field.hide()
        self.curve_1d.hide()

        self._trajs: list[TrajectoryView] = []
        self._step = 0
        self._overlays = dict.fromkeys(_OVERLAYS, False)
        self._surface = None
        self._dim = 2
        self._bounds: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.0, 1.0))
        self._scale: HeightScale | None = None
        self._log_y_1d = False
        self._gradient_fn: GradientFn | None = None
        self._arrow_refs: dict[str, float] | None = None
        self._labels: tuple[str, ...] = ("x", "y")
        self.legend = pg.LegendItem(offset=(-8, 8), brush=pg.mkBrush(18, 20, 26, 185),
                                    pen=mk_pen("#FFFFFF", 1, alpha=40), labelTextColor="#E0E0E0",
                                    labelTextSize="9pt", verSpacing=-6)
        self.legend.setParentItem(self.view_box)
        self.legend.setZValue(1000)
        self._legend_key: tuple = ()
        self._legend_on = True
        self.view_box.sigRangeChanged.connect(self._on_view_changed)
        self.view_box.sigResized.connect(self._on_view_changed)
        self._set_axis_labels()

    # -- surface -------------------------------------------------------------------------
    def set_surface(
        self,
        surface,
        problem_bounds: Sequence[Sequence[float]],
        minima: np.ndarray | None = None,
        log_scale: bool = False,
        *,
        labels: Sequence[str] | None = None,
        gradient_fn: GradientFn | None = None,
    ) -> None:
        """Show a new loss surface (``gdstudio.engine.problems.Surface``).

        ``problem_bounds``: the (lo, hi) per parameter to show (the range is reset when they
        change). ``minima`` (M, D) are starred. ``log_scale`` colours log10(z − zmin + δ).
        ``labels`` are the parameter names for the axes; ``gradient_fn(points (N, D)) -> (N, D)``
        enables the gradient field and the −∇f arrow at a run's last point.
        """
        bounds = tuple((float(lo), float(hi)) for lo, hi in problem_bounds)
        dim = 1 if surface.ys is None else 2
        if len(bounds) != dim:
            raise ValueError(f"Invalid problem_bounds value: {problem_bounds!r} (need {dim} (lo, hi) pair(s))")
        if labels is not None:
            self._labels = tuple(str(s) for s in labels)
        if gradient_fn is not None:
            self._gradient_fn = gradient_fn
        changed_range = bounds != self._bounds or dim != self._dim
        self._surface, self._dim, self._bounds = surface, dim, bounds
        z = np.asarray(surface.z, dtype=np.float64)
        self._scale = HeightScale.fit(z, log_scale)
        if dim == 2:
            self._set_surface_2d(surface, z)
        else:
            self._set_surface_1d(surface, z, log_scale)
        self._set_minima(minima)
        self._set_axis_labels()
        if changed_range:
            self.reset_view()
        self._arrow_refs = None
        self._refresh()
        self._update_field()

    def _set_surface_2d(self, surface, z: np.ndarray) -> None:
        assert self._scale is not None
        xs, ys = np.asarray(surface.xs, float), np.asarray(surface.ys, float)
        unit = self._scale.unit(z)
        rgba = lookup_table()[np.rint(np.nan_to_num(unit, nan=1.0) * 255).astype(np.intp)]
        self.image.setImage(rgba, autoLevels=False)
        dx = (xs[-1] - xs[0]) / max(1, xs.size - 1)
        dy = (ys[-1] - ys[0]) / max(1, ys.size - 1)
        self.image.setRect(QRectF(xs[0] - dx / 2, ys[0] - dy / 2, xs[-1] - xs[0] + dx, ys[-1] - ys[0] + dy))
        self.image.show()
        px, py, _ = contour_path(xs, ys, z, self._scale, _N_LEVELS)
        self.contours.setData(px, py)
        self.contours.show()
        self.curve_1d.hide()
        self.plot_item.setLogMode(False, False)
        self._log_y_1d = False

    def _set_surface_1d(self, surface, z: np.ndarray, log_scale: bool) -> None:
        xs = np.asarray(surface.xs, float)
        finite = z[np.isfinite(z)]
        self._log_y_1d = bool(log_scale) and finite.size > 0 and bool((finite > 0).all())
        self.plot_item.setLogMode(False, self._log_y_1d)
        self.curve_1d.setData(xs, self._y_1d(z), connect="finite")
        self.curve_1d.show()
        self.image.hide()
        self.contours.hide()

    def _y_1d(self, loss: np.ndarray) -> np.ndarray:
        loss = np.asarray(loss, dtype=np.float64)
        if not self._log_y_1d:
            return loss
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(loss > 0, np.log10(np.where(loss > 0, loss, 1.0)), np.nan)

    def _set_minima(self, minima: np.ndarray | None) -> None:
        if minima is None or len(minima) == 0:
            self.minima.setData([], [])
            return
        m = np.asarray(minima, dtype=np.float64).reshape(-1, self._dim)
        if self._dim == 2:
            self.minima.setData(m[:, 0], m[:, 1])
        else:
            s = self._surface
            self.minima.setData(m[:, 0], self._y_1d(np.interp(m[:, 0], s.xs, s.z)))

    def _set_axis_labels(self) -> None:
        style = {"color": pg.mkColor(pg.getConfigOption("foreground")).name(), "font-size": "11pt"}  # theme's text
        names = self._labels
        self.plot_item.setLabel("bottom", names[0] if names else "x", **style)
        if self._dim == 2:
            self.plot_item.setLabel("left", names[1] if len(names) > 1 else "y", **style)
        else:
            self.plot_item.setLabel("left", "loss", **style)

    def set_axis_labels(self, labels: Sequence[str]) -> None:
        """The parameter names shown on the axes."""
        self._labels = tuple(str(s) for s in labels)
        self._set_axis_labels()

    def set_gradient_fn(self, gradient_fn: GradientFn | None) -> None:
        """``gradient_fn(points (N, D)) -> (N, D)``, for the field and the arrow at a run's end."""
        self._gradient_fn = gradient_fn
        self._update_field()
        self._update_arrows()

    def reset_view(self) -> None:
        """Show the whole problem range."""
        (x0, x1) = self._bounds[0]
        if self._dim == 2:
            y0, y1 = self._bounds[1]
        else:
            y = self._y_1d(np.asarray(self._surface.z, float)) if self._surface is not None else np.array([0.0, 1.0])
            y = y[np.isfinite(y)]
            y0, y1 = (float(y.min()), float(y.max())) if y.size else (0.0, 1.0)
            pad = 0.06 * (y1 - y0 or 1.0)
            y0, y1 = y0 - pad, y1 + pad
        self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)

    # -- runs ----------------------------------------------------------------------------
    def set_trajectories(self, trajectories: Sequence[TrajectoryView]) -> None:
        """The runs to draw (cheap: one paint item holds every run; call it as runs grow)."""
        self.set_frame(trajectories, self._step)

    def set_position(self, step: int) -> None:
        """Show every run up to min(step, its last index)."""
        self._step = max(0, int(step))
        self._refresh()

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs to draw and the step to show them at, with one redraw."""
        self._trajs = list(trajectories)
        self._arrow_refs = None
        self._step = max(0, int(step))
        self._refresh()

    def set_step_dots(self, on: bool) -> None:
        """Show a dot at every step of every path (on by default)."""
        self.runs_layer.show_dots = bool(on)
        self.runs_layer.update()

    def set_overlays(self, gradient: bool | None = None, velocity: bool | None = None,
                     effective_step: bool | None = None, field: bool | None = None) -> None:
        """Toggle the arrows at each run's current point (−∇f, velocity, effective step) and the
        normalized −∇f field over the view; None leaves a setting unchanged."""
        for name, value in (("gradient", gradient), ("velocity", velocity),
                            ("effective_step", effective_step), ("field", field)):
            if value is not None:
                self._overlays[name] = bool(value)
        self._update_arrows()
        self._update_field()
        self._update_legend()

    def set_legend_visible(self, on: bool) -> None:
        """Show the legend (runs that have a label, and the arrows that are on)."""
        self._legend_on = bool(on)
        self._update_legend()

    def legend_entries(self) -> list[str]:
        """The legend's texts, in order."""
        return [label.text for _, label in self.legend.items]

    def _update_legend(self) -> None:
        runs = tuple((t.label, t.color) for t in self._trajs if t.visible and t.label)
        arrows = tuple(k for k in ("gradient", "velocity", "effective_step") if self._overlays[k])
        key = (runs, arrows) if self._legend_on else ()
        if key == self._legend_key:
            return
        self._legend_key = key
        self.legend.clear()
        if key:
            for label, color in runs:
                sample = pg.PlotDataItem(pen=mk_pen(color, 2.0), symbol="o", symbolSize=8,
                                         symbolBrush=pg.mkBrush(color), symbolPen=mk_pen("#101010", 1.0))
                self.legend.addItem(_Sample(sample), label)
            for kind in arrows:
                self.legend.addItem(_Sample(pg.PlotDataItem(pen=mk_pen(OVERLAY_COLORS[kind], 2.2))),
                                    _OVERLAY_NAMES[kind])
        self.legend.setVisible(bool(key))

    @property
    def overlays(self) -> dict[str, bool]:
        return dict(self._overlays)

    def drawn_run(self, key: Hashable) -> DrawnRun | None:
        """What is drawn of run ``key`` (shown points, colour, cross), None when hidden or absent."""
        for r in self.runs_layer.runs():
            if r.key == key:
                return r
        return None

    def _xy(self, t: TrajectoryView, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Plot coordinates of the first n points of t, clipped far outside the bounds."""
        x = t.points[:n, 0]
        y = t.points[:n, 1] if self._dim == 2 and t.dim == 2 else self._y_1d(t.loss[:n])
        (x0, x1) = self._bounds[0]
        w = (x1 - x0) * _CLIP_RANGES
        x = np.clip(x, x0 - w, x1 + w)
        if self._dim == 2:
            y0, y1 = self._bounds[1]
            h = (y1 - y0) * _CLIP_RANGES
            y = np.clip(y, y0 - h, y1 + h)
        return x, y

    def _refresh(self) -> None:
        drawn = []
        for t in self._trajs:
            if not t.visible:
                continue
            k = shown_index(t, self._step)
            x, y = self._xy(t, k + 1)
            xy = np.column_stack([x, y])
            crossed = t.status == "diverged" and k == t.last_index
            drawn.append(DrawnRun(t.key, t.color, xy, crossed))
        self.runs_layer.set_runs(drawn)
        self._update_arrows()
        self._update_legend()

    # -- overlays ------------------------------------------------------------------------
    def _pixel(self) -> tuple[float, float] | None:
        px = self.view_box.viewPixelSize()
        sx, sy = float(px[0]), float(px[1])
        if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
            return None
        return sx, sy

    def _vector(self, kind: str, t: TrajectoryView, k: int) -> np.ndarray | None:
        """The overlay vector of run t at point k (describing the step k -> k+1), or None."""
        if kind == "gradient":
            if t.grad is not None and k < len(t.grad):
                return -t.grad[k]
            if self._gradient_fn is not None:
                with np.errstate(all="ignore"):
                    return -np.asarray(self._gradient_fn(t.points[k : k + 1]), float).reshape(-1)
            return None
        arr = t.first_moment if kind == "velocity" else t.update
        if arr is None or k >= len(arr):
            return None
        return -arr[k] if kind == "velocity" else arr[k]

    def _refs(self) -> dict[str, float]:
        """Per-kind reference magnitudes: the median norm over all visible runs' rows."""
        if self._arrow_refs is None:
            refs = {}
            for kind, attr in (("gradient", "grad"), ("velocity", "first_moment"), ("effective_step", "update")):
                norms = [np.linalg.norm(a, axis=1) for t in self._trajs
                         if t.visible and (a := getattr(t, attr)) is not None and len(a)]
                allnorms = np.concatenate(norms) if norms else np.empty(0)
                allnorms = allnorms[np.isfinite(allnorms) & (allnorms > 0)]
                refs[kind] = float(np.median(allnorms)) if allnorms.size else 0.0
            self._arrow_refs = refs
        return self._arrow_refs

    def _update_arrows(self) -> None:
        kinds = [k for k in ("gradient", "velocity", "effective_step") if self._overlays[k]]
        for kind, item in self.arrows.items():
            if kind not in kinds:
                item.hide()
        if not kinds:
            return
        pixel = self._pixel()
        rect = self.view_box.boundingRect()
        lmax = 0.13 * min(rect.width(), rect.height())
        refs = self._refs()
        for kind in kinds:
            origins, vectors, lengths = [], [], []
            for t in self._trajs:
                if not t.visible:
                    continue
                k = shown_index(t, self._step)
                v = self._vector(kind, t, k)
                if v is None or not np.isfinite(v).all():
                    continue
                x, y = self._xy(t, k + 1)
                vec = np.array([v[0], v[1] if self._dim == 2 and v.size > 1 else 0.0])
                mag = float(np.hypot(*v[:2])) if v.size > 1 else abs(float(v[0]))
                ref = refs.get(kind) or mag or 1.0
                origins.append((x[k], y[k]))
                vectors.append(vec)
                lengths.append(lmax * math.tanh(mag / ref))
            item = self.arrows[kind]
            if pixel is None or not origins:
                item.hide()
                continue
            seg = arrow_segments(np.array(origins), np.array(vectors), np.array(lengths), pixel)
            item.setData(seg[:, 0], seg[:, 1], connect="pairs")
            item.setVisible(len(seg) > 0)

    def _update_field(self) -> None:
        if not self._overlays["field"] or self._dim != 2 or self._gradient_fn is None:
            self.field.hide()
            return
        pixel = self._pixel()
        if pixel is None:
            self.field.hide()
            return
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        cx, cy = (x1 - x0) / _FIELD_N, (y1 - y0) / _FIELD_N
        gx = x0 + cx * (np.arange(_FIELD_N) + 0.5)
        gy = y0 + cy * (np.arange(_FIELD_N) + 0.5)
        xx, yy = np.meshgrid(gx, gy)
        pts = np.column_stack([xx.ravel(), yy.ravel()])
        with np.errstate(all="ignore"):
            g = np.asarray(self._gradient_fn(pts), dtype=np.float64).reshape(-1, 2)
        cell_px = min(cx / pixel[0], cy / pixel[1])
        length = np.full(len(pts), 0.7 * cell_px)
        # Centre each arrow on its grid point.
        u = np.column_stack([-g[:, 0] / pixel[0], -g[:, 1] / pixel[1]])
        norm = np.hypot(u[:, 0], u[:, 1])
        with np.errstate(all="ignore"):
            shift = (u / norm[:, None]) * (0.5 * length[:, None]) * np.array(pixel)
        seg = arrow_segments(pts - shift, -g, length, pixel, head_px=min(5.0, 0.3 * cell_px))
        self.field.setData(seg[:, 0], seg[:, 1], connect="pairs")
        self.field.setVisible(len(seg) > 0)

    def _on_view_changed(self, *_args) -> None:
        self.runs_layer.refit()
        self._update_arrows()
        self._update_field()

    # -- mouse ---------------------------------------------------------------------------
    def _clicked(self, x: float, y: float, shift: bool) -> None:
        if self._dim == 1:
            y = math.nan
        (self.startAdded if shift else self.startClicked).emit(float(x), float(y))

    def _start_near(self, scene_pos: QPointF) -> Hashable | None:
        """Key of the visible run whose start ring is nearest ``scene_pos`` within 12 px."""
        best, best_d = None, _DRAG_RADIUS_PX
        for t in self._trajs:
            if not t.visible:
                continue
            x, y = self._xy(t, 1)
            p = self.view_box.mapViewToScene(QPointF(float(x[0]), float(y[0])))
            d = math.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y())
            if d <= best_d:
                best, best_d = t.key, d
        return best

    def _dragged(self, key: Hashable, x: float, y: float, *, final: bool) -> None:
        ring_y = y
        if self._dim == 1:
            s = self._surface
            ring_y = float(self._y_1d(np.interp([x], s.xs, s.z))[0]) if s is not None else y
            y = math.nan
        # Immediate feedback while dragging; at the drop the runs' own start takes over.
        self.runs_layer.set_start_override(key, None if final else (x, ring_y))
        (self.startDropped if final else self.startDragged).emit(key, float(x), float(y))
