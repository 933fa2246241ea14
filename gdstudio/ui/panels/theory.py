"""The Quadratic theory dock: the Hessian's eigen-decomposition, the optimal step sizes and momentum,
their rates, and the selected run's error along each eigenvector (Distill, "Why Momentum Really Works").

On a quadratic surface (:func:`gdstudio.engine.quadratic.is_quadratic`) it shows the one Hessian of
the surface; on any other surface the Hessian at the head of the selected run (the point at the
step shown), labelled *local*. Where no optimum exists (an eigenvalue ≤ 0) it says so instead of
numbers. "Use optimal" makes the selected run GD at η* = 2/(λmin+λmax), or heavy-ball momentum at
η* = (2/(√λmax+√λmin))² and γ* = ((√κ−1)/(√κ+1))², through ``Session.update_run`` inside one
undoable ``Session.edit``.

The eigenvectors are drawn on the contour as two axes through the minimum (through the head for a
local analysis), by items this panel adds to the contour's plot and removes when it closes; they
are shown while the dock is. The plot below shows |qᵢᵀ(θₖ − θ*)| for the selected run (log y),
with the predicted |eᵢ(0)|·ρᵢᵏ dashed beside it when the run is GD or heavy-ball momentum
(ρᵢ = |1 − ηλᵢ|, or the spectral radius of the momentum's 2×2 iteration matrix).

Cheap while playing: recomputed at most every 100 ms, and only while the dock is visible.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.optimizers.sgd import SGD
from gdstudio.engine.quadratic import (
    Analysis,
    NotConvexError,
    analyze,
    error_along_eigenvectors,
    is_quadratic,
    predicted_errors,
    step_rates,
)
from gdstudio.model.session import RunEntry, Session
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.panels._bind import EntryFields
from gdstudio.ui.status import ThrottledSignal
from gdstudio.ui.views._pg import mk_pen

__all__ = ["AXIS_COLORS", "TheoryPanel", "theory_dock"]

#: The colour of eigenvector i's axis on the contour and of its curves (the smallest λ first).
AXIS_COLORS = ("#4FC3F7", "#FFB74D", "#CE93D8")
_Z_AXES = -20  # above the heat map and contour lines, below the runs


def _n(v: float) -> str:
    return f"{v:.4g}".replace("-", "−")


def _vec(v: Any) -> str:
    return "(" + ", ".join(_n(float(x)) for x in np.ravel(v)) + ")"


def _sub(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


class _ErrorPlot(pg.PlotWidget):
    """The error curves: a modest preferred height, so the scrolled panel fits its dock and the plot
    takes the room that is left (a wrapped label makes the scroll area size by preferred heights)."""

    def sizeHint(self) -> QSize:
        return QSize(360, 160)


class TheoryPanel(QWidget):
    """The dock's widget. ``contour`` (the window's ContourView, or None) receives the eigen-axes."""

    def __init__(self, session: Session, contour: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("theory_panel")
        self.session = session
        self.contour = contour
        self.analysis: Analysis | None = None
        self.failure: str | None = None
        #: Eigenvalues / eigenvectors shown (also where no optimum exists), and the axes' centre.
        self.eigen: tuple[np.ndarray, np.ndarray] | None = None
        self.centre: np.ndarray | None = None
        self.rates: np.ndarray | None = None  # predicted ρᵢ of the selected run, when the theory covers it
        self._stale = True

        self.header = QLabel()
        self.header.setObjectName("theory_header")
        self.header.setWordWrap(True)
        self.numbers = QLabel()
        self.numbers.setObjectName("theory_numbers")
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        self.numbers.setWordWrap(True)
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_gd = QPushButton("Use optimal GD")
        self.use_gd.setObjectName("use_optimal_gd")
        self.use_gd.setToolTip("Make the selected run plain GD at η* = 2/(λmin+λmax) (undoable)")
        self.use_gd.clicked.connect(self.use_optimal_gd)
        self.use_momentum = QPushButton("Use optimal momentum")
        self.use_momentum.setObjectName("use_optimal_momentum")
        self.use_momentum.setToolTip("Make the selected run heavy-ball momentum at η* = (2/(√λmax+√λmin))² and "
                                     "γ* = ((√κ−1)/(√κ+1))² (undoable)")
        self.use_momentum.clicked.connect(self.use_optimal_momentum)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_gd)
        buttons.addWidget(self.use_momentum)
        self.note = QLabel()
        self.note.setObjectName("theory_note")
        self.note.setWordWrap(True)

        self.plot = _ErrorPlot()
        self.plot.setObjectName("theory_errors")
        self.plot.setMinimumHeight(160)
        pi = self.plot.getPlotItem()
        pi.setLogMode(False, True)
        pi.showGrid(True, True, alpha=0.25)
        pi.setLabel("bottom", "step k")
        pi.setLabel("left", "|qᵢᵀ(θₖ − θ*)|")
        pi.setMenuEnabled(False)
        pi.hideButtons()
        self.legend = pi.addLegend(offset=(-8, 8), labelTextSize="8pt", verSpacing=-6)
        self.measured: list[pg.PlotDataItem] = []
        self.predicted: list[pg.PlotDataItem] = []
        for color in AXIS_COLORS:
            m = pg.PlotDataItem(pen=mk_pen(color, 2.0), connect="finite")
            p = pg.PlotDataItem(pen=mk_pen(color, 1.6, Qt.PenStyle.DashLine), connect="finite")
            pi.addItem(m)
            pi.addItem(p)
            self.measured.append(m)
            self.predicted.append(p)

        # Everything scrolls, so a short dock (beside the fit and the inspector) squeezes nothing else.
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.header)
        layout.addWidget(self.numbers)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)
        layout.addStretch(0)  # takes the room when there are no curves (the plot is hidden)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(body)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

        # The eigen-axes on the contour.
        self.axis_items: list[pg.PlotCurveItem] = []
        self.axis_labels: list[pg.TextItem] = []
        plot_item = getattr(contour, "plot_item", None)
        for color in AXIS_COLORS[:2]:
            line = pg.PlotCurveItem(pen=mk_pen(color, 1.8, Qt.PenStyle.DashLine), antialias=True)
            line.setZValue(_Z_AXES)
            label = pg.TextItem(color=color, anchor=(0.5, 1.1))
            label.setZValue(_Z_AXES)
            line.hide()
            label.hide()
            if plot_item is not None:
                plot_item.addItem(line, ignoreBounds=True)
                plot_item.addItem(label, ignoreBounds=True)
            self.axis_items.append(line)
            self.axis_labels.append(label)

        self.updates = ThrottledSignal(parent=self)
        self.updates.fired.connect(self.refresh)
        self._subs = Subscriptions()
        pb = session.playback.events
        self._subs.connect(pb.position, lambda *_: self.request())
        self._subs.connect(pb.selected, lambda *_: self.request(force=True))
        self._subs.connect(session.runs_advanced, self.request)
        self._subs.connect(session.runs_changed, lambda: self.request(force=True))
        self._subs.connect(session.problem_changed, lambda: self.request(force=True))
        self._entries = EntryFields(session, ("config", "run"), self._on_entry)
        self.refresh()

    def sizeHint(self) -> QSize:
        """Modest: the dock shares its side with others (its contents scroll when short)."""
        return QSize(380, 240)

    # ------------------------------------------------------------------ model → panel
    def _on_entry(self, entry: RunEntry) -> None:
        if entry is self.session.selected:
            self.request(force=True)

    def request(self, force: bool = False) -> None:
        """Ask for a refresh: at once when paused or ``force``d, else at most every 100 ms."""
        self._stale = True
        if not self.isVisible():
            return  # a hidden dock does nothing; showEvent catches up
        self.updates.request(force=force or not self.session.playing)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
        self._show_axes()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        for item in (*self.axis_items, *self.axis_labels):
            item.hide()

    def head(self) -> tuple[RunEntry | None, np.ndarray | None]:
        """The selected run and its point at the step shown (its last point if it stopped earlier)."""
        e = self.session.selected
        if e is None or e.run is None or not len(e.run.history):
            return e, None
        k = min(self.session.position, len(e.run.history) - 1)
        return e, np.array(e.run.history.points[k], dtype=float)

    # ------------------------------------------------------------------ contents
    def refresh(self) -> None:
        self._stale = False
        problem = self.session.problem
        e, head = self.head()
        self.analysis, self.failure, self.eigen, self.centre, self.rates = None, None, None, None, None
        try:
            quadratic = is_quadratic(problem)
            at = None if quadratic or head is None or not np.isfinite(head).all() else head.tolist()
            self.analysis = a = analyze(problem, at)
            self.eigen = (a.eigenvalues, a.eigenvectors)
            self.centre = np.array(a.minimum if a.quadratic else a.point)
        except NotConvexError as exc:
            self.failure = str(exc)
            self.eigen = (exc.eigenvalues, exc.eigenvectors)
            self.centre = np.array(exc.point)
            if exc.quadratic and abs(float(np.linalg.det(exc.hessian))) > 1e-12:  # the saddle's centre
                with np.errstate(all="ignore"):
                    g = problem.gradient(self.centre)
                self.centre = self.centre - np.linalg.solve(exc.hessian, g)
            quadratic = exc.quadratic
        except ValueError as exc:  # no exact Hessian, not finite there
            self.failure = str(exc)
            quadratic = False
        self._set_header(quadratic, e, head)
        self._set_numbers()
        self._set_curves(e)
        self._show_axes()
        can = self.analysis is not None and e is not None
        self.use_gd.setEnabled(can)
        self.use_momentum.setEnabled(can)

    def _set_header(self, quadratic: bool, e: RunEntry | None, head: np.ndarray | None) -> None:
        if quadratic:
            text = "<b>Quadratic surface</b>: one Hessian everywhere"
        elif self.analysis is not None or isinstance(self.centre, np.ndarray):
            where = self.centre if self.analysis is None else np.array(self.analysis.point)
            whose = (f"the head of Run {e.id}" if e is not None and head is not None and np.isfinite(head).all()
                     else "the first known minimum")
            text = f"<b>Local</b> quadratic model: the Hessian at {whose}, θ = {_vec(where)}"
        else:
            text = "<b>Local</b> quadratic model"
        self.header.setText(text)

    def _set_numbers(self) -> None:
        a = self.analysis
        rows: list[str] = []
        h = a.hessian if a is not None else None
        if h is None and self.eigen is not None:
            values, vectors = self.eigen
            h = vectors @ np.diag(values) @ vectors.T
        if h is not None:
            cells = "".join("<tr>" + "".join(f"<td align='right'>&nbsp;{_n(float(x))}&nbsp;</td>" for x in row)
                            + "</tr>" for row in h)
            rows.append(f"<table><tr><td valign='middle'>H =&nbsp;</td><td><table style='border-left:1px solid #888;"
                        f"border-right:1px solid #888'>{cells}</table></td></tr></table>")
        if self.eigen is not None:
            values, vectors = self.eigen
            for i, lam in enumerate(values):
                color = AXIS_COLORS[i % len(AXIS_COLORS)]
                rows.append(f"<span style='color:{color}'>■</span> λ{_sub(i + 1)} = {_n(float(lam))}, "
                            f"q{_sub(i + 1)} = {_vec(vectors[:, i])}")
        if a is not None:
            pad = "&nbsp;" * 4
            rows += [
                f"κ = λmax/λmin = <b>{_n(a.condition_number)}</b>",
                f"<b>GD</b>: stable for η &lt; 2/λmax = {_n(a.gd_max_stable_lr)}",
                f"{pad}optimal η* = 2/(λmin+λmax) = <b>{_n(a.gd_optimal_lr)}</b>",
                f"{pad}rate (κ−1)/(κ+1) = <b>{_n(a.gd_rate)}</b> per step",
                f"<b>Momentum</b> (heavy ball): η* = (2/(√λmax+√λmin))² = <b>{_n(a.momentum_optimal_lr)}</b>",
                f"{pad}γ* = ((√κ−1)/(√κ+1))² = <b>{_n(a.momentum_optimal)}</b>",
                f"{pad}rate (√κ−1)/(√κ+1) = <b>{_n(a.momentum_rate)}</b> per step",
            ]
        if self.failure is not None:
            text = self.failure[:1].upper() + self.failure[1:]
            rows.append(f"<span style='color:#FF6B6B'><b>No optimal settings:</b> {html.escape(text)}</span>")
        self.numbers.setText("<br>".join(rows))

    def _set_curves(self, e: RunEntry | None) -> None:
        a = self.analysis
        for item in (*self.measured, *self.predicted):
            item.setData([], [])
        self.legend.clear()
        self.plot.setVisible(a is not None and a.quadratic and e is not None and e.run is not None
                             and len(e.run.history) > 0)
        if a is None or not a.quadratic:
            self.note.setText("Error curves need a convex quadratic surface (one Hessian, one minimum)."
                              if self.eigen is not None else "")
            return
        if e is None or e.run is None or not len(e.run.history):
            self.note.setText("Select a run to see its error along each eigenvector.")
            return
        k = min(self.session.position, len(e.run.history) - 1)
        pts = e.run.history.points[: k + 1]
        errors = np.abs(error_along_eigenvectors(pts, a.minimum, a.eigenvectors))
        steps = np.arange(len(pts), dtype=float)
        self.rates, why = self._predicted_rates(e, a)
        lr, gamma = self._rule(e)
        nesterov = bool(get_spec(e.config.optimizer).resolve(e.config.hyperparameters).get("nesterov", False))
        for i in range(min(errors.shape[1], len(AXIS_COLORS))):
            y = np.where(errors[:, i] > 0, errors[:, i], np.nan)
            self.measured[i].setData(steps, y)
            self.legend.addItem(self.measured[i], f"q{_sub(i + 1)} measured")
            if self.rates is not None:
                if gamma == 0:  # GD: exactly |eᵢ(0)|·ρᵢᵏ
                    pred = predicted_errors(errors[0], a.eigenvalues, k, lr, gamma, nesterov=nesterov)[:, i]
                else:  # momentum's transient (a factor k at a double root): the rate through the step shown,
                    # over the last half (the slope to compare; earlier it would only stretch the axis)
                    with np.errstate(all="ignore"):
                        pred = errors[k, i] * float(self.rates[i]) ** (steps - k)
                    pred[: k // 2] = np.nan
                self.predicted[i].setData(steps, np.where(pred > 0, pred, np.nan))
                self.legend.addItem(self.predicted[i], f"predicted ρ{_sub(i + 1)} = {_n(float(self.rates[i]))}")
        self.note.setText(f"Run {e.id} ({html.escape(e.label)}): {why}")

    def _rule(self, e: RunEntry) -> tuple[float, float]:
        """(η, γ) of the selected run as the theory sees them: η(1 − τ) with dampening τ (SGD's rule;
        other rules: their η and no momentum, unused)."""
        hp = get_spec(e.config.optimizer).resolve(e.config.hyperparameters)
        lr, gamma, tau = (float(np.ravel(hp.get(k, 0.0))[0]) for k in ("lr", "momentum", "dampening"))  # type: ignore[arg-type]
        return (lr * (1 - tau) if gamma else lr), gamma

    def _predicted_rates(self, e: RunEntry, a: Analysis) -> tuple[np.ndarray | None, str]:
        spec = get_spec(e.config.optimizer)
        if spec.rule is not SGD:
            return None, f"no prediction: the theory covers GD and heavy-ball momentum, not {spec.title}"
        hp = spec.resolve(e.config.hyperparameters)
        if e.config.schedule is not None:
            return None, "no prediction: a schedule changes η as the run goes"
        if float(hp["weight_decay"]) != 0:  # type: ignore[arg-type]
            return None, "no prediction: weight decay moves the minimum"
        n = self.session.problem.n_samples
        if n is not None and e.config.batch_size is not None and e.config.batch_size < n:
            return None, "no prediction: mini-batches see other Hessians than the full loss"
        lr, gamma = self._rule(e)
        nesterov = bool(hp["nesterov"])
        rates = step_rates(a.eigenvalues, lr, gamma, nesterov=nesterov)
        if gamma == 0:
            return rates, "dashed: the predicted |eᵢ(0)|·ρᵢᵏ, ρᵢ = |1 − ηλᵢ| (GD)"
        rule = "NAG" if nesterov else "heavy ball"
        return rates, (f"dashed: the predicted rate ρᵢᵏ ({rule}: ρᵢ the spectral radius of its 2×2 iteration matrix) "
                       "through the error at the step shown; at a double root a factor k makes the measured slope "
                       "approach it slowly")

    def _show_axes(self) -> None:
        show = (self.isVisible() and self.eigen is not None and self.centre is not None
                and self.session.problem.dim == 2 and np.isfinite(self.centre).all())
        if not show:
            for item in (*self.axis_items, *self.axis_labels):
                item.hide()
            return
        assert self.eigen is not None and self.centre is not None
        values, vectors = self.eigen
        (x0, x1), (y0, y1) = self.session.bounds
        long = 1.5 * max(x1 - x0, y1 - y0)
        short = 0.3 * min(x1 - x0, y1 - y0)
        c = self.centre
        for i, (line, label) in enumerate(zip(self.axis_items, self.axis_labels, strict=True)):
            q = vectors[:, i]
            ends = np.array([c - long * q, c + long * q])
            line.setData(ends[:, 0], ends[:, 1])
            tip = c + short * q
            label.setText(f"q{_sub(i + 1)}  λ = {_n(float(values[i]))}")
            label.setPos(float(tip[0]), float(tip[1]))
            line.show()
            label.show()

    # ------------------------------------------------------------------ panel → model
    def _use(self, what: str, optimizer: str, hyperparameters: dict[str, float]) -> None:
        e = self.session.selected
        if e is None or self.analysis is None:
            return
        try:
            with self.session.edit(f"use the optimal {what} for Run {e.id}"):
                self.session.update_run(e.id, optimizer=optimizer, hyperparameters=hyperparameters)
        except ValueError as exc:  # a recorded run, an invalid value
            self.note.setText(f"Cannot use it: {exc}")

    def use_optimal_gd(self) -> None:
        """The selected run becomes GD at η* = 2/(λmin+λmax) (one undoable command)."""
        if self.analysis is not None:
            self._use("GD step", "gd", {"lr": self.analysis.gd_optimal_lr})

    def use_optimal_momentum(self) -> None:
        """The selected run becomes heavy-ball momentum at η*, γ* (one undoable command)."""
        a = self.analysis
        if a is not None:
            self._use("momentum", "momentum", {"lr": a.momentum_optimal_lr, "momentum": a.momentum_optimal})

    def close_session(self) -> None:
        """Disconnect from the session and take the axes off the contour (the window is closing)."""
        self._subs.disconnect_all()
        self._entries.close()
        self.updates.cancel()
        plot_item = getattr(self.contour, "plot_item", None)
        for item in (*self.axis_items, *self.axis_labels):
            if plot_item is not None and item.scene() is not None:
                plot_item.removeItem(item)


def theory_dock(window: Any) -> TheoryPanel:
    """The dock's widget for the studio window (DOCKS row ``theory``)."""
    return TheoryPanel(window.session, getattr(window, "contour", None))
