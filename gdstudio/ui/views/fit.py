"""The fit view of a data problem: the data points and each run's model curve ŷ(x) at the step shown.

What seeds 000 (sigmoid neuron), 002 (y = w·x) and 003 (line fit) draw: as a run moves through
parameter space its curve ŷ(x; θ_k) = ``problem.predict(θ_k, x)`` moves over the data. The axes
are fixed by the data (padded; [0, 1] included for the sigmoid's outputs), so no run — a
diverged one least of all — ever sets the range; pan / zoom resamples the curves over the
visible x. A run is drawn at min(step, its last index), its last finite point for a diverged
run (whose curve is then dashed). For a problem without data a centred note replaces the plot.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from gdstudio.ui.views._pg import PassiveScatter, mk_pen
from gdstudio.ui.views.protocol import DisplayOptions, FrameMixin, GradientFn
from gdstudio.ui.views.types import TrajectoryView, shown_index

__all__ = ["FitView", "has_fit"]

#: Samples of x per curve over the visible range.
N_SAMPLES = 256
#: Curve values are clipped this many view heights beyond the view (QPainter dislikes 1e300);
#: far enough that the clipped segments look the same inside the view.
_CLIP_RANGES = 1000.0
_NOTE = "The fit view shows data problems:\nsigmoid neuron, linear regression, line through the origin."


def has_fit(problem: Any) -> bool:
    """Whether ``problem`` has data and a model to draw (``x``, ``y`` and ``predict``)."""
    return all(hasattr(problem, a) for a in ("x", "y", "predict"))


def data_ranges(problem: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """The default view: the data's x and y spans padded by a quarter (at least ±0.5), with
    y ∈ [0, 1] included for a sigmoid output (ŷ's own range) and the origin for a line through it."""
    x = np.asarray(problem.x, float)
    y = np.asarray(problem.y, float)

    def padded(lo: float, hi: float) -> tuple[float, float]:
        span = hi - lo
        pad = max(0.25 * span, 0.5 if span == 0 else 0.0)
        return lo - pad, hi + pad

    xlo, xhi = float(x.min()), float(x.max())
    ylo, yhi = float(y.min()), float(y.max())
    if getattr(problem, "name", "") == "line-through-origin":
        xlo, xhi, ylo, yhi = min(xlo, 0.0), max(xhi, 0.0), min(ylo, 0.0), max(yhi, 0.0)
    x0, x1 = padded(xlo, xhi)
    if getattr(problem, "name", "") == "sigmoid-neuron":
        ylo, yhi = min(ylo, 0.0), max(yhi, 1.0)
        pad = 0.08 * (yhi - ylo)
        return (x0, x1), (ylo - pad, yhi + pad)
    return (x0, x1), padded(ylo, yhi)


class FitView(FrameMixin, QWidget):
    """Data points and one ŷ(x) curve per visible run, in the run's colour.

    A :class:`~gdstudio.ui.views.protocol.View`: drive it with :meth:`set_problem` (when the
    problem changes), :meth:`set_frame` / :meth:`set_trajectories` (runs change or grow) and
    :meth:`set_position` (each tick); the surface and the overlays mean nothing here.
    ``curves[key]`` is the curve item of run ``key``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        pi = self.plot_item = self.plot_widget.getPlotItem()
        self.view_box = pi.getViewBox()
        pi.hideButtons()
        pi.showGrid(True, True, alpha=0.15)
        self.view_box.disableAutoRange()
        style = {"color": pg.mkColor(pg.getConfigOption("foreground")).name(), "font-size": "11pt"}
        pi.setLabel("bottom", "x", **style)
        pi.setLabel("left", "y", **style)
        fg = pg.mkColor(pg.getConfigOption("foreground"))
        bg = pg.mkColor(pg.getConfigOption("background"))
        # The data over the curves (a curve through a point must not hide it).
        self.data_points = PassiveScatter(size=12, brush=pg.mkBrush(fg), pen=mk_pen(bg, 1.2), pxMode=True)
        self.data_points.setZValue(30)
        pi.addItem(self.data_points)
        self.note = QLabel(_NOTE)
        self.note.setObjectName("fit_note")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.stack = QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(self.plot_widget)
        self.stack.addWidget(self.note)

        self.problem: Any = None
        self.curves: dict[Hashable, pg.PlotCurveItem] = {}
        self._trajs: list[TrajectoryView] = []
        self._step = 0
        self._default = ((0.0, 1.0), (0.0, 1.0))
        self.stack.setCurrentWidget(self.note)
        self.view_box.sigRangeChanged.connect(self._on_range_changed)

    # -- problem -------------------------------------------------------------------------
    @property
    def applies(self) -> bool:
        """The current problem has data to fit (otherwise the note is shown)."""
        return self.problem is not None

    def set_problem(self, problem: Any) -> None:
        """Show ``problem``'s data (and reset the view to it), or the note for a problem without data."""
        if not has_fit(problem):
            self.problem = None
            self.data_points.setData([], [])
            self._sync_curves([])
            self.stack.setCurrentWidget(self.note)
            return
        self.problem = problem
        n = int(np.asarray(problem.x).size)
        size = 12 if n <= 20 else 8 if n <= 200 else 5  # many points: smaller markers, the curves stay visible
        self.data_points.setData(np.asarray(problem.x, float), np.asarray(problem.y, float), size=size)
        title = getattr(problem, "model", "")
        self.plot_item.setTitle(title, color=pg.mkColor(pg.getConfigOption("foreground")).name(), size="11pt")
        self._default = data_ranges(problem)
        self.stack.setCurrentWidget(self.plot_widget)
        self.reset_view()  # redraws through sigRangeChanged
        self._refresh()

    def reset_view(self) -> None:
        """Show the data (padded)."""
        (x0, x1), (y0, y1) = self._default
        self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)

    def set_surface(self, surface: Any, problem_bounds: Sequence[Sequence[float]], minima: np.ndarray | None = None,
                    log_scale: bool = False, *, labels: Sequence[str] | None = None,
                    gradient_fn: GradientFn | None = None) -> None:
        """The loss surface is not drawn here (the data come with :meth:`set_problem`)."""

    def set_options(self, options: DisplayOptions) -> None:
        """No overlays on the fit."""

    # -- runs ----------------------------------------------------------------------------
    def _show_position(self) -> None:
        self._refresh()  # every run's curve at min(step, its last index)

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs and the step to show them at, with one redraw."""
        self._trajs = list(trajectories)
        self._step = max(0, int(step))
        self._refresh()

    def shown_params(self) -> dict[Hashable, np.ndarray]:
        """The parameters each drawn run's curve is of: {key: θ (D,)}."""
        out = {}
        for t in self._drawable():
            out[t.key] = t.points[shown_index(t, self._step)]
        return out

    def sample_x(self) -> np.ndarray:
        """The x values the curves are sampled at (the visible x range)."""
        (x0, x1), _ = self.view_box.viewRange()
        return np.linspace(x0, x1, N_SAMPLES)

    def _drawable(self) -> list[TrajectoryView]:
        if self.problem is None:
            return []
        dim = self.problem.dim
        return [t for t in self._trajs if t.visible and t.dim == dim]

    def _sync_curves(self, keys: list[Hashable]) -> None:
        for key in [k for k in self.curves if k not in keys]:
            self.plot_item.removeItem(self.curves.pop(key))
        for key in keys:
            if key not in self.curves:
                item = pg.PlotCurveItem(antialias=True)
                item.setZValue(20)
                self.plot_item.addItem(item)
                self.curves[key] = item

    def _refresh(self) -> None:
        trajs = self._drawable()
        self._sync_curves([t.key for t in trajs])
        if not trajs:
            return
        xs = self.sample_x()
        (_, _), (y0, y1) = self.view_box.viewRange()
        h = max(y1 - y0, 1e-12) * _CLIP_RANGES
        ks = [shown_index(t, self._step) for t in trajs]
        params = np.stack([t.points[k] for t, k in zip(trajs, ks, strict=True)])
        yhat = self.problem.predict(params, xs)  # (N, S)
        yhat = np.clip(yhat, y0 - h, y1 + h)  # NaN stays NaN (a gap: connect="finite")
        for t, k, row in zip(trajs, ks, yhat, strict=True):
            diverged = t.status == "diverged" and k == t.last_index
            style = Qt.PenStyle.DashLine if diverged else Qt.PenStyle.SolidLine
            self.curves[t.key].setData(xs, row, connect="finite", pen=mk_pen(t.color, 2.5, style))

    def _on_range_changed(self, *_args) -> None:
        self._refresh()
