"""Small multiples: one contour per run, on one clock, sharing axes (as the book draws its comparison).

:class:`SmallMultiplesView` lays out one :class:`~gdstudio.ui.views.contour.ContourView` per
visible run in a near-square grid (⌈√n⌉ columns), each titled with the run's label in its
colour and showing only that run. The panes' ranges are linked (x and y), so a zoom or pan in
one is a zoom or pan in all: every pane gets exactly the range of the one that changed
(pyqtgraph's ``setXLink`` lines views up by their screen geometry instead, which shifts the
ranges of panes not yet laid out). It is a :class:`~gdstudio.ui.views.protocol.View` like a
ContourView (``set_surface``, ``set_frame``, ``set_position``, ``set_options``, plus
``set_overlays``, ``reset_view`` and ``set_colormap``) and a
:class:`~gdstudio.ui.views.protocol.PickingView` that re-emits the panes' start signals.

Panes are built only when the set of visible runs changes; a frame is one ``set_frame`` per
pane. The surface's contour lines are computed once for all panes (``types.contour_path``
caches them keyed on the very ``z`` array, which every pane receives unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QStackedLayout, QWidget

from gdstudio.ui.colormaps import check_colormap
from gdstudio.ui.views.contour import ContourView
from gdstudio.ui.views.protocol import DisplayOptions, FrameMixin, GradientFn, PickingView
from gdstudio.ui.views.types import TrajectoryView, shown_index

if TYPE_CHECKING:
    from gdstudio.engine.problems import Problem

__all__ = ["SmallMultiplesView", "grid_shape"]

_EMPTY_NOTE = "One contour per run: add runs to compare them side by side."


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for ``n`` panes: ⌈√n⌉ columns, as many rows as needed."""
    if n <= 0:
        return 0, 0
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def _drawn_signature(t: TrajectoryView, step: int) -> tuple:
    """What a pane draws of run ``t`` at ``step``: the same signature, the same picture.

    The points are append-only while a run advances; a restarted run has a new buffer, start or
    point shown, all of which are in the signature (with the status, colour and whether the head
    is the newest point, where the arrows and the ✕ are drawn)."""
    k = shown_index(t, step)
    p = t.points
    return (p.__array_interface__["data"][0], p.strides, k, k == t.last_index, t.status, t.color,
            p[0].tobytes(), p[k].tobytes())


class SmallMultiplesView(FrameMixin, PickingView):
    """A grid of contour views, one per visible run, with linked x / y ranges.

    ``panes`` maps run keys to their ContourView, in grid order (row by row, in the runs' order).
    ``use_opengl`` is passed to every pane (None: OpenGL painting only with a hardware renderer).
    """

    def __init__(self, parent: QWidget | None = None, *, use_opengl: bool | None = None) -> None:
        super().__init__(parent)
        self._use_opengl = use_opengl
        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        palette = self.grid_widget.palette()  # the plots' background between and beside the panes
        palette.setColor(QPalette.ColorRole.Window, pg.mkColor(pg.getConfigOption("background")))
        self.grid_widget.setPalette(palette)
        self.grid_widget.setAutoFillBackground(True)
        self.note = QLabel(_EMPTY_NOTE)
        self.note.setObjectName("multiples_note")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.stack = QStackedLayout(self)
        self.stack.setContentsMargins(0, 0, 0, 0)
        self.stack.addWidget(self.grid_widget)
        self.stack.addWidget(self.note)
        self.stack.setCurrentWidget(self.note)

        self.panes: dict[Hashable, ContourView] = {}
        self._titles: dict[Hashable, tuple[str, str]] = {}
        self._drawn: dict[Hashable, tuple] = {}  # what each pane was last given (see _drawn_signature)
        #: The last set_surface call (given to panes made later): surface, bounds, minima, log scale, labels.
        self._surface_args: tuple[Any, Sequence[Sequence[float]], np.ndarray | None, bool, Sequence[str] | None] | None
        self._surface_args = None
        self._gradient_fn: GradientFn | None = None
        self._overlays: dict[str, bool] = {}
        self._trajs: list[TrajectoryView] = []
        self._step = 0
        self._colormap: str | None = None
        self._syncing = False
        self.rebuilds = 0  # how often the panes were (re)laid out (tests, diagnostics)

    # -- the View calls ------------------------------------------------------------------
    def set_problem(self, problem: Problem) -> None:
        """Nothing to do before the surface arrives."""

    def set_surface(self, surface: Any, problem_bounds: Sequence[Sequence[float]], minima: np.ndarray | None = None,
                    log_scale: bool = False, *, labels: Sequence[str] | None = None,
                    gradient_fn: GradientFn | None = None) -> None:
        """As :meth:`ContourView.set_surface`, on every pane (and on panes made later)."""
        if gradient_fn is not None:
            self._gradient_fn = gradient_fn
        self._surface_args = (surface, problem_bounds, minima, log_scale, labels)
        for pane in self.panes.values():
            self._set_pane_surface(pane)

    def _set_pane_surface(self, pane: ContourView) -> None:
        if self._surface_args is not None:
            surface, bounds, minima, log_scale, labels = self._surface_args
            pane.set_surface(surface, bounds, minima, log_scale, labels=labels, gradient_fn=self._gradient_fn)

    def set_options(self, options: DisplayOptions) -> None:
        """The arrows and the field that are on, and the colour map (every pane)."""
        self.set_overlays(**options.overlays)
        self.set_colormap(options.colormap)

    def set_overlays(self, gradient: bool | None = None, velocity: bool | None = None,
                     effective_step: bool | None = None, field: bool | None = None) -> None:
        """As :meth:`ContourView.set_overlays`, on every pane."""
        for name, value in (("gradient", gradient), ("velocity", velocity),
                            ("effective_step", effective_step), ("field", field)):
            if value is not None:
                self._overlays[name] = bool(value)
        for pane in self.panes.values():
            pane.set_overlays(**self._overlays)

    def set_colormap(self, name: str) -> None:
        """As :meth:`ContourView.set_colormap` (ValueError for an unknown name), on every pane."""
        name = check_colormap(name)
        if name == self._colormap:
            return
        self._colormap = name
        for pane in self.panes.values():
            pane.set_colormap(self._colormap)

    def reset_view(self) -> None:
        """Show the whole problem range (in every pane: they are linked)."""
        for pane in self.panes.values():
            pane.reset_view()

    def _show_position(self) -> None:
        self._push()  # every pane shows its run up to min(step, its last index)

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs (one pane per visible run; panes are rebuilt only when that set changes) and
        the step, with one redraw per pane whose picture changed."""
        self._trajs = list(trajectories)
        self._step = max(0, int(step))
        keys = [t.key for t in self._trajs if t.visible]
        if keys != list(self.panes):
            self._rebuild(keys)
        self._push()

    def _push(self) -> None:
        """``set_frame`` on each pane whose run shows something new at this step: a run that
        stopped (converged, diverged, at its end) before the step shown is not repainted."""
        for t in self._trajs:
            pane = self.panes.get(t.key)
            if pane is None:
                continue
            drawn = _drawn_signature(t, self._step)
            if self._drawn.get(t.key) != drawn:
                pane.set_frame([t], self._step)
                self._drawn[t.key] = drawn
        self._update_titles()

    # -- panes ---------------------------------------------------------------------------
    def _new_pane(self) -> ContourView:
        pane = ContourView(use_opengl=self._use_opengl)
        pane.set_legend_visible(False)  # no arrow key under each pane (the panes stay equal in size)
        if self._colormap is not None:
            pane.set_colormap(self._colormap)
        self._set_pane_surface(pane)
        if self._overlays:
            pane.set_overlays(**self._overlays)
        pane.view_box.sigRangeChanged.connect(lambda *_args, p=pane: self._range_changed(p))
        pane.startClicked.connect(self.startClicked)
        pane.startAdded.connect(self.startAdded)
        pane.startDragged.connect(self.startDragged)
        pane.startDropped.connect(self.startDropped)
        return pane

    def _rebuild(self, keys: list[Hashable]) -> None:
        """Keep the panes of runs still shown, make the missing ones, drop the rest, re-grid, and
        give every pane the range shown before."""
        self.rebuilds += 1
        first = next(iter(self.panes.values()), None)
        shared = first.view_box.viewRange() if first is not None else None
        for key in [k for k in self.panes if k not in keys]:
            pane = self.panes.pop(key)
            self._titles.pop(key, None)
            self._drawn.pop(key, None)
            self.grid.removeWidget(pane)
            pane.hide()
            pane.deleteLater()
        for pane in self.panes.values():
            self.grid.removeWidget(pane)
        panes = {k: self.panes[k] if k in self.panes else self._new_pane() for k in keys}
        self.panes = panes
        rows, cols = grid_shape(len(keys))
        for i, pane in enumerate(panes.values()):
            self.grid.addWidget(pane, i // cols, i % cols)
        for r in range(max(rows, self.grid.rowCount())):
            self.grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(max(cols, self.grid.columnCount())):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)
        if shared is not None:  # keep the zoom the user had (new panes join it)
            self._apply_range(None, shared)
        self.stack.setCurrentWidget(self.grid_widget if panes else self.note)

    def _range_changed(self, source: ContourView) -> None:
        if not self._syncing:
            self._apply_range(source, source.view_box.viewRange())

    def _apply_range(self, source: ContourView | None, rng: Sequence[Sequence[float]]) -> None:
        """Every pane but ``source`` shows exactly ``rng`` = ((x0, x1), (y0, y1))."""
        self._syncing = True
        try:
            (x0, x1), (y0, y1) = rng
            for pane in self.panes.values():
                if pane is not source:
                    pane.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
        finally:
            self._syncing = False

    def _update_titles(self) -> None:
        """Each pane's title: its run's label in its colour, "— diverged" once it is shown diverged."""
        for t in self._trajs:
            pane = self.panes.get(t.key)
            if pane is None:
                continue
            text = t.label or str(t.key)
            if t.status == "diverged" and self._step >= t.last_index:
                text += " — diverged"
            title = (text, t.color)
            if self._titles.get(t.key) != title:
                self._titles[t.key] = title
                pane.plot_item.setTitle(text, color=t.color, size="10pt", bold=True)

    @property
    def view_box(self) -> Any:
        """The first pane's ViewBox (every pane's range follows a change of it), None without panes."""
        first = next(iter(self.panes.values()), None)
        return None if first is None else first.view_box

    def title_of(self, key: Hashable) -> tuple[str, str] | None:
        """(text, colour) of run ``key``'s pane title, None when it has no pane."""
        return self._titles.get(key)
