"""The adapter from the session (model) to the views: the only place that pushes to them.

Every view implements :class:`~gdstudio.ui.views.protocol.View`; the bridge calls only that
interface. :class:`ViewBridge` subscribes to the fields the views show (the session's declared
models, :mod:`gdstudio.model.state`) and, on

* ``problem_changed`` (the problem object, or its bounds / grid / colour scale): ``set_problem``
  on every view, then the surface (``problem.grid``) — off the UI thread when it is expensive
  (data problems with many points: a :class:`~gdstudio.ui.background.Background` job, stale
  results dropped by its generation counter; only the colour scale changed: the last grid is
  reused) — and ``set_surface`` on every view;
* the run list (``run_list``: inserted, removed, moved, …), each entry's ``config``, ``color``,
  ``visible`` and ``run`` (restarted), and ``runs_advanced`` (steps computed): rebuilds the
  :class:`TrajectoryView` list (views of the runs' history arrays, no copies, no loop over steps)
  and pushes it with ``set_frame`` (each view redraws only the runs whose picture changed: a
  recolour re-pens one run);
* ``playback.position``: ``set_position``;
* ``options.show_gradient`` / ``show_velocity`` / ``show_effective_step`` / ``show_field`` /
  ``log_loss`` / ``grey_surface`` / ``show_internals``: ``set_options``
  (:class:`~gdstudio.ui.views.protocol.DisplayOptions`); the layout options (3-D view, small
  multiples) are the window's, not the bridge's.
  The selection, playing and speed are shown by no view: not subscribed.

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
from gdstudio.engine.problems.landscape import LANDSCAPE
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.model.state import RunEntry
from gdstudio.ui.background import Background, Job
from gdstudio.ui.colormaps import SURFACE_MAP
from gdstudio.ui.views.protocol import DisplayOptions, PickingView, View
from gdstudio.ui.views.types import TrajectoryView

__all__ = ["SYNC_SURFACE_COST", "Subscriptions", "ViewBridge", "display_options", "trajectories"]

#: Grid cells × data points below which the surface is computed on the UI thread (~< 20 ms).
SYNC_SURFACE_COST = 4_000_000
#: Dragging a start ring re-runs that run live while the position shown is at most this.
LIVE_DRAG_STEPS = 400
#: The status line when the contour of a network landscape is clicked.
LANDSCAPE_CLICK = ("This is a network landscape: its runs are recorded training paths, so a click adds or moves "
                   "no run (train again in the Training lab)")
#: The surface's colour map with View → Grey surface.
GREY_MAP = "grey"


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
            preview=ahead, scheduled=e.run.schedule is not None,
        ))
    return out


def display_options(session: Session) -> DisplayOptions:
    """What the views overlay, how they scale the loss and colour the surface (a grey map for
    races, so the coloured runs stand out), from the session's view options."""
    o = session.options
    return DisplayOptions(gradient=o.show_gradient, velocity=o.show_velocity, effective_step=o.show_effective_step,
                          field=o.show_field, log_loss=o.log_loss, colormap=GREY_MAP if o.grey_surface else SURFACE_MAP,
                          internals=o.show_internals)


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
        self._grid_key: tuple[Problem, int, object] | None = None  # what last_surface is the grid of
        #: id() of each run entry -> (the entry, its field subscriptions)
        self._entry_subs: dict[int, tuple[RunEntry, Subscriptions]] = {}
        self._subs.connect(s.problem_changed, self.refresh_surface)
        runs = s.run_list.events
        for event in (runs.inserted, runs.removed, runs.moved, runs.changed, runs.reordered):
            self._subs.connect(event, self._run_list_changed)
        self._subs.connect(s.runs_advanced, self._runs_stale)
        self._subs.connect(s.playback.events.position, self._position_stale)
        o = s.options.events
        # Arrows at the runs' heads need the runs' previews; the field and the loss axis do not.
        for event in (o.show_gradient, o.show_velocity, o.show_effective_step):
            self._subs.connect(event, self._preview_option_changed)
        for event in (o.show_field, o.log_loss, o.grey_surface, o.show_internals):
            self._subs.connect(event, self._option_changed)
        self._sync_entries()
        for view in (contour, surface, history):
            self._connect_picking(view)
        self.refresh_all()

    # ------------------------------------------------------------------ subscriptions
    def _sync_entries(self) -> None:
        """Subscribe to the fields of each run entry in the list (and drop those of entries gone)."""
        entries = {id(e): e for e in self.session.run_list}
        for key in [k for k, (e, _subs) in self._entry_subs.items() if entries.get(k) is not e]:
            self._entry_subs.pop(key)[1].disconnect_all()
        for key, entry in entries.items():
            if key not in self._entry_subs:
                subs = Subscriptions()
                self._entry_subs[key] = (entry, subs)
                # What the views show of a run (the label comes from the config; a new run is a restart).
                for event in (entry.events.config, entry.events.color, entry.events.visible, entry.events.run):
                    subs.connect(event, self._run_field_changed)

    def _run_list_changed(self, *_args: object) -> None:
        self._sync_entries()
        self._runs_stale()

    def _run_field_changed(self, _new: object, _old: object) -> None:
        self._runs_stale()

    def _option_changed(self, _new: object, _old: object) -> None:
        self.push_options(runs=False)

    def _preview_option_changed(self, _new: object, _old: object) -> None:
        self.push_options(runs=True)  # arrows switched on need the runs' previews

    # ------------------------------------------------------------------ coalescing
    def _runs_stale(self) -> None:
        self._stale_runs = True
        self._schedule()

    def _position_stale(self, _new: object = None, _old: object = None) -> None:
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
        self.push_options(runs=True)
        self.push_trajectories()

    @property
    def busy(self) -> bool:
        """A surface is being computed off the UI thread."""
        return self.surface_work.busy

    def refresh_surface(self) -> None:
        """Show the surface of the session's problem and view settings: the last grid again when
        only the colour scale changed, else a new grid (off the UI thread when expensive)."""
        s = self.session
        problem, res, bounds = s.problem, s.problem_settings.resolution, s.bounds
        key = (problem, res, bounds)
        for view in self._views():
            view.set_problem(problem)
        if self.last_surface is not None and self._same_grid(key):
            self.surface_work.cancel()  # a grid still computed for other settings is dropped
            self._apply_surface(self.last_surface)
        elif surface_cost(problem, res) <= SYNC_SURFACE_COST:
            self.surface_work.cancel()  # a result still computed for an older problem is dropped
            try:
                surf = problem.grid(res, bounds)
            except ValueError as exc:
                self.message.emit(f"Cannot draw the surface: {exc}")
                return
            self._grid_key = key
            self._apply_surface(surf)
        else:
            self.message.emit("Computing the surface…")
            self.surface_work.start(lambda _job: problem.grid(res, bounds), context=key)

    def _same_grid(self, key: tuple[Problem, int, object]) -> bool:
        old = self._grid_key
        return old is not None and old[0] is key[0] and old[1:] == key[1:]

    def _on_surface_done(self, job: Job, result: object) -> None:
        assert isinstance(result, Surface)
        self._grid_key = job.context
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

    def push_options(self, runs: bool = True) -> None:
        """``set_options`` on every view; with ``runs``, the runs follow (the arrows need previews)."""
        options = display_options(self.session)
        for view in self._views():
            view.set_options(options)
        if runs:
            self._runs_stale()

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

    def _on_landscape(self) -> bool:
        """On a network landscape a click adds or moves no run (its runs are recorded paths): say so."""
        if self.session.problem.name != LANDSCAPE:
            return False
        self.message.emit(LANDSCAPE_CLICK)
        return True

    def _on_start_clicked(self, x: float, y: float) -> None:
        """A click: the selected run starts there (a first run is created when there is none)."""
        if self._on_landscape():
            return
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
        if self._on_landscape():
            return
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
        if self.session.position > LIVE_DRAG_STEPS or not isinstance(key, int) or \
                self.session.problem.name == LANDSCAPE:
            return  # the ring follows the pointer (the view draws it); the run moves on drop
        with contextlib.suppress(ValueError):
            self.session.set_start(key, self._start_from(x, y))

    def _on_start_dropped(self, key: object, x: float, y: float) -> None:
        if self._on_landscape():
            return
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
        for _entry, subs in self._entry_subs.values():
            subs.disconnect_all()
        self._entry_subs.clear()
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
