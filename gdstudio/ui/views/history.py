"""Curves against the step: loss, parameters, effective learning rate, gradient norm.

Each run is drawn in its colour over its *whole* recorded history; a vertical line marks the
playback position and a dot on every curve marks each run's value there (so scrubbing back
keeps the future in view, which is what comparing optimizers needs). Parameter and
effective-learning-rate curves use a solid line for the first parameter and a dashed one for
the second. Logarithmic axes plot log10 of the values; values ≤ 0 or non-finite are left out
(the curve breaks there) instead of raising. On a log loss axis, if some loss is ≤ 0 (e.g.
Styblinski–Tang), the plot switches to loss − min (the smallest loss shown) and says so.

Speed: while runs only grow (same keys, colours, visibility), curves are redrawn at most every
:data:`CURVE_INTERVAL` (a timer catches up; :meth:`HistoryView.flush` forces it), axis ranges
move only when the data leave them, and unchanged curves and axes repaint from pixmap caches.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from gdstudio.ui.views._pg import PassiveScatter, mk_pen
from gdstudio.ui.views.types import TrajectoryView, shown_index

__all__ = ["PLOTS", "HistoryView", "log10_masked", "peak_decimate"]

#: Plot names, in grid order (row-major 2 × 2).
PLOTS = ("loss", "parameters", "effective_lr", "grad_norm")
_TITLES = {"loss": "loss", "parameters": "parameters", "effective_lr": "effective learning rate",
           "grad_norm": "gradient norm ‖∇f‖"}
_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine)
#: Growing curves are redrawn at most this often (s); the position line and dots every call.
CURVE_INTERVAL = 1 / 15


def _round_up(value: float) -> float:
    """The next 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k at or above ``value``."""
    exp = 10.0 ** np.floor(np.log10(value))
    for m in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * exp >= value:
            return m * exp
    return 10.0 * exp


def peak_decimate(y: np.ndarray, width_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a curve over steps 0..n−1 thinned for a ``width_px``-wide plot.

    Up to 4 points per pixel column the curve is exact. Beyond, steps are grouped in blocks
    of ⌈n / width_px⌉ and each block is drawn as its minimum then maximum (NaN ignored; an
    all-NaN block stays a break), so spikes and the envelope survive; the tail that does not
    fill a block is kept as is.
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n <= 4 * width_px:
        return np.arange(n, dtype=np.float64), y
    block = -(-n // width_px)
    m = n - n % block
    blocks = y[:m].reshape(-1, block)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
        lo, hi = np.fmin.reduce(blocks, axis=1), np.fmax.reduce(blocks, axis=1)
    start = np.arange(0, m, block, dtype=np.float64)
    xs = np.column_stack([start, start + (block - 1)]).ravel()
    ys = np.column_stack([lo, hi]).ravel()
    return np.concatenate([xs, np.arange(m, n, dtype=np.float64)]), np.concatenate([ys, y[m:]])


def log10_masked(values: np.ndarray) -> np.ndarray:
    """log10 of the positive finite values, NaN elsewhere (no warnings)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v) & (v > 0)
    out = np.full(v.shape, np.nan)
    np.log10(v, out=out, where=ok)
    return out


@dataclass
class _RunCurves:
    curves: dict[str, list[pg.PlotCurveItem]] = field(default_factory=dict)
    color: str = ""

    def all(self) -> list[pg.PlotCurveItem]:
        return [c for cs in self.curves.values() for c in cs]


class HistoryView(QWidget):
    """Four small plots of each run's history (a 2 × 2 grid in one GraphicsLayoutWidget, so a
    frame repaints one scene). ``plots[name]`` are the PlotItems, named as in :data:`PLOTS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.layout_widget)
        self.plots: dict[str, pg.PlotItem] = {}
        self.position_lines: dict[str, pg.InfiniteLine] = {}
        self.markers: dict[str, PassiveScatter] = {}
        for i, name in enumerate(PLOTS):
            plot = self.layout_widget.addPlot(row=i // 2, col=i % 2)
            plot.setTitle(_TITLES[name], size="9pt")
            plot.setLabel("bottom", "step")
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.hideButtons()
            # Ranges are set by _fit_ranges (with hysteresis), so the axes (text + grid: ~2 ms
            # each to replay) are re-rendered only when a range really changes.
            plot.vb.disableAutoRange()
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            line = pg.InfiniteLine(angle=90, movable=False, pen=mk_pen("#BBBBBB", 1.0, Qt.PenStyle.DotLine))
            line.setZValue(50)
            plot.addItem(line, ignoreBounds=True)
            marker = PassiveScatter(size=7, pen=mk_pen("#101010", 1.0), pxMode=True)
            marker.setZValue(60)
            plot.addItem(marker)
            self.plots[name], self.position_lines[name], self.markers[name] = plot, line, marker
        self._log = {"loss": False, "parameters": False, "effective_lr": True, "grad_norm": True}
        for name, on in self._log.items():
            self.plots[name].setLogMode(False, on)
        self._runs: dict[Hashable, _RunCurves] = {}
        self._trajs: list[TrajectoryView] = []
        self._y: dict[Hashable, dict[str, list[np.ndarray]]] = {}
        self._step = 0
        self._loss_offset: float | None = None
        self._param_names: tuple[str, ...] = ("x", "y")
        self._brushes: dict[str, object] = {}
        self._titles: dict[str, str] = {}
        self._curves_time = -math.inf
        self._curves_pending = False
        self._curve_timer = QTimer(self)
        self._curve_timer.setSingleShot(True)
        self._curve_timer.timeout.connect(self.flush)
        self._update_titles()

    # -- settings ------------------------------------------------------------------------
    def set_log_loss(self, on: bool) -> None:
        """Logarithmic loss axis (values ≤ 0 are masked, see the module docstring)."""
        self._log["loss"] = bool(on)
        self.plots["loss"].setLogMode(False, bool(on))
        self._update_curves()

    def set_param_names(self, names: Sequence[str]) -> None:
        self._param_names = tuple(str(n) for n in names)
        self._update_titles()

    def _update_titles(self) -> None:
        names = self._param_names
        suffix = f" ({names[0]})" if len(names) == 1 else ""
        if len(names) >= 2:
            suffix = f" ({names[0]} solid, {names[1]} dashed)"
        self._set_title("parameters", "parameters" + suffix)
        self._set_title("effective_lr", "effective learning rate" + suffix)
        self._set_title("loss", "loss − min (log)" if self._loss_offset is not None else "loss")

    def _set_title(self, plot: str, text: str) -> None:
        if self._titles.get(plot) != text:  # setTitle re-lays out the plot: only on change
            self._titles[plot] = text
            self.plots[plot].setTitle(text, size="9pt")

    # -- data ----------------------------------------------------------------------------
    def set_trajectories(self, trajectories: Sequence[TrajectoryView]) -> None:
        """The runs to plot (curves reused by ``key``; growth is redrawn at most every CURVE_INTERVAL)."""
        trajs = list(trajectories)
        keys = {t.key for t in trajs}
        structure_changed = [(t.key, t.visible, t.color, t.dim) for t in trajs] != [
            (t.key, t.visible, t.color, t.dim) for t in self._trajs]
        for key in [k for k in self._runs if k not in keys]:
            run = self._runs.pop(key)
            for name, curves in run.curves.items():
                for c in curves:
                    self.plots[name].removeItem(c)
        for t in trajs:
            run = self._runs.get(t.key)
            if run is None:
                run = self._runs[t.key] = _RunCurves()
                for name in PLOTS:
                    run.curves[name] = []
            dims = {"loss": 1, "parameters": t.dim, "effective_lr": t.dim, "grad_norm": 1}
            for name, n in dims.items():
                curves = run.curves[name]
                while len(curves) < n:
                    c = pg.PlotCurveItem(antialias=True)
                    # Between data updates a repaint blits the cached curve instead of re-stroking it.
                    c.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
                    self.plots[name].addItem(c)
                    curves.append(c)
                    run.color = ""  # restyle
                for c in curves[n:]:
                    self.plots[name].removeItem(c)
                del curves[n:]
            if run.color != t.color:
                run.color = t.color
                for curves in run.curves.values():
                    for i, c in enumerate(curves):
                        c.setPen(mk_pen(t.color, 1.6, _STYLES[min(i, 1)]))
        self._trajs = trajs
        if structure_changed or time.perf_counter() - self._curves_time >= CURVE_INTERVAL:
            self._update_curves()
        else:  # growing runs: redraw the curves at most every CURVE_INTERVAL
            self._curves_pending = True
            if not self._curve_timer.isActive():
                wait = CURVE_INTERVAL - (time.perf_counter() - self._curves_time)
                self._curve_timer.start(max(1, int(wait * 1000)))
            self._update_position()

    def flush(self) -> None:
        """Redraw curves now if a throttled update is pending."""
        if self._curves_pending:
            self._update_curves()

    def set_position(self, step: int) -> None:
        """Move the position line (and the value dots) to ``step``."""
        self._step = max(0, int(step))
        self._update_position()

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """:meth:`set_trajectories` and :meth:`set_position` with one update."""
        self._step = max(0, int(step))
        self.set_trajectories(trajectories)

    def curve_data(self, key: Hashable, plot: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(x, y) of run ``key``'s curves in ``plot`` as drawn (log10 values on log axes)."""
        self.flush()
        return [c.getData() for c in self._runs[key].curves[plot]]

    def _series(self, t: TrajectoryView) -> dict[str, list[np.ndarray]]:
        """Raw y values per plot (before the log transform)."""
        out: dict[str, list[np.ndarray]] = {"loss": [t.loss], "parameters": [t.points[:, i] for i in range(t.dim)]}
        eff = t.effective_lr
        out["effective_lr"] = [eff[:, i] for i in range(t.dim)] if eff is not None else [np.empty(0)] * t.dim
        norms = t.gradient_norms()
        out["grad_norm"] = [norms if norms is not None else np.empty(0)]
        return out

    def _update_curves(self) -> None:
        self._curves_pending = False
        self._curve_timer.stop()
        self._curves_time = time.perf_counter()
        visible = [t for t in self._trajs if t.visible]
        self._loss_offset = None
        if self._log["loss"] and visible:
            lows = [float(np.nanmin(np.where(np.isfinite(t.loss), t.loss, np.nan))) for t in visible
                    if np.isfinite(t.loss).any()]
            if lows and min(lows) <= 0:
                self._loss_offset = min(lows)
        self._update_titles()
        self._y = {}
        for t in self._trajs:
            run = self._runs[t.key]
            if not t.visible:
                for c in run.all():
                    c.hide()
                continue
            series = self._series(t)
            if self._loss_offset is not None:
                series["loss"] = [series["loss"][0] - self._loss_offset]
            ys: dict[str, list[np.ndarray]] = {}
            for name, arrays in series.items():
                ys[name] = []
                for curve, y in zip(run.curves[name], arrays, strict=True):
                    yy = log10_masked(y) if self._log[name] else np.where(np.isfinite(y), y, np.nan)
                    width = max(200, int(self.plots[name].vb.width()))
                    curve.setData(*peak_decimate(yy, width), connect="finite")
                    curve.show()
                    ys[name].append(yy)
            self._y[t.key] = ys
        self._fit_ranges()
        self._update_position()

    def _fit_ranges(self) -> None:
        """Fit each plot to its data, changing a range only when the data leave it or fill less
        than 40 % of it (x: up to the next multiple of a round step beyond the longest run)."""
        n = max((len(t.loss) for t in self._trajs if t.visible), default=1)
        xmax = float(_round_up(max(n - 1, 1) * 1.15))
        for name, plot in self.plots.items():
            lo, hi = np.inf, -np.inf
            for ys in self._y.values():
                for y in ys.get(name, ()):
                    finite = y[np.isfinite(y)]
                    if finite.size:
                        lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
            (cx0, cx1), (cy0, cy1) = plot.vb.viewRange()
            x_range = (0.0, xmax) if not (n - 1 <= cx1 <= 2.5 * xmax and cx0 == 0.0) else None
            y_range = None
            if np.isfinite(lo):
                if self._log[name] and hi - lo < 2.0:  # at least two decades: readable log ticks
                    mid = (hi + lo) / 2
                    lo, hi = mid - 1.0, mid + 1.0
                span = max(hi - lo, 1e-12 * max(1.0, abs(hi)), 1e-300)
                inside = cy0 <= lo and hi <= cy1
                if not inside or span < 0.4 * (cy1 - cy0):
                    y_range = (lo - 0.08 * span, hi + 0.08 * span)
            if x_range or y_range:
                plot.vb.setRange(xRange=x_range, yRange=y_range, padding=0.0)

    def _brush(self, color: str):
        brush = self._brushes.get(color)
        if brush is None:
            brush = self._brushes[color] = pg.mkBrush(color)
        return brush

    def _marker_value(self, name: str, y: float) -> float:
        if name == "loss" and self._loss_offset is not None:
            y -= self._loss_offset
        if self._log[name]:
            return math.log10(y) if y > 0 and math.isfinite(y) else math.nan
        return y

    def _update_position(self) -> None:
        for line in self.position_lines.values():
            line.setValue(self._step)
        points: dict[str, tuple[list, list, list]] = {name: ([], [], []) for name in PLOTS}
        for t in self._trajs:
            if not t.visible:
                continue
            k = shown_index(t, self._step)
            brush = self._brush(t.color)
            for name, arrays in self._series(t).items():
                xs, ys, brushes = points[name]
                for y in arrays:
                    v = self._marker_value(name, float(y[k])) if k < len(y) else math.nan
                    if math.isfinite(v):
                        xs.append(float(k))
                        ys.append(v)
                        brushes.append(brush)
        for name, marker in self.markers.items():
            xs, ys, brushes = points[name]
            marker.setData(xs, ys, brush=brushes)
