"""The Basin map dock: which minimum each start reaches, computed coarse to fine off the UI thread.

The map covers the session's view bounds (the problem's view, or the bounds set in the problem
panel: the rectangle the contour's heat map covers, and the default of ``gdstudio basins``) with a
G×G grid of starts, each running K steps of the *selected run's* optimizer and settings
(:func:`gdstudio.engine.explore.basin_map`; the run's own start is ignored). It is computed on a
:class:`~gdstudio.ui.background.Background` worker as nested sub-grids of the final grid (strides
G/16, G/32 … 1: 16², then the 32² points not computed yet, …), so every start is computed once
and each level replaces the image at once; a pixel not computed yet shows its nearest computed
neighbour. Cancel (or a newer request) drops the work and puts back the overlay as it was.

While the overlay is shown it follows the session: a change of the problem, the bounds, or the
selected run's optimizer / hyperparameters / settings recomputes the map (after a short pause, so
a slider drag computes once). Until the new map's first level arrives the old one is shown and
the status line says it is stale; a cancelled recomputation leaves it shown and marked stale.

A click on a pixel of the shown map adds a run from that pixel's centre (its start) with the
selected run's configuration, through the contour's Shift-click path (``startAdded`` → the bridge
→ ``Session.add_run``). "Compare optimizers…" opens :class:`BasinCompare`, one small map per run.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.explore import basin_map
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.optimizers.objective import ObjectiveRule
from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import RunEntry, Session
from gdstudio.ui.background import Background, Job
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.views.basins import COLOR_MODES, BasinGrid, BasinOverlay, Legend, basin_rgba
from gdstudio.ui.views.multiples import grid_shape

__all__ = [
    "GRID_SIZES",
    "BasinCompare",
    "BasinRequest",
    "BasinsPanel",
    "LevelComputer",
    "basins_shown",
    "basins_signals",
    "compute_levels",
    "first_level_inline",
    "level_strides",
    "make_basins_panel",
    "panel_of",
    "show_basins",
]

#: Grid sides on offer (the default is 256).
GRID_SIZES: tuple[int, ...] = (64, 128, 256, 512)
DEFAULT_GRID = 256
DEFAULT_STEPS = 500
#: The side of the first (coarsest) level: its time is mostly K steps of the engine's per-step overhead
#: (Adam, 500 steps: 16² ~27 ms, 32² ~37 ms alone), and while the window plays it shares the GIL.
FIRST_LEVEL = 16
#: The most the first level may take on the UI thread (then the worker takes over).
FIRST_LEVEL_BUDGET_S = 0.08
#: Distance to a known minimum that counts as reaching it (the issue's 1e-2).
TOL = 1e-2
#: Pause after a change before recomputing (a slider drag computes once).
RECOMPUTE_DELAY_MS = 150
#: Niceness of the worker threads (0: as the UI thread).
WORKER_NICE = 10
#: Grid side of each small map in "Compare optimizers…".
COMPARE_GRID = 128


# ------------------------------------------------------------------------------------ computing
def level_strides(g: int) -> list[int]:
    """Strides of the nested levels for a g×g map, coarsest first, ending with 1
    (g = 256: 16, 8, 4, 2, 1, i.e. 16², 32², 64², 128², 256²)."""
    strides = []
    s = max(1, g // FIRST_LEVEL)
    while s > 1:
        strides.append(s)
        s //= 2
    return [*strides, 1]


@dataclass(frozen=True)
class BasinRequest:
    """What a map is computed for: a problem, the view bounds, a run configuration (its start is
    ignored), the grid side G and the steps K. Equal requests give equal maps."""

    problem: Problem
    bounds: tuple[tuple[float, float], tuple[float, float]]
    config: RunConfig
    grid: int
    steps: int
    label: str = ""

    def same_as(self, other: BasinRequest | None) -> bool:
        return (other is not None and other.problem is self.problem and other.bounds == self.bounds
                and other.config == self.config and other.grid == self.grid and other.steps == self.steps)


def _nearest(g: int, stride: int) -> np.ndarray:
    """For each of g pixels, the nearest index on the sub-grid 0, stride, 2·stride … (< g); a pixel
    halfway between two takes the upper one."""
    last = ((g - 1) // stride) * stride
    return np.minimum((np.arange(g) + stride // 2) // stride * stride, last)


class LevelComputer:
    """A request's map, level by level (coarse to fine, see :func:`level_strides`): each call of
    :meth:`next_level` computes the starts of the next level not computed yet and returns the map so
    far. The state changes only when a level completes, so a cancelled level can be asked again."""

    def __init__(self, request: BasinRequest) -> None:
        self.request = request
        g = request.grid
        (x0, x1), (y0, y1) = request.bounds
        self.xs, self.ys = np.linspace(x0, x1, g), np.linspace(y0, y1, g)
        self.final_loss = np.full((g, g), np.nan)
        self.to_min = np.full((g, g), -1, dtype=np.int64)
        self.status = np.zeros((g, g), dtype=np.int8)
        self.minimum = np.full((g, g), -1, dtype=np.int64)
        self.filled = np.zeros((g, g), dtype=bool)
        self.known = np.asarray(request.problem.minima, dtype=np.float64).reshape(-1, 2)
        self.strides = level_strides(g)
        self.done = 0  # starts computed

    @property
    def finished(self) -> bool:
        return not self.strides

    def next_level(self, progress: Callable[[float], object] | None = None, cancel: Any = None) -> BasinGrid:
        """The next level's map (the last is the complete map); ``progress(fraction of all starts)``,
        ``cancel`` as basin_map's (the engine raises ``Cancelled``, and nothing changes here)."""
        request, g = self.request, self.request.grid
        stride = self.strides[0]
        total = g * g
        sel = np.zeros((g, g), dtype=bool)
        sel[::stride, ::stride] = True
        jj, ii = np.nonzero(sel & ~self.filled)
        n, done = len(jj), self.done
        if n:
            starts = np.column_stack([self.xs[ii], self.ys[jj]])

            def part(f: float) -> None:
                if progress is not None:
                    progress((done + f * n) / total)

            res = basin_map(request.problem, request.config, None, g, request.steps, tol=TOL, progress=part,
                            cancel=cancel, starts=starts)
            self.final_loss[jj, ii] = res.final_loss
            self.to_min[jj, ii] = res.steps_to_minimum
            self.status[jj, ii] = res.status
            self.minimum[jj, ii] = res.minimum
            self.filled[jj, ii] = True
            self.done += n
        self.strides.pop(0)
        if stride == 1:
            grid = BasinGrid(request.bounds, self.final_loss, self.to_min, self.status, self.minimum, self.known,
                             request.steps, request.label, None, g, request)
        else:
            near = _nearest(g, stride)
            ix = np.ix_(near, near)
            grid = BasinGrid(request.bounds, self.final_loss[ix], self.to_min[ix], self.status[ix], self.minimum[ix],
                             self.known, request.steps, request.label, self.filled.copy(), len(range(0, g, stride)),
                             request)
        if progress is not None:
            progress(self.done / total)
        return grid


def compute_levels(request: BasinRequest, on_level: Callable[[BasinGrid], object] | None = None,
                   progress: Callable[[float], object] | None = None, cancel: Any = None,
                   levels: LevelComputer | None = None) -> BasinGrid:
    """The request's map, coarse to fine: ``on_level(grid)`` after each level (the last is the
    returned, complete map); ``progress(fraction of all starts)``; ``cancel`` as basin_map's
    (an Event or a callable; the engine raises ``Cancelled``); ``levels``: continue those (the
    window computes the first level itself). Runs on the worker thread."""
    levels = levels if levels is not None else LevelComputer(request)
    grid: BasinGrid | None = None
    while not levels.finished:
        grid = levels.next_level(progress, cancel)
        if on_level is not None:
            on_level(grid)
    assert grid is not None
    return grid


def first_level_inline(request: BasinRequest) -> bool:
    """Whether the coarsest level is cheap enough to compute on the UI thread: the vectorized engine
    (no line search, no schedule) on a surface without data (16² starts × 500 Adam steps ~30 ms)."""
    rule = get_spec(request.config.optimizer).rule
    return (request.problem.n_samples is None and request.config.schedule is None
            and not issubclass(rule, ObjectiveRule))


def _background_priority() -> None:
    """Lower this worker thread's CPU priority (nice +10; Linux: per thread, inherited by the engine's
    shard threads it starts afterwards), so the UI thread wins the cores while a map computes (playback
    at 60 ticks/s kept ~0.36 of its steps without this, ~0.8 with it: bench/explore_window.py). The GIL
    is released in NumPy's loops, where the worker spends its time, so the UI does not wait on it."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)


# ------------------------------------------------------------------------------------ the legend
def _swatch(color: str, size: int = 14) -> QLabel:
    label = QLabel()
    label.setFixedSize(size, size)
    label.setStyleSheet(f"background: {color}; border: 1px solid #606060;")
    return label


class LegendWidget(QWidget):
    """Swatches naming each colour of the map (each known minimum once), and a colour bar for the
    continuous modes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(3)
        self.labels: list[str] = []
        self.colors: list[str] = []

    def set_legend(self, legend: Legend | None) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self.labels, self.colors = [], []
        if legend is None:
            return
        row = 0
        if legend.lut is not None:
            bar = QLabel()
            lut = np.ascontiguousarray(np.repeat(legend.lut[None, :, :], 12, axis=0))
            image = QImage(lut.data, lut.shape[1], lut.shape[0], lut.strides[0], QImage.Format.Format_RGBA8888)
            bar.setPixmap(QPixmap.fromImage(image.copy()).scaled(200, 12))
            bar.setObjectName("basins_colorbar")
            self.grid.addWidget(QLabel(legend.bar_label), row, 0, 1, 3)
            row += 1
            self.grid.addWidget(QLabel(_number(legend.lo)), row, 0)
            self.grid.addWidget(bar, row, 1)
            self.grid.addWidget(QLabel(_number(legend.hi)), row, 2)
            row += 1
        for entry in legend.entries:
            self.grid.addWidget(_swatch(entry.color), row, 0)
            text = QLabel(entry.label)
            self.grid.addWidget(text, row, 1, 1, 2)
            self.labels.append(entry.label)
            self.colors.append(entry.color)
            row += 1


def _number(v: float) -> str:
    return f"{v:.3g}"


# ------------------------------------------------------------------------------------ the panel
class BasinsPanel(QWidget):
    """The dock's widget: overlay on/off, colour mode, grid, steps, opacity, compute / cancel,
    progress, legend and "Compare optimizers…", for a session and the window's contour view."""

    def __init__(self, session: Session, contour: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("basins_panel")
        self.session = session
        self.contour = contour
        self.overlay = BasinOverlay(contour, on_pixel=self._pixel_clicked)
        # A fresh thread per request (daemon): it starts at the UI's priority, whatever an earlier one lowered.
        self.work = Background(self, daemon=True, name="gdstudio-basins")
        self.work.progress.connect(self._on_progress)
        self.work.done.connect(self._on_done)
        self.work.failed.connect(self._on_failed)
        self.committed: BasinGrid | None = None  # the last complete map (what Cancel puts back)
        self._before: tuple[BasinGrid | None, bool] | None = None  # the overlay before the running job
        self._started = 0.0
        #: (seconds to the first level, seconds to the full map) of the last completed computation.
        self.timings: tuple[float, float] = (math.nan, math.nan)
        self._first_at = math.nan
        self.compare: BasinCompare | None = None

        self.show_box = QCheckBox("Show basin map")
        self.show_box.setObjectName("basins_show")
        self.show_box.setToolTip("Colour each start of a grid over the view by where the selected run's optimizer "
                                 "takes it; click a pixel to add that run")
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("basins_mode")
        for key, label in COLOR_MODES.items():
            self.mode_combo.addItem(label, key)
        self.grid_combo = QComboBox()
        self.grid_combo.setObjectName("basins_grid")
        for g in GRID_SIZES:
            self.grid_combo.addItem(f"{g} × {g}", g)
        self.grid_combo.setCurrentIndex(GRID_SIZES.index(DEFAULT_GRID))
        self.steps_spin = QSpinBox()
        self.steps_spin.setObjectName("basins_steps")
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setValue(DEFAULT_STEPS)
        self.steps_spin.setToolTip("Steps K each start runs; a start 'reaches' a minimum when it ends within 1e-2 "
                                   "of it")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("basins_opacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(self.overlay.opacity * 100))
        self.compute_button = QPushButton("Compute")
        self.compute_button.setObjectName("basins_compute")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("basins_cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("basins_progress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.status = QLabel()
        self.status.setObjectName("basins_status")
        self.status.setWordWrap(True)
        self.legend = LegendWidget()
        self.legend.setObjectName("basins_legend")
        self.compare_button = QPushButton("Compare optimizers…")
        self.compare_button.setObjectName("basins_compare")
        self.compare_button.setToolTip("One small basin map per run of the session, side by side")

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Colour by", self.mode_combo)
        form.addRow("Grid", self.grid_combo)
        form.addRow("Steps K", self.steps_spin)
        form.addRow("Opacity", self.opacity_slider)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.show_box)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.legend)
        layout.addWidget(self.compare_button)
        layout.addStretch(1)

        self.show_box.toggled.connect(self._on_show)
        self.mode_combo.currentIndexChanged.connect(self._on_mode)
        self.opacity_slider.valueChanged.connect(lambda v: self.overlay.set_opacity(v / 100))
        self.grid_combo.currentIndexChanged.connect(lambda _i: self._changed())
        self.steps_spin.valueChanged.connect(lambda _v: self._changed())
        self.compute_button.clicked.connect(self._compute_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.compare_button.clicked.connect(self.open_compare)
        self._recompute = QTimer(self)
        self._recompute.setSingleShot(True)
        self._recompute.setInterval(RECOMPUTE_DELAY_MS)
        self._recompute.timeout.connect(self._auto_recompute)
        self._subs = Subscriptions()
        self._subs.connect(session.problem_changed, self._changed)
        self._subs.connect(session.runs_changed, self._changed)
        self._subs.connect(session.playback.events.selected, lambda *_: self._changed())
        self._show_state()

    # -------------------------------------------------------------- requests
    @property
    def grid_size(self) -> int:
        return int(self.grid_combo.currentData())

    @property
    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def request(self, grid: int | None = None, steps: int | None = None,
                entry: RunEntry | None = None) -> BasinRequest | None:
        """The map the controls and the selected run (or ``entry``) ask for; None when none can be made."""
        s = self.session
        entry = entry if entry is not None else s.selected
        if entry is None or s.problem.dim != 2:
            return None
        b = s.bounds
        bounds = ((float(b[0][0]), float(b[0][1])), (float(b[1][0]), float(b[1][1])))
        config = replace(entry.config, start=(0.0, 0.0))  # every start comes from the grid
        return BasinRequest(s.problem, bounds, config, grid or self.grid_size, steps or self.steps_spin.value(),
                            entry.label)

    def why_not(self) -> str:
        if self.session.problem.dim != 2:
            return "Basin maps need a problem with two parameters"
        return "Select a run: the map uses its optimizer and settings"

    @property
    def computing(self) -> bool:
        return self.work.busy

    def compute(self, request: BasinRequest | None = None) -> Job | None:
        """Start computing (superseding a computation in progress); None when no map can be made."""
        request = request if request is not None else self.request()
        if request is None:
            self._set_status(self.why_not())
            return None
        if not self.work.busy:
            self._before = (self.overlay.map, self.overlay.item.isVisible())
        if self.mode == "minimum" and len(request.problem.minima) == 0:  # nothing to name: colour by loss
            self.mode_combo.setCurrentIndex(self.mode_combo.findData("loss"))
        self._started = time.perf_counter()
        self._first_at = math.nan
        self.progress.setValue(0)

        levels = LevelComputer(request)
        first: BasinGrid | None = None
        if first_level_inline(request):
            # The coarsest level on the UI thread (~30 ms): on a worker it shares the GIL with the
            # painting of a playing window and showed after ~120 ms (bench/explore_window.py). A
            # budget bounds it; past it, the worker computes every level as before.
            deadline = time.perf_counter() + FIRST_LEVEL_BUDGET_S
            # Over budget (Cancelled), or settings the engine refuses: the worker computes the level,
            # or meets the same error and reports it (nothing raises out of this slot; a failed
            # level leaves ``levels`` as it was).
            with contextlib.suppress(Exception):
                first = levels.next_level(cancel=lambda: time.perf_counter() > deadline)

        def level(job: Job, grid: BasinGrid) -> None:
            job.report(grid)
            _background_priority()  # the first level at the UI's priority (it should show at once), the rest below

        def run(job: Job) -> BasinGrid:
            if first is not None:
                if levels.finished:  # a map of one level (G ≤ 16): done on the UI thread
                    return first
                _background_priority()
            return compute_levels(request, on_level=lambda grid: level(job, grid),
                                  progress=lambda f: job.report(f), cancel=job.cancel_event, levels=levels)

        job = self.work.start(run, context=request)
        if first is not None:
            self._on_progress(job, first)
        self._show_state()
        self._set_status(f"Computing {request.label}: {request.grid}² starts × {request.steps} steps…")
        return job

    def _compute_clicked(self) -> None:
        if self.show_box.isChecked():
            self.compute()
        else:
            self.show_box.setChecked(True)  # shows the map, computing it when needed

    def cancel(self) -> None:
        """Stop the computation and put the overlay back as it was before it."""
        if self.work.cancel() is None:
            return
        self._restore()
        self._set_status("Cancelled" + (": the map shown is stale" if self._stale() else ""))

    def _restore(self) -> None:
        before, self._before = self._before, None
        if before is not None:
            m, visible = before
            if m is None:
                self.overlay.clear()
            else:
                self.overlay.show_map(m)
                self.overlay.item.setVisible(visible)
        self._show_legend()
        self.progress.setValue(0)
        self._show_state()

    def _stale(self) -> bool:
        m = self.overlay.map
        if m is None:
            return False
        req = self.request()
        return req is None or not req.same_as(m.key)  # type: ignore[arg-type]

    # -------------------------------------------------------------- worker results
    def _on_progress(self, job: Job, value: object) -> None:
        if isinstance(value, BasinGrid):
            if math.isnan(self._first_at):
                self._first_at = time.perf_counter() - self._started
            if self.show_box.isChecked():
                self.overlay.show_map(value)
                self._show_legend()
        elif isinstance(value, float):
            self.progress.setValue(round(1000 * value))

    def _on_done(self, job: Job, grid: object) -> None:
        assert isinstance(grid, BasinGrid)
        self.timings = (self._first_at, time.perf_counter() - self._started)
        self._before = None
        self.committed = grid
        if self.show_box.isChecked():
            self.overlay.show_map(grid)
        self._show_legend()
        self.progress.setValue(1000)
        self._show_state()
        self._set_status(f"{grid.label}: {grid.g}² starts × {grid.budget} steps in {self.timings[1]:.2f} s "
                         "(click a pixel to add that run)")

    def _on_failed(self, job: Job, exc: object) -> None:
        self._restore()
        self._set_status(f"Basin map failed: {exc}")

    # -------------------------------------------------------------- controls
    def _on_show(self, on: bool) -> None:
        if on:
            m = self.overlay.map or self.committed
            req = self.request()
            if m is not None and req is not None and req.same_as(m.key):  # type: ignore[arg-type]
                self.overlay.show_map(m)
                self._show_legend()
            else:
                self.compute()
        else:
            self.work.cancel()
            self._before = None
            self.overlay.item.hide()
            self.progress.setValue(0)
        self._show_state()

    def _on_mode(self, _index: int) -> None:
        self.overlay.set_mode(self.mode)
        self._show_legend()

    def _changed(self, *_args: object) -> None:
        """Something the map depends on may have changed: recompute (after a pause) when it did."""
        if not self.show_box.isChecked():
            return
        if self.session.problem.dim != 2:
            self.work.cancel()
            self._before = None
            self.overlay.clear()
            self._show_legend()
            self._set_status(self.why_not())
            self._show_state()
            return
        shown = self.overlay.map
        if shown is not None and shown.key is not None and shown.key.problem is not self.session.problem:  # type: ignore[attr-defined]
            self.overlay.clear()  # a map of another problem says nothing about this one
            self._show_legend()
        if self._stale() or self.overlay.map is None:
            self._recompute.start()

    def _auto_recompute(self) -> None:
        req = self.request()
        running = self.work.job.context if self.work.job is not None else None
        if req is None:
            self._set_status(self.why_not())
            return
        if req.same_as(running) or (not self.work.busy and req.same_as(self.overlay.map.key if self.overlay.map
                                                                            else None)):  # type: ignore[arg-type]
            return
        self.compute(req)

    def _pixel_clicked(self, x: float, y: float) -> None:
        """A click on a pixel: a run from its centre, with the selected run's settings (the Shift-click path)."""
        self.contour.startAdded.emit(float(x), float(y))

    def _show_legend(self) -> None:
        self.legend.set_legend(self.overlay.legend if self.overlay.map is not None else None)

    def _show_state(self) -> None:
        busy = self.work.busy
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    # -------------------------------------------------------------- compare
    def open_compare(self) -> BasinCompare:
        if self.compare is None:
            self.compare = BasinCompare(self)
        self.compare.show()
        self.compare.raise_()
        self.compare.compute()
        return self.compare

    def close_session(self) -> None:
        """Stop the workers and disconnect (the window is closing)."""
        self._recompute.stop()
        self.work.close(5000)
        if self.compare is not None:
            self.compare.close()
            self.compare = None
        self._subs.disconnect_all()
        self.overlay.detach()
        self.overlay.on_pixel = None  # no reference cycle is left for the garbage collector


# ------------------------------------------------------------------------------------ compare
class BasinCompare(QWidget):
    """Small multiples of basin maps: one per visible run of the session, side by side.

    Each pane is the map of that run's optimizer and settings (K from the dock, a
    :data:`COMPARE_GRID`² grid over the same bounds), coloured by the minimum reached, titled
    with the run's label in its colour; the panes' ranges are linked, as in the small-multiples
    view. The maps are computed one after another on a worker; each pane appears when its map is
    ready.
    """

    def __init__(self, panel: BasinsPanel) -> None:
        super().__init__(panel, Qt.WindowType.Window)
        self.setObjectName("basins_compare_window")
        self.setWindowTitle("Basin maps: compare optimizers")
        self.resize(960, 720)
        palette = self.palette()  # the plots' dark background all round, so the runs' colours read as titles
        palette.setColor(QPalette.ColorRole.Window, pg.mkColor(pg.getConfigOption("background")))
        palette.setColor(QPalette.ColorRole.WindowText, pg.mkColor(pg.getConfigOption("foreground")))
        self.setPalette(palette)
        self.setAutoFillBackground(True)
        self.panel = panel
        self.work = Background(self, daemon=True, name="gdstudio-basins-compare")
        self.work.progress.connect(self._on_progress)
        self.work.done.connect(self._on_done)
        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.note = QLabel()
        self.note.setObjectName("basins_compare_note")
        self.work.failed.connect(lambda _job, exc: self.note.setText(f"Failed: {exc}"))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.legend = LegendWidget()
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.grid_widget, 1)
        layout.addWidget(self.legend)
        layout.addLayout(bottom)
        self.panes: list[tuple[pg.PlotWidget, pg.ImageItem, QLabel]] = []
        self.maps: list[BasinGrid | None] = []
        self.requests: list[BasinRequest] = []

    def compute(self) -> Job | None:
        p = self.panel
        entries = [e for e in p.session.runs if e.visible]
        requests = [r for e in entries if (r := p.request(grid=COMPARE_GRID, entry=e)) is not None]
        self._build(entries, requests)
        if not requests:
            self.note.setText(p.why_not() if p.session.problem.dim != 2 else "No runs to compare: add runs first")
            return None
        self.note.setText(f"{len(requests)} maps of {COMPARE_GRID}² starts × {requests[0].steps} steps…")

        def run(job: Job) -> list[BasinGrid]:
            _background_priority()
            out = []
            for k, req in enumerate(requests):
                def part(f: float, k: int = k) -> None:
                    job.report((k + f) / len(requests))

                grid = compute_levels(req, progress=part, cancel=job.cancel_event)
                job.report((k, grid))
                out.append(grid)
            return out

        job = self.work.start(run, context=requests)
        self.cancel_button.setEnabled(True)
        return job

    def _build(self, entries: list[RunEntry], requests: list[BasinRequest]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self.panes, self.maps, self.requests = [], [None] * len(requests), requests
        rows, cols = grid_shape(len(requests))
        first: pg.ViewBox | None = None
        for k, (entry, req) in enumerate(zip(entries, requests, strict=False)):
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(1)
            title = QLabel(entry.label)
            title.setStyleSheet(f"color: {QColor(entry.color).name()}; font-weight: bold;")
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            plot = pg.PlotWidget()
            plot.setAspectLocked(False)
            image = pg.ImageItem(axisOrder="row-major")
            plot.addItem(image)
            known = np.asarray(req.problem.minima, dtype=np.float64).reshape(-1, 2)
            if len(known):
                stars = pg.ScatterPlotItem(known[:, 0], known[:, 1], symbol="star", size=12,
                                           brush=pg.mkBrush("#FFFFFF"), pen=pg.mkPen("#000000"))
                plot.addItem(stars)
            (x0, x1), (y0, y1) = req.bounds
            plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
            if first is None:
                first = plot.getViewBox()
            else:
                plot.setXLink(first)
                plot.setYLink(first)
            v.addWidget(title)
            v.addWidget(plot, 1)
            self.grid.addWidget(box, k // max(1, cols), k % max(1, cols))
            self.panes.append((plot, image, title))
        del rows

    def _on_progress(self, _job: Job, value: object) -> None:
        if isinstance(value, float):
            self.progress.setValue(round(1000 * value))
        elif isinstance(value, tuple):
            k, grid = value
            self.maps[k] = grid
            rgba, legend = basin_rgba(grid, "minimum")
            _plot, image, _title = self.panes[k]
            image.setImage(rgba, autoLevels=False)
            image.setRect(grid.rect())
            self.legend.set_legend(legend)

    def _on_done(self, _job: Job, grids: object) -> None:
        self.progress.setValue(1000)
        self.cancel_button.setEnabled(False)
        self.note.setText(f"{len(self.maps)} maps: where each optimizer takes every start in "
                          f"{self.requests[0].steps if self.requests else 0} steps")

    def cancel(self) -> None:
        self.work.cancel()
        self.cancel_button.setEnabled(False)
        self.note.setText("Cancelled")

    def closeEvent(self, event: Any) -> None:
        self.work.close(5000)
        super().closeEvent(event)


# ------------------------------------------------------------------------------------ window glue
def panel_of(window: Any) -> BasinsPanel:
    """The window's basin panel, made on first use (the Explore action's binding asks for it
    before the docks exist; the dock factory then takes the same panel)."""
    panel = window.findChild(BasinsPanel, "basins_panel")
    if panel is None:
        panel = BasinsPanel(window.session, window.contour, parent=window)
    return panel  # type: ignore[no-any-return]


def make_basins_panel(window: Any) -> QWidget:
    """The Basin map dock's widget for the studio window (DockSpec factory)."""
    panel = panel_of(window)
    window.panels["basins"] = panel  # the window's shutdown calls close_session()
    return panel


def show_basins(window: Any, on: bool = True) -> None:
    """Explore → Basin map: show (or hide) the map, showing its dock (computing the map if needed)."""
    dock = window.docks.get("basins")
    if on and dock is not None:
        dock.show()
        dock.raise_()
    panel_of(window).show_box.setChecked(bool(on))


def basins_shown(window: Any) -> bool:
    return panel_of(window).show_box.isChecked()


def basins_signals(window: Any) -> tuple[Any, ...]:
    """The signals announcing that the map was shown or hidden (the Explore action follows them)."""
    return (panel_of(window).show_box.toggled,)
