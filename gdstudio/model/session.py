"""The studio session: the problem, the runs, the playback position and the view options.

Qt-free and evented (psygnal): panels call its methods, the clock calls :meth:`Session.tick`,
views subscribe to its signals and read its state. It never knows a view exists.

Playback: ``position`` is the step shown. While playing, each tick moves ``position`` forward
by ``steps_per_tick``: through history already computed (after scrubbing back) and, at the
head, by advancing every running run. Each run is shown at ``min(position, run.steps)``.
Invariants: a running run has computed at least ``position`` steps, and
``position <= computed_steps``.

Every setter validates first: bad input raises ValueError (message naming the setting and the
value) and changes nothing. Signals are emitted only when something changed.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from psygnal import Signal

from gdstudio.engine.problems import Bounds, Problem, Surface, make_problem
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.model.palette import PALETTE

__all__ = [
    "MAX_STEPS_LIMIT",
    "PALETTE",
    "RACE_OPTIMIZERS",
    "LoadCancelled",
    "PreparedSession",
    "ProblemSettings",
    "RunEntry",
    "Session",
    "ViewOptions",
    "check_color",
    "normalize_config",
    "prepare_cost",
    "prepare_session",
]


#: The optimizers "Race all" starts (``sgd`` is left out: with its defaults it is ``gd``).
RACE_OPTIMIZERS: tuple[str, ...] = (
    "gd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam", "adamax", "adadelta",
)

#: The largest ``max_steps`` (and the most steps a session file may ask to recompute).
MAX_STEPS_LIMIT = 100_000

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_RUN_FIELDS = tuple(f.name for f in fields(RunConfig))


def check_color(color: object) -> str:
    """``color`` if it is ``#rgb``, ``#rrggbb`` or ``#rrggbbaa``, else ValueError."""
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise ValueError(f"Invalid color value: {color!r} (must be #rrggbb, e.g. #E69F00)")
    return color


def _is_int(value: object) -> bool:
    import numpy as np

    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _floats(values: object, name: str) -> tuple[float, ...]:
    """A tuple of floats, or ValueError naming ``name``."""
    bad = ValueError(f"Invalid {name} value: {values!r} (must be a sequence of numbers)")
    if isinstance(values, (str, bytes)):
        raise bad
    try:
        items = list(values)  # type: ignore[call-overload]
        if any(isinstance(v, (bool, str, bytes)) for v in items):
            raise bad
        return tuple(float(v) for v in items)
    except (TypeError, ValueError, OverflowError):
        raise bad from None


def normalize_config(problem: Problem, config: RunConfig) -> tuple[RunConfig, Run]:
    """``config`` in canonical form (registry name, validated hyperparameters as plain Python
    values, float start, …) and a fresh :class:`Run` of it on ``problem``; ValueError if bad."""
    from gdstudio.engine.optimizers import get_spec

    if not isinstance(config, RunConfig):
        raise ValueError(f"Invalid run config: {config!r} (must be a RunConfig)")
    if not isinstance(config.optimizer, str):
        raise ValueError(f"Invalid optimizer value: {config.optimizer!r} (must be a name)")
    spec = get_spec(config.optimizer)
    if not isinstance(config.hyperparameters, Mapping):
        raise ValueError(f"Invalid hyperparameters value: {config.hyperparameters!r} (must be a mapping)")
    specs = {h.name: h for h in spec.hyperparams}
    hp: dict[str, Any] = {}
    for key, value in config.hyperparameters.items():
        if key not in specs:
            raise ValueError(f"Unknown hyperparameter for {spec.name}: {key} (known: {', '.join(specs)})")
        hp[key] = specs[key].validate(value)
    cfg = config.with_(optimizer=spec.name, start=_floats(config.start, "start"), hyperparameters=hp)
    run = Run(problem, cfg)  # validates start, batch size, noise, tol, seed, shuffle and the rule jointly
    cfg = cfg.with_(
        batch_size=None if cfg.batch_size is None else int(cfg.batch_size),
        shuffle=bool(cfg.shuffle), noise=float(cfg.noise), seed=int(cfg.seed), tol=float(cfg.tol),
    )
    run.config = cfg
    return cfg, run


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
        _check_resolution(self.resolution)
        return make_problem(self.name, data_x=self.data_x, data_y=self.data_y, dataset=self.dataset,
                            expr=self.expr)

    def normalized(self) -> ProblemSettings:
        """The same settings with canonical types (lower-case name, float tuples), validated
        field by field (ValueError naming the field)."""
        if not isinstance(self.name, str):
            raise ValueError(f"Invalid problem name value: {self.name!r} (must be text)")
        for key in ("dataset", "expr"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"Invalid {key} value: {value!r} (must be text or None)")
        data_x = None if self.data_x is None else _floats(self.data_x, "data_x")
        data_y = None if self.data_y is None else _floats(self.data_y, "data_y")
        bounds = None
        if self.bounds is not None:
            try:
                bounds = tuple((float(lo), float(hi)) for lo, hi in self.bounds)  # type: ignore[misc]
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"Invalid bounds value: {self.bounds!r} (must be (low, high) pairs)") from None
            _check_bounds(bounds)
        _check_resolution(self.resolution)
        if not isinstance(self.log_scale, bool):
            raise ValueError(f"Invalid log_scale value: {self.log_scale!r} (must be true or false)")
        return replace(self, name=self.name.strip().lower(), data_x=data_x, data_y=data_y, bounds=bounds,
                       resolution=int(self.resolution), dataset=self.dataset or None, expr=self.expr or None)


_PROBLEM_FIELDS = tuple(f.name for f in fields(ProblemSettings))


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
    show_surface: bool = True       # the 3-D view (View → 3-D view)
    grey_surface: bool = False      # a grey surface map, so coloured runs stand out (races)
    small_multiples: bool = False   # View → Layout: one contour per run instead of contour + 3-D


class Session:
    """The evented model of the studio window."""

    problem_changed = Signal()          # problem or its view settings changed (surface must be redrawn)
    runs_changed = Signal()             # runs added, removed, restarted, or recoloured / shown / hidden
    runs_advanced = Signal()            # new steps were computed
    position_changed = Signal(int)      # the step shown changed
    selection_changed = Signal(object)  # the selected run id (or None)
    playing_changed = Signal(bool)
    speed_changed = Signal()            # playback settings: steps per tick, ticks per second, max steps
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
        self._steps_per_tick = 1
        self._ticks_per_second = 30
        self._max_steps = 10_000
        self._options = ViewOptions()
        self.title = ""
        self.description = ""

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

        With ``changes`` only, a new ``name`` resets the dataset, user data, expression and
        bounds unless they are given too. Changing the problem itself restarts every run from
        step 0; a run whose start has the wrong dimension moves to the new problem's suggested
        start. Raises ValueError (and changes nothing) when the new settings are bad.
        """
        unknown = sorted(set(changes) - set(_PROBLEM_FIELDS))
        if unknown:
            raise ValueError(f"Unknown problem setting: {unknown[0]!r} (known: {', '.join(_PROBLEM_FIELDS)})")
        if settings is not None and not isinstance(settings, ProblemSettings):
            raise ValueError(f"Invalid problem settings: {settings!r} (must be ProblemSettings)")
        base = settings or self._problem_settings
        if settings is None and "name" in changes and isinstance(changes["name"], str) and \
                changes["name"].strip().lower() != base.name:
            fresh = {k: None for k in ("dataset", "data_x", "data_y", "expr", "bounds") if k not in changes}
            base = replace(base, **fresh)
        new = replace(base, **changes).normalized()
        if new == self._problem_settings:
            return
        same_problem = _problem_key(new) == _problem_key(self._problem_settings)
        problem = self._problem if same_problem else new.build()
        if new.bounds is not None and len(new.bounds) != problem.dim:
            raise ValueError(f"Invalid bounds value: {new.bounds!r} (problem {problem.name!r} needs "
                             f"{problem.dim} (low, high) pair(s))")
        entries: dict[int, RunEntry] = {}
        if not same_problem:
            for rid, e in self._runs.items():
                cfg = e.config
                if len(cfg.start) != problem.dim:
                    cfg = cfg.with_(start=tuple(float(v) for v in problem.start))
                if problem.n_samples is None and cfg.batch_size is not None:
                    cfg = cfg.with_(batch_size=None)
                cfg, run = normalize_config(problem, cfg)
                entries[rid] = RunEntry(rid, cfg, e.color, e.visible, run)
        # Everything is validated: apply.
        self._problem_settings = new
        if not same_problem:
            self._runs = entries
            self._problem = problem
        self.problem_changed.emit()
        if not same_problem:
            self._set_position(0)
            self.runs_changed.emit()
            self._report(self._runs.values())

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
        except (KeyError, TypeError):
            raise ValueError(f"No run with id {run_id!r}") from None

    def _next_color(self, extra_used: Iterable[str] = ()) -> str:
        used = {e.color.upper() for e in self._runs.values()} | {c.upper() for c in extra_used}
        free = [c for c in PALETTE if c.upper() not in used]
        return free[0] if free else PALETTE[len(used) % len(PALETTE)]

    def add_run(self, config: RunConfig, *, color: str | None = None, visible: bool = True,
                select: bool = True) -> int:
        """Add a run (validated: ValueError changes nothing); returns its id.

        Without ``color`` the run gets the first palette colour no other run uses. A run added
        while the position is past 0 computes up to the position at once.
        """
        cfg, run = normalize_config(self._problem, config)
        color = self._next_color() if color is None else check_color(color)
        if not isinstance(visible, bool):
            raise ValueError(f"Invalid visible value: {visible!r} (must be true or false)")
        rid = next(self._ids)
        entry = RunEntry(rid, cfg, color, visible, run)
        self._runs[rid] = entry
        self._catch_up(entry)
        self.runs_changed.emit()
        if select:
            self.select(rid)
        self._report([entry])
        return rid

    def duplicate_run(self, run_id: int) -> int:
        """A copy of a run (same configuration and visibility, a new colour), selected."""
        e = self.entry(run_id)
        return self.add_run(e.config, visible=e.visible)

    def remove_run(self, run_id: int) -> None:
        self.entry(run_id)
        del self._runs[run_id]
        self._set_position(min(self._position, self.computed_steps))
        if self._selected == run_id:
            self._selected = next(iter(self._runs), None)
            self.selection_changed.emit(self._selected)
        self.runs_changed.emit()

    def clear_runs(self) -> None:
        if not self._runs:
            return
        self._runs.clear()
        if self._selected is not None:
            self._selected = None
            self.selection_changed.emit(None)
        self._set_position(0)
        self.runs_changed.emit()

    def update_run(self, run_id: int, **changes: Any) -> None:
        """Reconfigure a run (optimizer, hyperparameters, start, batch size, …) and restart it.

        ``hyperparameters`` replaces the overrides; a new ``optimizer`` without
        ``hyperparameters`` keeps the overrides it also has (e.g. ``lr``). ValueError changes
        nothing.
        """
        entry = self.entry(run_id)
        unknown = sorted(set(changes) - set(_RUN_FIELDS))
        if unknown:
            raise ValueError(f"Unknown run setting: {unknown[0]!r} (known: {', '.join(_RUN_FIELDS)})")
        if "optimizer" in changes and "hyperparameters" not in changes and isinstance(changes["optimizer"], str):
            from gdstudio.engine.optimizers import get_spec

            names = {h.name for h in get_spec(changes["optimizer"]).hyperparams}
            changes["hyperparameters"] = {k: v for k, v in entry.config.hyperparameters.items() if k in names}
        config, run = normalize_config(self._problem, entry.config.with_(**changes))
        entry.config, entry.run = config, run
        self._catch_up(entry)
        self.runs_changed.emit()
        self._report([entry])

    def set_visible(self, run_id: int, visible: bool) -> None:
        entry = self.entry(run_id)
        if not isinstance(visible, bool):
            raise ValueError(f"Invalid visible value: {visible!r} (must be true or false)")
        if entry.visible != visible:
            entry.visible = visible
            self.runs_changed.emit()

    def set_color(self, run_id: int, color: str) -> None:
        entry = self.entry(run_id)
        check_color(color)
        if entry.color != color:
            entry.color = color
            self.runs_changed.emit()

    def set_start(self, run_id: int, start: Iterable[float]) -> None:
        """Move a run's start (e.g. a click on the contour) and restart it."""
        self.update_run(run_id, start=_floats(start, "start"))

    def race_all(self, start: Iterable[float] | None = None, *, tune: bool = True, steps: int = 150,
                 optimizers: Iterable[str] = RACE_OPTIMIZERS) -> list[int]:
        """Replace the runs by one run per optimizer from the same start; returns their ids.

        ``race_all(...)`` is ``replace_runs(plan_race(...))``: see those two. With ``tune`` this
        takes ~0.05 s (11 optimizers × 11 learning rates × ``steps``, each optimizer's rates as rows
        of one state); a window can call :meth:`plan_race` in a worker thread and
        :meth:`replace_runs` when it is done.
        """
        return self.replace_runs(self.plan_race(start, tune=tune, steps=steps, optimizers=optimizers))

    def plan_race(self, start: Iterable[float] | None = None, *, tune: bool = True, steps: int = 150,
                  optimizers: Iterable[str] = RACE_OPTIMIZERS) -> list[RunConfig]:
        """The run configs of a race, without changing the session (ValueError if bad).

        One config per optimizer from ``start`` (default: the selected run's start, else the
        problem's suggested start); the batch size, shuffle, noise, seed and tol come from the
        selected run. With ``tune``, each optimizer gets the learning rate that does best on this
        problem from this start over ``steps`` steps (:func:`gdstudio.engine.tuning.tune_lr`).
        """
        from gdstudio.engine.tuning import tune_lr

        problem, sel = self._problem, self.selected
        if start is None:
            start = sel.config.start if sel is not None else problem.start
        start = _floats(start, "start")
        names = list(optimizers)
        if isinstance(optimizers, str) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"Invalid optimizers value: {optimizers!r} (must be a list of names)")
        template = sel.config if sel is not None else RunConfig("gd", start)
        configs = []
        for name in names:
            cfg = RunConfig(name, start, {}, template.batch_size if problem.n_samples else None,
                            template.shuffle, template.noise, template.seed, template.tol)
            cfg, _ = normalize_config(problem, cfg)
            if tune:
                cfg = cfg.with_(hyperparameters={"lr": tune_lr(problem, cfg, steps=steps)})
            configs.append(cfg)
        return configs

    def replace_runs(self, configs: Iterable[RunConfig]) -> list[int]:
        """Replace every run by runs of ``configs`` (all validated first: ValueError changes
        nothing), with fresh palette colours, at step 0; selects the first. Returns the ids."""
        built = [normalize_config(self._problem, cfg) for cfg in configs]
        self._runs = {}
        self._set_position(0)
        for cfg, run in built:
            rid = next(self._ids)
            self._runs[rid] = RunEntry(rid, cfg, self._next_color(), True, run)
        ids = list(self._runs)
        old, self._selected = self._selected, (ids[0] if ids else None)
        self.runs_changed.emit()
        if self._selected != old:
            self.selection_changed.emit(self._selected)
        self._report(self._runs.values())
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
    def at_end(self) -> bool:
        """True when playing could not move forward (every run stopped, or the step limit)."""
        return not self._can_move_forward()

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def steps_per_tick(self) -> int:
        return self._steps_per_tick

    @steps_per_tick.setter
    def steps_per_tick(self, value: int) -> None:
        self.set_speed(steps_per_tick=value)

    @property
    def ticks_per_second(self) -> int:
        return self._ticks_per_second

    @ticks_per_second.setter
    def ticks_per_second(self, value: int) -> None:
        self.set_speed(ticks_per_second=value)

    @property
    def max_steps(self) -> int:
        return self._max_steps

    @max_steps.setter
    def max_steps(self, value: int) -> None:
        self.set_max_steps(value)

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing)
        if playing and not self._can_move_forward():
            playing = False
            self.message.emit(self._finished_message())
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)

    def toggle_playing(self) -> None:
        self.set_playing(not self._playing)

    def set_speed(self, steps_per_tick: int | None = None, ticks_per_second: int | None = None) -> None:
        """Steps shown per clock tick (≥ 1) and clock ticks per second (1 to 240)."""
        spt, tps = self._steps_per_tick, self._ticks_per_second
        if steps_per_tick is not None:
            if not _is_int(steps_per_tick) or steps_per_tick < 1:
                raise ValueError(f"Invalid steps per tick value: {steps_per_tick!r} (must be a whole number ≥ 1)")
            spt = int(steps_per_tick)
        if ticks_per_second is not None:
            if not _is_int(ticks_per_second) or not 1 <= ticks_per_second <= 240:
                raise ValueError(f"Invalid ticks per second value: {ticks_per_second!r} "
                                 "(must be a whole number in [1, 240])")
            tps = int(ticks_per_second)
        if (spt, tps) != (self._steps_per_tick, self._ticks_per_second):
            self._steps_per_tick, self._ticks_per_second = spt, tps
            self.speed_changed.emit()

    def set_max_steps(self, max_steps: int) -> None:
        """The step at which playing stops (1 to MAX_STEPS_LIMIT); the position is clamped to it."""
        if not _is_int(max_steps) or not 1 <= max_steps <= MAX_STEPS_LIMIT:
            raise ValueError(f"Invalid max steps value: {max_steps!r} (must be a whole number in "
                             f"[1, {MAX_STEPS_LIMIT}])")
        if int(max_steps) != self._max_steps:
            self._max_steps = int(max_steps)
            self._set_position(min(self._position, self._max_steps))
            self.speed_changed.emit()

    def tick(self) -> bool:
        """One clock tick: move forward ``steps_per_tick`` steps; stop playing at the end.

        Returns whether the position moved.
        """
        moved = self.forward(self._steps_per_tick)
        if self._playing and not self._can_move_forward():
            self.set_playing(False)
            self.message.emit(self._finished_message())
        return moved

    def forward(self, k: int = 1) -> bool:
        """Show ``k`` steps further, replaying history and computing new steps at the head;
        False if nothing moved (every run stopped, or ``max_steps`` reached)."""
        if not _is_int(k):
            raise ValueError(f"Invalid k value: {k!r} (must be a whole number)")
        if k <= 0:
            return False
        target = max(self._position, min(self._position + int(k), self._max_steps))
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
        """Show ``step`` (clamped to [0, steps already computed])."""
        try:
            step = int(step)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"Invalid step value: {step!r} (must be a whole number)") from None
        self._set_position(max(0, min(step, self.computed_steps)))

    def reset(self) -> None:
        """Restart every run from its start and show step 0."""
        self.set_playing(False)
        for e in self._runs.values():
            e.run = Run(self._problem, e.config)
        self._set_position(0)
        if self._runs:
            self.runs_changed.emit()
            self._report(self._runs.values())

    def _can_move_forward(self) -> bool:
        return self._position < self._max_steps and (self._position < self.computed_steps or self.any_running)

    def _finished_message(self) -> str:
        if not self._runs:
            return "No runs: add one, or shift-click on the contour"
        if self._position >= self._max_steps:
            return f"Reached the step limit ({self._max_steps})"
        return "Every run has stopped (converged or diverged): press R to restart"

    def _advance_runs(self, target: int) -> None:
        """Advance every running run that is behind ``target``; report the ones that stop."""
        stopped = []
        advanced = False
        for e in self._runs.values():
            run = e.run
            if run is None or not run.running or run.steps >= target:
                continue
            advanced |= run.advance(target - run.steps) > 0
            if not run.running:
                stopped.append(e)
        if advanced or stopped:
            self.runs_advanced.emit()
        self._report(stopped)

    def _catch_up(self, entry: RunEntry) -> None:
        """A new or restarted run computes up to the current position (so it shows there)."""
        if entry.run is not None and self._position > 0:
            entry.run.advance(self._position)

    def _report(self, entries: Iterable[RunEntry]) -> None:
        """A message for each run that has stopped."""
        for e in entries:
            if e.run is not None and not e.run.running:
                self.message.emit(_stop_message(e))

    def _set_position(self, step: int) -> None:
        if step != self._position:
            self._position = step
            self.position_changed.emit(step)

    # ------------------------------------------------------------------ view options
    @property
    def options(self) -> ViewOptions:
        return self._options

    def set_options(self, **changes: Any) -> None:
        """Change view options (each true or false); ValueError for unknown names or values."""
        known = [f.name for f in fields(ViewOptions)]
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"Unknown view option: {key!r} (known: {', '.join(known)})")
            if not isinstance(value, bool):
                raise ValueError(f"Invalid {key} value: {value!r} (must be true or false)")
        new = replace(self._options, **changes)
        if new != self._options:
            self._options = new
            self.options_changed.emit()

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        from gdstudio.model.persistence import session_to_dict

        return session_to_dict(self)

    def apply_dict(self, data: Mapping[str, Any]) -> None:
        """Replace this session's content by ``data`` (validated first: SessionError, a
        ValueError, changes nothing). Runs are recomputed up to the saved computed steps.

        ``apply_dict(d)`` is ``apply_prepared(prepare_session(d))``: a window prepares (the
        slow part) on a worker thread and applies on the UI thread."""
        self.apply_prepared(prepare_session(data))

    def apply_prepared(self, prepared: PreparedSession) -> None:
        """Swap in a session made by :func:`prepare_session` (nothing here can fail)."""
        parsed = prepared.parsed
        self.set_playing(False)
        runs: dict[int, RunEntry] = {}
        numbering = itertools.count(1)  # a loaded session numbers its runs from 1 again
        for spec, run in zip(parsed.runs, prepared.runs, strict=True):
            rid = next(numbering)
            runs[rid] = RunEntry(rid, spec.config, spec.color, spec.visible, run)
        ids = list(runs)
        selected = None
        if ids:
            selected = ids[parsed.selected] if parsed.selected is not None and 0 <= parsed.selected < len(ids) \
                else ids[0]
        self._problem_settings, self._problem, self._runs = parsed.problem_settings, parsed.problem, runs
        self._ids = numbering
        self._steps_per_tick, self._ticks_per_second = parsed.steps_per_tick, parsed.ticks_per_second
        self._max_steps = parsed.max_steps
        self._options = parsed.options
        self.title, self.description = parsed.title, parsed.description
        self._selected = selected
        self._position = min(parsed.position, self.computed_steps)
        self._announce_all()
        self._report(runs.values())

    def _announce_all(self) -> None:
        """Every signal, after the whole content was swapped (load, restore)."""
        self.problem_changed.emit()
        self.runs_changed.emit()
        self.speed_changed.emit()
        self.options_changed.emit()
        # Run ids may now name other runs: always re-announce the selection.
        self.selection_changed.emit(self._selected)
        self.position_changed.emit(self._position)
        if self.computed_steps:
            self.runs_advanced.emit()

    # ------------------------------------------------------------------ all-or-nothing changes
    def snapshot(self) -> dict[str, Any]:
        """The whole content, to :meth:`restore` if a change fails half-way (no copies of the
        runs: a load or a problem change replaces the run entries, it never edits them)."""
        return {name: (dict(value) if name == "_runs" else value) for name, value in vars(self).items()
                if name.startswith("_") or name in ("title", "description")}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put back a :meth:`snapshot` and announce everything (playback stops)."""
        self.set_playing(False)
        for name, value in snapshot.items():
            setattr(self, name, dict(value) if name == "_runs" else value)
        self._playing = False
        self._announce_all()


class LoadCancelled(Exception):
    """:func:`prepare_session` was cancelled (its ``cancelled`` callback said so)."""


@dataclass(frozen=True)
class PreparedSession:
    """A session document validated and computed, ready for :meth:`Session.apply_prepared`."""

    parsed: Any  # gdstudio.model.persistence.ParsedSession
    runs: list[Run]

    @property
    def title(self) -> str:
        return str(self.parsed.title)


#: Steps computed between two progress reports / cancel checks of :func:`prepare_session`.
PREPARE_CHUNK = 2_000


def prepare_cost(data: Mapping[str, Any]) -> int:
    """Rough work of preparing ``data``: saved computed steps × runs (0 if unreadable)."""
    try:
        playback = data.get("playback", {})
        steps = int(playback.get("computed_steps", playback.get("position", 0)) or 0)
        return max(0, steps) * len(data.get("runs", []) or [])
    except (AttributeError, TypeError, ValueError, OverflowError):
        return 0


def prepare_session(data: Mapping[str, Any], *, progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> PreparedSession:
    """Validate a session document and compute its runs up to the saved computed steps.

    Touches no session (safe on a worker thread). ``progress(done, total)`` is called between
    chunks of :data:`PREPARE_CHUNK` steps; when ``cancelled()`` returns true the work stops
    with :class:`LoadCancelled`. SessionError (a ValueError) for a bad document.
    """
    from gdstudio.model.persistence import session_from_dict

    parsed = session_from_dict(data)
    runs = [Run(parsed.problem, spec.config) for spec in parsed.runs]
    target = parsed.computed_steps
    total = target * len(runs)
    for stop in range(min(PREPARE_CHUNK, target), target + PREPARE_CHUNK, PREPARE_CHUNK):
        stop = min(stop, target)
        for run in runs:
            if cancelled is not None and cancelled():
                raise LoadCancelled("cancelled")
            run.advance(max(0, stop - run.steps))
        if progress is not None:  # a run that stopped early has done all it will
            progress(sum(run.steps if run.running else target for run in runs), total)
        if stop >= target:
            break
    return PreparedSession(parsed, runs)


def _problem_key(s: ProblemSettings) -> tuple:
    return (s.name, s.dataset, s.data_x, s.data_y, s.expr)


def _check_resolution(resolution: object) -> None:
    if not _is_int(resolution) or not 16 <= resolution <= 1024:  # type: ignore[operator]
        raise ValueError(f"Invalid resolution value: {resolution!r} (must be a whole number in [16, 1024])")


def _check_bounds(bounds: Bounds | None) -> None:
    if bounds is None:
        return
    for i, (lo, hi) in enumerate(bounds):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"Invalid bounds for axis {i}: ({lo}, {hi}) (need finite lo < hi)")
        # derived values must stay finite: the width, and a grid step (at the finest resolution,
        # 1024 points) that moves lo and hi, or the grid repeats values (a step of 0)
        width = hi - lo
        step = width / 1023
        if not math.isfinite(width):
            raise ValueError(f"Invalid bounds for axis {i}: ({lo:g}, {hi:g}) (the width overflows; keep "
                             f"|hi − lo| below {1.7e308:g})")
        if not (lo + step > lo and hi - step < hi):
            raise ValueError(f"Invalid bounds for axis {i}: ({lo!r}, {hi!r}) (too narrow for a grid: the grid "
                             "step rounds to 0 at this magnitude)")


def _stop_message(e: RunEntry) -> str:
    run = e.run
    assert run is not None
    if run.status is Status.DIVERGED:
        return f"Run {e.id} ({e.label}) diverged at step {run.diverged_at}: its point or loss is not finite"
    return f"Run {e.id} ({e.label}) converged at step {run.steps} (gradient norm < {run.config.tol:g})"
