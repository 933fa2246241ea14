"""The studio session: the problem, the runs, the playback position and the view options.

Qt-free and evented (psygnal): panels call its methods, the clock calls :meth:`Session.tick`,
views subscribe to its signals and read its state. It never knows a view exists.

Playback: ``position`` is the step shown. While playing, each tick moves ``position`` forward
by ``steps_per_tick``: through history already computed (after scrubbing back) and, at the
head, by advancing every running run. Each run is shown at ``min(position, run.steps)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from psygnal import Signal

from gdstudio.engine.problems import Bounds, Problem, Surface, make_problem
from gdstudio.engine.runs import Run, RunConfig, Status

__all__ = ["ProblemSettings", "RunEntry", "ViewOptions", "Session", "PALETTE", "RACE_OPTIMIZERS"]

#: Run colours (Okabe–Ito, then Tableau), distinguishable for colour-blind viewers.
PALETTE: tuple[str, ...] = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#FFFFFF",
    "#8C564B", "#BCBD22", "#17BECF", "#9467BD",
)

#: The optimizers "Race all" starts (``sgd`` is left out: with its defaults it is ``gd``).
RACE_OPTIMIZERS: tuple[str, ...] = (
    "gd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam", "adamax", "adadelta",
)


@dataclass(frozen=True)
class ProblemSettings:
    """Which problem, with which data or expression, seen over which bounds and grid."""

    name: str = "himmelblau"
    dataset: str | None = None
    data_x: tuple[float, ...] | None = None
    data_y: tuple[float, ...] | None = None
    expr: str | None = None
    bounds: Bounds | None = None  # None: the problem's default view
    resolution: int = 256
    log_scale: bool = False

    def build(self) -> Problem:
        """The engine problem (ValueError with a clear message when the settings are bad)."""
        if not (16 <= self.resolution <= 1024):
            raise ValueError(f"Invalid resolution value: {self.resolution} (must be in [16, 1024])")
        return make_problem(self.name, data_x=self.data_x, data_y=self.data_y, dataset=self.dataset,
                            expr=self.expr)


@dataclass
class RunEntry:
    """One run as the user configured it, and its live engine :class:`Run`."""

    id: int
    config: RunConfig
    color: str
    visible: bool = True
    run: Run | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        from gdstudio.engine.optimizers import get_spec

        spec = get_spec(self.config.optimizer)
        lr = self.config.hyperparameters.get("lr", dict(spec.defaults).get("lr"))
        if lr is None:
            lr = next(h.default for h in spec.hyperparams if h.name == "lr")
        title = spec.title
        batch = self.config.batch_size
        if batch == 1:
            title = "SGD" if spec.name == "gd" else f"{title} (batch 1)"
        elif batch is not None:
            title = f"{title} (batch {batch})"
        noise = f" σ={self.config.noise:g}" if self.config.noise else ""
        return f"{title} η={lr:g}{noise}"

    @property
    def status(self) -> Status:
        return self.run.status if self.run is not None else Status.RUNNING


@dataclass(frozen=True)
class ViewOptions:
    """What the views overlay and how curves are scaled."""

    show_gradient: bool = False
    show_velocity: bool = False
    show_effective_step: bool = False
    show_field: bool = False
    log_loss: bool = True


class Session:
    """The evented model of the studio window."""

    problem_changed = Signal()          # problem or its view settings changed (surface must be redrawn)
    runs_changed = Signal()             # runs added, removed or reconfigured (restarted)
    runs_advanced = Signal()            # new steps were computed
    position_changed = Signal(int)      # the step shown changed
    selection_changed = Signal(object)  # the selected run id (or None)
    playing_changed = Signal(bool)
    speed_changed = Signal()
    options_changed = Signal()
    message = Signal(str)               # one-line status messages (divergence, convergence, errors)

    def __init__(self) -> None:
        self._problem_settings = ProblemSettings()
        self._problem: Problem = self._problem_settings.build()
        self._runs: dict[int, RunEntry] = {}
        self._ids = itertools.count(1)
        self._selected: int | None = None
        self._position = 0
        self._playing = False
        self.steps_per_tick = 1
        self.ticks_per_second = 30
        self.max_steps = 10_000
        self._options = ViewOptions()

    # ------------------------------------------------------------------ problem
    @property
    def problem(self) -> Problem:
        return self._problem

    @property
    def problem_settings(self) -> ProblemSettings:
        return self._problem_settings

    @property
    def bounds(self) -> Bounds:
        return self._problem_settings.bounds or self._problem.bounds

    def set_problem(self, settings: ProblemSettings | None = None, **changes: Any) -> None:
        """Switch problem (or its data, expression, bounds, grid, colour scale).

        Changing the problem itself restarts every run; a run whose start has the wrong
        dimension moves to the new problem's suggested start. Raises ValueError (and changes
        nothing) when the new settings are bad.
        """
        new = replace(settings or self._problem_settings, **changes)
        _check_bounds(new.bounds)
        same_problem = _problem_key(new) == _problem_key(self._problem_settings)
        problem = self._problem if same_problem else new.build()
        if not same_problem:
            entries = {}
            for rid, e in self._runs.items():
                cfg = e.config
                if len(cfg.start) != problem.dim:
                    cfg = cfg.with_(start=problem.start)
                if problem.n_samples is None and cfg.batch_size is not None:
                    cfg = cfg.with_(batch_size=None)
                entries[rid] = RunEntry(rid, cfg, e.color, e.visible, Run(problem, cfg))
            self._runs = entries
            self._problem = problem
        self._problem_settings = new
        self.problem_changed.emit()
        if not same_problem:
            self._set_position(0)
            self.runs_changed.emit()

    def surface(self) -> Surface:
        """The loss on the view grid (may take ~0.1 s on big datasets: call off the UI thread)."""
        return self._problem.grid(self._problem_settings.resolution, self.bounds)

    # ------------------------------------------------------------------ runs
    @property
    def runs(self) -> list[RunEntry]:
        return list(self._runs.values())

    def entry(self, run_id: int) -> RunEntry:
        try:
            return self._runs[run_id]
        except KeyError:
            raise ValueError(f"No run with id {run_id}") from None

    def add_run(self, config: RunConfig, *, color: str | None = None, visible: bool = True,
                select: bool = True) -> int:
        """Add a run (validated: ValueError changes nothing); returns its id."""
        run = Run(self._problem, config)
        rid = next(self._ids)
        used = {e.color for e in self._runs.values()}
        color = color or next((c for c in PALETTE if c not in used), PALETTE[rid % len(PALETTE)])
        self._runs[rid] = RunEntry(rid, config, color, visible, run)
        self._catch_up(self._runs[rid])
        self.runs_changed.emit()
        if select:
            self.select(rid)
        return rid

    def duplicate_run(self, run_id: int) -> int:
        return self.add_run(self.entry(run_id).config)

    def remove_run(self, run_id: int) -> None:
        self.entry(run_id)
        del self._runs[run_id]
        if self._selected == run_id:
            self._selected = next(iter(self._runs), None)
            self.selection_changed.emit(self._selected)
        self.runs_changed.emit()

    def clear_runs(self) -> None:
        self._runs.clear()
        self._selected = None
        self.selection_changed.emit(None)
        self._set_position(0)
        self.runs_changed.emit()

    def update_run(self, run_id: int, **changes: Any) -> None:
        """Reconfigure a run (optimizer, hyperparameters, start, batch size, …) and restart it.

        ``hyperparameters`` replaces the overrides; ValueError changes nothing.
        """
        entry = self.entry(run_id)
        config = entry.config.with_(**changes)
        run = Run(self._problem, config)
        entry.config, entry.run = config, run
        self._catch_up(entry)
        self.runs_changed.emit()

    def set_visible(self, run_id: int, visible: bool) -> None:
        self.entry(run_id).visible = visible
        self.runs_changed.emit()

    def set_color(self, run_id: int, color: str) -> None:
        self.entry(run_id).color = color
        self.runs_changed.emit()

    def set_start(self, run_id: int, start: Iterable[float]) -> None:
        """Move a run's start (e.g. a click on the contour) and restart it."""
        self.update_run(run_id, start=tuple(float(v) for v in start))

    def race_all(self, start: Iterable[float] | None = None, *, tune: bool = True, steps: int = 150,
                 optimizers: Iterable[str] = RACE_OPTIMIZERS) -> list[int]:
        """Replace the runs by one run per optimizer from the same start.

        With ``tune``, each optimizer gets the learning rate that does best on this problem
        from this start over ``steps`` steps (see :func:`gdstudio.engine.tuning.tune_lr`).
        """
        from gdstudio.engine.tuning import tune_lr

        if start is None:
            sel = self.selected
            start = sel.config.start if sel is not None else self._problem.start
        start = tuple(float(v) for v in start)
        template = self.selected.config if self.selected is not None else RunConfig("gd", start)
        configs = []
        for name in optimizers:
            cfg = RunConfig(name, start, {}, template.batch_size if self._problem.n_samples else None,
                            template.shuffle, template.noise, template.seed, template.tol)
            if tune:
                cfg = cfg.with_(hyperparameters={"lr": tune_lr(self._problem, cfg, steps=steps)})
            configs.append(cfg)
        self._runs.clear()
        self._set_position(0)
        ids = [self.add_run(cfg, select=False) for cfg in configs]
        self.select(ids[0] if ids else None)
        return ids

    # ------------------------------------------------------------------ selection
    @property
    def selected_id(self) -> int | None:
        return self._selected

    @property
    def selected(self) -> RunEntry | None:
        return self._runs.get(self._selected) if self._selected is not None else None

    def select(self, run_id: int | None) -> None:
        if run_id is not None:
            self.entry(run_id)
        if run_id != self._selected:
            self._selected = run_id
            self.selection_changed.emit(run_id)

    # ------------------------------------------------------------------ playback
    @property
    def position(self) -> int:
        return self._position

    @property
    def computed_steps(self) -> int:
        """The furthest step any run has reached."""
        return max((e.run.steps for e in self._runs.values() if e.run is not None), default=0)

    @property
    def any_running(self) -> bool:
        return any(e.run is not None and e.run.running for e in self._runs.values())

    @property
    def playing(self) -> bool:
        return self._playing

    def set_playing(self, playing: bool) -> None:
        if playing and not self._can_move_forward():
            playing = False
            self.message.emit(self._finished_message())
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)

    def toggle_playing(self) -> None:
        self.set_playing(not self._playing)

    def set_speed(self, steps_per_tick: int | None = None, ticks_per_second: int | None = None) -> None:
        if steps_per_tick is not None:
            if steps_per_tick < 1:
                raise ValueError(f"Invalid steps per tick value: {steps_per_tick} (must be ≥ 1)")
            self.steps_per_tick = int(steps_per_tick)
        if ticks_per_second is not None:
            if not 1 <= ticks_per_second <= 240:
                raise ValueError(f"Invalid ticks per second value: {ticks_per_second} (must be in [1, 240])")
            self.ticks_per_second = int(ticks_per_second)
        self.speed_changed.emit()

    def tick(self) -> None:
        """One clock tick: move forward ``steps_per_tick`` steps (stops playing at the end)."""
        if not self.forward(self.steps_per_tick):
            self.set_playing(False)

    def forward(self, k: int = 1) -> bool:
        """Show ``k`` steps further, computing new steps at the head; False if nothing moved."""
        target = min(self._position + k, self.max_steps)
        if target > self.computed_steps:
            self._advance_runs(target)
        target = min(target, max(self.computed_steps, self._position))
        moved = target != self._position
        self._set_position(target)
        return moved

    def step_forward(self) -> bool:
        return self.forward(1)

    def step_back(self) -> None:
        self._set_position(max(0, self._position - 1))

    def seek(self, step: int) -> None:
        """Show ``step`` (clamped to the steps already computed)."""
        self._set_position(max(0, min(int(step), self.computed_steps)))

    def reset(self) -> None:
        """Restart every run from its start and show step 0."""
        self.set_playing(False)
        for e in self._runs.values():
            e.run = Run(self._problem, e.config)
        self._set_position(0)
        self.runs_changed.emit()

    def _can_move_forward(self) -> bool:
        return self._position < self.computed_steps or (self.any_running and self._position < self.max_steps)

    def _finished_message(self) -> str:
        if not self._runs:
            return "No runs: add one, or shift-click on the contour"
        if self._position >= self.max_steps:
            return f"Reached the step limit ({self.max_steps})"
        return "Every run has stopped (converged or diverged): press R to restart"

    def _advance_runs(self, target: int) -> None:
        stopped = []
        for e in self._runs.values():
            run = e.run
            if run is None or not run.running or run.steps >= target:
                continue
            run.advance(target - run.steps)
            if not run.running:
                stopped.append(e)
        self.runs_advanced.emit()
        for e in stopped:
            self.message.emit(_stop_message(e))

    def _catch_up(self, entry: RunEntry) -> None:
        """A new or restarted run computes up to the current position (so it shows there)."""
        if entry.run is not None and self._position > 0:
            entry.run.advance(self._position)

    def _set_position(self, step: int) -> None:
        if step != self._position:
            self._position = step
            self.position_changed.emit(step)

    # ------------------------------------------------------------------ view options
    @property
    def options(self) -> ViewOptions:
        return self._options

    def set_options(self, **changes: Any) -> None:
        self._options = replace(self._options, **changes)
        self.options_changed.emit()

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        from gdstudio.model.persistence import session_to_dict

        return session_to_dict(self)

    def apply_dict(self, data: Mapping[str, Any]) -> None:
        """Replace this session's content by ``data`` (validated first: ValueError changes nothing)."""
        from gdstudio.model.persistence import session_from_dict

        parsed = session_from_dict(data)
        self.set_playing(False)
        self._problem_settings = parsed.problem_settings
        self._problem = parsed.problem
        self._runs = {}
        self._position = 0
        for spec in parsed.runs:
            rid = next(self._ids)
            self._runs[rid] = RunEntry(rid, spec.config, spec.color, spec.visible, Run(self._problem, spec.config))
        self.steps_per_tick, self.ticks_per_second, self.max_steps = (
            parsed.steps_per_tick, parsed.ticks_per_second, parsed.max_steps)
        self._options = parsed.options
        self.problem_changed.emit()
        self.runs_changed.emit()
        self.speed_changed.emit()
        self.options_changed.emit()
        self._selected = None
        ids = list(self._runs)
        if parsed.selected is not None and 0 <= parsed.selected < len(ids):
            self.select(ids[parsed.selected])
        else:
            self.select(ids[0] if ids else None)
        self.position_changed.emit(0)
        if parsed.position:
            self.forward(parsed.position)


def _problem_key(s: ProblemSettings) -> tuple:
    return (s.name, s.dataset, s.data_x, s.data_y, s.expr)


def _check_bounds(bounds: Bounds | None) -> None:
    if bounds is None:
        return
    for i, (lo, hi) in enumerate(bounds):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"Invalid bounds for axis {i}: ({lo}, {hi}) (need finite lo < hi)")


def _stop_message(e: RunEntry) -> str:
    run = e.run
    assert run is not None
    if run.status is Status.DIVERGED:
        return f"Run {e.id} ({e.label}) diverged at step {run.diverged_at}: its point or loss is not finite"
    return f"Run {e.id} ({e.label}) converged at step {run.steps} (gradient norm < {run.config.tol:g})"
