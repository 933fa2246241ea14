"""The 2-D view: heat map + contour lines of the loss, the runs' paths, arrows, and start placing.

Everything that depends only on the surface (colour image, contour lines from contourpy) is
computed in :meth:`ContourView.set_surface`; a frame (:meth:`~ContourView.set_frame` /
:meth:`~ContourView.set_position`) only calls ``setData`` on items that already exist.

Mouse (left button): a click emits ``startClicked(x, y)``, a shift-click ``startAdded(x, y)``,
and a drag that begins within 12 px of a run's start ring emits ``startDragged(key, x, y)`` while
moving and ``startDropped(key, x, y)`` on release; other drags pan, the wheel zooms, the right
button keeps pyqtgraph's menu. For a one-parameter problem the view plots the loss curve L(w)
and y is NaN in those signals (only w is meaningful).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from gdstudio.ui.colormaps import SURFACE_MAP, check_colormap, lookup_table
from gdstudio.ui.qt_setup import is_software_gl
from gdstudio.ui.views._paths import ClippedPath, FirstInCell, Grow, SegmentSet
from gdstudio.ui.views._pg import EXACT_POINTS, DrawnRun, PassiveScatter, RunsLayer, arrow_segments, mk_pen
from gdstudio.ui.views.internals import DrawnInternal, InternalPaths, InternalsLayer
from gdstudio.ui.views.protocol import DisplayOptions, FrameMixin, GradientFn, PickingView
from gdstudio.ui.views.types import HeightScale, TrajectoryView, contour_path, shown_index

if TYPE_CHECKING:
    from gdstudio.engine.problems import Problem

__all__ = ["OVERLAY_COLORS", "ContourView"]

#: Arrow colours: −gradient, velocity (first moment), effective step (the update).
OVERLAY_COLORS = {"gradient": "#FFFFFF", "velocity": "#FF5CCB", "effective_step": "#7CFF5C"}
_OVERLAYS = ("gradient", "velocity", "effective_step", "field")
_OVERLAY_NAMES = {"gradient": "−∇f", "velocity": "velocity (−m)", "effective_step": "next step"}
_DRAG_RADIUS_PX = 12.0
_FIELD_N = 20
#: Rows per run sampled for the arrows' reference magnitudes.
_REF_ROWS = 1024
_N_LEVELS = 20
#: Paths are clipped to the problem bounds widened by this fraction of their range on each side.
CLIP_MARGIN = 0.05
#: Thinning is recomputed when the pixel size changed by more than this factor.
_REFIT_FACTOR = 1.25

# Stacking order of the items.
_Z_IMAGE, _Z_CONTOUR, _Z_FIELD, _Z_CURVE = -100, -50, -40, -30
_Z_MIN, _Z_RUNS, _Z_INTERNALS, _Z_ARROW = 9, 10, 11, 20


class _StartViewBox(pg.ViewBox):
    """A ViewBox whose left clicks and start-marker drags go to the owning view."""

    def __init__(self, owner: ContourView) -> None:
        super().__init__(enableMenu=True)
        self._owner = owner
        self._drag_key: Hashable | None = None
        self._dragging = False

    def childrenBounds(self, frac=None, orthoRange=(None, None), items=None):
        """Auto-range (menu "View all", the axes' auto mode) shows the problem's range, never the
        runs' extent: a diverged run cannot stretch the axes."""
        if self._owner._surface is None:
            return super().childrenBounds(frac, orthoRange, items)
        (x0, x1), (y0, y1) = self._owner.home_range()
        return [[x0, x1], [y0, y1]]

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


class ContourView(FrameMixin, PickingView):
    """Heat map and contour lines of the loss with the runs drawn over them.

    A :class:`~gdstudio.ui.views.protocol.View`: drive it with :meth:`set_surface` (when the
    problem or the log flag changes), :meth:`set_frame` / :meth:`set_trajectories` (when runs
    change or grow) and :meth:`set_position` (each tick). Clicks and drags emit the
    :class:`~gdstudio.ui.views.protocol.PickingView` signals.
    ``use_opengl`` None chooses OpenGL painting only with a hardware renderer.
    """

    def __init__(self, parent: QWidget | None = None, *, use_opengl: bool | None = None) -> None:
        super().__init__(parent)
        self._surface: Any = None  # gdstudio.engine.problems.Surface
        self._dim = 2
        self._bounds: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.0, 1.0))
        self._log_y_1d = False
        self.view_box = _StartViewBox(self)
        self.plot_widget = pg.PlotWidget(viewBox=self.view_box)
        if use_opengl is None:
            use_opengl = not is_software_gl()
        self.uses_opengl = bool(use_opengl)
        if self.uses_opengl:
            self.plot_widget.useOpenGL(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot_widget, 1)
        # The key of the arrows that are on: a row under the plot, never over the data (the runs
        # table is the runs' legend).
        self.key_label = QLabel()
        self.key_label.setObjectName("arrow_key")
        self.key_label.setStyleSheet("QLabel#arrow_key { background: #15171c; color: #d8d8d8; padding: 2px 8px; }")
        self.key_label.hide()
        layout.addWidget(self.key_label)

        pi = self.plot_item = self.plot_widget.getPlotItem()
        pi.hideButtons()
        pi.showGrid(False, False)
        for name in ("left", "bottom"):
            pi.getAxis(name).setZValue(1000)
        self.view_box.disableAutoRange()

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(_Z_IMAGE)
        # The heat map changes only with the surface or the zoom: blit a device-resolution pixmap
        # instead of rescaling the image every frame (~1 ms a frame at 1080p on a raster engine).
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
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
        #: The runs' point-like internals (ASGD's x̄, schedule-free's x) when shown.
        self.internals_layer = InternalsLayer()
        self.internals_layer.setZValue(_Z_INTERNALS)
        for item in (self.image, self.contours, self.curve_1d, self.field, self.minima, self.runs_layer,
                     self.internals_layer, *self.arrows.values()):
            pi.addItem(item)
        for item in self.arrows.values():
            item.setZValue(_Z_ARROW)
            item.hide()
        self.field.hide()
        self.curve_1d.hide()

        self._trajs: list[TrajectoryView] = []
        self._step = 0
        self._overlays = dict.fromkeys(_OVERLAYS, False)
        self._internals = False
        self._internal_paths = InternalPaths()
        self._scale: HeightScale | None = None
        self._gradient_fn: GradientFn | None = None
        self._arrow_refs: dict[str, float] | None = None
        self._labels: tuple[str, ...] = ("x", "y")
        self._key_on = True
        self._key_text: str | None = None
        self._cmap = SURFACE_MAP
        self._box_lo = np.array([0.0, 0.0])
        self._box_hi = np.array([1.0, 1.0])
        self._geoms: dict[Hashable, _RunGeometry] = {}
        self._last_pixel: tuple[float, float] | None = None
        #: ``click_handler(x, y, shift) -> bool``: when set and it returns True, a left click is taken
        #: by it instead of emitting startClicked / startAdded (a basin map's pixels add runs).
        self.click_handler: Callable[[float, float, bool], bool] | None = None
        #: Decorations an export copies onto its own offscreen contour (a basin map): weak references to
        #: ``decorate(target_contour)`` methods, so an overlay's registration keeps nothing alive.
        self._export_decorations: list[weakref.WeakMethod[Callable[[Any], None]]] = []
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
        self._set_box()
        if changed_range:
            self.reset_view()
        self._arrow_refs = None
        self._refresh()
        self._update_field()

    def _set_surface_2d(self, surface, z: np.ndarray) -> None:
        assert self._scale is not None
        xs, ys = np.asarray(surface.xs, float), np.asarray(surface.ys, float)
        unit = self._scale.unit(z)
        rgba = lookup_table(256, self._cmap)[np.rint(np.nan_to_num(unit, nan=1.0) * 255).astype(np.intp)]
        self.image.setImage(rgba, autoLevels=False)
        dx = (xs[-1] - xs[0]) / max(1, xs.size - 1)
        dy = (ys[-1] - ys[0]) / max(1, ys.size - 1)
        self.image.setRect(QRectF(xs[0] - dx / 2, ys[0] - dy / 2, xs[-1] - xs[0] + dx, ys[-1] - ys[0] + dy))
        self.image.show()
        px, py, _ = contour_path(xs, ys, z, self._scale, _N_LEVELS)
        self.contours.setData(px, py)
        # Light lines on viridis, dark ones on the light grey map.
        self.contours.setPen(mk_pen("#000000", 1.0, alpha=60) if self._cmap == "grey" else
                             mk_pen("#FFFFFF", 1.0, alpha=70))
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

    def add_export_decoration(self, decorate: Callable[[Any], None]) -> None:
        """Register a bound method ``decorate(target)`` that draws this view's extra items (an overlay
        the export's own contour does not have) on ``target``; held weakly."""
        self._export_decorations.append(weakref.WeakMethod(decorate))  # type: ignore[arg-type]

    def decorate_export(self, target: Any) -> None:
        """Draw every live decoration of this view on ``target`` (an export's offscreen contour)."""
        for ref in list(self._export_decorations):
            decorate = ref()
            if decorate is None:
                self._export_decorations.remove(ref)
            else:
                decorate(target)

    def set_gradient_fn(self, gradient_fn: GradientFn | None) -> None:
        """``gradient_fn(points (N, D)) -> (N, D)``, for the field and the arrow at a run's end."""
        self._gradient_fn = gradient_fn
        self._update_field()
        self._update_arrows()

    def home_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The range :meth:`reset_view` shows: the problem bounds (1-D: the loss curve's range
        in y, padded). Never depends on the runs."""
        (x0, x1) = self._bounds[0]
        if self._dim == 2:
            y0, y1 = self._bounds[1]
        else:
            y = self._y_1d(np.asarray(self._surface.z, float)) if self._surface is not None else np.array([0.0, 1.0])
            y = y[np.isfinite(y)]
            y0, y1 = (float(y.min()), float(y.max())) if y.size else (0.0, 1.0)
            pad = 0.06 * (y1 - y0 or 1.0)
            y0, y1 = y0 - pad, y1 + pad
        return (x0, x1), (y0, y1)

    def reset_view(self) -> None:
        """Show the whole problem range."""
        (x0, x1), (y0, y1) = self.home_range()
        self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)

    def clip_box(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of the box the paths are clipped to (plot coordinates): the home range
        widened by :data:`CLIP_MARGIN` of its size on each side."""
        return self._box_lo.copy(), self._box_hi.copy()

    def _set_box(self) -> None:
        (x0, x1), (y0, y1) = self.home_range()
        mx, my = CLIP_MARGIN * (x1 - x0), CLIP_MARGIN * (y1 - y0)
        lo, hi = np.array([x0 - mx, y0 - my]), np.array([x1 + mx, y1 + my])
        if not (np.array_equal(lo, self._box_lo) and np.array_equal(hi, self._box_hi)):
            self._box_lo, self._box_hi = lo, hi
            self._geoms.clear()
        self.runs_layer.set_box((float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1])))

    # -- the View calls ------------------------------------------------------------------
    def set_problem(self, problem: Problem) -> None:
        """Nothing to do before the surface arrives (the labels and ∇f come with it)."""

    def set_options(self, options: DisplayOptions) -> None:
        """The arrows and the field that are on, the heat map's colour map and the internals."""
        self.set_overlays(**options.overlays)
        self.set_colormap(options.colormap)
        self.set_internals_visible(options.internals)

    def set_internals_visible(self, on: bool) -> None:
        """Draw the runs' point-like internals (dashed paths, hollow heads)."""
        if bool(on) != self._internals:
            self._internals = bool(on)
            self._update_internals()

    def internal_paths(self) -> list[DrawnInternal]:
        """What is drawn of the internals (empty when they are off)."""
        return self.internals_layer.drawn()

    def _update_internals(self) -> None:
        on = self._internals and self._dim == 2
        pixel = self._pixel()
        drawn = self._internal_paths.drawn(self._trajs, self._step, self._box_lo, self._box_hi, pixel) if on else []
        if not on:
            self._internal_paths.clear()
        if drawn or self.internals_layer.drawn():
            self.internals_layer.set_drawn(drawn, pixel)

    # -- runs ----------------------------------------------------------------------------
    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs to draw and the step to show them at, with one redraw (cheap: one paint
        item holds every run; call it as runs grow)."""
        self._trajs = list(trajectories)
        self._arrow_refs = None
        self._step = max(0, int(step))
        self._refresh()

    def _show_position(self) -> None:
        self._refresh()

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
        """Show the key of the arrows that are on (a row under the plot)."""
        self._key_on = bool(on)
        self._update_legend()

    def legend_entries(self) -> list[str]:
        """The key's entries (the arrows that are on), in order."""
        if not self._key_on:
            return []
        return [_OVERLAY_NAMES[k] for k in ("gradient", "velocity", "effective_step") if self._overlays[k]]

    def _update_legend(self) -> None:
        entries = [k for k in ("gradient", "velocity", "effective_step") if self._overlays[k]] if self._key_on else []
        text = "&nbsp;&nbsp;&nbsp;".join(
            f'<span style="color:{OVERLAY_COLORS[k]}; font-weight:bold">⟶</span>&nbsp;{_OVERLAY_NAMES[k]}'
            for k in entries)
        if text == self._key_text:
            return
        self._key_text = text
        self.key_label.setText(text)
        self.key_label.setVisible(bool(entries))

    def set_colormap(self, name: str) -> None:
        """Colour the heat map with the colour map ``name`` (see ``gdstudio.ui.colormaps.COLORMAPS``:
        "viridis", the default, or "grey" for races); ValueError for an unknown name. The same map
        again changes nothing (the window re-applies its option on every layout change)."""
        name = check_colormap(name)
        if name == self._cmap:
            return
        self._cmap = name
        if self._surface is not None and self._dim == 2:
            self._set_surface_2d(self._surface, np.asarray(self._surface.z, dtype=np.float64))

    @property
    def colormap_name(self) -> str:
        return self._cmap

    @property
    def overlays(self) -> dict[str, bool]:
        return dict(self._overlays)

    def drawn_run(self, key: Hashable) -> DrawnRun | None:
        """What is drawn of run ``key`` (shown points, colour, cross), None when hidden or absent."""
        for r in self.runs_layer.runs():
            if r.key == key:
                return r
        return None

    def _plot_xy(self, t: TrajectoryView, a: int, b: int) -> np.ndarray:
        """Plot coordinates (b − a, 2) of points a..b−1 of t (1-D: (w, loss or log10 loss))."""
        if self._dim == 2:
            return t.points[a:b]
        y = self._y_1d(t.loss[a:b])
        if self._log_y_1d:  # loss ≤ 0 under a log axis: below the box (clipped), not a hole
            y = np.where(np.isnan(y) & (t.loss[a:b] <= 0), self._box_lo[1] - 1.0, y)
        return np.column_stack([t.points[a:b, 0], y])

    def _geometry(self, t: TrajectoryView, pixel: tuple[float, float] | None) -> _RunGeometry:
        """The run's cached clipped / thinned path, extended by its new points (O(new points))."""
        g = self._geoms.get(t.key)
        if g is None or not g.matches(t):
            g = self._geoms[t.key] = _RunGeometry(self._box_lo, self._box_hi)
        g.extend(t, self._plot_xy)
        g.fit(pixel)
        return g

    def _refresh(self) -> None:
        drawn = []
        pixel = self._pixel()
        seen = set()
        for t in self._trajs:
            if not t.visible or t.dim != self._dim:  # a run of another problem (a load in progress)
                continue
            seen.add(t.key)
            k = shown_index(t, self._step)
            g = self._geometry(t, pixel)
            drawn.append(g.drawn(t, k, diverged=t.status == "diverged" and k == t.last_index))
        for key in [key for key in self._geoms if key not in seen]:
            del self._geoms[key]
        self.runs_layer.set_runs(drawn)
        self._last_pixel = pixel
        self._update_internals()
        self._update_arrows()

    # -- overlays ------------------------------------------------------------------------
    def _pixel(self) -> tuple[float, float] | None:
        px = self.view_box.viewPixelSize()
        sx, sy = float(px[0]), float(px[1])
        if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
            return None
        return sx, sy

    def _gradient_at(self, t: TrajectoryView, k: int) -> np.ndarray | None:
        """∇f at point k from the gradient function (None when absent or when it fails, e.g. a
        stale 2-D run meeting a 1-D problem's gradient during a load)."""
        if self._gradient_fn is None:
            return None
        try:
            with np.errstate(all="ignore"):
                g = np.asarray(self._gradient_fn(t.points[k : k + 1]), dtype=np.float64).reshape(-1)
        except (ValueError, TypeError, IndexError):
            return None
        return g if g.size == t.dim else None

    def _vector(self, kind: str, t: TrajectoryView, k: int) -> np.ndarray | None:
        """The overlay vector of run t at point k (describing the step k -> k+1), or None.

        Rows come from the per-step arrays; at the newest point (no row k yet) from
        ``t.preview`` (the step the run would take next); without a preview only −∇f is drawn,
        from the gradient function.
        """
        field = {"gradient": "grad", "velocity": "first_moment", "effective_step": "update"}[kind]
        arr = getattr(t, field)
        if arr is not None and k < len(arr):
            v = arr[k]
        elif k == t.last_index and t.preview is not None and field in t.preview:
            v = t.preview[field]
        elif kind == "gradient":
            v = self._gradient_at(t, k)
            if v is None:
                return None
        else:
            return None
        return v if kind == "effective_step" else -v

    def _refs(self) -> dict[str, float]:
        """Per-kind reference magnitudes: the median norm over the visible runs' rows (at most
        :data:`_REF_ROWS` evenly spaced rows per run, so the cost does not grow with history)."""
        if self._arrow_refs is None:
            refs = {}
            for kind, attr in (("gradient", "grad"), ("velocity", "first_moment"), ("effective_step", "update")):
                norms = []
                for t in self._trajs:
                    a = getattr(t, attr)
                    if not t.visible or a is None or not len(a) or a.shape[1] != t.dim:
                        continue
                    rows = a[:: max(1, len(a) // _REF_ROWS)]
                    norms.append(np.sqrt(np.einsum("ij,ij->i", rows, rows)))
                allnorms = np.concatenate(norms) if norms else np.empty(0)
                allnorms = allnorms[np.isfinite(allnorms) & (allnorms > 0)]
                refs[kind] = float(np.median(allnorms)) if allnorms.size else 0.0
            self._arrow_refs = refs
        return self._arrow_refs

    def arrow_origin(self, t: TrajectoryView, k: int) -> tuple[float, float] | None:
        """Plot position of point k of run t, None when it lies outside the clip box."""
        xy = self._plot_xy(t, k, k + 1)[0]
        if not (np.isfinite(xy).all() and np.all(xy >= self._box_lo) and np.all(xy <= self._box_hi)):
            return None
        return float(xy[0]), float(xy[1])

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
                if not t.visible or t.dim != self._dim:
                    continue
                k = shown_index(t, self._step)
                v = self._vector(kind, t, k)
                if v is None or v.size != t.dim or not np.isfinite(v).all():
                    continue
                origin = self.arrow_origin(t, k)
                if origin is None:
                    continue
                # 1-D: the arrow runs along w (horizontal) at the run's point on the curve.
                vec = np.array([v[0], v[1] if self._dim == 2 else 0.0])
                mag = float(np.hypot(vec[0], vec[1]))
                ref = refs.get(kind) or mag or 1.0
                origins.append(origin)
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
        try:  # a gradient of another problem (the bridge sets it first during a load) fails here
            with np.errstate(all="ignore"):
                g = np.asarray(self._gradient_fn(pts), dtype=np.float64).reshape(-1, 2)
        except (ValueError, TypeError, IndexError):
            self.field.hide()
            return
        if g.shape != pts.shape:
            self.field.hide()
            return
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
        pixel = self._pixel()
        if pixel is not None and self._trajs and _RunGeometry.needs_refit(self._last_pixel, pixel):
            self._refresh()  # re-thin the paths for the new zoom
        else:
            self._update_arrows()
        self._update_field()

    # -- mouse ---------------------------------------------------------------------------
    def _clicked(self, x: float, y: float, shift: bool) -> None:
        if self.click_handler is not None and self._dim == 2 and self.click_handler(float(x), float(y), shift):
            return
        if self._dim == 1:
            y = math.nan
        (self.startAdded if shift else self.startClicked).emit(float(x), float(y))

    def _start_near(self, scene_pos: QPointF) -> Hashable | None:
        """Key of the visible run whose start ring is nearest ``scene_pos`` within 12 px."""
        best, best_d = None, _DRAG_RADIUS_PX
        for t in self._trajs:
            if not t.visible or t.dim != self._dim:
                continue
            x, y = self._plot_xy(t, 0, 1)[0]
            p = self.view_box.mapViewToScene(QPointF(float(x), float(y)))
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


class _RunGeometry:
    """One run's path as the contour draws it, kept between frames.

    Clipping (:class:`ClippedPath`) is independent of the zoom and grows with the run; the
    segments worth drawing (:class:`SegmentSet`: one per pair of screen pixels joined) and the
    step dots (one per 4-px cell) are redone only when the
    pixel size changes by more than :data:`_REFIT_FACTOR`. A frame costs O(new points + drawn
    vertices), never O(history).
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo, self.hi = lo, hi
        self.clip = ClippedPath(lo, hi)
        self.thin: SegmentSet | None = None
        self.dots: FirstInCell | None = None
        self.pixel: tuple[float, float] | None = None
        self._xy = Grow((2,))  # plot coordinates of the points seen
        self._checks: list[tuple[int, np.ndarray]] = []

    @property
    def xy(self) -> np.ndarray:
        return self._xy.view()

    def matches(self, t: TrajectoryView) -> bool:
        """Whether t continues the run this geometry was built from (a few points compared)."""
        if t.points.shape[0] < self._xy.n:
            return False
        return all(np.array_equal(t.points[i], p, equal_nan=True) for i, p in self._checks)

    def extend(self, t: TrajectoryView, plot_xy: Callable[[TrajectoryView, int, int], np.ndarray]) -> None:
        """Take in the points of t not seen yet (plot_xy(t, a, b): plot coordinates of points a..b−1)."""
        n_old, n = self._xy.n, t.points.shape[0]
        if n <= n_old:
            return
        new = plot_xy(t, n_old, n)
        self._xy.extend(new)
        self.clip.extend(new)
        self._checks = [(i, t.points[i].copy()) for i in sorted({0, n // 2, n - 1})]
        if self.thin is not None:
            self.thin.extend(self.clip.verts)
        if self.dots is not None:
            self.dots.extend(self.xy)

    @staticmethod
    def needs_refit(old: tuple[float, float] | None, new: tuple[float, float]) -> bool:
        if old is None:
            return True
        r = max(new[0] / old[0], old[0] / new[0], new[1] / old[1], old[1] / new[1])
        return r > _REFIT_FACTOR

    def fit(self, pixel: tuple[float, float] | None) -> None:
        """Thin for this pixel size (recomputed only when it changed enough)."""
        if pixel is None:
            self.thin = self.dots = None
            self.pixel = None
            return
        if self.thin is None or self.needs_refit(self.pixel, pixel):
            self.pixel = pixel
            self.thin = SegmentSet(np.array(pixel))
            self.thin.extend(self.clip.verts)
            self.dots = FirstInCell(4.0 * np.array(pixel), self.lo, self.hi)
            self.dots.extend(self.xy)

    def drawn(self, t: TrajectoryView, k: int, diverged: bool) -> DrawnRun:
        """What to paint of the path up to point k."""
        clip, xy = self.clip, self.xy
        m = clip.prefix_len(k)
        verts = clip.verts
        line = verts[:m]  # the clipped path at full resolution (a view)
        segments = None
        if self.thin is not None and m > EXACT_POINTS:  # long paths: distinct pixel-to-pixel segments only
            j = self.thin.prefix(m)
            segments = np.empty((2 * len(j), 2))
            segments[0::2] = verts[j]
            segments[1::2] = verts[j + 1]
        n_shown = min(k, clip.n - 1) + 1 if clip.n else 0
        if self.dots is None or n_shown <= EXACT_POINTS:
            pts = xy[:n_shown]
            dots = pts[np.all((pts >= self.lo) & (pts <= self.hi), axis=1)] if len(pts) else pts
        else:
            dots = xy[self.dots.prefix(k)]

        def inside(i: int) -> tuple[float, float] | None:
            if i >= clip.n or not clip.point_inside(xy[i]):
                return None
            return float(xy[i, 0]), float(xy[i, 1])

        head = inside(k) if n_shown == k + 1 else None
        cross = cross_from = None
        if diverged:
            if head is not None:
                cross = head
                if m >= 2 and np.isfinite(verts[m - 2]).all():
                    cross_from = (float(verts[m - 2, 0]), float(verts[m - 2, 1]))
            elif m >= 1:  # where the path last left the box
                cross = (float(verts[m - 1, 0]), float(verts[m - 1, 1]))
                if m >= 2 and np.isfinite(verts[m - 2]).all():
                    cross_from = (float(verts[m - 2, 0]), float(verts[m - 2, 1]))
        return DrawnRun(t.key, t.color, xy, k + 1, line=line, segments=segments, dots=dots, start=inside(0), head=head,
                        cross=cross, cross_from=cross_from)
