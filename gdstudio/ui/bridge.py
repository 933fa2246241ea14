"""The adapter from the session (model) to the views: the only place that pushes to them.

Every view implements :class:`~gdstudio.ui.views.protocol.View`; the bridge calls only that
interface. :class:`ViewBridge` subscribes to the session's signals and, on

* ``problem_changed``: ``set_problem`` on every view, then computes the surface
  (``problem.grid``) — off the UI thread when it is expensive (data problems with many points:
  a :class:`~gdstudio.ui.background.Background` job, stale results dropped by its generation
  counter) — and calls ``set_surface`` on every view;
* ``runs_changed`` / ``runs_advanced``: rebuilds the :class:`TrajectoryView` list (views of the
  runs' history arrays, no copies, no loop over steps) and pushes it with ``set_frame``;
* ``position_changed``: pushes ``set_position``;
* ``options_changed``: ``set_options`` (:class:`~gdstudio.ui.views.protocol.DisplayOptions`).

Run and position changes are coalesced: they mark what is stale and one queued call per pass of
the event loop pushes it (a tick that advances the runs and moves the position pushes once; a
race that replaces eleven runs pushes once). :meth:`flush` pushes at once.

It also routes the mouse signals of every :class:`~gdstudio.ui.views.protocol.PickingView` it
feeds (the contour, the small multiples) back to the session (click: move the selected run's
start, shift-click: add a run there, drag a start ring: that run follows live while cheap, and
moves on drop). Call :meth:`close` before the views go away: it disconnects everything.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QMetaObject, QObject, Qt, Signal, Slot

from gdstudio.engine.problems import Problem, Surface
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.background import Background, Job
from gdstudio.ui.views.protocol import DisplayOptions, PickingView, View
from gdstudio.ui.views.types import TrajectoryView

__all__ = ["SYNC_SURFACE_COST", "Subscriptions", "ViewBridge", "display_options", "trajectories"]

#: Grid cells × data points below which the surface is computed on the UI thread (~< 20 ms).
SYNC_SURFACE_COST = 4_000_000
#: Dragging a start ring re-runs that run live while the position shown is at most this.
LIVE_DRAG_STEPS = 400


class Subscriptions:
    """psygnal connections made by a Qt object, all disconnected by :meth:`disconnect_all`."""

    def __init__(self) -> None:
        self._items: list[tuple[Any, Callable]] = []

    def connect(self, signal: Any, slot: Callable) -> None:
        signal.connect(slot)
        self._items.append((signal, slot))

    def disconnect_all(self) -> None:
        for signal, slot in self._items:
            signal.disconnect(slot)
        self._items.clear()


def trajectories(session: Session, *, preview: bool = False) -> list[TrajectoryView]:
    """One TrajectoryView per run (keys are run ids), wrapping the history arrays without copies.

    With ``preview``, each running run also carries the step it would take next from its newest
    point (``Run.preview()``: computed on a copy of its state, the run does not move), so the
    arrows can be drawn at the head while playing and at the end.
    """
    out = []
    for e in session.runs:
        if e.run is None:
            continue
        ahead = e.run.preview() if preview and e.visible and e.run.running else None
        out.append(TrajectoryView.from_history(
            e.id, e.run.history, status=str(e.run.status), color=e.color, label=e.label, visible=e.visible,
            preview=ahead,
        ))
    return out


def display_options(session: Session) -> DisplayOptions:
    """What the views overlay and how they scale the loss, from the session's view options."""
    o = session.options
    return DisplayOptions(gradient=o.show_gradient, velocity=o.show_velocity, effective_step=o.show_effective_step,
                          field=o.show_field, log_loss=o.log_loss)


def surface_cost(problem: Problem, resolution: int) -> int:
    """Rough cost of a grid: cells × data points (1 for analytic problems)."""
    cells = resolution if problem.dim == 1 else resolution * resolution
    return cells * max(1, problem.n_samples or 1)


class ViewBridge(QObject):
    """Pushes the session's state to the views (contour, 3-D, history and those of :meth:`add_view`)."""

    #: One-line messages for the status bar (bad clicks, surface errors).
    message = Signal(str)
    #: Emitted after a new surface reached the views (tests and busy indicators wait on it).
    surfaceApplied = Signal()

    def __init__(self, session: Session, contour: View | None, surface: View | None, history: View | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.contour, self.surface_view, self.history = contour, surface, history
        #: Further views fed like the first three (the fit view, the small multiples): see add_view.
        self.extra_views: list[View] = []
        self._inactive: set[int] = set()  # id() of views that are not shown: nothing is pushed to them
        self._subs = Subscriptions()
        self._picking: list[PickingView] = []
        #: Expensive surfaces are computed here (one at a time; a newer problem drops the older result).
        self.surface_work = Background(self, name="gdstudio-surface")
        self.surface_work.done.connect(self._on_surface_done)
        self.surface_work.failed.connect(self._on_surface_failed)
        self.last_surface: Surface | None = None
        self.pushes = 0  # set_frame pushes (for tests / diagnostics)
        self._closed = False
        s = session
        self._stale_runs = False
        self._stale_position = False
        self._scheduled = False
        self._subs.connect(s.problem_changed, self.refresh_surface)
        self._subs.connect(s.runs_changed, self._runs_stale)
        self._subs.connect(s.runs_advanced, self._runs_stale)
        self._subs.connect(s.position_changed, self._position_stale)
        self._subs.connect(s.options_changed, self.push_options)
        for view in (contour, surface, history):
            self._connect_picking(view)
        self.refresh_all()

    # ------------------------------------------------------------------ coalescing
    def _runs_stale(self) -> None:
        self._stale_runs = True
        self._schedule()

    def _position_stale(self, _step: int = 0) -> None:
        self._stale_position = True
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QMetaObject.invokeMethod(self, "flush", Qt.ConnectionType.QueuedConnection)

    @property
    def stale(self) -> bool:
        """Changes are waiting for the next pass of the event loop."""
        return self._scheduled

    @Slot()
    def flush(self) -> None:
        """Push what changed since the last push (trajectories first, then the position)."""
        self._scheduled = False
        if self._closed:
            return
        runs, position = self._stale_runs, self._stale_position
        self._stale_runs = self._stale_position = False
        if runs:
            self.push_trajectories()
        elif position:
            self.push_position(self.session.position)

    # ------------------------------------------------------------------ pushing
    def refresh_all(self) -> None:
        self.refresh_surface()
        self.push_options()
        self.push_trajectories()

    @property
    def busy(self) -> bool:
        """A surface is being computed off the UI thread."""
        return self.surface_work.busy

    def refresh_surface(self) -> None:
        """Recompute the surface for the session's problem and view settings."""
        s = self.session
        problem, res, bounds = s.problem, s.problem_settings.resolution, s.bounds
        for view in self._views():
            view.set_problem(problem)
        if surface_cost(problem, res) <= SYNC_SURFACE_COST:
            self.surface_work.cancel()  # a result still computed for an older problem is dropped
            try:
                surf = problem.grid(res, bounds)
            except ValueError as exc:
                self.message.emit(f"Cannot draw the surface: {exc}")
                return
            self._apply_surface(surf)
        else:
            self.message.emit("Computing the surface…")
            self.surface_work.start(lambda _job: problem.grid(res, bounds))

    def _on_surface_done(self, _job: Job, result: object) -> None:
        assert isinstance(result, Surface)
        self._apply_surface(result)
        self.message.emit("")

    def _on_surface_failed(self, _job: Job, exc: object) -> None:
        self.message.emit(f"Cannot draw the surface: {exc}")

    def _apply_surface(self, surf: Surface) -> None:
        self.last_surface = surf
        for view in self._views():
            self._set_surface(view, surf)
        self.surfaceApplied.emit()

    def _set_surface(self, view: View, surf: Surface) -> None:
        s = self.session
        problem = s.problem
        view.set_surface(surf, s.bounds, problem.minima, s.problem_settings.log_scale, labels=problem.params,
                         gradient_fn=problem.gradient)

    # ------------------------------------------------------------------ views
    def add_view(self, view: View) -> None:
        """Feed another view (every call of :class:`~gdstudio.ui.views.protocol.View`); a
        :class:`~gdstudio.ui.views.protocol.PickingView`'s clicks reach the session."""
        self.extra_views.append(view)
        self._connect_picking(view)
        self._refresh_view(view)

    def set_active(self, view: View, active: bool) -> None:
        """A hidden view gets nothing (no cost while hidden); made active, it catches up at once."""
        key = id(view)
        if active and key in self._inactive:
            self._inactive.discard(key)
            self._refresh_view(view)
        elif not active:
            self._inactive.add(key)

    def is_active(self, view: View | None) -> bool:
        return view is not None and id(view) not in self._inactive

    def _views(self) -> list[View]:
        views = (self.contour, self.surface_view, self.history, *self.extra_views)
        return [v for v in views if v is not None and id(v) not in self._inactive]

    def _refresh_view(self, view: View) -> None:
        """Bring one view up to date: problem, surface, options, runs and position."""
        if self._closed or not self.is_active(view):
            return
        s = self.session
        view.set_problem(s.problem)
        if self.last_surface is not None:
            self._set_surface(view, self.last_surface)
        view.set_options(display_options(s))
        view.set_frame(trajectories(s, preview=self._wants_preview()), s.position)

    def _wants_preview(self) -> bool:
        return display_options(self.session).wants_preview

    def push_trajectories(self) -> None:
        """Push the runs and the position (one redraw per view)."""
        trajs = trajectories(self.session, preview=self._wants_preview())
        step = self.session.position
        self.pushes += 1
        for view in self._views():
            view.set_frame(trajs, step)

    def push_position(self, step: int) -> None:
        if self._wants_preview() and step >= self.session.computed_steps:
            self.push_trajectories()  # the arrows at the head need the preview
            return
        for view in self._views():
            view.set_position(step)

    def push_options(self) -> None:
        options = display_options(self.session)
        for view in self._views():
            view.set_options(options)
        self._runs_stale()  # arrows switched on need the runs' previews

    # ------------------------------------------------------------------ mouse -> model
    def _connect_picking(self, view: View | None) -> None:
        if isinstance(view, PickingView) and view not in self._picking:
            view.startClicked.connect(self._on_start_clicked)
            view.startAdded.connect(self._on_start_added)
            view.startDragged.connect(self._on_start_dragged)
            view.startDropped.connect(self._on_start_dropped)
            self._picking.append(view)

    def _start_from(self, x: float, y: float) -> tuple[float, ...]:
        return (x,) if self.session.problem.dim == 1 or math.isnan(y) else (x, y)

    def _on_start_clicked(self, x: float, y: float) -> None:
        """A click: the selected run starts there (a first run is created when there is none)."""
        s = self.session
        start = self._start_from(x, y)
        try:
            if s.selected_id is not None:
                s.set_start(s.selected_id, start)
            else:
                s.add_run(RunConfig("adam", start, {"lr": 0.1}))
        except ValueError as exc:
            self.message.emit(str(exc))

    def _on_start_added(self, x: float, y: float) -> None:
        """A shift-click: a copy of the selected run's configuration starting there."""
        s = self.session
        start = self._start_from(x, y)
        template = s.selected.config if s.selected is not None else RunConfig("adam", start, {"lr": 0.1})
        try:
            s.add_run(template.with_(start=start))
        except ValueError as exc:
            self.message.emit(str(exc))

    def _on_start_dragged(self, key: object, x: float, y: float) -> None:
        """Live preview while a start ring is dragged: the run restarts from the pointer when
        recomputing it up to the position shown is cheap (≤ :data:`LIVE_DRAG_STEPS` steps)."""
        if self.session.position > LIVE_DRAG_STEPS or not isinstance(key, int):
            return  # the ring follows the pointer (the view draws it); the run moves on drop
        with contextlib.suppress(ValueError):
            self.session.set_start(key, self._start_from(x, y))

    def _on_start_dropped(self, key: object, x: float, y: float) -> None:
        s = self.session
        if not isinstance(key, int):
            self.message.emit(f"Invalid run key: {key!r}")
            return
        try:
            s.set_start(key, self._start_from(x, y))
            s.select(key)
        except ValueError as exc:
            self.message.emit(str(exc))

    def close(self) -> None:
        """Disconnect from the session and the views; pending surfaces are ignored (idempotent)."""
        if self._closed:
            return
        self._subs.disconnect_all()
        self._closed = True
        for view in self._picking:
            for sig, slot in ((view.startClicked, self._on_start_clicked),
                              (view.startAdded, self._on_start_added),
                              (view.startDragged, self._on_start_dragged),
                              (view.startDropped, self._on_start_dropped)):
                with contextlib.suppress(RuntimeError, TypeError):
                    sig.disconnect(slot)
        self._picking.clear()
        self.surface_work.close(2000)
