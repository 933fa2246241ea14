"""Explore → Sweep hyperparameters: a grid of runs over one or two hyperparameters of the selected run.

Every cell is the selected run (its problem, optimizer, start, batch size, seed, noise, tol)
with the swept values put in, run for ``steps`` steps by the engine's vectorized sweep (all cells
as the rows of one call, through per-row hyperparameters: a cell equals the single run).

* **Two keys**: a heat map over key 1 (x) × key 2 (y), coloured by final loss, best loss (both
  on a log colour scale), steps to the tolerance, or the status alone. Diverged cells have their
  own colour (:data:`DIVERGED`) in every colouring, and the **divergence boundary** is drawn
  along the cell edges between diverged and finite cells (a white line on a dark outline), as
  the trainability maps of Sohl-Dickstein (2024) draw it.
* **One key**: a curve of the chosen measure against the key (final loss against η is the
  learning-rate range test); diverged cells are ✕ marks along the top.
* Keys on a log axis (η and ε by default: the spec's own ``log`` flag) are placed in log10
  coordinates and their ticks labelled with the real values (pyqtgraph's axis log mode).
* **Clicking a cell** sets that cell's values on the run the sweep was made for, through
  :meth:`Session.update_run` (one undoable edit, as the optimizer panel's editors do); the run
  replays with them. A marker shows the run's current values.
* The sweep runs on a worker (:class:`~gdstudio.ui.background.Background`) with progress and
  Cancel; Cancel (or a new sweep) leaves the dialog showing what it showed before.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.explore import STATUS_NAMES, Cancelled, check_memory, sweep
from gdstudio.engine.hyperparams import HyperParam, format_value
from gdstudio.engine.optimizers.registry import get_spec
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import RunEntry, Session
from gdstudio.ui.background import Background, Job
from gdstudio.ui.colormaps import DIVERGED_COLOR, colormap, map_unit
from gdstudio.ui.widgets.numbers import NumberSpinBox

__all__ = [
    "DIVERGED",
    "MEASURES",
    "NOT_REACHED",
    "SweepAxis",
    "SweepDialog",
    "SweepGrid",
    "SweepKey",
    "boundary_segments",
    "open_sweep_dialog",
    "sweep_keys",
]

#: What a cell can be coloured by (combo text → key).
MEASURES: dict[str, str] = {"final loss": "final_loss", "best loss": "best_loss",
                            "steps to tolerance": "steps_to_tol", "diverged": "status"}
#: A diverged cell's colour (every colouring) and a cell that never reached the tolerance.
DIVERGED = DIVERGED_COLOR
NOT_REACHED = "#6E6E6E"
#: Colours of the status map: ok, converged (diverged is :data:`DIVERGED`).
STATUS_COLORS = {"ok": "#3B528B", "converged": "#5EC962"}
MAX_CELLS = 512 * 512


# ------------------------------------------------------------------------------------- keys
@dataclass(frozen=True)
class SweepKey:
    """A hyperparameter that can vary: a number, or one number of a pair or triple (``betas[0]``)."""

    spec: HyperParam
    index: int | None = None

    @property
    def id(self) -> str:
        return self.spec.name if self.index is None else f"{self.spec.name}[{self.index}]"

    @property
    def symbol(self) -> str:
        if self.index is not None and self.spec.symbols:
            return self.spec.symbols[self.index]
        return self.spec.symbol if self.index is None else f"{self.spec.symbol}{self.index + 1}"

    @property
    def log(self) -> bool:
        return self.spec.log

    def current(self, resolved: dict[str, Any]) -> float:
        value = resolved[self.spec.name]
        value = value if self.index is None or value is None else value[self.index]
        return math.nan if value is None else float(value)  # an optional value left unset (None)

    def default_range(self, current: float) -> tuple[float, float]:
        """Log keys: two decades either side of the current value (within the valid range);
        others: the slider's range."""
        if not math.isfinite(current):
            current = self.spec.soft_low if self.log and self.spec.soft_low > 0 else math.nan
        if self.log and math.isfinite(current):
            centre = current if current > 0 else max(self.spec.soft_low, 1e-12)
            lo, hi = centre / 100, centre * 100
            return max(lo, self.spec.soft_low or lo), min(hi, self.spec.soft_high * 10)
        return float(self.spec.soft_low), float(self.spec.soft_high)

    def put(self, overrides: dict[str, Any], resolved: dict[str, Any], value: float) -> dict[str, Any]:
        """``overrides`` with this key set to ``value`` (a pair keeps its other component)."""
        out = dict(overrides)
        if self.index is None:
            out[self.spec.name] = float(value)
        else:
            pair = list(overrides.get(self.spec.name, resolved[self.spec.name]))
            pair[self.index] = float(value)
            out[self.spec.name] = tuple(pair)
        return out


def sweep_keys(optimizer: str) -> list[SweepKey]:
    """The keys of ``optimizer`` that a sweep can vary: its numbers and each number of its pairs and triples."""
    keys: list[SweepKey] = []
    for hp in get_spec(optimizer).hyperparams:
        if hp.kind == "float":
            keys.append(SweepKey(hp))
        elif hp.kind in ("pair", "triple"):
            keys.extend(SweepKey(hp, i) for i in range(2 if hp.kind == "pair" else 3))
    return keys


@dataclass(frozen=True)
class SweepAxis:
    key: SweepKey
    values: np.ndarray
    log: bool

    @property
    def coords(self) -> np.ndarray:
        """Where the values sit on the plot's axis (log10 for a log axis)."""
        return np.log10(self.values) if self.log else self.values


# ------------------------------------------------------------------------------------- result
@dataclass(frozen=True)
class SweepGrid:
    """One sweep's outcome: arrays shaped (len(axes[0].values),) or (len(axes[0]), len(axes[1]))."""

    entry_id: int
    config: RunConfig
    axes: tuple[SweepAxis, ...]
    steps_budget: int
    final_loss: np.ndarray
    best_loss: np.ndarray
    steps: np.ndarray
    status: np.ndarray  # "ok" / "converged" / "diverged"
    #: L(start): the loss colour scale tops out there (a cell that ends above it failed to descend).
    start_loss: float = math.nan
    #: The problem swept (a click applies the cell only while the session still shows it).
    problem: Any = None

    @property
    def diverged(self) -> np.ndarray:
        return self.status == "diverged"

    def measure(self, key: str) -> np.ndarray:
        """The float values of a measure (NaN: diverged, or the tolerance never reached)."""
        if key == "steps_to_tol":
            return np.where(self.status == "converged", self.steps.astype(float), np.nan)
        if key == "status":
            return np.where(self.diverged, np.nan, np.where(self.status == "converged", 1.0, 0.0))
        values = np.asarray(getattr(self, key), dtype=float).copy()
        values[self.diverged] = np.nan
        return values

    def cell_values(self, index: tuple[int, ...]) -> dict[str, float]:
        return {axis.key.id: float(axis.values[i]) for axis, i in zip(self.axes, index, strict=True)}


def _compute(problem: Any, config: RunConfig, axes: tuple[SweepAxis, ...], steps: int,
             job: Job) -> dict[str, np.ndarray]:
    """On the worker: the engine's sweep of ``axes`` (every cell in one vectorized call)."""
    result = sweep(problem, config, [(a.key.id, a.values) for a in axes], steps,
                   progress=job.report, cancel=job.cancel_event)
    return {"final_loss": result.final_loss, "best_loss": result.best_loss, "steps": result.steps,
            "status": np.asarray(STATUS_NAMES)[result.status]}


# ------------------------------------------------------------------------------------- geometry
def _edges(coords: np.ndarray) -> np.ndarray:
    """Cell edges around centres ``coords`` (midpoints; the ends half a cell out)."""
    c = np.asarray(coords, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def boundary_segments(diverged: np.ndarray, xedges: np.ndarray, yedges: np.ndarray) -> np.ndarray:
    """The cell edges between a diverged and a finite cell, as (M, 2, 2) segments [[x0, y0], [x1, y1]].

    ``diverged[i, j]`` is the cell at x index i, y index j; a vertical segment separates (i, j)
    and (i+1, j), a horizontal one (i, j) and (i, j+1).
    """
    d = np.asarray(diverged, dtype=bool)
    segs: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for i, j in zip(*np.nonzero(d[1:, :] != d[:-1, :]), strict=True):
        x = float(xedges[i + 1])
        segs.append(((x, float(yedges[j])), (x, float(yedges[j + 1]))))
    for i, j in zip(*np.nonzero(d[:, 1:] != d[:, :-1]), strict=True):
        y = float(yedges[j + 1])
        segs.append(((float(xedges[i]), y), (float(xedges[i + 1]), y)))
    return np.array(segs, dtype=float).reshape(-1, 2, 2)


def _hex_rgba(color: str) -> np.ndarray:
    c = color.lstrip("#")
    return np.array([int(c[k:k + 2], 16) / 255 for k in (0, 2, 4)] + [1.0], dtype=np.float32)


def _log_values(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """log10 of the finite positive values (a loss ≤ 0 is clipped to the lowest positive one's
    decade); ``False`` and the values unchanged when none is positive."""
    finite = np.isfinite(values)
    positive = finite & (values > 0)
    if not positive.any():
        return values, False
    floor = float(np.min(values[positive]))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.where(finite, np.maximum(values, floor), np.nan))
    return out, True


def colour_cells(grid: SweepGrid, measure: str) -> tuple[np.ndarray, tuple[float, float] | None, str]:
    """RGBA (…, 4) float32 colours of every cell, the colour bar's range (None for the status
    map) and its label."""
    status = grid.status
    rgba = np.empty((*status.shape, 4), dtype=np.float32)
    if measure == "status":
        rgba[:] = _hex_rgba(STATUS_COLORS["ok"])
        rgba[status == "converged"] = _hex_rgba(STATUS_COLORS["converged"])
        rgba[grid.diverged] = _hex_rgba(DIVERGED)
        return rgba, None, "status"
    values = grid.measure(measure)
    label = {"final_loss": "final loss", "best_loss": "best loss", "steps_to_tol": "steps to tolerance"}[measure]
    if measure != "steps_to_tol":
        values, logged = _log_values(values)
        if logged:
            label = f"log₁₀ {label}"
    finite = np.isfinite(values)
    if finite.any():
        lo, hi = float(np.min(values[finite])), float(np.max(values[finite]))
        if measure != "steps_to_tol" and math.isfinite(grid.start_loss):
            cap = math.log10(grid.start_loss) if label.startswith("log") and grid.start_loss > 0 else grid.start_loss
            if lo < cap < hi:  # cells that end above the start's loss share the top colour
                hi = cap
        span = hi - lo if hi > lo else 1.0
        rgba[:] = map_unit((values - lo) / span)
    else:
        lo, hi = 0.0, 1.0
        rgba[:] = _hex_rgba(NOT_REACHED)
    rgba[~finite] = _hex_rgba(NOT_REACHED)
    rgba[grid.diverged] = _hex_rgba(DIVERGED)
    return rgba, (lo, hi if hi > lo else lo + 1.0), label


# ------------------------------------------------------------------------------------- axes
class ValueAxis(pg.AxisItem):
    """An axis whose view coordinates may be log10 of the values (``log``): ticks at whole
    decades (and 2, 5 × when few decades show), labelled with the real values (``1e-05``, ``0.01``)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.log = False
        self.enableAutoSIPrefix(False)
        self.setStyle(hideOverlappingLabels=False)  # the first and last decade are at the edges

    def set_log(self, log: bool) -> None:
        self.log = log
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        if not self.log:
            return super().tickValues(minVal, maxVal, size)  # type: ignore[no-any-return]
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        decades = [float(d) for d in range(lo, hi + 1) if minVal <= d <= maxVal]
        if maxVal - minVal > 6:
            every = math.ceil((maxVal - minVal) / 6)
            return [(float(every), [d for d in decades if d % every == 0])]
        minor = [d + math.log10(m) for d in range(lo, hi + 1) for m in (2, 5) if minVal <= d + math.log10(m) <= maxVal]
        if len(decades) >= 2:
            return [(1.0, decades), (0.5, minor if maxVal - minVal <= 3 else [])]
        return [(1.0, decades), (0.5, minor)] if decades or minor else super().tickValues(minVal, maxVal, size)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.log:
            return super().tickStrings(values, scale, spacing)  # type: ignore[no-any-return]
        return [f"{10.0 ** v:.3g}" for v in values]


# ------------------------------------------------------------------------------------- dialog
class SweepDialog(QDialog):
    """The sweep: key pickers and ranges, steps, colouring, Compute / Cancel, the plot."""

    #: Emitted on the UI thread when a sweep result is shown.
    finished = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("sweep_dialog")
        self.setWindowTitle("Sweep hyperparameters")
        self.grid: SweepGrid | None = None
        self.work = Background(self, name="gdstudio-sweep")
        self.work.progress.connect(self._on_progress)
        self.work.done.connect(self._on_done)
        self.work.failed.connect(self._on_failed)
        self._keys: list[SweepKey] = []
        self._bound: tuple[int | None, str | None] = (None, None)

        self.run_label = QLabel()
        self.run_label.setWordWrap(True)
        form = QGridLayout()
        self.key_box: list[QComboBox] = []
        self.lo_box: list[NumberSpinBox] = []
        self.hi_box: list[NumberSpinBox] = []
        self.count_box: list[QSpinBox] = []
        self.log_box: list[QCheckBox] = []
        for row, title in enumerate(("x:", "y:")):
            combo = QComboBox()
            combo.setMinimumContentsLength(12)
            lo, hi = NumberSpinBox(), NumberSpinBox()
            count = QSpinBox()
            count.setRange(2, 512)
            log = QCheckBox("log")
            form.addWidget(QLabel(title), row, 0)
            form.addWidget(combo, row, 1)
            form.addWidget(QLabel("from"), row, 2)
            form.addWidget(lo, row, 3)
            form.addWidget(QLabel("to"), row, 4)
            form.addWidget(hi, row, 5)
            form.addWidget(QLabel("values"), row, 6)
            form.addWidget(count, row, 7)
            form.addWidget(log, row, 8)
            combo.currentIndexChanged.connect(lambda _i, r=row: self._on_key(r))
            self.key_box.append(combo)
            self.lo_box.append(lo)
            self.hi_box.append(hi)
            self.count_box.append(count)
            self.log_box.append(log)
        self.count_box[0].setValue(40)
        self.count_box[1].setValue(40)
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 100_000)
        self.steps_box.setValue(200)
        self.measure_box = QComboBox()
        self.measure_box.addItems(list(MEASURES))
        self.measure_box.currentIndexChanged.connect(lambda _i: self._draw())
        self.compute_button = QPushButton("Compute")
        self.compute_button.setDefault(True)
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("steps"))
        row2.addWidget(self.steps_box)
        row2.addSpacing(12)
        row2.addWidget(QLabel("colour by"))
        row2.addWidget(self.measure_box)
        row2.addStretch(1)
        row2.addWidget(self.compute_button)
        row2.addWidget(self.cancel_button)

        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground(pg.getConfigOption("background"))  # the app's light or dark scheme
        self.x_axis, self.y_axis = ValueAxis("bottom"), ValueAxis("left")
        self.plot = self.layout_widget.addPlot(row=0, col=0, axisItems={"bottom": self.x_axis, "left": self.y_axis})
        self.plot.showGrid(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.image = pg.ImageItem()
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.boundary_shadow = pg.PlotDataItem(pen=pg.mkPen("#000000", width=4.5), connect="pairs")
        self.boundary = pg.PlotDataItem(pen=pg.mkPen("#FFFFFF", width=2), connect="pairs")
        self.ascent = pg.PlotDataItem(pen=pg.mkPen("#FFFFFF", width=1.5, style=Qt.PenStyle.DashLine), connect="pairs")
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#56B4E9", width=2), symbol="o", symbolSize=4,
                                     symbolBrush="#56B4E9", symbolPen=None)
        self.crosses = pg.ScatterPlotItem(symbol="x", size=10, pen=pg.mkPen(DIVERGED, width=2), brush=DIVERGED)
        self.marker = pg.ScatterPlotItem(symbol="+", size=16, pen=pg.mkPen("#FFFFFF", width=2), brush=None)
        self.placeholder = pg.TextItem("Compute: every cell becomes a run of the selected run's settings",
                                       color=pg.getConfigOption("foreground"), anchor=(0.5, 0.5))
        self.placeholder.setPos(0.0, 0.0)
        self.plot.hideAxis("bottom")  # until the first sweep
        self.plot.hideAxis("left")
        self.plot.setRange(xRange=(-1.0, 1.0), yRange=(-1.0, 1.0), padding=0)
        for item in (self.ascent, self.boundary_shadow, self.boundary, self.curve, self.crosses, self.marker,
                     self.placeholder):
            self.plot.addItem(item)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=colormap(), interactive=False, width=14)
        self.layout_widget.addItem(self.bar, row=0, col=1)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.scene().sigMouseMoved.connect(self._on_hover)
        self.readout = QLabel(" ")

        layout = QVBoxLayout(self)
        layout.addWidget(self.run_label)
        layout.addLayout(form)
        layout.addLayout(row2)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.layout_widget, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.legend)
        bottom.addStretch(1)
        bottom.addWidget(self.readout)
        layout.addLayout(bottom)
        self.resize(860, 640)

        self.session.runs_changed.connect(self._on_runs)
        self.session.playback.events.selected.connect(self._on_selected)
        self._clear_plot()
        self.refresh()

    # ---------------------------------------------------------------- the run
    def _on_selected(self, *_args: object) -> None:
        if shiboken6.isValid(self):  # the window (its parent) may be gone while the session lives on
            self.refresh()

    def _on_runs(self, *_args: object) -> None:
        if shiboken6.isValid(self):
            self.refresh()

    def refresh(self) -> None:
        """Follow the selected run: its name, and the keys of its optimizer."""
        e = self.session.selected
        if e is None:
            self.run_label.setText("Select a run: the sweep varies its hyperparameters.")
            self.compute_button.setEnabled(False)
            self._bound = (None, None)
            self._update_marker()
            return
        self.compute_button.setEnabled(not self.work.busy)
        start = ", ".join(f"{v:g}" for v in e.config.start)
        self.run_label.setText(f"<b>Run {e.id}</b> · {get_spec(e.config.optimizer).title} from ({start}) on "
                               f"{self.session.problem_settings.name}: every cell is this run with the values "
                               "of the cell; click a cell to give the run its values.")
        if self._bound != (e.id, e.config.optimizer):
            self._bound = (e.id, e.config.optimizer)
            self._keys = sweep_keys(e.config.optimizer)
            for row, combo in enumerate(self.key_box):
                blocked = combo.blockSignals(True)
                combo.clear()
                if row == 1:
                    combo.addItem("— none (a curve)", None)
                for key in self._keys:
                    combo.addItem(f"{key.symbol}  ({key.id})", key.id)
                combo.blockSignals(blocked)
            self.key_box[0].setCurrentIndex(0)
            second = self._default_second(e.config.optimizer)
            self.key_box[1].setCurrentIndex(max(0, self.key_box[1].findData(second)) if second else 0)
            self._on_key(0)
            self._on_key(1)
        self._update_marker()

    @staticmethod
    def _default_second(optimizer: str) -> str | None:
        names = [k.id for k in sweep_keys(optimizer)]
        for preferred in ("momentum", "betas[0]", "alpha", "rho", "eps"):
            if preferred in names:
                return preferred
        return None

    def _key(self, row: int) -> SweepKey | None:
        kid = self.key_box[row].currentData()
        return next((k for k in self._keys if k.id == kid), None)

    def _on_key(self, row: int) -> None:
        key = self._key(row)
        enabled = key is not None
        for w in (self.lo_box[row], self.hi_box[row], self.count_box[row], self.log_box[row]):
            w.setEnabled(enabled)
        e = self.session.selected
        if key is None or e is None:
            return
        resolved = get_spec(e.config.optimizer).resolve(e.config.hyperparameters)
        lo, hi = key.default_range(key.current(resolved))
        for box, value in ((self.lo_box[row], lo), (self.hi_box[row], hi)):
            box.setRange(max(key.spec.low, -1e12), min(key.spec.high, 1e12))
            box.setValue(value)
        self.log_box[row].setChecked(key.log)

    def set_axis(self, row: int, key_id: str | None, lo: float | None = None, hi: float | None = None,
                 count: int | None = None, log: bool | None = None) -> None:
        """Choose the key of axis ``row`` and, optionally, its range, count and scale (scripts, tests)."""
        index = self.key_box[row].findData(key_id)
        if index < 0:
            raise ValueError(f"Invalid key value: {key_id!r} (known: {', '.join(k.id for k in self._keys)})")
        self.key_box[row].setCurrentIndex(index)
        if lo is not None:
            self.lo_box[row].setValue(lo)
        if hi is not None:
            self.hi_box[row].setValue(hi)
        if count is not None:
            self.count_box[row].setValue(count)
        if log is not None:
            self.log_box[row].setChecked(log)

    # ---------------------------------------------------------------- computing
    def axes(self) -> tuple[SweepAxis, ...]:
        """The grid the controls describe (ValueError naming what is wrong)."""
        axes: list[SweepAxis] = []
        for row in range(2):
            key = self._key(row)
            if key is None:
                continue
            lo, hi, n, log = (self.lo_box[row].value(), self.hi_box[row].value(), self.count_box[row].value(),
                              self.log_box[row].isChecked())
            if not lo < hi:
                raise ValueError(f"Invalid range of {key.id}: from {lo:g} to {hi:g} (the start must be below the end)")
            if log and lo <= 0:
                raise ValueError(f"Invalid range of {key.id}: from {lo:g} (a log axis needs values above 0)")
            values = np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)
            axes.append(SweepAxis(key, values, log))
        if len(axes) == 2 and axes[0].key.id == axes[1].key.id:
            raise ValueError(f"Invalid keys: {axes[0].key.id} twice (pick two different hyperparameters)")
        return tuple(axes)

    @property
    def busy(self) -> bool:
        return self.work.busy

    def compute(self) -> None:
        """Start the sweep of the selected run on the worker (a bad range: the message, nothing else)."""
        e = self.session.selected
        if e is None:
            return
        try:
            axes = self.axes()
            shape = tuple(len(a.values) for a in axes)
            cells = int(np.prod(shape))
            if cells > MAX_CELLS:
                raise ValueError(f"Invalid grid: {cells} cells (at most {MAX_CELLS})")
            check_memory(shape, self.session.problem.dim, e.config.optimizer, what="sweep")
            spec = get_spec(e.config.optimizer)
            resolved = spec.resolve(e.config.hyperparameters)
            for axis in axes:  # the ends must be valid values of the key
                for v in (axis.values[0], axis.values[-1]):
                    spec.validate_overrides(axis.key.put(dict(e.config.hyperparameters), resolved, float(v)))
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        problem, config, steps = self.session.problem, e.config, self.steps_box.value()
        with np.errstate(all="ignore"):
            start_loss = float(problem.loss(np.asarray([config.start], dtype=float))[0])
        self.work.start(lambda job: _compute(problem, config, axes, steps, job),
                        context=(e.id, config, axes, steps, problem, start_loss))
        self.progress.setValue(0)
        self.progress.show()
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say(f"Computing {cells} runs of {steps} steps…")

    def cancel(self) -> None:
        """Stop the sweep: the dialog keeps what it showed before."""
        if self.work.cancel() is not None:
            self._say("Sweep cancelled.")
        self._idle()

    def _idle(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.compute_button.setEnabled(self.session.selected is not None)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet("color: #E0301E;" if error else "")
        self.message.setText(text)

    def _on_progress(self, _job: Job, value: object) -> None:
        self.progress.setValue(int(1000 * float(value)))  # type: ignore[arg-type]

    def _on_failed(self, _job: Job, exc: object) -> None:
        self._idle()
        if not isinstance(exc, Cancelled):
            self._say(f"The sweep failed: {exc}", error=True)

    def _on_done(self, job: Job, result: object) -> None:
        self._idle()
        entry_id, config, axes, steps, problem, start_loss = job.context
        if problem is not self.session.problem:
            self._say("The problem changed while sweeping: nothing shown.", error=True)
            return
        data: dict[str, np.ndarray] = result  # type: ignore[assignment]
        self.show_grid(SweepGrid(entry_id, config, axes, steps, data["final_loss"], data["best_loss"],
                                 data["steps"], data["status"], start_loss, problem))

    def show_grid(self, grid: SweepGrid) -> None:
        self.grid = grid
        n_div = int(grid.diverged.sum())
        self._say(f"{grid.status.size} runs of {grid.steps_budget} steps: {n_div} diverged, "
                  f"{int((grid.status == 'converged').sum())} converged. Click a cell to give Run {grid.entry_id} "
                  "its values.")
        self._draw()
        self.finished.emit()

    # ---------------------------------------------------------------- drawing
    def _clear_plot(self) -> None:
        self.image.clear()
        for item in (self.boundary, self.boundary_shadow, self.ascent, self.curve):
            item.setData([], [])
        self.crosses.setData([], [])
        self.bar.hide()
        self.legend.setText("")

    @property
    def measure(self) -> str:
        return MEASURES[self.measure_box.currentText()]

    def _draw(self) -> None:
        grid = self.grid
        if grid is None:
            return
        self._clear_plot()
        self.placeholder.hide()
        self.plot.showAxis("bottom")
        self.plot.showAxis("left")
        x = grid.axes[0]
        marker_pen = "#FFFFFF" if len(grid.axes) == 2 else pg.getConfigOption("foreground")
        self.marker.setPen(pg.mkPen(marker_pen, width=2))
        self.x_axis.set_log(x.log)
        self.plot.setTitle(f"Run {grid.entry_id} · {get_spec(grid.config.optimizer).title} · "
                           f"{grid.steps_budget} steps from ({', '.join(f'{v:g}' for v in grid.config.start)})",
                           size="9pt")
        self.plot.setLabel("bottom", f"{x.key.symbol}  ({x.key.id})")
        legend = [f"<span style='color:{DIVERGED}'>■</span> diverged"]
        if len(grid.axes) == 2:
            y = grid.axes[1]
            self.y_axis.set_log(y.log)
            self.plot.setLabel("left", f"{y.key.symbol}  ({y.key.id})")
            rgba, levels, label = colour_cells(grid, self.measure)
            xe, ye = _edges(x.coords), _edges(y.coords)
            self.image.setImage(np.ascontiguousarray(np.swapaxes(rgba, 0, 1)), levels=(0, 1))  # rows = y
            self.image.setRect(QRectF(xe[0], ye[0], xe[-1] - xe[0], ye[-1] - ye[0]))
            segs = boundary_segments(grid.diverged, xe, ye)
            if len(segs):
                pts = segs.reshape(-1, 2)
                self.boundary_shadow.setData(pts[:, 0], pts[:, 1])
                self.boundary.setData(pts[:, 0], pts[:, 1])
                legend.append("<b>white line</b>: divergence boundary")
            if math.isfinite(grid.start_loss):
                above = grid.diverged | ~(grid.final_loss < grid.start_loss)
                rise = boundary_segments(above, xe, ye)
                if len(rise):
                    pts = rise.reshape(-1, 2)
                    self.ascent.setData(pts[:, 0], pts[:, 1])
                    legend.append("<b>dashed</b>: ends above the start's loss")
            if self.measure == "steps_to_tol":
                legend.append(f"<span style='color:{NOT_REACHED}'>■</span> tolerance not reached")
            if self.measure == "status":
                legend[1:1] = [f"<span style='color:{STATUS_COLORS['ok']}'>■</span> finite",
                               f"<span style='color:{STATUS_COLORS['converged']}'>■</span> converged"]
            if levels is not None:
                self.bar.setLevels(levels)
                self.bar.axis.setLabel(label)
                self.bar.show()
            self.plot.setRange(xRange=(xe[0], xe[-1]), yRange=(ye[0], ye[-1]), padding=0)
        else:
            measure = "final_loss" if self.measure == "status" else self.measure
            values = grid.measure(measure)
            logged = False
            if measure != "steps_to_tol":
                values, logged = _log_values(values)
            self.y_axis.set_log(logged)
            self.plot.setLabel("left", {"final_loss": "final loss", "best_loss": "best loss",
                                        "steps_to_tol": "steps to tolerance"}[measure])
            xs = x.coords
            self.curve.setData(xs, values, connect="finite")
            finite = np.isfinite(values)
            top = float(np.max(values[finite])) if finite.any() else 1.0
            bottom_ = float(np.min(values[finite])) if finite.any() else 0.0
            span = top - bottom_ if top > bottom_ else 1.0
            div = grid.diverged
            self.crosses.setData(xs[div], np.full(int(div.sum()), top + 0.06 * span))
            legend = [f"<span style='color:{DIVERGED}'>✕</span> diverged"]
            xe = _edges(xs)
            self.plot.setRange(xRange=(xe[0], xe[-1]), yRange=(bottom_ - 0.05 * span, top + 0.12 * span), padding=0)
        self.legend.setText(" &nbsp;&nbsp; ".join(legend))
        self._update_marker()

    def _update_marker(self) -> None:
        grid = self.grid
        e = self.session.selected
        if grid is None or e is None or e.id != grid.entry_id or e.config.optimizer != grid.config.optimizer:
            self.marker.setData([], [])
            return
        resolved = get_spec(e.config.optimizer).resolve(e.config.hyperparameters)
        pos = []
        for axis in grid.axes:
            v = axis.key.current(resolved)
            pos.append(math.log10(v) if axis.log and v > 0 else v)
        if len(grid.axes) == 1:
            values = grid.measure("final_loss" if self.measure == "status" else self.measure)
            if self.measure != "steps_to_tol":
                values, _ = _log_values(values)
            i = int(np.argmin(np.abs(grid.axes[0].coords - pos[0])))
            pos.append(float(values[i]) if np.isfinite(values[i]) else float("nan"))
        if all(math.isfinite(p) for p in pos):
            self.marker.setData([pos[0]], [pos[1]])
        else:
            self.marker.setData([], [])

    # ---------------------------------------------------------------- clicks
    def cell_at(self, point: QPointF) -> tuple[int, ...] | None:
        """The cell under a point in plot coordinates (None outside the grid)."""
        grid = self.grid
        if grid is None:
            return None
        index: list[int] = []
        for axis, coord in zip(grid.axes, (point.x(), point.y()), strict=False):
            edges = _edges(axis.coords)
            if not edges[0] <= coord <= edges[-1]:
                return None
            found = int(np.searchsorted(edges, coord)) - 1
            index.append(min(len(axis.values) - 1, max(0, found)))
        return tuple(index)

    def cell_center(self, index: Sequence[int]) -> QPointF:
        """The plot coordinates of a cell's centre (for the 1-D curve: its point)."""
        grid = self.grid
        assert grid is not None
        x = float(grid.axes[0].coords[index[0]])
        if len(grid.axes) == 2:
            return QPointF(x, float(grid.axes[1].coords[index[1]]))
        return QPointF(x, 0.0)

    def _on_hover(self, pos: QPointF) -> None:
        grid = self.grid
        if grid is None:
            return
        point = self.plot.vb.mapSceneToView(pos)
        index = self.cell_at(point)
        if index is None:
            self.readout.setText(" ")
            return
        parts = [f"{a.key.symbol} = {format_value(float(a.values[i]))}" for a, i in zip(grid.axes, index, strict=True)]
        status = str(grid.status[index])
        if status == "diverged":
            text = f"diverged at step {int(grid.steps[index])}"
        else:
            text = f"final loss {float(grid.final_loss[index]):.4g}, best {float(grid.best_loss[index]):.4g}"
            if status == "converged":
                text += f", converged at step {int(grid.steps[index])}"
        self.readout.setText(", ".join(parts) + ": " + text)

    def _on_click(self, event: Any) -> None:
        if self.grid is None or event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.plot.vb.mapSceneToView(event.scenePos())
        index = self.cell_at(point)
        if index is not None:
            self.apply_cell(index)

    def apply_cell(self, index: Sequence[int]) -> bool:
        """Give the sweep's run the values of cell ``index`` (one undoable edit); False if it cannot."""
        grid = self.grid
        if grid is None:
            return False
        try:
            e: RunEntry = self.session.entry(grid.entry_id)
        except (KeyError, ValueError):
            self._say(f"Run {grid.entry_id} is gone: compute a new sweep.", error=True)
            return False
        if grid.problem is not None and grid.problem is not self.session.problem:
            self._say("The problem changed since this sweep: compute it again.", error=True)
            return False
        if e.config.optimizer != grid.config.optimizer:
            self._say(f"Run {grid.entry_id} changed its optimizer: compute a new sweep.", error=True)
            return False
        spec = get_spec(e.config.optimizer)
        resolved = spec.resolve(e.config.hyperparameters)
        hp = dict(e.config.hyperparameters)
        for axis, i in zip(grid.axes, index, strict=True):
            hp = axis.key.put(hp, resolved, float(axis.values[i]))
        try:
            self.session.update_run(e.id, hyperparameters=spec.validate_overrides(hp))
        except ValueError as exc:
            self._say(str(exc), error=True)
            return False
        values = ", ".join(f"{a.key.symbol} = {format_value(float(a.values[i]))}"
                           for a, i in zip(grid.axes, index, strict=True))
        self._say(f"Run {e.id} now has {values} (Ctrl+Z undoes it).")
        self._update_marker()
        return True

    # ---------------------------------------------------------------- closing
    def closeEvent(self, event: Any) -> None:
        self.cancel()
        super().closeEvent(event)

    def close_session(self) -> None:
        """Disconnect from the session and stop the worker (the window is closing)."""
        self.work.close(5000)
        for signal, slot in ((self.session.runs_changed, self._on_runs),
                             (self.session.playback.events.selected, self._on_selected)):
            with contextlib.suppress(TypeError, ValueError, RuntimeError):
                signal.disconnect(slot)


def open_sweep_dialog(window: Any) -> SweepDialog:
    """Show the window's sweep dialog (made on first use, a child of the window, not modal)."""
    dialog = window.findChild(SweepDialog, "sweep_dialog")
    if dialog is None:
        dialog = SweepDialog(window.session, window)
        dialog.setWindowFlag(Qt.WindowType.Window, True)
    dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
