"""The studio session: the problem, the runs, the playback position and the view options.

Qt-free and evented (psygnal): panels call its methods, the clock calls :meth:`Session.tick`,
views subscribe to its signals and read its state. It never knows a view exists.

The state is declared in :mod:`gdstudio.model.state` and held in one instance each for the
session's whole life: :attr:`Session.problem_settings`, :attr:`Session.run_list` (a psygnal
``EventedList`` of :class:`RunEntry`: inserted / removed / moved events), :attr:`Session.playback`
and :attr:`Session.options`. Each field has its own signal (``session.options.events.log_loss``,
``entry.events.color``, ``session.playback.events.position`` …); see :mod:`gdstudio.model.state`
and :mod:`gdstudio.evented`. This class keeps the domain operations (add, remove,
update, race, load, play, seek) and the invariants between those models. Write through its
methods: they validate against the problem and the runs, restart what must restart, and record
the edit on :attr:`Session.undo_stack`.

The coarse signals below remain for the subscribers that redraw everything anyway (each is
emitted once per operation): ``problem_changed``, ``runs_changed`` (added, removed, restarted,
recoloured, shown / hidden), ``runs_advanced``, ``position_changed``, ``selection_changed``,
``playing_changed``, ``options_changed`` and ``message``. ``speed_changed`` is gone: its
subscribers (the clock, the playback bar, the runs table) follow ``playback.events.steps_per_tick``,
``ticks_per_second`` and ``max_steps``. ``runs_advanced`` has no field (new steps of a run are not
a change of the model's declared state) and stays.

Playback: ``position`` is the step shown. While playing, each tick moves ``position`` forward
by ``steps_per_tick``: through history already computed (after scrubbing back) and, at the
head, by advancing every running run. Each run is shown at ``min(position, run.steps)``.
Invariants: a running run has computed at least ``position`` steps, and
``position <= computed_steps``.

Undo: every edit of the problem or the runs (add, duplicate, remove, reconfigure, move a start,
recolour, show / hide, race, load a session or preset) is one :class:`~gdstudio.model.undo.Command`
named after it ("set η of Run 2 to 0.03"). A command keeps the state before and after (values and
the engine ``Run`` objects themselves, never copies), so undo and redo restore runs exactly and
without recomputing. Playback (position, playing, speed, max steps), the selection on its own and
the view options are not edits; loading a session restores all of them on undo.

Every setter validates first: bad input raises ValueError (message naming the setting and the
value) and changes nothing. Signals are emitted only when something changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from psygnal import Signal, SignalInstance
from psygnal.containers import EventedList

from gdstudio.engine.hyperparams import format_value
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import PROBLEMS, Bounds, Problem, Surface
from gdstudio.engine.quadratic import explain_divergence
from gdstudio.engine.recorded import make_run
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.engine.schedules import format_param_value
from gdstudio.model.palette import PALETTE
from gdstudio.model.persistence import ParsedSession, session_from_dict, session_to_dict
from gdstudio.model.state import (
    MAX_STEPS_LIMIT,
    Playback,
    ProblemSettings,
    RunEntry,
    ViewOptions,
    check_color,
    floats,
    is_int,
    normalize_config,
)
from gdstudio.model.undo import Command, UndoStack

__all__ = [
    "MAX_STEPS_LIMIT",
    "PALETTE",
    "RACE_OPTIMIZERS",
    "LoadCancelled",
    "PreparedSession",
    "ProblemSettings",
    "RunEntry",
    "Session",
    "SessionSnapshot",
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

_RUN_FIELDS = tuple(f.name for f in fields(RunConfig))
_PROBLEM_FIELDS = tuple(f.name for f in fields(ProblemSettings))
_OPTION_FIELDS = tuple(f.name for f in fields(ViewOptions))
_SPEED_FIELDS = ("steps_per_tick", "ticks_per_second", "max_steps")
#: Run-config settings as labels name them.
#: Commands nearest the top of the undo stack that keep their engine Run objects (older ones keep
#: configurations only and recompute on undo: same config, same history; this bounds the memory the
#: stack holds to about this many sessions' worth of histories).
KEEP_RUNS = 20
_SETTING_WORDS = {"batch_size": "batch size", "noise": "noise σ", "seed": "seed", "tol": "tolerance",
                  "shuffle": "shuffle", "schedule": "schedule", "warmup": "warm-up"}


# ------------------------------------------------------------------------------------ undo states
@dataclass(frozen=True)
class _RunState:
    id: int
    config: RunConfig
    color: str
    visible: bool
    run: Run | None


@dataclass(frozen=True)
class _State:
    """What an edit can change (``whole``: a load also replaces playback settings and options)."""

    settings: dict[str, Any]
    problem: Problem
    runs: tuple[_RunState, ...]
    selected: int | None
    next_id: int
    title: str
    description: str
    position: int  # restored only by the commands whose edit moved it (a new problem, a race, a load)
    whole: dict[str, Any] | None = None

    def without_runs(self) -> _State:
        """The same state holding configurations only (its runs are recomputed when restored)."""
        return replace(self, runs=tuple(replace(r, run=None) for r in self.runs))

    def same(self, other: _State, *, runs_by_identity: bool = True) -> bool:
        def run_key(r: _RunState) -> tuple[Any, ...]:
            return (r.id, r.config, r.color, r.visible, id(r.run) if runs_by_identity else None)
        return (self.settings == other.settings and self.problem is other.problem
                and [run_key(r) for r in self.runs] == [run_key(r) for r in other.runs]
                and (self.selected, self.next_id, self.title, self.description, self.whole)
                == (other.selected, other.next_id, other.title, other.description, other.whole))


@dataclass(frozen=True)
class SessionSnapshot:
    """The whole content, for :meth:`Session.restore` (run objects are shared, not copied)."""

    state: _State
    undo_count: int


def _symbol(optimizer: str, name: str) -> str:
    hp = next((h for h in get_spec(optimizer).hyperparams if h.name == name), None)
    return hp.symbol if hp is not None else name


def _problem_title(name: str) -> str:
    info = PROBLEMS.get(name)
    return info.title if info is not None else name


class Session:
    """The evented model of the studio window."""

    problem_changed = Signal()          # problem or its view settings changed (surface must be redrawn)
    runs_changed = Signal()             # runs added, removed, restarted, or recoloured / shown / hidden
    runs_advanced = Signal()            # new steps were computed
    position_changed = Signal(int)      # the step shown changed
    selection_changed = Signal(object)  # the selected run id (or None)
    playing_changed = Signal(bool)
    options_changed = Signal()
    message = Signal(str)               # one-line status messages (divergence, convergence, errors)

    def __init__(self) -> None:
        self._problem_settings = ProblemSettings()
        self._problem: Problem = self._problem_settings.build()
        self._runs: EventedList[RunEntry] = EventedList()
        self._next_id = 1
        self._playback = Playback()
        self._options = ViewOptions()
        self.title = ""
        self.description = ""
        #: Every edit, undoable (see the module docstring).
        self.undo_stack = UndoStack()
        self._edit_depth = 0
        self._held: list[SignalInstance] | None = None
        self._relays = True
        pb = self._playback.events
        pb.position.connect(lambda new, _old: self._relay(self.position_changed, new))
        pb.playing.connect(lambda new, _old: self._relay(self.playing_changed, new))
        pb.selected.connect(lambda new, _old: self._relay(self.selection_changed, new))
        self._options.events.all.connect(lambda _info: self._relay(self.options_changed))

    # ------------------------------------------------------------------ the declared models
    @property
    def problem_settings(self) -> ProblemSettings:
        """The problem settings (the live model: subscribe to ``.events.<field>``)."""
        return self._problem_settings

    @property
    def run_list(self) -> EventedList[RunEntry]:
        """The runs, in order (the live evented list: subscribe, never mutate; use the methods)."""
        return self._runs

    @property
    def playback(self) -> Playback:
        """Position, playing, speed, max steps and the selected run id (the live model)."""
        return self._playback

    @property
    def options(self) -> ViewOptions:
        """The view options (the live model)."""
        return self._options

    # ------------------------------------------------------------------ coarse-signal plumbing
    def _relay(self, signal: SignalInstance, *args: Any) -> None:
        if not self._relays:
            return
        if self._held is not None and not args:
            if signal not in self._held:
                self._held.append(signal)
            return
        signal.emit(*args)

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Argument-less coarse signals raised inside are emitted once, at the end."""
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for signal in held:
                signal.emit()

    @contextlib.contextmanager
    def _quiet_relays(self) -> Iterator[None]:
        old, self._relays = self._relays, False
        try:
            yield
        finally:
            self._relays = old

    # ------------------------------------------------------------------ undo plumbing
    def _capture(self, whole: bool = False) -> _State:
        extra = None
        if whole:
            pb = self._playback
            extra = {**{n: getattr(pb, n) for n in _SPEED_FIELDS}, "options": self._options.values()}
        return _State(
            settings=self._problem_settings.values(), problem=self._problem,
            runs=tuple(_RunState(e.id, e.config, e.color, e.visible, e.run) for e in self._runs),
            selected=self._playback.selected, next_id=self._next_id, title=self.title,
            description=self.description, position=self._playback.position, whole=extra,
        )

    @contextlib.contextmanager
    def edit(self, label: str, *, whole: bool = False, merge_key: Hashable | None = None) -> Iterator[None]:
        """Everything done inside is one undoable command named ``label`` (e.g. a panel's choice
        of problem that also moves the starts). Nested edits join the outermost one; nothing is
        recorded when nothing changed, or while an undo / redo runs."""
        if self._edit_depth or self.undo_stack.busy:
            self._edit_depth += 1
            try:
                yield
            finally:
                self._edit_depth -= 1
            return
        before = self._capture(whole)
        self._edit_depth += 1
        try:
            yield
        finally:
            self._edit_depth -= 1
            after = self._capture(whole)
            if not before.same(after):
                self._push(label, before, after, merge_key)

    def _push(self, label: str, before: _State, after: _State, merge_key: Hashable | None) -> None:
        box: dict[str, Any] = {"before": before, "after": after}
        moved = before.position != after.position

        def merge(newer: Command) -> bool:
            box["after"] = newer.data["after"]
            return True

        self.undo_stack.push(Command(
            label, undo=lambda: self._restore_state(box["before"], position=moved),
            redo=lambda: self._restore_state(box["after"], position=moved),
            merge_key=merge_key, merge=merge,
            is_noop=lambda: box["before"].same(box["after"], runs_by_identity=False), data=box,
        ))
        for old in self.undo_stack.commands[:-KEEP_RUNS]:  # older commands let their Run objects go
            states = old.data
            if isinstance(states, dict) and not states.get("light"):
                states.update(before=states["before"].without_runs(), after=states["after"].without_runs(),
                              light=True)

    def _restore_state(self, st: _State, *, position: bool = False, announce_all: bool = False) -> None:
        """Put back a captured state, announcing what changed (every field event, coarse signals);
        the position too with ``position`` (else it stays, clamped to the steps computed)."""
        changed_problem = st.problem is not self._problem or st.settings != self._problem_settings.values()
        with self._hold():
            self._problem = st.problem
            to = st.position if position or st.whole is not None else self.position
            changed_runs = self._restore_runs(st.runs, to)
            if changed_problem:
                self._problem_settings.update(**st.settings)
            self._next_id, self.title, self.description = st.next_id, st.title, st.description
            pb = self._playback
            if st.whole is not None:
                if pb.playing:
                    pb.playing = False
                pb.update(**{n: st.whole[n] for n in _SPEED_FIELDS})
                self._options.update(**st.whole["options"])
            ids = [e.id for e in self._runs]
            pb.selected = st.selected if st.selected in ids else (ids[0] if ids else None)
            self._set_position(min(to, self.computed_steps))
            if announce_all:
                return
            if changed_problem:
                self.problem_changed.emit()
            if changed_runs:
                self.runs_changed.emit()

    def _restore_runs(self, target: tuple[_RunState, ...], position: int) -> bool:
        """Make the run list hold ``target`` (entries kept where the id stays; exact Run objects,
        computed up to ``position``)."""
        changed = False
        wanted = [r.id for r in target]
        for e in list(self._runs):
            if e.id not in wanted:
                self._runs.remove(e)
                changed = True
        kept = [e.id for e in self._runs]
        if kept != [i for i in wanted if i in kept]:  # another order (a load): rebuild
            self._runs.clear()
            changed = True
        current = {e.id: e for e in self._runs}
        for index, r in enumerate(target):
            found = current.get(r.id)
            run = r.run
            if run is None:  # a state that kept the configuration only: the live run if it is the same
                live = found.run if found is not None and found.config == r.config else None
                run = live if live is not None else make_run(self._problem, r.config)
            self._caught_up(run, position)
            if found is None:
                self._runs.insert(index, RunEntry(r.id, r.config, r.color, r.visible, run))
                changed = True
                continue
            before = (found.config, found.color, found.visible, found.run)
            found.config, found.run, found.color, found.visible = r.config, run, r.color, r.visible
            changed |= before != (found.config, found.color, found.visible, found.run)
        return changed

    def snapshot(self) -> SessionSnapshot:
        """The whole content, to :meth:`restore` if a change fails half-way (no copies of the runs)."""
        return SessionSnapshot(self._capture(whole=True), len(self.undo_stack))

    def restore(self, snapshot: SessionSnapshot) -> None:
        """Put back a :meth:`snapshot` and announce everything (playback stops); the commands
        recorded since are dropped (their edit is rolled back)."""
        self.set_playing(False)
        with self._quiet_relays():
            self._restore_state(snapshot.state, announce_all=True)
        self.undo_stack.discard_after(snapshot.undo_count)
        self._announce_all()

    # ------------------------------------------------------------------ problem
    @property
    def problem(self) -> Problem:
        return self._problem

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
            fresh: dict[str, Any] = {k: None for k in ("dataset", "data_x", "data_y", "expr", "bounds")
                                     if k not in changes}
            base = replace(base, **fresh)
        new = replace(base, **changes)  # validates each field
        old = self._problem_settings
        if new == old:
            return
        same_problem = new.problem_key == old.problem_key
        problem = self._problem if same_problem else new.build()
        if new.bounds is not None and len(new.bounds) != problem.dim:
            raise ValueError(f"Invalid bounds value: {new.bounds!r} (problem {problem.name!r} needs "
                             f"{problem.dim} (low, high) pair(s))")
        configs: list[tuple[RunEntry, RunConfig, Run]] = []
        if not same_problem:
            for e in self._runs:
                cfg = e.config
                if len(cfg.start) != problem.dim:
                    cfg = cfg.with_(start=tuple(float(v) for v in problem.start))
                if problem.n_samples is None and cfg.batch_size is not None:
                    cfg = cfg.with_(batch_size=None)
                cfg, run = normalize_config(problem, cfg)
                configs.append((e, cfg, run))
        # Everything is validated: apply.
        with self.edit(_problem_label(old, new)):
            # The problem and the runs first: a field subscriber reads a consistent session.
            if not same_problem:
                self._problem = problem
                for e, cfg, run in configs:
                    e.config, e.run = cfg, run
            self._problem_settings.update(**new.values())
            self.problem_changed.emit()
            if not same_problem:
                self._set_position(0)
                self.runs_changed.emit()
                self._report(self._runs)

    def surface(self) -> Surface:
        """The loss on the view grid (may take ~0.1 s on big datasets: call off the UI thread)."""
        return self._problem.grid(self._problem_settings.resolution, self.bounds)

    # ------------------------------------------------------------------ runs
    @property
    def runs(self) -> list[RunEntry]:
        """The run entries, in order (a new list; :attr:`run_list` is the evented one)."""
        return list(self._runs)

    def entry(self, run_id: int) -> RunEntry:
        for e in self._runs:
            if e.id == run_id and not isinstance(run_id, bool):
                return e
        raise ValueError(f"No run with id {run_id!r}")

    def _next_color(self, extra_used: Iterable[str] = ()) -> str:
        used = {e.color.upper() for e in self._runs} | {c.upper() for c in extra_used}
        free = [c for c in PALETTE if c.upper() not in used]
        return free[0] if free else PALETTE[len(used) % len(PALETTE)]

    def _new_id(self) -> int:
        rid, self._next_id = self._next_id, self._next_id + 1
        return rid

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
        rid = self._next_id
        with self.edit(f"add Run {rid} ({get_spec(cfg.optimizer).title})"):
            self._new_id()
            entry = RunEntry(rid, cfg, color, visible, self._caught_up(run))
            self._runs.append(entry)
            self.runs_changed.emit()
            if select:
                self.select(rid)
        self._report([entry])
        return rid

    def duplicate_run(self, run_id: int) -> int:
        """A copy of a run (same configuration and visibility, a new colour), selected."""
        e = self.entry(run_id)
        with self.edit(f"duplicate Run {run_id}"):
            return self.add_run(e.config, visible=e.visible)

    def remove_run(self, run_id: int) -> None:
        entry = self.entry(run_id)
        with self.edit(f"remove Run {run_id}"):
            self._runs.remove(entry)
            self._set_position(min(self.position, self.computed_steps))
            if self._playback.selected == run_id:
                self._playback.selected = self._runs[0].id if len(self._runs) else None
            self.runs_changed.emit()

    def clear_runs(self) -> None:
        if not len(self._runs):
            return
        with self.edit("remove every run"):
            self._runs.clear()
            self._playback.selected = None
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
            names = {h.name for h in get_spec(changes["optimizer"]).hyperparams}
            changes["hyperparameters"] = {k: v for k, v in entry.config.hyperparameters.items() if k in names}
        config, run = normalize_config(self._problem, entry.config.with_(**changes))
        label, key = _run_edit_label(entry, config)
        with self.edit(label, merge_key=key):
            entry.config, entry.run = config, self._caught_up(run)
            self.runs_changed.emit()
        self._report([entry])

    def set_visible(self, run_id: int, visible: bool) -> None:
        entry = self.entry(run_id)
        if not isinstance(visible, bool):
            raise ValueError(f"Invalid visible value: {visible!r} (must be true or false)")
        if entry.visible != visible:
            with self.edit(f"{'show' if visible else 'hide'} Run {run_id}"):
                entry.visible = visible
                self.runs_changed.emit()

    def set_color(self, run_id: int, color: str) -> None:
        entry = self.entry(run_id)
        check_color(color)
        if entry.color != color:
            with self.edit(f"recolour Run {run_id}", merge_key=("color", run_id)):
                entry.color = color
                self.runs_changed.emit()

    def set_start(self, run_id: int, start: Iterable[float]) -> None:
        """Move a run's start (e.g. a click on the contour) and restart it."""
        self.update_run(run_id, start=floats(start, "start"))

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
        from gdstudio.engine.tuning import tune_lr  # the tuner is only needed by races

        problem, sel = self._problem, self.selected
        if start is None:
            start = sel.config.start if sel is not None else problem.start
        start = floats(start, "start")
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

    def replace_runs(self, configs: Iterable[RunConfig], *, label: str | None = None) -> list[int]:
        """Replace every run by runs of ``configs`` (all validated first: ValueError changes
        nothing), with fresh palette colours, at step 0; selects the first. Returns the ids.
        ``label`` names the undo command (default "race all (N runs)")."""
        built = [normalize_config(self._problem, cfg) for cfg in configs]
        with self.edit(label or f"race all ({len(built)} runs)"), self._hold():
            self._runs.clear()
            self._set_position(0)
            entries: list[RunEntry] = []
            for cfg, run in built:
                entries.append(RunEntry(self._new_id(), cfg, self._next_color([e.color for e in entries]), True, run))
            self._runs.extend(entries)
            ids = [e.id for e in entries]
            self.runs_changed.emit()
            self._playback.selected = ids[0] if ids else None
        self._report(self._runs)
        return ids

    # ------------------------------------------------------------------ selection
    @property
    def selected_id(self) -> int | None:
        return self._playback.selected

    @property
    def selected(self) -> RunEntry | None:
        rid = self._playback.selected
        return next((e for e in self._runs if e.id == rid), None) if rid is not None else None

    def select(self, run_id: int | None) -> None:
        if run_id is not None:
            self.entry(run_id)
        self._playback.selected = run_id

    # ------------------------------------------------------------------ playback
    @property
    def position(self) -> int:
        return self._playback.position

    @property
    def computed_steps(self) -> int:
        """The furthest step any run has reached."""
        return max((e.run.steps for e in self._runs if e.run is not None), default=0)

    @property
    def any_running(self) -> bool:
        return any(e.run is not None and e.run.running for e in self._runs)

    @property
    def at_end(self) -> bool:
        """True when playing could not move forward (every run stopped, or the step limit)."""
        return not self._can_move_forward()

    @property
    def playing(self) -> bool:
        return self._playback.playing

    @property
    def steps_per_tick(self) -> int:
        return self._playback.steps_per_tick

    @steps_per_tick.setter
    def steps_per_tick(self, value: int) -> None:
        self.set_speed(steps_per_tick=value)

    @property
    def ticks_per_second(self) -> int:
        return self._playback.ticks_per_second

    @ticks_per_second.setter
    def ticks_per_second(self, value: int) -> None:
        self.set_speed(ticks_per_second=value)

    @property
    def max_steps(self) -> int:
        return self._playback.max_steps

    @max_steps.setter
    def max_steps(self, value: int) -> None:
        self.set_max_steps(value)

    def set_playing(self, playing: bool) -> None:
        playing = bool(playing)
        if playing and not self._can_move_forward():
            playing = False
            self.message.emit(self._finished_message())
        self._playback.playing = playing

    def toggle_playing(self) -> None:
        self.set_playing(not self.playing)

    def set_speed(self, steps_per_tick: int | None = None, ticks_per_second: int | None = None) -> None:
        """Steps shown per clock tick (≥ 1) and clock ticks per second (1 to 240)."""
        changes = {k: v for k, v in (("steps_per_tick", steps_per_tick), ("ticks_per_second", ticks_per_second))
                   if v is not None}
        with self._hold():
            self._playback.update(**changes)

    def set_max_steps(self, max_steps: int) -> None:
        """The step at which playing stops (1 to MAX_STEPS_LIMIT); the position is clamped to it."""
        with self._hold():
            self._playback.max_steps = max_steps
            self._set_position(min(self.position, self.max_steps))

    def tick(self) -> bool:
        """One clock tick: move forward ``steps_per_tick`` steps; stop playing at the end.

        Returns whether the position moved.
        """
        moved = self.forward(self.steps_per_tick)
        if self.playing and not self._can_move_forward():
            self.set_playing(False)
            self.message.emit(self._finished_message())
        return moved

    def forward(self, k: int = 1) -> bool:
        """Show ``k`` steps further, replaying history and computing new steps at the head;
        False if nothing moved (every run stopped, or ``max_steps`` reached)."""
        if not is_int(k):
            raise ValueError(f"Invalid k value: {k!r} (must be a whole number)")
        if k <= 0:
            return False
        target = max(self.position, min(self.position + int(k), self.max_steps))
        self._advance_runs(target)
        target = min(target, max(self.computed_steps, self.position))
        moved = target != self.position
        self._set_position(target)
        return moved

    def step_forward(self) -> bool:
        return self.forward(1)

    def step_back(self) -> None:
        self._set_position(max(0, self.position - 1))

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
        for e in self._runs:
            e.run = make_run(self._problem, e.config)
        self._set_position(0)
        if self._runs:
            self.runs_changed.emit()
            self._report(self._runs)

    def _can_move_forward(self) -> bool:
        return self.position < self.max_steps and (self.position < self.computed_steps or self.any_running)

    def _finished_message(self) -> str:
        if not self._runs:
            return "No runs: add one, or shift-click on the contour"
        if self.position >= self.max_steps:
            return f"Reached the step limit ({self.max_steps})"
        return "Every run has stopped (converged or diverged): press R to restart"

    def _advance_runs(self, target: int) -> None:
        """Advance every running run that is behind ``target``; report the ones that stop."""
        stopped: list[RunEntry] = []
        advanced = False
        for e in self._runs:
            run = e.run
            if run is None or not run.running or run.steps >= target:
                continue
            advanced |= run.advance(target - run.steps) > 0
            if not run.running:
                stopped.append(e)
        if advanced or stopped:
            self.runs_advanced.emit()
        self._report(stopped)

    def _caught_up(self, run: Run, position: int | None = None) -> Run:
        """``run`` advanced to ``position`` (default: the current one): done BEFORE it is given to an
        entry, so the entry's ``run`` event already shows a run at the step shown."""
        step = self.position if position is None else position
        if run.running and run.steps < step:
            run.advance(step - run.steps)
        return run

    def _report(self, entries: Iterable[RunEntry]) -> None:
        """A message for each run that has stopped."""
        for e in entries:
            if e.run is not None and not e.run.running:
                self.message.emit(_stop_message(e))

    def _set_position(self, step: int) -> None:
        self._playback.position = step

    # ------------------------------------------------------------------ view options
    def set_options(self, **changes: Any) -> None:
        """Change view options (each true or false); ValueError for unknown names or values."""
        for key in changes:
            if key not in _OPTION_FIELDS:
                raise ValueError(f"Unknown view option: {key!r} (known: {', '.join(_OPTION_FIELDS)})")
        with self._hold():
            self._options.update(**changes)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return session_to_dict(self)

    def apply_dict(self, data: Mapping[str, Any], *, label: str | None = None) -> None:
        """Replace this session's content by ``data`` (validated first: SessionError, a
        ValueError, changes nothing). Runs are recomputed up to the saved computed steps.

        ``apply_dict(d)`` is ``apply_prepared(prepare_session(d))``: a window prepares (the
        slow part) on a worker thread and applies on the UI thread."""
        self.apply_prepared(prepare_session(data), label=label)

    def apply_prepared(self, prepared: PreparedSession, *, label: str | None = None) -> None:
        """Swap in a session made by :func:`prepare_session` (nothing here can fail); one undo
        command named ``label`` ("open session foo.json", "new session"; by default "load preset
        <title>" for a document with a group, else "open session")."""
        parsed = prepared.parsed
        if label is None:
            label = f"load preset {parsed.title}" if parsed.group and parsed.title else "open session"
        self.set_playing(False)
        with self.edit(label, whole=True), self._quiet_relays():
            entries = []
            for rid, (spec, run) in enumerate(zip(parsed.runs, prepared.runs, strict=True), start=1):
                entries.append(RunEntry(rid, spec.config, spec.color, spec.visible, run))  # numbered from 1 again
            ids = [e.id for e in entries]
            selected = None
            if ids:
                selected = ids[parsed.selected] if parsed.selected is not None and 0 <= parsed.selected < len(ids) \
                    else ids[0]
            self._problem = parsed.problem
            self._runs.clear()
            self._runs.extend(entries)
            self._problem_settings.update(**parsed.problem_settings.values())
            self._next_id = len(entries) + 1
            self._playback.update(steps_per_tick=parsed.steps_per_tick, ticks_per_second=parsed.ticks_per_second,
                                  max_steps=parsed.max_steps, selected=selected)
            self._options.update(**parsed.options.values())
            self.title, self.description = parsed.title, parsed.description
            self._playback.position = min(parsed.position, self.computed_steps)
        self._announce_all()
        self._report(self._runs)

    def _announce_all(self) -> None:
        """Every coarse signal, after the whole content was swapped (load, restore)."""
        self.problem_changed.emit()
        self.runs_changed.emit()
        self.options_changed.emit()
        # Run ids may now name other runs: always re-announce the selection.
        self.selection_changed.emit(self.selected_id)
        self.position_changed.emit(self.position)
        if self.computed_steps:
            self.runs_advanced.emit()


def _problem_label(old: ProblemSettings, new: ProblemSettings) -> str:
    """The undo label of a problem-settings change."""
    if new.name != old.name:
        if new.name == "custom":
            return f"change problem to f(x, y) = {new.expr}"
        return f"change problem to {_problem_title(new.name)}"
    if new.expr != old.expr:
        return f"change the function to {new.expr}"
    if new.problem_key != old.problem_key:
        return f"change the data of {_problem_title(new.name)}"
    changed = [f.name for f in fields(ProblemSettings) if getattr(new, f.name) != getattr(old, f.name)]
    if changed == ["resolution"]:
        return f"set grid resolution to {new.resolution}"
    if changed == ["log_scale"]:
        return f"use {'log' if new.log_scale else 'linear'} colour scale"
    if changed == ["bounds"]:
        return "reset the view bounds" if new.bounds is None else "set the view bounds"
    return "change the view settings"


def _run_edit_label(entry: RunEntry, new: RunConfig) -> tuple[str, Hashable | None]:
    """The undo label of a run reconfiguration, and its merge key (one setting of one run)."""
    old, rid = entry.config, entry.id
    changed = [f.name for f in fields(RunConfig) if getattr(new, f.name) != getattr(old, f.name)]
    if "optimizer" in changed:
        return f"change optimizer of Run {rid} to {get_spec(new.optimizer).title}", None
    if changed == ["start"]:
        return f"move start of Run {rid}", ("start", rid)
    if changed == ["hyperparameters"]:
        keys = sorted(set(old.hyperparameters) | set(new.hyperparameters))
        diff = [k for k in keys if old.hyperparameters.get(k) != new.hyperparameters.get(k)]
        if len(diff) == 1:
            name = diff[0]
            sym = _symbol(new.optimizer, name)
            if name not in new.hyperparameters:
                return f"reset {sym} of Run {rid}", ("hyperparameter", rid, name)
            return (f"set {sym} of Run {rid} to {format_value(new.hyperparameters[name])}",
                    ("hyperparameter", rid, name))
        return f"change hyperparameters of Run {rid}", None
    if "schedule" in changed:  # with its settings and warm-up, when chosen in the panel
        return f"set schedule of Run {rid} to {new.schedule or 'constant η'}", None
    if "warmup" in changed and set(changed) <= {"warmup", "schedule_settings"}:  # the horizon follows it
        return f"set warm-up of Run {rid} to {new.warmup}", ("warmup", rid)
    if changed == ["schedule_settings"]:
        keys = sorted(set(old.schedule_settings) | set(new.schedule_settings))
        diff = [k for k in keys if old.schedule_settings.get(k) != new.schedule_settings.get(k)]
        if len(diff) == 1 and diff[0] in new.schedule_settings:
            value = new.schedule_settings[diff[0]]
            shown = format_param_value(tuple(value) if isinstance(value, list) else value)
            return f"set {diff[0]} of Run {rid} to {shown}", ("schedule_settings", rid, diff[0])
        return f"change schedule settings of Run {rid}", ("schedule_settings", rid)
    if len(changed) == 1:
        name = changed[0]
        value = getattr(new, name)
        text = "all" if name == "batch_size" and value is None else "none" if value is None else (
            ("on" if value else "off") if isinstance(value, bool) else f"{value:g}" if isinstance(value, float)
            else str(value))
        return f"set {_SETTING_WORDS.get(name, name)} of Run {rid} to {text}", (name, rid)
    return f"change Run {rid}", None


class LoadCancelled(Exception):
    """:func:`prepare_session` was cancelled (its ``cancelled`` callback said so)."""


@dataclass(frozen=True)
class PreparedSession:
    """A session document validated and computed, ready for :meth:`Session.apply_prepared`."""

    parsed: ParsedSession
    runs: list[Run]

    @property
    def title(self) -> str:
        return self.parsed.title


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
    parsed = session_from_dict(data)
    runs = [make_run(parsed.problem, spec.config) for spec in parsed.runs]
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


def _stop_message(e: RunEntry) -> str:
    run = e.run
    assert run is not None
    if run.status is Status.DIVERGED:
        why = explain_divergence(run)  # the quadratic theory's one line, when it applies
        head = f"Run {e.id} ({e.label}) diverged at step {run.diverged_at}"
        return f"{head} — {why}" if why else f"{head}: its point or loss is not finite"
    if run.status is Status.STOPPED:
        return f"Run {e.id} ({e.label}) stopped: {run.stop_reason}"
    if run.stop_reason is not None:  # converged by the rule's own test (L-BFGS: Run.stop_reason says which)
        return f"Run {e.id} ({e.label}) converged at step {run.steps}: {run.stop_reason}"
    return f"Run {e.id} ({e.label}) converged at step {run.steps} (gradient norm < {run.config.tol:g})"
