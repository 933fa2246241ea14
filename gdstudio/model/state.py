"""The session's declared state: problem settings, run entries, playback and view options.

Each is an :class:`~gdstudio.evented.EventedModel` dataclass: typed fields, validation on
assignment (ValueError naming the setting and the value; nothing changes), and one psygnal signal
per field (``model.events.<field>``, emitted with ``(new, old)`` only on a change). Session files
are written and read from these declarations (:mod:`gdstudio.model.persistence`), and the
:class:`~gdstudio.model.session.Session` owns one instance of each for its whole life (a loaded
session is assigned into them), so a subscription outlives New / Open / undo.

A run's configuration is one field, ``RunEntry.config`` (the engine's frozen
:class:`~gdstudio.engine.runs.RunConfig`), not one field per setting: its settings are only valid
together (the start's dimension, a batch size against the data, hyperparameters checked jointly
by the rule), so an assignment per setting would pass through states the engine refuses. The
``config`` signal carries ``(new, old)``: compare the two for what changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import Bounds, Problem, make_problem
from gdstudio.engine.problems.landscape import LANDSCAPE, LandscapeData, LandscapeProblem
from gdstudio.engine.recorded import RecordedRun, make_run
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.evented import EventedModel, meta
from gdstudio.parsing import FloatListError, parse_floats

__all__ = [
    "MAX_STEPS_LIMIT",
    "Playback",
    "ProblemSettings",
    "RunEntry",
    "ViewOptions",
    "check_color",
    "floats",
    "is_int",
    "normalize_config",
]

#: The largest ``max_steps`` (and the most steps a session file may ask to recompute).
MAX_STEPS_LIMIT = 100_000

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


# ------------------------------------------------------------------------------------ validators
def check_color(color: object) -> str:
    """``color`` if it is ``#rgb``, ``#rrggbb`` or ``#rrggbbaa``, else ValueError."""
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise ValueError(f"Invalid color value: {color!r} (must be #rrggbb, e.g. #E69F00)")
    return color


def is_int(value: object) -> bool:
    """A whole number (Python or NumPy integer), never a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def floats(values: object, name: str) -> tuple[float, ...]:
    """A tuple of floats from a sequence of numbers (not text), or ValueError naming ``name``
    (:func:`gdstudio.parsing.parse_floats`, the one float-list parser; non-finite values pass:
    the engine says what it cannot use)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"Invalid {name} value: {values!r} (must be a sequence of numbers)")
    try:
        return parse_floats(values, finite=False)
    except FloatListError:
        raise ValueError(f"Invalid {name} value: {values!r} (must be a sequence of numbers)") from None


def _boolean(name: str) -> Any:
    def check(value: object) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"Invalid {name} value: {value!r} (must be true or false)")
        return bool(value)
    return check


def _whole(name: str, low: int, high: int | None = None) -> Any:
    def check(value: object) -> int:
        ok = is_int(value) and value >= low and (high is None or value <= high)  # type: ignore[operator]
        if not ok:
            rule = f"≥ {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"Invalid {name} value: {value!r} (must be a whole number {rule})")
        return int(value)  # type: ignore[call-overload, no-any-return]
    return check


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"Invalid problem name value: {value!r} (must be text)")
    return value.strip().lower()


def _text_or_none(name: str) -> Any:
    def check(value: object) -> str | None:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"Invalid {name} value: {value!r} (must be text or None)")
        return value or None
    return check


def _floats_or_none(name: str) -> Any:
    def check(value: object) -> tuple[float, ...] | None:
        return None if value is None else floats(value, name)
    return check


def _resolution(value: object) -> int:
    if not is_int(value) or not 16 <= value <= 1024:  # type: ignore[operator]
        raise ValueError(f"Invalid resolution value: {value!r} (must be a whole number in [16, 1024])")
    return int(value)  # type: ignore[call-overload, no-any-return]


def _bounds(value: object) -> Bounds | None:
    if value is None:
        return None
    try:
        bounds = tuple((float(lo), float(hi)) for lo, hi in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"Invalid bounds value: {value!r} (must be (low, high) pairs)") from None
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
    return bounds


def _landscape(value: object) -> LandscapeData | None:
    if value is not None and not isinstance(value, LandscapeData):
        raise ValueError(f"Invalid landscape value: {value!r} (must be LandscapeData or None)")
    return value


def _run_config(value: object) -> RunConfig:
    if not isinstance(value, RunConfig):
        raise ValueError(f"Invalid run config: {value!r} (must be a RunConfig)")
    return value


def _run(value: object) -> Run | None:
    if value is not None and not isinstance(value, Run):
        raise ValueError(f"Invalid run: {value!r} (must be an engine Run)")
    return value


def _selected(value: object) -> int | None:
    if value is not None and not is_int(value):
        raise ValueError(f"Invalid selected value: {value!r} (must be a run id or None)")
    return None if value is None else int(value)  # type: ignore[call-overload]


def normalize_config(problem: Problem, config: RunConfig) -> tuple[RunConfig, Run]:
    """``config`` in canonical form (registry name, hyperparameters validated by the one override
    boundary, :meth:`OptimizerSpec.validate_overrides`, float start, …) and a fresh :class:`Run`
    of it on ``problem``; ValueError if bad."""
    if not isinstance(config, RunConfig):
        raise ValueError(f"Invalid run config: {config!r} (must be a RunConfig)")
    if not isinstance(config.optimizer, str):
        raise ValueError(f"Invalid optimizer value: {config.optimizer!r} (must be a name)")
    spec = get_spec(config.optimizer)
    if not isinstance(config.hyperparameters, Mapping):
        raise ValueError(f"Invalid hyperparameters value: {config.hyperparameters!r} (must be a mapping)")
    hp = spec.validate_overrides(config.hyperparameters)
    cfg = config.with_(optimizer=spec.name, start=floats(config.start, "start"), hyperparameters=hp)
    run = make_run(problem, cfg)  # validates start, batch size, noise, tol, seed, shuffle and the rule jointly
    cfg = cfg.with_(
        batch_size=None if cfg.batch_size is None else int(cfg.batch_size),
        shuffle=bool(cfg.shuffle), noise=float(cfg.noise), seed=int(cfg.seed), tol=float(cfg.tol),
    )
    run.config = cfg
    return cfg, run


# ------------------------------------------------------------------------------------ models
@dataclass(eq=True)
class ProblemSettings(EventedModel):
    """Which problem, with which data or expression, seen over which bounds and grid.

    Values are canonical on assignment (lower-case name, float tuples, ``""`` → None). Whether
    they make a problem together is checked by :meth:`build` (the session does it before
    assigning anything).
    """

    name: str = field(default="himmelblau", metadata=meta(_name, required=True))
    dataset: str | None = field(default=None, metadata=meta(_text_or_none("dataset")))
    data_x: tuple[float, ...] | None = field(default=None, metadata=meta(_floats_or_none("data_x")))
    data_y: tuple[float, ...] | None = field(default=None, metadata=meta(_floats_or_none("data_y")))
    expr: str | None = field(default=None, metadata=meta(_text_or_none("expr")))
    bounds: Bounds | None = field(default=None, metadata=meta(_bounds))  # None: the problem's default view
    resolution: int = field(default=256, metadata=meta(_resolution))
    log_scale: bool = field(default=False, metadata=meta(_boolean("log_scale")))
    #: A network's loss landscape (name ``landscape``): the grid and the recorded paths (version 4).
    landscape: LandscapeData | None = field(default=None, metadata=meta(_landscape, json="landscape"))

    def build(self) -> Problem:
        """The engine problem (ValueError with a clear message when the settings are bad)."""
        if self.name == LANDSCAPE or self.landscape is not None:
            if self.name != LANDSCAPE or self.landscape is None:
                raise ValueError("A network landscape needs the name 'landscape' and its grid (open one from the "
                                 "Training lab's Show landscape, or a session that holds one)")
            if self.dataset or self.data_x or self.data_y or self.expr:
                raise ValueError("A network landscape takes no dataset, data or expression")
            return LandscapeProblem(self.landscape)
        return make_problem(self.name, data_x=self.data_x, data_y=self.data_y, dataset=self.dataset,
                            expr=self.expr)

    def normalized(self) -> ProblemSettings:
        """A detached copy (values are already canonical: kept for callers of the frozen type)."""
        return self.copy()

    @property
    def problem_key(self) -> tuple[Any, ...]:
        """The settings that decide the problem itself (not how it is viewed)."""
        return (self.name, self.dataset, self.data_x, self.data_y, self.expr, self.landscape)


@dataclass(eq=True)
class RunEntry(EventedModel):
    """One run as the user configured it (``config``, ``color``, ``visible``) and its live engine
    :class:`Run` (``run``: a new Run object is a restart)."""

    id: int = field(metadata=meta(_whole("run id", 1), persist=False))
    config: RunConfig = field(metadata=meta(_run_config, persist=False))
    color: str = field(metadata=meta(check_color))  # in a file: the palette colour of its index
    visible: bool = field(default=True, metadata=meta(_boolean("visible")))
    run: Run | None = field(default=None, compare=False, metadata=meta(_run, persist=False))

    @property
    def label(self) -> str:
        if isinstance(self.run, RecordedRun):  # a recorded training path: the Training lab's name
            return self.run.label
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


@dataclass(eq=True)
class Playback(EventedModel):
    """The step shown, whether the clock plays, how fast, where it stops, and the selected run.

    ``position`` and ``playing`` are moved by the session's playback operations (which keep the
    invariants with the runs); the speed fields and ``selected`` may be assigned directly, but
    :meth:`Session.set_speed` / :meth:`Session.select` also check against the session.
    """

    position: int = field(default=0, metadata=meta(_whole("position", 0)))
    playing: bool = field(default=False, metadata=meta(_boolean("playing"), persist=False))
    steps_per_tick: int = field(default=1, metadata=meta(_whole("steps per tick", 1)))
    ticks_per_second: int = field(default=30, metadata=meta(_whole("ticks per second", 1, 240)))
    max_steps: int = field(default=10_000, metadata=meta(_whole("max steps", 1, MAX_STEPS_LIMIT)))
    selected: int | None = field(default=None, metadata=meta(_selected, persist=False))  # saved as a run index


@dataclass(eq=True)
class ViewOptions(EventedModel):
    """What the views overlay and how curves are scaled."""

    show_gradient: bool = field(default=False, metadata=meta(_boolean("show_gradient")))
    show_velocity: bool = field(default=False, metadata=meta(_boolean("show_velocity")))
    show_effective_step: bool = field(default=False, metadata=meta(_boolean("show_effective_step")))
    show_field: bool = field(default=False, metadata=meta(_boolean("show_field")))
    log_loss: bool = field(default=True, metadata=meta(_boolean("log_loss")))
    show_surface: bool = field(default=True, metadata=meta(_boolean("show_surface")))  # View → 3-D view
    grey_surface: bool = field(default=False, metadata=meta(_boolean("grey_surface")))  # coloured runs stand out
    small_multiples: bool = field(default=False, metadata=meta(_boolean("small_multiples")))  # one contour per run
    show_internals: bool = field(default=False, metadata=meta(_boolean("show_internals")))  # ASGD's x̄, Prodigy's d …
