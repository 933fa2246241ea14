"""Curves against the step: loss, parameters, effective learning rate, gradient norm.

Each run is drawn in its colour over its *whole* recorded history; a vertical line marks the
playback position and a dot on every curve marks each run's value there (so scrubbing back
keeps the future in view, which is what comparing optimizers needs). Parameter and
effective-learning-rate curves use a solid line for the first parameter and a dashed one for
the second. Logarithmic axes plot log10 of the values; values ≤ 0 or non-finite are left out
(the curve breaks there) instead of raising. On a log loss axis, if some loss is ≤ 0 (e.g.
Styblinski–Tang), the plot switches to loss − min (the smallest loss shown) and says so.

Divergence: ranges come from the runs that stay finite. A diverged run, or a running one that
is blowing up (it leaves the others' range by more than 10 of their spans, or 3 decades on a log
axis, *and* grows 10³× beyond its own start), never sets a range: its curve is drawn up to where
it leaves the plot and ends there with a ✕ (a diverged run that never leaves gets the ✕ at its
last finite point). Only when every run escapes do they set the range, from the part of each
that stays within 10³× (3 decades) of its start.

Speed: every curve keeps an incremental min/max pyramid of its history (:class:`SeriesSummary`),
so thinning costs O(plot width), not O(history). Each curve is a frozen *body* plus a live
*tail*; one item per plot strokes all bodies (redrawn only when one is re-cut, every
:data:`TAIL_BLOCKS` blocks) and one all tails, with 1 px cosmetic pens, so a redraw strokes
O(new pixels). While runs only grow (same keys, colours, visibility), the view follows at most
every :data:`CURVE_INTERVAL` (a timer catches up; :meth:`HistoryView.flush` forces it), axis
ranges move only when the data leave them, and what did not change repaints from pixmap caches.

Layout: 2 × 2 when each plot gets at least :data:`MIN_PLOT_SIZE`, else one row of four, one
column of four, or pages of one or two plots chosen with a tab bar (a 1280×720 projector).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QTabBar, QVBoxLayout, QWidget

from gdstudio.ui.views._pg import PassiveScatter, mk_pen
from gdstudio.ui.views.protocol import DisplayOptions, GradientFn
from gdstudio.ui.views.types import TrajectoryView, shown_index

if TYPE_CHECKING:
    from gdstudio.engine.problems import Problem

__all__ = ["ALL_PLOTS", "INTERNALS", "MIN_PLOT_SIZE", "PLOTS", "HistoryView", "SeriesSummary", "log10_masked",
           "peak_decimate"]

#: Plot names, in grid order (row-major 2 × 2).
PLOTS = ("loss", "parameters", "effective_lr", "grad_norm")
#: The fifth plot, shown with the internals option: the rules' per-step numbers (Prodigy's d,
#: L-BFGS's evaluations), log axis.
INTERNALS = "internals"
ALL_PLOTS = (*PLOTS, INTERNALS)
_TITLES = {"loss": "loss", "parameters": "parameters", "effective_lr": "effective learning rate",
           "grad_norm": "gradient norm ‖∇f‖", INTERNALS: "optimizer internals (log)"}
_SHORT = {"loss": "loss", "parameters": "parameters", "effective_lr": "effective lr", "grad_norm": "‖∇f‖",
          INTERNALS: "internals"}
_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine)
#: The scheduled η in the effective-lr plot.
_SCHEDULE_STYLE = Qt.PenStyle.DotLine
#: The label of the scheduled η curve.
SCHEDULE_LABEL = "η (schedule)"
#: While playing (set_frame with growing runs) curves, line and dots are redrawn at most this often
#: (s); a timer catches up. A seek (set_position) redraws the line and dots at once.
CURVE_INTERVAL = 1 / 15
#: Curve pen width (px). 1 px cosmetic pens take Qt's fast cosmetic stroker: a 1.6 px antialiased
#: pen costs ~100× more on a noisy thinned curve (~170 ms vs 0.4 ms for 1,600 points on llvmpipe).
CURVE_WIDTH = 1.0
#: The smallest (width, height) in px a plot is given before the layout reflows.
MIN_PLOT_SIZE = (210, 150)
#: The x axis starts this fraction of its span before step 0.
_X_LEAD = 0.02
#: Steps on the x axis of an empty or just-started plot.
_MIN_X = 10
#: An escaping run leaves the others' range by more than this many of their spans (linear) …
_ESCAPE_SPANS = 10.0
#: … or decades (log axes), and grows this many decades beyond its own start.
_ESCAPE_DECADES = 3.0


def _round_up(value: float) -> float:
    """The next 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k at or above ``value``."""
    exp = 10.0 ** np.floor(np.log10(value))
    for m in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * exp >= value:
            return m * exp
    return 10.0 * exp


def log10_masked(values: np.ndarray) -> np.ndarray:
    """log10 of the positive finite values, NaN elsewhere (no warnings)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v) & (v > 0)
    out = np.full(v.shape, np.nan)
    np.log10(v, out=out, where=ok)
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(v), v, np.nan)


class _Grow:
    """An append-only float array (capacity doubles)."""

    def __init__(self) -> None:
        self.data = np.empty(64)
        self.n = 0

    def append(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.data):
            new = np.empty(max(need, 2 * len(self.data)))
            new[: self.n] = self.data[: self.n]
            self.data = new
        self.data[self.n : need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class SeriesSummary:
    """Block minima and maxima of a growing series at block sizes B0·2^j (NaN ignored), and its
    finite extent.

    :meth:`update` costs O(new values); :meth:`points` O(points returned): up to 4 points per
    pixel column the curve is exact (level −1); beyond, each block of the coarsest level with at
    most ``width`` blocks (:meth:`level_for`) is drawn as its minimum then its maximum (spikes and
    the envelope survive), with finer blocks and the raw values for the tail. A series that
    shrank or whose first or last summarised value changed (a restarted run) starts afresh.
    """

    B0 = 16

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        #: Counts fresh starts, so what was drawn from an older series is never reused.
        self.generation = getattr(self, "generation", -1) + 1
        self.n = 0
        self._ends = (math.nan, math.nan)
        self.levels: list[tuple[_Grow, _Grow]] = []
        self.lowest = math.inf  # smallest finite value
        self.highest = -math.inf  # largest finite value
        self.lowest_positive = math.inf  # smallest finite value > 0 (log axes)
        self.first = math.nan  # first finite value

    def _same(self, y: np.ndarray) -> bool:
        if self.n == 0:
            return True
        if len(y) < self.n:
            return False
        a, b = float(y[0]), float(y[self.n - 1])
        return all(u == v or (math.isnan(u) and math.isnan(v)) for u, v in zip((a, b), self._ends, strict=True))

    def update(self, y: np.ndarray) -> bool:
        """Summarise the new tail of ``y``; False when it had to start over."""
        fresh = not self._same(y)
        if fresh:
            self.reset()
        n = len(y)
        if n > self.n:
            if n - self.n <= 8:  # a tick's worth: Python floats beat a dozen tiny NumPy calls
                ok = [v for v in map(float, y[self.n : n]) if math.isfinite(v)]
                low, high = (min(ok), max(ok)) if ok else (math.nan, math.nan)
                positive = [v for v in ok if v > 0]
                low_pos = min(positive) if positive else math.inf
                first = ok[0] if ok else math.nan
            else:
                new = _finite(y[self.n : n])
                okv = new[~np.isnan(new)]
                low, high = (float(okv.min()), float(okv.max())) if okv.size else (math.nan, math.nan)
                pos = okv[okv > 0]
                low_pos = float(pos.min()) if pos.size else math.inf
                first = float(okv[0]) if okv.size else math.nan
            if not math.isnan(low):
                self.lowest = min(self.lowest, low)
                self.highest = max(self.highest, high)
                self.lowest_positive = min(self.lowest_positive, low_pos)
                if math.isnan(self.first):
                    self.first = first
            if n // self.B0 > (self.levels[0][0].n if self.levels else 0):
                self._extend(y, n)
            self.n = n
            self._ends = (float(y[0]), float(y[n - 1]))
        return not fresh

    def _extend(self, y: np.ndarray, n: int) -> None:
        if not self.levels:
            self.levels.append((_Grow(), _Grow()))
        lo, hi = self.levels[0]
        done, full = lo.n, n // self.B0
        if full > done:
            blocks = _finite(y[done * self.B0 : full * self.B0]).reshape(-1, self.B0)
            lo.append(np.fmin.reduce(blocks, axis=1))
            hi.append(np.fmax.reduce(blocks, axis=1))
        j = 1
        while self.levels[j - 1][0].n >= 2:
            if len(self.levels) == j:
                self.levels.append((_Grow(), _Grow()))
            plo, phi = self.levels[j - 1]
            lo, hi = self.levels[j]
            full = plo.n // 2
            if full > lo.n:
                lo.append(np.fmin.reduce(plo.data[2 * lo.n : 2 * full].reshape(-1, 2), axis=1))
                hi.append(np.fmax.reduce(phi.data[2 * hi.n : 2 * full].reshape(-1, 2), axis=1))
            j += 1

    def level_for(self, width_px: int) -> int:
        """−1 (exact) up to 4 points per pixel column, else the coarsest level needed for at most
        ``width_px`` blocks."""
        n = self.n
        if n <= 4 * width_px or not self.levels:
            return -1
        j = 0
        while (self.B0 << j) * width_px < n and j + 1 < len(self.levels) and self.levels[j + 1][0].n:
            j += 1
        return j

    def block(self, level: int) -> int:
        """Steps per block at ``level`` (1 for the exact level −1)."""
        return 1 if level < 0 else self.B0 << level

    def points(self, y: np.ndarray, level: int, start: int = 0, stop: int | None = None,
               transform: Callable[[np.ndarray], np.ndarray] = _finite) -> tuple[np.ndarray, np.ndarray]:
        """(x, transform(y)) of steps ``start`` … ``stop`` − 1 at ``level`` (``start`` a multiple of
        its block; ``transform`` monotone increasing, so it commutes with min and max)."""
        stop = self.n if stop is None else min(stop, self.n)
        if level < 0:
            return np.arange(start, stop, dtype=np.float64), transform(y[start:stop])
        xs, ys = [], []
        pos = start
        finer = range(level, -1, -1) if stop - start > 4 * (self.B0 << level) else (level,)
        for lev in finer:  # a short tail: its level's blocks, then the raw steps (fewer calls)
            b = self.B0 << lev
            lo, hi = self.levels[lev]
            first, last = pos // b, min(lo.n, stop // b)
            if last > first:
                starts = np.arange(first, last, dtype=np.float64) * b
                x = np.empty(2 * (last - first))
                x[0::2], x[1::2] = starts, starts + (b - 1)
                v = np.empty(2 * (last - first))
                v[0::2], v[1::2] = lo.data[first:last], hi.data[first:last]
                xs.append(x)
                ys.append(v)
                pos = last * b
        xs.append(np.arange(pos, stop, dtype=np.float64))
        ys.append(_finite(y[pos:stop]))
        return np.concatenate(xs), transform(np.concatenate(ys))

    def decimate(self, y: np.ndarray, width_px: int,
                 transform: Callable[[np.ndarray], np.ndarray] = _finite) -> tuple[np.ndarray, np.ndarray]:
        """(x, transform(y)) of the whole series thinned for a ``width_px``-wide plot."""
        return self.points(y, self.level_for(width_px), 0, None, transform)


def peak_decimate(y: np.ndarray, width_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a curve over steps 0..n−1 thinned for a ``width_px``-wide plot (see
    :class:`SeriesSummary`; non-finite values become NaN breaks)."""
    y = np.asarray(y, dtype=np.float64)
    summary = SeriesSummary()
    summary.update(y)
    return summary.decimate(y, width_px)


#: A curve's live tail holds at most this many blocks (or exact points) before the part before it
#: is frozen into the body (redrawn only then, when the level changes, or when the axis does).
TAIL_BLOCKS = 48


class _Paths(pg.GraphicsObject):
    """Several curves of one plot stroked by one item (its own pixmap cache): the plot has one such
    item for the frozen bodies and one for the live tails, instead of a pyqtgraph curve per run and
    parameter (~0.3 ms each to update, and dozens of pixmap caches that overflow QPixmapCache)."""

    def __init__(self) -> None:
        super().__init__()
        self._paths: list[tuple[object, QPainterPath]] = []
        self._data_rect = QRectF()
        self._rect: QRectF | None = QRectF()

    def set_paths(self, paths: list[tuple[object, QPainterPath]]) -> None:
        """(pen, path in data coordinates) per curve."""
        self.prepareGeometryChange()
        self._paths = paths
        rect = QRectF()
        for _pen, path in paths:
            rect = rect.united(path.boundingRect())
        self._data_rect = rect
        self._rect = None
        self.update()

    def viewTransformChanged(self) -> None:  # pyqtgraph hook: the padding is in pixels
        self.prepareGeometryChange()
        self._rect = None

    def boundingRect(self) -> QRectF:
        """The paths' extent padded by 3 px (a flat curve has a zero-height extent)."""
        if self._rect is None:
            px, py = self.pixelSize() if self._paths else (0.0, 0.0)
            pad_x, pad_y = 3 * (px or 0.0), 3 * (py or 0.0)
            self._rect = self._data_rect.adjusted(-pad_x, -pad_y, pad_x, pad_y) if self._paths else QRectF()
        return self._rect

    def paint(self, painter, *_args) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for pen, path in self._paths:
            painter.setPen(pen)
            painter.drawPath(path)


class _Dots(pg.GraphicsObject):
    """Each run's value at the position: filled circles of a fixed pixel size with a dark rim, in
    one light item (a ScatterPlotItem's setData + paint cost ~1 ms per plot per frame)."""

    RADIUS = 3.5

    def __init__(self) -> None:
        super().__init__()
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._brushes: list = []
        self._rect = QRectF()
        self._rim = mk_pen("#101010", 1.0)

    def setData(self, x, y, brush=()) -> None:
        self.prepareGeometryChange()
        self._x, self._y, self._brushes = np.asarray(x, float), np.asarray(y, float), list(brush)
        if len(self._x):
            px, py = self.pixelSize()
            pad_x, pad_y = (self.RADIUS + 2) * (px or 0.0), (self.RADIUS + 2) * (py or 0.0)
            x0, x1, y0, y1 = self._x.min(), self._x.max(), self._y.min(), self._y.max()
            self._rect = QRectF(x0 - pad_x, y0 - pad_y, x1 - x0 + 2 * pad_x, y1 - y0 + 2 * pad_y)
        else:
            self._rect = QRectF()
        self.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        return self._x, self._y

    def viewTransformChanged(self) -> None:  # pyqtgraph hook: the padding is in pixels
        self.setData(self._x, self._y, self._brushes)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, *_args) -> None:
        transform = painter.transform()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(self._rim)
        r = self.RADIUS
        for x, y, brush in zip(self._x.tolist(), self._y.tolist(), self._brushes, strict=False):
            painter.setBrush(brush)
            painter.drawEllipse(transform.map(QPointF(x, y)), r, r)


class _Curve:
    """One drawn series: a frozen *body* (redrawn only when its checkpoint, level or transform
    changes) and a live *tail* (the newest steps), both stroked by the plot's :class:`_Paths`
    items, so a redraw strokes O(new pixels), not the whole thinned curve."""

    def __init__(self) -> None:
        self.summary = SeriesSummary()
        self.pen = None
        self.visible = True
        self.body: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self.tail: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._body_path: QPainterPath | None = None
        self._tail_path: QPainterPath | None = None
        self._body_key: tuple | None = None
        self._tail_n = -1
        self.full = False  # the body holds the whole (clipped) curve, no tail

    def set_pen(self, pen) -> None:
        self.pen = pen

    def set_visible(self, on: bool) -> None:
        self.visible = on

    def _set_body(self, x: np.ndarray, v: np.ndarray) -> None:
        self.body = (x, v)
        self._body_path = pg.arrayToQPath(x, v, connect="finite") if len(x) > 1 else None

    def draw(self, y: np.ndarray, width: int, transform: Callable, transform_key: object) -> bool:
        """Body up to a checkpoint at the current level, tail from there (joined at one point).
        Returns True if the body changed."""
        s = self.summary
        level = s.level_for(width)
        b = s.block(level)
        key = self._body_key
        changed = False
        if (self.full or key is None or key[:3] != (level, transform_key, s.generation)
                or not 0 <= s.n - key[3] <= TAIL_BLOCKS * b):
            cut = (s.n // b) * b if level >= 0 else max(0, s.n - 1)
            self._set_body(*s.points(y, level, 0, cut, transform))
            self._body_key = key = (level, transform_key, s.generation, cut)
            self._tail_n = -1
            self.full = False
            changed = True
        if s.n != self._tail_n:
            x, v = s.points(y, level, key[3], None, transform)
            bx, bv = self.body
            if len(bx):  # join the body's last point
                x, v = np.concatenate([bx[-1:], x]), np.concatenate([bv[-1:], v])
            self.tail = (x, v)
            self._tail_path = pg.arrayToQPath(x, v, connect="finite") if len(x) > 1 else None
            self._tail_n = s.n
        return changed

    def draw_full(self, x: np.ndarray, v: np.ndarray) -> None:
        """The whole curve as given (clipped escaping runs): body only."""
        self._set_body(x, v)
        self.tail = (np.empty(0), np.empty(0))
        self._tail_path = None
        self.full = True
        self._body_key = None

    def body_path(self) -> tuple[object, QPainterPath] | None:
        return (self.pen, self._body_path) if self.visible and self._body_path is not None else None

    def tail_path(self) -> tuple[object, QPainterPath] | None:
        return (self.pen, self._tail_path) if self.visible and not self.full and self._tail_path is not None else None

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) as drawn: the body, then the tail without the joining point."""
        bx, bv = self.body
        tx, tv = self.tail
        if self.full or not len(tx):
            return bx, bv
        skip = 1 if len(bx) else 0
        return np.concatenate([bx, tx[skip:]]), np.concatenate([bv, tv[skip:]])

    getData = data  # the PlotCurveItem spelling


def _span_floor(lo: float, hi: float) -> float:
    return max(hi - lo, 1e-9 * max(abs(lo), abs(hi)), 1e-300)


def _nice_range(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """A padded y range for data in [lo, hi]: at least two decades on log axes, and ±10 % of
    the value (±1 at 0) for flat data, so ticks stay round numbers."""
    if log and hi - lo < 2.0:
        mid = (hi + lo) / 2
        lo, hi = mid - 1.0, mid + 1.0
    elif not log and hi - lo <= 1e-6 * max(abs(lo), abs(hi)):
        mid = (hi + lo) / 2
        half = 0.1 * abs(mid) if mid != 0 else 1.0
        lo, hi = mid - half, mid + half
    span = hi - lo
    return lo - 0.08 * span, hi + 0.08 * span


def _extent(y: np.ndarray) -> tuple[float, float] | None:
    f = y[np.isfinite(y)]
    return (float(f.min()), float(f.max())) if f.size else None


def _sane_extent(y: np.ndarray, log: bool) -> tuple[float, float] | None:
    """The extent of the part of ``y`` that stays within 10³× (3 decades) of its first value."""
    f = y[np.isfinite(y)]
    if not f.size:
        return None
    y0 = f[0]
    far = (f - y0 > _ESCAPE_DECADES) if log else (np.abs(f - y0) > 1e3 * max(abs(y0), 1e-12))
    cut = int(np.argmax(far)) if far.any() else f.size
    part = f[: max(cut, 1)]
    return float(part.min()), float(part.max())


def _decade_ticks(low: float, high: float, _size: float, std_ticks: list) -> list:
    """Tick levels of a log axis (values are log10): whole decades first, then 1 … 9 × 10^k
    unlabelled when there are few decades."""
    levels = [(spacing, t) for spacing, t in std_ticks if spacing >= 1.0]
    if not levels:
        levels = [(1.0, [float(v) for v in range(math.ceil(low), math.floor(high) + 1)])]
    if len(levels) < 3:
        minor = [v + math.log10(m) for v in range(math.floor(low), math.ceil(high)) for m in range(2, 10)]
        levels.append((None, [v for v in minor if low < v < high]))
    return levels


def _free_width(label: pg.LabelItem) -> None:
    """Let a title be narrower than its text: a long title must not push the plots of a
    narrow dock out of view (it is clipped at the plot's edges instead)."""
    original = label.updateMin

    def update_min() -> None:
        original()
        label.setMinimumWidth(0)
        label._sizeHint[Qt.SizeHint.MinimumSize] = (0, label._sizeHint[Qt.SizeHint.MinimumSize][1])
        label._sizeHint[Qt.SizeHint.PreferredSize] = (0, label._sizeHint[Qt.SizeHint.PreferredSize][1])
        label.updateGeometry()

    label.updateMin = update_min
    update_min()


@dataclass
class _RunCurves:
    curves: dict[str, list[_Curve]] = field(default_factory=dict)
    color: str = ""

    def all(self) -> list[_Curve]:
        return [c for cs in self.curves.values() for c in cs]


class HistoryView(QWidget):
    """Four small plots of each run's history in one GraphicsLayoutWidget (one scene repaints per
    frame), arranged to fit (see the module docstring). ``plots[name]`` are the PlotItems, named
    as in :data:`ALL_PLOTS`; ``escape_markers[name]`` the ✕ where runs leave a plot. The
    effective-lr plot also draws each scheduled run's η (dotted); the internals plot is laid out
    only while :class:`DisplayOptions` ``internals`` is on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.tabs = QTabBar()
        self.tabs.setObjectName("history_pages")
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.setToolTip("The history plots that fit at this size: pick a page")
        self.tabs.hide()
        self.tabs.currentChanged.connect(self._on_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tabs)
        layout.addWidget(self.layout_widget, 1)
        self.plots: dict[str, pg.PlotItem] = {}
        self.position_lines: dict[str, pg.InfiniteLine] = {}
        self.markers: dict[str, _Dots] = {}
        self.escape_markers: dict[str, PassiveScatter] = {}
        self.tails: dict[str, _Paths] = {}
        self.bodies: dict[str, _Paths] = {}
        for name in ALL_PLOTS:
            plot = pg.PlotItem()
            _free_width(plot.titleLabel)
            plot.setTitle(_TITLES[name], size="9pt")
            plot.setLabel("bottom", "step")
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.hideButtons()
            plot.getAxis("bottom").enableAutoSIPrefix(False)  # "step (×0.001)" helps nobody
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(48)
            # Ranges are set by _fit_ranges (with hysteresis), so the axes (text + grid: ~2 ms
            # each to replay) are re-rendered only when a range really changes.
            plot.vb.disableAutoRange()
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            line = pg.InfiniteLine(angle=90, movable=False, pen=mk_pen("#BBBBBB", 1.0, Qt.PenStyle.DotLine))
            line.setZValue(50)
            plot.addItem(line, ignoreBounds=True)
            marker = _Dots()
            marker.setZValue(60)
            plot.addItem(marker, ignoreBounds=True)
            for store, z in ((self.bodies, 9), (self.tails, 10)):
                item = _Paths()
                item.setZValue(z)
                # Between updates a repaint (the position line moving) blits the cached strokes.
                item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
                plot.addItem(item, ignoreBounds=True)
                store[name] = item
            cross = PassiveScatter(size=13, symbol="x", pen=mk_pen("#101010", 0.8), pxMode=True)
            cross.setZValue(70)
            plot.addItem(cross)
            self.plots[name], self.position_lines[name], self.markers[name] = plot, line, marker
            self.escape_markers[name] = cross
        #: The key of the dotted η curves in the effective-lr plot (shown when a run has a schedule).
        self.schedule_key = pg.LegendItem(offset=(-6, 2), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 170))
        self.schedule_key.setParentItem(self.plots["effective_lr"].vb)
        self.schedule_key.addItem(pg.PlotDataItem(pen=mk_pen("#707070", 1.4, _SCHEDULE_STYLE)), SCHEDULE_LABEL)
        self.schedule_key.setZValue(80)
        self.schedule_key.hide()
        self._log = {"loss": False, "parameters": False, "effective_lr": True, "grad_norm": True, INTERNALS: True}
        self._show_internals = False
        for name, on in self._log.items():
            self._set_log_axis(name, on)
        #: The grid shape (rows, columns) and the plots shown (all but in paged mode).
        self.arrangement: tuple[int, int] = (0, 0)
        self.shown_plots: tuple[str, ...] = ()
        self._runs: dict[Hashable, _RunCurves] = {}
        self._trajs: list[TrajectoryView] = []
        self._escaping: dict[str, set[Hashable]] = {name: set() for name in ALL_PLOTS}
        self._step = 0
        self._loss_offset: float | None = None
        self._param_names: tuple[str, ...] = ("x", "y")
        self._brushes: dict[object, object] = {}
        self._titles: dict[str, str] = {}
        self._refit = True  # next _fit_ranges fits exactly (no hysteresis)
        self._curves_time = -math.inf
        self._curves_pending = False
        self._position_pending = False
        self._bodies_dirty = True
        self._bodies_changed: set[str] = set()
        self._crosses_shown: dict[str, list] = {}
        self._curve_timer = QTimer(self)
        self._curve_timer.setSingleShot(True)
        self._curve_timer.timeout.connect(self.flush)
        self._update_titles()
        self._arrange(force=True)
        self._update_curves()

    # -- layout --------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._arrange():
            self._update_curves()

    def _on_page(self, _index: int) -> None:
        if self._arrange(force=True):
            self._update_curves()

    def _choose_arrangement(self, width: int, height: int) -> tuple[int, int, int]:
        """(rows, columns, plots per page): a grid of all the plots (four, five with the internals)
        that gives each plot at least MIN_PLOT_SIZE, else pages of two (or one) plots."""
        mw, mh = MIN_PLOT_SIZE
        n = len(self.plot_names)
        grids = ((2, 2), (1, 4), (4, 1)) if n == 4 else ((2, 3), (3, 2), (1, 5), (5, 1))
        for rows, cols in grids:
            if width / cols >= mw and height / rows >= mh:
                return rows, cols, n
        tab_h = self.tabs.sizeHint().height()
        if width / 2 >= mw:
            return 1, 2, 2
        if (height - tab_h) / 2 >= mh:
            return 2, 1, 2
        return 1, 1, 1

    def _arrange(self, force: bool = False) -> bool:
        """Lay the plots out for the current size; True if the plots shown or their grid changed."""
        rows, cols, per_page = self._choose_arrangement(max(1, self.width()), max(1, self.height()))
        names = self.plot_names
        pages = [names[i : i + per_page] for i in range(0, len(names), per_page)]
        if per_page < len(names):
            labels = [" · ".join(_SHORT[p] for p in page) for page in pages]
            if [self.tabs.tabText(i) for i in range(self.tabs.count())] != labels:
                current = self.shown_plots[0] if self.shown_plots and self.shown_plots[0] in names else names[0]
                blocked = self.tabs.blockSignals(True)
                while self.tabs.count():
                    self.tabs.removeTab(0)
                for label in labels:
                    self.tabs.addTab(label)
                self.tabs.setCurrentIndex(next(i for i, page in enumerate(pages) if current in page))
                self.tabs.blockSignals(blocked)
            shown = pages[max(0, self.tabs.currentIndex())]
        else:
            shown = names
        self.tabs.setVisible(per_page < len(names))
        if not force and (rows, cols) == self.arrangement and shown == self.shown_plots:
            return False
        ci = self.layout_widget.ci
        for plot in self.plots.values():
            if plot in ci.items:
                ci.removeItem(plot)
        for i, name in enumerate(shown):
            ci.addItem(self.plots[name], row=i // cols, col=i % cols)
        for name, plot in self.plots.items():
            plot.setVisible(name in shown)
        gv = self.layout_widget
        if gv.size().width() > 0:  # re-fit the layout to the view (a changed layout re-sizes it to its minimum)
            ci.setGeometry(gv.range)
        ci.layout.activate()  # geometry now, so the curves are thinned for the new widths
        self.arrangement, self.shown_plots = (rows, cols), tuple(shown)
        return True

    @property
    def plot_names(self) -> tuple[str, ...]:
        """The plots laid out: :data:`PLOTS`, and the internals plot while it is switched on."""
        return ALL_PLOTS if self._show_internals else PLOTS

    def show_plot(self, name: str) -> None:
        """Bring plot ``name`` into view (its page, in paged mode)."""
        if name not in self.shown_plots:
            per_page = self.arrangement[0] * self.arrangement[1]
            self.tabs.setCurrentIndex(self.plot_names.index(name) // max(1, per_page))

    # -- settings ------------------------------------------------------------------------
    def set_log_loss(self, on: bool) -> None:
        """Logarithmic loss axis (values ≤ 0 are masked, see the module docstring)."""
        if self._log["loss"] != bool(on):
            self._refit = True
        self._log["loss"] = bool(on)
        self._set_log_axis("loss", bool(on))
        self._update_curves()

    def _set_log_axis(self, name: str, on: bool) -> None:
        """Log mode labels only the decades (level 0): the labels of the minor ticks (2 … 9 per
        decade), which pyqtgraph makes the only labelled level on a short range, overlap."""
        self.plots[name].setLogMode(False, on)
        axis = self.plots[name].getAxis("left")
        axis.setStyle(maxTextLevel=0 if on else 2)
        if on and "logTickValues" not in vars(axis):
            axis.logTickValues = _decade_ticks

    # -- the View calls ------------------------------------------------------------------
    def set_problem(self, problem: Problem) -> None:
        """Nothing before the surface: the parameter names come with it (as before a grid arrives,
        the curves still show the old problem's runs)."""

    def set_surface(self, surface: Any, problem_bounds: Sequence[Sequence[float]], minima: np.ndarray | None = None,
                    log_scale: bool = False, *, labels: Sequence[str] | None = None,
                    gradient_fn: GradientFn | None = None) -> None:
        """A new surface: only its parameter names are shown here (the plot titles)."""
        if labels is not None:
            self.set_param_names(labels)

    def set_options(self, options: DisplayOptions) -> None:
        """The loss axis (logarithmic or linear) and the internals plot."""
        self.set_internals_visible(options.internals)
        self.set_log_loss(options.log_loss)

    def set_internals_visible(self, on: bool) -> None:
        """Lay out the internals plot (each run's per-step internals: Prodigy's d, L-BFGS's evaluations)."""
        if bool(on) == self._show_internals:
            return
        self._show_internals = bool(on)
        self.set_trajectories(self._trajs)  # the runs' internals curves appear or go
        self._arrange(force=True)
        self._update_curves()

    def set_param_names(self, names: Sequence[str]) -> None:
        self._param_names = tuple(str(n) for n in names)
        self._refit = True  # a new problem: nothing carries over from the last one
        self._update_titles()

    def _update_titles(self) -> None:
        names = self._param_names
        suffix = f" ({names[0]})" if len(names) == 1 else ""
        if len(names) >= 2:
            suffix = f" ({names[0]} solid, {names[1]} dashed)"
        self._set_title("parameters", "parameters" + suffix)
        shown = [t for t in self._trajs if t.visible]
        self._set_title("effective_lr", "effective learning rate" + suffix)
        scheduled = any(t.schedule_lr is not None for t in shown)  # the η curves: dotted, named in a key
        if self.schedule_key.isVisible() != scheduled:
            self.schedule_key.setVisible(scheduled)
        inner: list[str] = []
        for t in shown:
            for i, name in enumerate(self._scalar_internals(t)):
                label = f"{name} {'solid' if i == 0 else 'dashed'}" if len(t.scalar_internals()) > 1 else name
                if label not in inner:
                    inner.append(label)
        self._set_title(INTERNALS, "optimizer internals (log)" + (": " + ", ".join(inner) if inner else ": none"))
        self._set_title("loss", "loss − min (log)" if self._loss_offset is not None else "loss")

    def _set_title(self, plot: str, text: str) -> None:
        if self._titles.get(plot) != text:  # setTitle re-lays out the plot: only on change
            self._titles[plot] = text
            self.plots[plot].setTitle(text, size="9pt")

    # -- data ----------------------------------------------------------------------------
    def set_trajectories(self, trajectories: Sequence[TrajectoryView], *, _defer_position: bool = False) -> None:
        """The runs to plot (curves reused by ``key``; growth is redrawn at most every CURVE_INTERVAL)."""
        trajs = list(trajectories)
        keys = {t.key for t in trajs}
        if keys != {t.key for t in self._trajs}:
            self._refit = True  # runs replaced: ranges start afresh
        structure_changed = [self._structure(t) for t in trajs] != [self._structure(t) for t in self._trajs]
        for key in [k for k in self._runs if k not in keys]:
            del self._runs[key]
            self._bodies_dirty = True
        for t in trajs:
            run = self._runs.get(t.key)
            if run is None:
                run = self._runs[t.key] = _RunCurves()
                for name in ALL_PLOTS:
                    run.curves[name] = []
            dims = {"loss": 1, "parameters": t.dim, "effective_lr": t.dim + (t.schedule_lr is not None),
                    "grad_norm": 1, INTERNALS: len(self._scalar_internals(t))}
            for name, n in dims.items():
                curves = run.curves[name]
                while len(curves) < n:
                    curves.append(_Curve())
                    run.color = ""  # restyle
                if len(curves) > n:
                    del curves[n:]
                    self._bodies_dirty = True
            if run.color != t.color:
                run.color = t.color
                for name, curves in run.curves.items():
                    for i, c in enumerate(curves):
                        style = _SCHEDULE_STYLE if name == "effective_lr" and i >= t.dim else _STYLES[min(i, 1)]
                        c.set_pen(mk_pen(t.color, CURVE_WIDTH, style))
                self._bodies_dirty = True
        self._trajs = trajs
        if structure_changed or time.perf_counter() - self._curves_time >= CURVE_INTERVAL:
            self._update_curves()
        else:  # growing runs: redraw the curves at most every CURVE_INTERVAL
            self._curves_pending = True
            if not self._curve_timer.isActive():
                wait = CURVE_INTERVAL - (time.perf_counter() - self._curves_time)
                self._curve_timer.start(max(1, int(wait * 1000)))
            if _defer_position:  # a playing frame: the dots follow with the curves
                self._position_pending = True
            else:
                self._update_position()

    def flush(self) -> None:
        """Redraw curves (and the position) now if a throttled update is pending."""
        if self._curves_pending:
            self._update_curves()
        elif self._position_pending:
            self._update_position()

    def set_position(self, step: int) -> None:
        """Move the position line (and the value dots) to ``step``."""
        self._step = max(0, int(step))
        self._update_position()

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """:meth:`set_trajectories` and :meth:`set_position` with one update. While runs only grow
        (playing), the whole history (curves, line and dots) follows at most every CURVE_INTERVAL:
        it is a side view, and each redraw costs a few ms; a timer brings it up to date."""
        self._step = max(0, int(step))
        self.set_trajectories(trajectories, _defer_position=True)

    def curve_data(self, key: Hashable, plot: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(x, y) of run ``key``'s curves in ``plot`` as drawn (log10 values on log axes)."""
        self.flush()
        return [c.data() for c in self._runs[key].curves[plot]]

    def escaping_runs(self, plot: str) -> set[Hashable]:
        """Keys of the runs that do not set ``plot``'s range (diverged or blowing up)."""
        self.flush()
        return set(self._escaping[plot])

    @staticmethod
    def _structure(t: TrajectoryView) -> tuple:
        """What decides a run's curves and pens (not its values)."""
        return t.key, t.visible, t.color, t.dim, t.schedule_lr is not None, tuple(t.scalar_internals())

    def _scalar_internals(self, t: TrajectoryView) -> dict[str, np.ndarray]:
        return t.scalar_internals() if self._show_internals else {}

    def _series(self, t: TrajectoryView) -> dict[str, list[np.ndarray]]:
        """Raw y values per plot (before the log transform): the effective lr of each parameter,
        then the scheduled η (runs with a schedule); the internals plot, each scalar internal."""
        out: dict[str, list[np.ndarray]] = {"loss": [t.loss], "parameters": [t.points[:, i] for i in range(t.dim)]}
        eff = t.effective_lr
        out["effective_lr"] = [eff[:, i] for i in range(t.dim)] if eff is not None else [np.empty(0)] * t.dim
        if t.schedule_lr is not None:
            out["effective_lr"].append(t.schedule_lr)
        norms = t.gradient_norms()
        out["grad_norm"] = [norms if norms is not None else np.empty(0)]
        out[INTERNALS] = list(self._scalar_internals(t).values())
        return out

    def _transform(self, name: str) -> Callable[[np.ndarray], np.ndarray]:
        if not self._log[name]:
            return _finite
        if name == "loss" and self._loss_offset is not None:
            offset = self._loss_offset
            return lambda v: log10_masked(v - offset)
        return log10_masked

    def _update_curves(self) -> None:
        self._curves_pending = False
        self._curve_timer.stop()
        self._curves_time = time.perf_counter()
        visible = [t for t in self._trajs if t.visible]
        series = {t.key: self._series(t) for t in visible}
        for t in visible:
            for name, arrays in series[t.key].items():
                for curve, y in zip(self._runs[t.key].curves[name], arrays, strict=True):
                    if not curve.summary.update(y):
                        self._refit = True  # a run restarted
        self._loss_offset = None
        if self._log["loss"] and visible:
            lows = [self._runs[t.key].curves["loss"][0].summary.lowest for t in visible]
            lows = [v for v in lows if math.isfinite(v)]
            if lows and min(lows) <= 0:
                self._loss_offset = min(lows)
        self._update_titles()
        for t in self._trajs:
            for c in self._runs[t.key].all():
                if c.visible != t.visible:
                    c.set_visible(t.visible)
                    self._bodies_dirty = True
        self._fit_ranges(visible, series)
        crosses: dict[str, list[tuple[float, float, str]]] = {name: [] for name in ALL_PLOTS}
        for t in visible:
            for name, arrays in series[t.key].items():
                crosses[name] += [(x, y, t.color) for x, y in self._draw_run(t, name, arrays)]
        self._draw_escapes(crosses)
        for name in ALL_PLOTS:
            curves = [c for t in visible for c in self._runs[t.key].curves[name]]
            if self._bodies_dirty or name in self._bodies_changed:
                self.bodies[name].set_paths([p for p in (c.body_path() for c in curves) if p is not None])
            self.tails[name].set_paths([p for p in (c.tail_path() for c in curves) if p is not None])
        self._bodies_dirty = False
        self._bodies_changed.clear()
        self._update_position()

    def _width(self, name: str) -> int:
        return max(200, int(self.plots[name].vb.width()))

    def _full_points(self, t: TrajectoryView, name: str, arrays: list[np.ndarray]) -> list[tuple]:
        """Every curve of run ``t`` in ``name``, thinned, in plot coordinates (O(width))."""
        transform, width = self._transform(name), self._width(name)
        return [c.summary.decimate(y, width, transform) for c, y in zip(self._runs[t.key].curves[name], arrays,
                                                                         strict=True)]

    def _series_extent(self, summary: SeriesSummary, name: str) -> tuple[float, float] | None:
        """A curve's finite extent in plot coordinates, from its summary (O(1))."""
        if not math.isfinite(summary.lowest):
            return None
        if not self._log[name]:
            return summary.lowest, summary.highest
        if not math.isfinite(summary.lowest_positive):
            return None
        return math.log10(summary.lowest_positive), math.log10(summary.highest)

    def _run_extent(self, t: TrajectoryView, name: str, arrays: list[np.ndarray]) -> tuple[float, float] | None:
        if name == "loss" and self._loss_offset is not None:  # loss − min: from the thinned curve
            found = [_extent(v) for _x, v in self._full_points(t, name, arrays)]
        else:
            found = [self._series_extent(c.summary, name) for c in self._runs[t.key].curves[name]]
        ext = [e for e in found if e is not None]
        return (min(e[0] for e in ext), max(e[1] for e in ext)) if ext else None

    def _run_start(self, t: TrajectoryView, name: str) -> float:
        """The largest first value of the run's curves, in plot coordinates."""
        firsts = []
        for c in self._runs[t.key].curves[name]:
            v = self._marker_value(name, c.summary.first) if math.isfinite(c.summary.first) else math.nan
            if math.isfinite(v):
                firsts.append(v)
        return max(firsts, key=abs, default=0.0)

    def _escapes(self, name: str, extent: tuple[float, float], start: float, others: tuple[float, float]) -> bool:
        """Whether a running run with ``extent`` (first value ``start``) is blowing up against the
        ``others``' extent (see the module docstring)."""
        lo_o, hi_o = others
        if self._log[name]:  # only growth escapes a log axis (convergence to 1e-30 is real)
            reach = max(hi_o - lo_o, _ESCAPE_DECADES)
            return extent[1] > hi_o + reach and extent[1] > max(start, hi_o) + _ESCAPE_DECADES
        span = _span_floor(lo_o, hi_o)
        beyond = max(extent[1] - hi_o, lo_o - extent[0])
        scale = max(abs(start), abs(lo_o), abs(hi_o), 1e-300)
        return beyond > _ESCAPE_SPANS * span and max(abs(extent[0]), abs(extent[1])) > 1e3 * scale

    def _fit_ranges(self, visible: list[TrajectoryView], series: dict[Hashable, dict[str, list[np.ndarray]]]) -> None:
        """Fit each plot to its finite, non-escaping data, changing a range only when the data
        leave it or fill less than 40 % of it (x: up to a round step beyond the longest run)."""
        refit, self._refit = self._refit, False
        n = max((len(t.loss) for t in visible), default=1)
        xmax = float(_round_up(max(n - 1, _MIN_X) * 1.15))
        for name, plot in self.plots.items():
            found = {t.key: self._run_extent(t, name, series[t.key][name]) for t in visible}
            extents = {k: e for k, e in found.items() if e is not None}
            status = {t.key: t.status for t in visible}
            core = {k: e for k, e in extents.items() if status[k] != "diverged"}
            escaping = {k for k in extents if status[k] == "diverged"}
            if len(core) > 1:
                for t in visible:
                    if t.key not in core:
                        continue
                    rest = [v for j, v in core.items() if j != t.key]
                    others = (min(v[0] for v in rest), max(v[1] for v in rest))
                    if self._escapes(name, core[t.key], self._run_start(t, name), others):
                        escaping.add(t.key)
                core = {k: e for k, e in core.items() if k not in escaping}
            if not core:  # every run escapes: the part of each near its start
                for t in visible:
                    points = self._full_points(t, name, series[t.key][name])
                    sane = [e for e in (_sane_extent(v, self._log[name]) for _x, v in points) if e is not None]
                    if sane:
                        core[t.key] = (min(e[0] for e in sane), max(e[1] for e in sane))
            self._escaping[name] = escaping
            (cx0, cx1), (cy0, cy1) = plot.vb.viewRange()
            # Step 0 sits just inside the left edge, so its dots and ✕ show whole.
            keep_x = not refit and math.isclose(cx0, -_X_LEAD * cx1, abs_tol=1e-9) and n - 1 <= cx1 <= 2.5 * xmax
            x_range = None if keep_x else (-_X_LEAD * xmax, xmax)
            y_range = None
            if core:
                lo, hi = min(e[0] for e in core.values()), max(e[1] for e in core.values())
                new = _nice_range(lo, hi, self._log[name])
                inside = cy0 <= lo and hi <= cy1
                if refit or not inside or (new[1] - new[0]) < 0.4 * (cy1 - cy0):
                    y_range = new
            elif refit:  # no data yet: 0.1 … 10 (log) or 0 … 1
                y_range = _nice_range(-1.0, 1.0, True) if self._log[name] else _nice_range(0.0, 1.0, False)
            if x_range or y_range:
                plot.vb.setRange(xRange=x_range, yRange=y_range, padding=0.0)

    def _draw_run(self, t: TrajectoryView, name: str, arrays: list[np.ndarray]) -> list[tuple[float, float]]:
        """Set the curves; an escaping run's stop where they leave the plot. Returns where its ✕
        go: each exit, or (a diverged run that stays inside) its last finite point."""
        curves = self._runs[t.key].curves[name]
        if t.key not in self._escaping[name]:
            transform = self._transform(name)
            key = (self._log[name], self._loss_offset if name == "loss" else None)
            width = self._width(name)
            for curve, y in zip(curves, arrays, strict=True):
                if curve.draw(y, width, transform, key):
                    self._bodies_changed.add(name)
            return []
        lo, hi = self.plots[name].vb.viewRange()[1]
        crosses: list[tuple[float, float]] = []
        last: tuple[float, float] | None = None
        for curve, (x, y) in zip(curves, self._full_points(t, name, arrays), strict=True):
            out = np.isfinite(y) & ((y < lo) | (y > hi))
            if out.any():  # the exit point sits just inside the edge, so its ✕ shows whole
                i = int(np.argmax(out))
                inset = 0.03 * (hi - lo)
                x = np.append(x[:i], x[i])
                y = np.append(y[:i], min(max(y[i], lo + inset), hi - inset))
                crosses.append((float(x[-1]), float(y[-1])))
            elif last is None:
                ok = np.flatnonzero(np.isfinite(y))
                if ok.size:
                    last = (float(x[ok[-1]]), float(y[ok[-1]]))
            curve.draw_full(x, y)
            self._bodies_changed.add(name)
        if not crosses and last is not None and t.status == "diverged":
            crosses.append(last)
        return crosses

    def _draw_escapes(self, crosses: dict[str, list[tuple[float, float, str]]]) -> None:
        """The ✕ markers, in each run's colour."""
        for name, cross in self.escape_markers.items():
            points = crosses.get(name, [])
            if points == self._crosses_shown.get(name):
                continue  # a ScatterPlotItem update costs ~1 ms even when empty
            self._crosses_shown[name] = points
            cross.setData([p[0] for p in points], [p[1] for p in points],
                          pen=[self._cross_pen(p[2]) for p in points], brush=None)

    def _cross_pen(self, color: str):
        pen = self._brushes.get(("x", color))
        if pen is None:
            pen = self._brushes[("x", color)] = mk_pen(color, 2.4)
        return pen

    def escape_points(self, plot: str) -> list[tuple[float, float]]:
        """(step, y) of the ✕ markers in ``plot`` (plot coordinates)."""
        self.flush()
        x, y = self.escape_markers[plot].getData()
        return list(zip(map(float, x), map(float, y), strict=True))

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
        self._position_pending = False
        for line in self.position_lines.values():
            line.setValue(self._step)
        points: dict[str, tuple[list, list, list]] = {name: ([], [], []) for name in ALL_PLOTS}
        ranges = {name: plot.vb.viewRange()[1] for name, plot in self.plots.items()}
        for t in self._trajs:
            if not t.visible:
                continue
            k = shown_index(t, self._step)
            brush = self._brush(t.color)
            for name, arrays in self._series(t).items():
                xs, ys, brushes = points[name]
                lo, hi = ranges[name]
                escaping = t.key in self._escaping[name]
                for y in arrays:
                    v = self._marker_value(name, float(y[k])) if k < len(y) else math.nan
                    if math.isfinite(v) and (not escaping or lo <= v <= hi):  # escaped: off the plot
                        xs.append(float(k))
                        ys.append(v)
                        brushes.append(brush)
        for name, marker in self.markers.items():
            xs, ys, brushes = points[name]
            marker.setData(xs, ys, brush=brushes)
