"""The adapter from the session (model) to the views: the only place that pushes to them.

:class:`ViewBridge` subscribes to the session's signals and, on

* ``problem_changed``: computes the surface (``problem.grid``) — off the UI thread when it is
  expensive (data problems with many points: a QThreadPool task, stale results discarded by a
  generation counter) — and calls ``set_surface`` on the contour and 3-D views;
* ``runs_changed`` / ``runs_advanced``: rebuilds the :class:`TrajectoryView` list (views of the
  runs' history arrays, no copies, no loop over steps) and pushes it to the three views;
* ``position_changed``: pushes ``set_position``.

Run and position changes are coalesced: they mark what is stale and one queued call per pass of
the event loop pushes it (a tick that advances the runs and moves the position pushes once; a
race that replaces eleven runs pushes once). :meth:`flush` pushes at once;
* ``options_changed``: overlays and the history's log-loss axis.

It also routes the contour's mouse signals back to the session (click: move the selected run's
start, shift-click: add a run there, drag a start ring: that run follows live while cheap, and
moves on drop). Call
:meth:`close` before the views go away: it disconnects everything.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QMetaObject, QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from gdstudio.engine.problems import Problem, Surface
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.views.types import TrajectoryView

__all__ = ["SYNC_SURFACE_COST", "Subscriptions", "ViewBridge", "trajectories"]

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


def surface_cost(problem: Problem, resolution: int) -> int:
    """Rough cost of a grid: cells × data points (1 for analytic problems)."""
    cells = resolution if problem.dim == 1 else resolution * resolution
    return cells * max(1, problem.n_samples or 1)


class _SurfaceSignals(QObject):
    done = Signal(int, object)  # generation, Surface or Exception


class _SurfaceTask(QRunnable):
    """``problem.grid(resolution, bounds)`` on a pool thread (the problem is read-only)."""

    def __init__(self, generation: int, problem: Problem, resolution: int, bounds: Any,
                 signals: _SurfaceSignals) -> None:
        super().__init__()
        self.generation, self.problem, self.resolution, self.bounds = generation, problem, resolution, bounds
        self.signals = signals

    def run(self) -> None:
        try:
            result: object = self.problem.grid(self.resolution, self.bounds)
        except Exception as exc:  # reported on the UI thread as a status message
            result = exc
        with contextlib.suppress(RuntimeError):  # the window closed while computing
            self.signals.done.emit(self.generation, result)


class ViewBridge(QObject):
    """Pushes the session's state to the contour, 3-D and history views."""

    #: One-line messages for the status bar (bad clicks, surface errors).
    message = Signal(str)
    #: Emitted after a new surface reached the views (tests and busy indicators wait on it).
    surfaceApplied = Signal()

    def __init__(self, session: Session, contour: Any, surface: Any, history: Any,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.contour, self.surface_view, self.history = contour, surface, history
        #: Further views fed like the contour (the fit view, the small multiples): see add_view.
        self.extra_views: list[Any] = []
        self._inactive: set[int] = set()  # id() of views that are not shown: nothing is pushed to them
        self._subs = Subscriptions()
        self._generation = 0
        self._pending = 0  # generation of the surface task in flight (0: none)
        self._signals = _SurfaceSignals(self)  # a Qt child: never collected while a worker emits
        self._signals.done.connect(self._on_surface_done)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.last_surface: Surface | None = None
        self.pushes = 0  # set_trajectories calls (for tests / diagnostics)
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
        if contour is not None:
            contour.startClicked.connect(self._on_start_clicked)
            contour.startAdded.connect(self._on_start_added)
            contour.startDragged.connect(self._on_start_dragged)
            contour.startDropped.connect(self._on_start_dropped)
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
            self.push_trajectories(with_position=True)
        elif position:
            self.push_position(self.session.position)

    # ------------------------------------------------------------------ pushing
    def refresh_all(self) -> None:
        self.refresh_surface()
        self.push_options()
        self.push_trajectories(with_position=True)

    @property
    def busy(self) -> bool:
        """A surface is being computed off the UI thread."""
        return self._pending != 0

    def refresh_surface(self) -> None:
        """Recompute the surface for the session's problem and view settings."""
        s = self.session
        self._generation += 1
        gen = self._generation
        problem, res, bounds = s.problem, s.problem_settings.resolution, s.bounds
        for view in self._views():
            if hasattr(view, "set_problem"):
                view.set_problem(problem)
        # (gradient functions go with the surface: a 1-D gradient on a 2-D surface cannot be drawn)
        if surface_cost(problem, res) <= SYNC_SURFACE_COST:
            self._pending = 0
            try:
                surf = problem.grid(res, bounds)
            except ValueError as exc:
                self.message.emit(f"Cannot draw the surface: {exc}")
                return
            self._apply_surface(surf)
        else:
            self._pending = gen
            self.message.emit("Computing the surface…")
            self.pool.start(_SurfaceTask(gen, problem, res, bounds, self._signals))

    def _on_surface_done(self, generation: int, result: object) -> None:
        if generation != self._generation:
            return  # stale: the problem changed while this one was computed
        self._pending = 0
        if isinstance(result, Exception):
            self.message.emit(f"Cannot draw the surface: {result}")
            return
        self._apply_surface(result)  # type: ignore[arg-type]
        self.message.emit("")

    def _apply_surface(self, surf: Surface) -> None:
        s = self.session
        problem = s.problem
        self.last_surface = surf
        bounds = s.bounds
        log = s.problem_settings.log_scale
        minima = problem.minima
        for view in self._views():
            if view is self.history:
                if hasattr(view, "set_param_names"):
                    view.set_param_names(problem.params)
            elif hasattr(view, "set_surface"):
                _call(view.set_surface, surf, bounds, minima, log, labels=problem.params,
                      gradient_fn=problem.gradient)
                if hasattr(view, "set_gradient_fn"):
                    view.set_gradient_fn(problem.gradient)
        self.surfaceApplied.emit()

    # ------------------------------------------------------------------ views
    def add_view(self, view: Any) -> None:
        """Feed another view: ``set_frame(trajectories, step)`` and ``set_position(step)``, and,
        where it has them, ``set_surface``, ``set_problem``, ``set_gradient_fn``, ``set_overlays``."""
        self.extra_views.append(view)
        self._refresh_view(view)

    def set_active(self, view: Any, active: bool) -> None:
        """A hidden view gets nothing (no cost while hidden); made active, it catches up at once."""
        key = id(view)
        if active and key in self._inactive:
            self._inactive.discard(key)
            self._refresh_view(view)
        elif not active:
            self._inactive.add(key)

    def is_active(self, view: Any) -> bool:
        return view is not None and id(view) not in self._inactive

    def _views(self) -> list[Any]:
        return [v for v in (self.contour, self.surface_view, self.history, *self.extra_views) if self.is_active(v)]

    def _refresh_view(self, view: Any) -> None:
        """Bring one view up to date: problem, surface, overlays, runs and position."""
        if self._closed or not self.is_active(view):
            return
        s = self.session
        if hasattr(view, "set_problem"):
            view.set_problem(s.problem)
        if self.last_surface is not None and hasattr(view, "set_surface") and view is not self.history:
            _call(view.set_surface, self.last_surface, s.bounds, s.problem.minima, s.problem_settings.log_scale,
                  labels=s.problem.params, gradient_fn=s.problem.gradient)
            if hasattr(view, "set_gradient_fn"):
                view.set_gradient_fn(s.problem.gradient)
        self._push_options_to(view)
        view.set_frame(trajectories(self.session, preview=self._wants_preview()), s.position)

    def _wants_preview(self) -> bool:
        o = self.session.options
        return o.show_gradient or o.show_velocity or o.show_effective_step

    def push_trajectories(self, with_position: bool = False) -> None:
        """Push the runs (and the position, in one redraw where a view has ``set_frame``)."""
        trajs = trajectories(self.session, preview=self._wants_preview())
        step = self.session.position
        self.pushes += 1
        for view in self._views():
            if with_position and hasattr(view, "set_frame"):
                view.set_frame(trajs, step)
                continue
            view.set_trajectories(trajs)
            if with_position:
                view.set_position(step)

    def push_position(self, step: int) -> None:
        if self._wants_preview() and step >= self.session.computed_steps:
            self.push_trajectories(with_position=True)  # the arrows at the head need the preview
            return
        for view in self._views():
            view.set_position(step)

    def push_options(self) -> None:
        for view in self._views():
            self._push_options_to(view)
        self._runs_stale()  # arrows switched on need the runs' previews

    def _push_options_to(self, view: Any) -> None:
        o = self.session.options
        if view is self.history:
            view.set_log_loss(o.log_loss)
        elif hasattr(view, "set_overlays"):
            view.set_overlays(gradient=o.show_gradient, velocity=o.show_velocity,
                              effective_step=o.show_effective_step, field=o.show_field)

    # ------------------------------------------------------------------ mouse -> model
    def _start_from(self, x: float, y: float) -> tuple[float, ...]:
        return (x,) if self.session.problem.dim == 1 or math.isnan(y) else (x, y)

    def _on_start_clicked(self, x: float, y: float) -> None:
        """A click: the selected run starts there (a first run is created when there is none)."""
        s = self.session
        start = self._start_from(x, y)
        try:
            if s.selected is not None:
                s.set_start(s.selected_id, start)  # type: ignore[arg-type]
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
        if self.session.position > LIVE_DRAG_STEPS:
            return  # the ring follows the pointer (the view draws it); the run moves on drop
        s = self.session
        with contextlib.suppress(ValueError, TypeError):
            s.set_start(int(key), self._start_from(x, y))  # type: ignore[arg-type]

    def _on_start_dropped(self, key: object, x: float, y: float) -> None:
        s = self.session
        try:
            s.set_start(int(key), self._start_from(x, y))  # type: ignore[arg-type]
            s.select(int(key))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            self.message.emit(str(exc))

    def close(self) -> None:
        """Disconnect from the session and the views; pending surfaces are ignored (idempotent)."""
        if self._closed:
            return
        self._subs.disconnect_all()
        self._closed = True
        self._generation += 1
        if self.contour is not None:
            for sig, slot in ((self.contour.startClicked, self._on_start_clicked),
                              (self.contour.startAdded, self._on_start_added),
                              (self.contour.startDragged, self._on_start_dragged),
                              (self.contour.startDropped, self._on_start_dropped)):
                with contextlib.suppress(RuntimeError, TypeError):
                    sig.disconnect(slot)
        self.pool.clear()
        self.pool.waitForDone(2000)


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with keyword arguments it accepts (views may take fewer options)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)
