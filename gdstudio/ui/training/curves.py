"""Live curves of a training race: the recorded numbers (:class:`LiveCurves`, no Qt) and their view.

:class:`LiveCurves` collects the worker's chunks: per-iteration mini-batch losses (NaN after a
divergence), test accuracies at the evaluation iterations, and where each entry diverged. When
the run ends, :meth:`LiveCurves.finish` takes the :class:`CompareResult` itself, so what is on
screen is exactly what ``compare_optimizers`` returned.

:class:`CurvesView` draws, as the book's MNIST figure does, iterations against the *smoothed*
training loss (the book's 11-tap Kaiser window by default), one colour and one marker shape per
optimizer (markers every total/20 iterations, staggered so they do not sit on each other), with
a linear or log loss axis; below it, test accuracy (%) against iterations and a table of each
optimizer's numbers. A diverged optimizer's curve ends in a red ✕ and its legend entry and table
row say where it diverged. The loss axis is fitted to the 98th percentile of the curves (as the
CLI's PNG), so RMSProp's first-step spike does not flatten every curve; once the user pans or
zooms, the view is left alone until the next run or "Fit". The accuracy axis shows 0–100 %
before any evaluation, then from the tens below the lowest accuracy up to 100 %. Both plots keep
a margin on the right, and their ranges a little padding, so the end tick labels are drawn.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsItem,
    QHeaderView,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gdstudio.train.compare import CompareResult
from gdstudio.train.plot import smoothed
from gdstudio.ui.colormaps import DIVERGED_COLOR
from gdstudio.ui.training.worker import Chunk
from gdstudio.ui.views._pg import mk_pen

__all__ = ["EDGE_MARGIN", "MARKERS", "SMOOTHING", "CurvesView", "LiveCurves", "accuracy_range", "fit_range"]

#: Marker shapes, in row order (the book: o, x, s, D for SGD, Momentum, AdaGrad, Adam).
MARKERS = ("o", "x", "s", "d", "t", "+", "star", "p", "h", "t1")
#: Smoothing choices: (key for :func:`gdstudio.train.plot.smoothed`, menu text).
SMOOTHING = (("kaiser", "Book's smoothing (11-tap Kaiser window)"), ("ema", "Exponential moving average"),
             ("none", "Raw mini-batch loss"))
_COLUMNS = ("Optimizer", "Hyperparameters", "Loss", "Test accuracy", "Status")
#: Pixels kept free right of the plots (and above the accuracy plot) for the last tick labels.
EDGE_MARGIN = 20
#: Fraction of the ranges added at their ends so the first and last tick labels (0 and 100 %, the
#: last iteration) are drawn: with a grid, pyqtgraph hides any label reaching past the plot's edge.
ACC_PADDING = 0.06
X_PADDING = 0.04


def accuracy_range(accuracies: np.ndarray) -> tuple[float, float]:
    """The accuracy axis (%): 0–100 without data, else from the tens at least 5 points below the
    lowest finite accuracy up to 100."""
    finite = accuracies[np.isfinite(accuracies)]
    if finite.size == 0:
        return 0.0, 100.0
    lo = max(0.0, 10.0 * math.floor((float(finite.min()) - 5.0) / 10.0))
    return min(lo, 90.0), 100.0


@dataclass
class LiveCurves:
    """What a run has recorded so far; ``labels`` in row order."""

    labels: list[str]
    titles: list[str]
    colors: list[str]
    hyperparams: list[str]
    total: int
    losses: np.ndarray = field(init=False)        # (total, n) NaN-filled
    completed: int = 0
    eval_iterations: list[int] = field(default_factory=list)
    accuracies: list[list[float]] = field(default_factory=list)  # one row per evaluation
    diverged: dict[str, int | None] = field(init=False)
    state: str = "training"                       # training, done, stopped, failed (nothing trained)
    result: CompareResult | None = None

    def __post_init__(self) -> None:
        self.losses = np.full((self.total, len(self.labels)), np.nan)
        self.diverged = dict.fromkeys(self.labels)

    def add(self, chunk: Chunk) -> None:
        """Append a worker chunk (divergence: the first NaN loss or NaN accuracy)."""
        k = len(chunk.losses)
        if k:
            self.losses[chunk.first - 1 : chunk.last] = chunk.losses
            self.completed = max(self.completed, chunk.last)
            for j, label in enumerate(self.labels):
                if self.diverged[label] is None:
                    bad = np.flatnonzero(~np.isfinite(chunk.losses[:, j]))
                    if bad.size:
                        self.diverged[label] = chunk.first + int(bad[0])
        for it, accs in chunk.evals:
            self.eval_iterations.append(int(it))
            self.accuracies.append(list(accs))
            for label, a in zip(self.labels, accs, strict=True):
                if not math.isfinite(a) and self.diverged[label] is None:
                    self.diverged[label] = int(it)

    def finish(self, result: CompareResult) -> None:
        """Replace what was streamed by the run's own result (identical numbers, plus the final
        evaluation a stopped run makes)."""
        self.result = result
        n = result.completed
        self.losses = np.full((max(self.total, n), len(self.labels)), np.nan)
        for j, label in enumerate(self.labels):
            self.losses[:n, j] = result.losses[label]
        self.completed = n
        self.eval_iterations = [int(i) for i in result.eval_iterations]
        self.accuracies = [[float(result.accuracies[l][k]) for l in self.labels]
                           for k in range(len(result.eval_iterations))]
        self.diverged = dict(result.diverged)
        self.state = "stopped" if result.cancelled else "done"

    def loss(self, label: str) -> np.ndarray:
        """Entry ``label``'s per-iteration losses so far, (completed,)."""
        return self.losses[: self.completed, self.labels.index(label)]

    def accuracy(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, test accuracy in [0, 1]) of entry ``label``."""
        j = self.labels.index(label)
        return (np.asarray(self.eval_iterations, dtype=np.float64),
                np.asarray([row[j] for row in self.accuracies], dtype=np.float64))

    def last_accuracy(self, label: str) -> float:
        _, acc = self.accuracy(label)
        return float(acc[-1]) if len(acc) else math.nan


def fit_range(curves: list[np.ndarray], log_y: bool) -> tuple[float, float] | None:
    """The loss axis range: linear, from 0 to a margin above the 98th percentile of all finite
    values; log, the positive values' whole span with a margin. None without data."""
    parts = [c[np.isfinite(c)] for c in curves]
    finite = np.concatenate(parts) if parts else np.empty(0)
    if log_y:
        finite = finite[finite > 0]
    if finite.size == 0:
        return None
    top = float(np.percentile(finite, 98))
    if log_y:  # decades compress spikes: show everything
        lo, top = float(finite.min()), float(finite.max())
        if top <= lo:
            top = lo * 10
        return lo / 1.15, top * 1.3
    return 0.0, (top * 1.08 if top > 0 else 1.0)


class _Series:
    """The plot items of one entry."""

    def __init__(self, plot: pg.PlotItem, acc_plot: pg.PlotItem, color: str, marker: str) -> None:
        pen = mk_pen(color, 2.0)
        self.curve = pg.PlotDataItem(pen=pen, connect="finite")
        # Two points per pixel column at most: a wide antialiased polyline of 2,000 points costs
        # ~50 ms to paint in software, ~7 ms thinned (the curves are smoothed: nothing is lost).
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.marks = pg.PlotDataItem(pen=None, symbol=marker, symbolSize=8, symbolPen=mk_pen(color, 1.5),
                                     symbolBrush=pg.mkBrush(color) if marker not in ("x", "+") else None)
        self.cross = pg.PlotDataItem(pen=None, symbol="x", symbolSize=16, symbolPen=mk_pen(DIVERGED_COLOR, 3.0))
        self.proxy = pg.PlotDataItem(pen=pen, symbol=marker, symbolSize=8, symbolPen=mk_pen(color, 1.5),
                                     symbolBrush=pg.mkBrush(color) if marker not in ("x", "+") else None)
        self.acc = pg.PlotDataItem(pen=mk_pen(color, 1.5), symbol=marker, symbolSize=7, symbolPen=mk_pen(color, 1.0),
                                   symbolBrush=pg.mkBrush(color) if marker not in ("x", "+") else None,
                                   connect="finite")
        self.keys: dict[str, object] = {}  # what the markers / cross / accuracy items show now
        for item in (self.curve, self.marks, self.cross):
            plot.addItem(item)
        acc_plot.addItem(self.acc)
        self.curve.setZValue(2)
        self.marks.setZValue(3)
        self.cross.setZValue(4)

    def remove(self, plot: pg.PlotItem, acc_plot: pg.PlotItem) -> None:
        for item in (self.curve, self.marks, self.cross):
            plot.removeItem(item)
        acc_plot.removeItem(self.acc)


def _cache_axes(plot: pg.PlotItem) -> None:
    """Axes (with their grid lines) repaint from a pixmap while only the curves change."""
    for name in ("left", "bottom"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _let_shrink(label: pg.LabelItem) -> None:
    """A LabelItem whose minimum width is 0: pyqtgraph sets it to the text's width at every resize,
    and a plot cannot be narrower than its title, so a long title pushed the plot past its view."""
    update_min = label.updateMin

    def updated() -> None:
        update_min()
        label.setMinimumWidth(0)
        height = label._sizeHint[Qt.SizeHint.MinimumSize][1]
        label._sizeHint[Qt.SizeHint.MinimumSize] = (0, height)

    label.updateMin = updated
    label.updateMin()


class _TimedPlot(pg.PlotWidget):
    """A PlotWidget that remembers how long its last paint took (the redraw budget needs it)."""

    paint_seconds = 0.0

    def paintEvent(self, event) -> None:  # Qt override
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.paint_seconds = time.perf_counter() - t0


class CurvesView(QWidget):
    """Loss curves (top), test accuracy and a results table (bottom).

    Redraw budget: :meth:`request_refresh` redraws at most every :data:`MIN_INTERVAL` seconds
    and, when drawing is slow (big windows, software rendering, many curves), waits
    :data:`BUDGET` × the last redraw's cost (data + paint) in between, so drawing never takes
    more than ~1/BUDGET of the UI thread — and of the GIL the training thread needs.
    """

    MIN_INTERVAL = 0.05
    BUDGET = 5.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("curves_view")
        self.smoothing = "kaiser"
        self.log_y = False
        self.data: LiveCurves | None = None
        self._series: list[_Series] = []
        self._user_range = False
        self._user_acc_range = False
        self._fitting = False
        self._foreground: str | None = None  # set_colors(); None: pyqtgraph's configured foreground
        self._last_refresh = -math.inf
        self._refresh_cost = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)

        self.loss_plot = _TimedPlot()
        self.loss_plot.setObjectName("loss_plot")
        self.loss_plot.setMinimumHeight(260)
        p = self.loss_plot.getPlotItem()
        p.showGrid(x=True, y=True, alpha=0.18)
        p.setLabel("bottom", "iterations")
        p.setLabel("left", "training loss (smoothed)")
        self._title = "Training loss"
        p.setTitle(self._title)
        _let_shrink(p.titleLabel)
        p.setMenuEnabled(False)
        p.hideButtons()
        _cache_axes(p)
        p.layout.setContentsMargins(2, 2, EDGE_MARGIN, 2)
        self.legend = p.addLegend(offset=(-12, 12), labelTextSize="10pt", verSpacing=-4)
        self.legend.setZValue(10)
        bg = pg.mkColor(pg.getConfigOption("background"))
        bg.setAlpha(215)
        self.legend.setBrush(pg.mkBrush(bg))
        self.legend.setPen(mk_pen(pg.getConfigOption("foreground"), 1.0, alpha=70))
        p.getViewBox().sigRangeChangedManually.connect(self._on_user_range)
        p.getViewBox().setMouseEnabled(x=True, y=True)

        self.acc_plot = _TimedPlot()
        self.acc_plot.setObjectName("accuracy_plot")
        a = self.acc_plot.getPlotItem()
        a.showGrid(x=True, y=True, alpha=0.18)
        a.setLabel("bottom", "iterations")
        a.setLabel("left", "test accuracy (%)")
        a.setMenuEnabled(False)
        a.hideButtons()
        _cache_axes(a)
        a.layout.setContentsMargins(2, EDGE_MARGIN // 2, EDGE_MARGIN, 2)
        a.getViewBox().setLimits(yMin=-10, yMax=110)
        a.enableAutoRange(y=False)
        a.setYRange(0, 100, padding=ACC_PADDING)
        a.getViewBox().sigRangeChangedManually.connect(self._on_user_acc_range)

        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setObjectName("results_table")
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Loss: the last smoothed training loss. Test accuracy: at the last evaluation.")

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("curves_bottom")
        bottom.addWidget(self.acc_plot)
        bottom.addWidget(self.table)
        bottom.setChildrenCollapsible(False)
        bottom.setSizes([45, 55])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("curves_splitter")
        self.splitter.addWidget(self.loss_plot)
        self.splitter.addWidget(bottom)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 7)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([700, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        for plot in (p, a):
            plot.setXRange(0, 2000, padding=X_PADDING)  # the default budget until a run begins

    # ---------------------------------------------------------------- setup
    def begin(self, data: LiveCurves, title: str = "Training loss") -> None:
        """Start drawing ``data`` (a new run): new items, x axis over the whole budget."""
        p, a = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        self._set_title(title)
        for s in self._series:
            s.remove(p, a)
        self.legend.clear()
        self.data = data
        self._series = []
        for k, color in enumerate(data.colors):
            s = _Series(p, a, color, MARKERS[k % len(MARKERS)])  # PlotItem.addItem applies its log mode
            self.legend.addItem(s.proxy, data.titles[k])
            self._series.append(s)
        self.table.setRowCount(len(data.labels))
        for k, (title, color) in enumerate(zip(data.titles, data.colors, strict=True)):
            name = QTableWidgetItem(title.split(" η=")[0])
            name.setData(Qt.ItemDataRole.DecorationRole, QColor(color))
            self.table.setItem(k, 0, name)
            self.table.setItem(k, 1, QTableWidgetItem(data.hyperparams[k]))
            for c in (2, 3, 4):
                item = QTableWidgetItem("")
                if c in (2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(k, c, item)
        self._user_range = False
        self._user_acc_range = False
        p.setXRange(0, max(data.total, 2), padding=X_PADDING)
        a.setXRange(0, max(data.total, 2), padding=X_PADDING)
        self.refresh()

    @property
    def title(self) -> str:
        """The loss plot's whole title (what is drawn may be elided to fit)."""
        return self._title

    def _set_title(self, title: str) -> None:
        self._title = title
        self._fit_title()

    def _fit_title(self) -> None:
        """Draw the title elided to the plot's width: a long title never widens the plot past its
        window (pyqtgraph's label would set its minimum width to the whole text)."""
        p = self.loss_plot.getPlotItem()
        label = p.titleLabel
        font = QFont(label.item.font())
        size = str(label.opts.get("size") or "")
        if size.endswith("pt"):
            font.setPointSizeF(float(size[:-2]))
        room = max(40, self.loss_plot.width() - 2 * EDGE_MARGIN)
        text = QFontMetrics(font).elidedText(self._title, Qt.TextElideMode.ElideRight, room)
        if self._foreground is None:
            p.setTitle(text)
        else:
            p.setTitle(text, color=self._foreground)

    def resizeEvent(self, event: QResizeEvent) -> None:  # Qt override
        super().resizeEvent(event)
        self._fit_title()

    def set_colors(self, background: QColor | str, foreground: QColor | str) -> None:
        """Draw both plots on ``background`` with axes, labels, title and legend in ``foreground``
        (the studio's plot colours, whatever pyqtgraph's configuration says now)."""
        bg, fg = QColor(background), QColor(foreground)
        self._foreground = fg.name()
        for widget in (self.loss_plot, self.acc_plot):
            widget.setBackground(bg)
            plot = widget.getPlotItem()
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(fg)
                axis.setTextPen(fg)
        self._fit_title()
        legend_bg = QColor(bg)
        legend_bg.setAlpha(215)
        self.legend.setBrush(pg.mkBrush(legend_bg))
        self.legend.setPen(mk_pen(fg.name(), 1.0, alpha=70))
        self.legend.setLabelTextColor(fg)
        for _sample, label_item in self.legend.items:
            label_item.setText(label_item.text, color=fg)
        self._invalidate()

    @property
    def background(self) -> QColor:
        """The plots' background colour."""
        return self.loss_plot.backgroundBrush().color()

    def set_smoothing(self, how: str) -> None:
        smoothed(np.zeros(1), how)  # validates
        self.smoothing = how
        label = {"kaiser": "training loss (smoothed)", "ema": "training loss (EMA)", "none": "training loss"}[how]
        self.loss_plot.getPlotItem().setLabel("left", label)
        self._invalidate()

    def set_log_y(self, on: bool) -> None:
        self.log_y = bool(on)
        self.loss_plot.getPlotItem().setLogMode(x=False, y=self.log_y)
        self._user_range = False
        self._invalidate()

    def _invalidate(self) -> None:
        for s in self._series:
            s.keys.clear()
        self.refresh()

    def fit(self) -> None:
        """Back to the automatic ranges (whole budget on x, the curves' bulk on y)."""
        self._user_range = False
        self._user_acc_range = False
        if self.data is not None:
            hi = max(self.data.total, self.data.completed, 2)
            self.loss_plot.getPlotItem().setXRange(0, hi, padding=X_PADDING)
            self.acc_plot.getPlotItem().setXRange(0, hi, padding=X_PADDING)
        self.refresh()

    def _on_user_range(self, *_args: object) -> None:
        if not self._fitting:
            self._user_range = True

    def _on_user_acc_range(self, *_args: object) -> None:
        if not self._fitting:
            self._user_acc_range = True

    # ---------------------------------------------------------------- drawing
    def curve(self, label: str) -> np.ndarray:
        """The curve drawn for ``label`` (smoothed as chosen)."""
        assert self.data is not None
        return smoothed(self.data.loss(label), self.smoothing)

    def request_refresh(self) -> None:
        """Redraw now if the budget allows, else once the budget allows (requests coalesce)."""
        if self._timer.isActive():
            return
        paint = self.loss_plot.paint_seconds + self.acc_plot.paint_seconds
        gap = max(self.MIN_INTERVAL, self.BUDGET * (self._refresh_cost + paint))
        wait = self._last_refresh + gap - time.monotonic()
        if wait <= 0:
            self.refresh()
        else:
            self._timer.start(max(1, round(wait * 1000)))

    def refresh(self) -> None:
        """Redraw every series from :attr:`data` now."""
        self._timer.stop()
        d = self.data
        if d is None:
            return
        t0 = time.monotonic()
        self._last_refresh = t0
        try:
            self._draw(d)
        finally:
            self._refresh_cost = time.monotonic() - t0

    def _draw(self, d: LiveCurves) -> None:
        """Set the items' data; markers, crosses and accuracy points only when they changed."""
        n = d.completed
        x = np.arange(1, n + 1, dtype=np.float64)
        every = max(1, d.total // 20)
        # The smoothed value at i is final once the window no longer reaches the (mirrored) end.
        settled = n if d.state != "training" else max(0, n - 6)
        curves = []
        for k, (label, s) in enumerate(zip(d.labels, self._series, strict=True)):
            y = self.curve(label)
            curves.append(y)
            s.curve.setData(x, y)
            offset = (k * every) // max(len(d.labels), 1)
            idx = np.arange(every - 1 - offset if every > 1 else 0, settled, every)
            idx = idx[(idx >= 0) & np.isfinite(y[idx])]
            key = (len(idx), settled if len(idx) else 0, d.state)
            if s.keys.get("marks") != key:
                s.keys["marks"] = key
                s.marks.setData(x[idx], y[idx])
            div = d.diverged.get(label)
            if div is not None:
                finite = np.flatnonzero(np.isfinite(y))
                if finite.size:
                    last = int(finite[-1])
                    s.cross.setData([x[last]], [y[last]])
                else:
                    s.cross.setData([float(div)], [self._cross_height(curves)])
                s.keys["cross"] = True
            elif s.keys.get("cross"):
                s.cross.setData([], [])
                s.keys["cross"] = False
            acc_key = (len(d.eval_iterations), d.state)
            if s.keys.get("acc") != acc_key:
                s.keys["acc"] = acc_key
                its, acc = d.accuracy(label)
                ok = np.isfinite(acc)  # none after a divergence
                s.acc.setData(its[ok], acc[ok] * 100.0)
            self._update_row(k, label, y)
        self._update_legend()
        if not self._user_range:
            self._fit_y(curves)
        if not self._user_acc_range:
            lo, hi = accuracy_range(np.asarray(d.accuracies, dtype=np.float64).ravel() * 100.0)
            self._fitting = True
            try:
                self.acc_plot.getPlotItem().setYRange(lo, hi, padding=ACC_PADDING)
            finally:
                self._fitting = False

    def _cross_height(self, curves: list[np.ndarray]) -> float:
        r = fit_range(curves, self.log_y)
        return 1.0 if r is None else r[1] * 0.9

    def _fit_y(self, curves: list[np.ndarray]) -> None:
        r = fit_range(curves, self.log_y)
        if r is None:
            return
        lo, hi = (math.log10(r[0]), math.log10(r[1])) if self.log_y else r
        if not self.log_y:  # curves that reach 0 are drawn above the axis line, not on it
            lo -= 0.015 * (hi - lo)
        self._fitting = True
        try:
            self.loss_plot.getPlotItem().setYRange(lo, hi, padding=0.0)
        finally:
            self._fitting = False

    def status_text(self, label: str) -> str:
        d = self.data
        assert d is not None
        div = d.diverged.get(label)
        if div is not None:
            return f"diverged at iteration {div}"
        return {"training": "training", "done": "done", "stopped": "stopped", "failed": "not trained"}[d.state]

    def _update_row(self, k: int, label: str, y: np.ndarray) -> None:
        d = self.data
        assert d is not None
        finite = y[np.isfinite(y)]
        loss = f"{finite[-1]:.4g}" if finite.size and d.diverged.get(label) is None else "—"
        acc = d.last_accuracy(label)
        cells = [self.table.item(k, c) for c in (2, 3, 4)]
        assert all(cell is not None for cell in cells)  # made with the row
        loss_cell, acc_cell, item = (cell for cell in cells if cell is not None)
        loss_cell.setText(loss)
        acc_cell.setText(f"{acc:.1%}" if math.isfinite(acc) else "—")
        status = self.status_text(label)
        item.setText(status)
        item.setForeground(QColor(DIVERGED_COLOR) if status.startswith("diverged") else self.palette().text().color())

    def legend_text(self, k: int) -> str:
        d = self.data
        assert d is not None
        label = d.labels[k]
        div = d.diverged.get(label)
        if div is not None:
            return f"{d.titles[k]} — diverged at {div}"
        acc = d.last_accuracy(label)
        if d.state != "training" and math.isfinite(acc):
            return f"{d.titles[k]} · test {acc:.1%}"
        return d.titles[k]

    def _update_legend(self) -> None:
        d = self.data
        assert d is not None
        for k, (_sample, label_item) in enumerate(self.legend.items):
            text = self.legend_text(k)
            if label_item.text != text:
                color = DIVERGED_COLOR if d.diverged.get(d.labels[k]) is not None else self._foreground
                label_item.setText(text, color=color) if color else label_item.setText(text)

    def legend_texts(self) -> list[str]:
        return [label_item.text for _s, label_item in self.legend.items]
