"""Many runs as the rows of one optimizer: the engine behind basin maps, sweeps and fair races.

:func:`run_rows` advances N runs of one :class:`~gdstudio.engine.runs.RunConfig` that differ only
in their start point and/or in hyperparameters given as per-row (N, 1) columns, and returns, for
each row, what the single :class:`~gdstudio.engine.runs.Run` with those settings ends with
(``Run(problem, config).run(steps)``, i.e. ``gdstudio trace``): the final point and loss, the best
loss, the steps taken and the status. Every row repeats the single run's arithmetic exactly:

- step k: the sampler's next mini-batch (one shared sampler: the sequence does not depend on the
  row), its gradient (all the data: the exact gradient at the current point) plus the run's noise
  draw σ·ξₖ (one (1, D) draw per step, the same for every row), one optimizer update;
- a row stops at its first point that is not finite, or whose loss is not finite (``diverged``,
  at that step: the last finite point and loss are its final ones), or as soon as the exact
  gradient norm ‖∇L(θₖ)‖ = √(Σ gᵢ²) falls below ``tol`` (``converged``, checked at the start
  too): its point, loss and steps are frozen there, as the single run stops there.

Frozen rows leave the active set (the arrays are compacted when an eighth of them is done), so a
map where most starts converge early costs little. Large N is split into contiguous shards that
run on all cores (NumPy releases the GIL inside its loops), each with its own copy of the
optimizer, the sampler and the noise generator (identical sequences). A rule that evaluates the
objective itself (L-BFGS, Newton) or a run with an lr schedule is run one :class:`Run` per row,
the definition.
"""

from __future__ import annotations

import copy
import itertools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gdstudio.engine.optimizers import OptState, get_spec
from gdstudio.engine.optimizers.base import Optimizer, _workers
from gdstudio.engine.optimizers.objective import EVALS, ObjectiveRule
from gdstudio.engine.problems import Problem
from gdstudio.engine.problems import data as _data
from gdstudio.engine.runs import Run, RunConfig, Status, _rng_copy

__all__ = [
    "CONVERGED", "DIVERGED", "OK", "STATUS_NAMES", "STOPPED", "Cancel", "Cancelled", "Progress", "RowResults",
    "component_key", "run_rows",
]

OK, CONVERGED, DIVERGED, STOPPED = 0, 1, 2, 3
#: The status names of the codes, as ``gdstudio trace`` writes them.
STATUS_NAMES: tuple[str, ...] = ("ok", "converged", "diverged", "stopped")
_CODES = {Status.RUNNING: OK, Status.CONVERGED: CONVERGED, Status.DIVERGED: DIVERGED, Status.STOPPED: STOPPED}

Progress = Callable[[float], None]
Cancel = threading.Event | Callable[[], bool]

#: Steps per chunk between progress reports and cancel checks.
CHUNK_STEPS = 25
#: Rows from which a map runs as shards on all cores.
SHARD_ROWS = 8192

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Cancelled(Exception):
    """Raised when ``cancel`` was set: nothing partial is returned."""


@dataclass
class RowResults:
    """What each row's single run ends with (arrays of N rows)."""

    final_points: FloatArray  #: (N, D) the last recorded point (a diverged row: the last finite one)
    final_loss: FloatArray  #: (N,) its full loss (NaN for a row diverged at its start)
    best_loss: FloatArray  #: (N,) the least loss recorded (NaN if none)
    steps: IntArray  #: (N,) steps taken; a diverged row: its divergence step
    status: npt.NDArray[np.int8]  #: (N,) OK / CONVERGED / DIVERGED / STOPPED
    evaluations: IntArray  #: (N,) loss/gradient evaluations the steps used (1 per step; L-BFGS: its ``evals``)
    #: (N,) the first step whose point is within ``near`` of a known minimum (-1: never); only with ``near``.
    steps_to_minimum: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def component_key(key: str) -> tuple[str, int | None]:
    """``"betas[0]"`` → ``("betas", 0)``; ``"lr"`` → ``("lr", None)``; ValueError if malformed."""
    text = key.strip()
    if text.endswith("]") and "[" in text:
        name, _, index = text[:-1].partition("[")
        if not name or not index.strip().isdigit():
            raise ValueError(f"Invalid key: {key!r} (a component is written name[i], e.g. betas[0])")
        return name.strip(), int(index)
    if not text or not text.replace("_", "").isalnum():
        raise ValueError(f"Invalid key: {key!r} (a hyperparameter name, or name[i] for a component)")
    return text, None


def _check_cancel(cancel: Cancel | None) -> None:
    if cancel is None:
        return
    flag = cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())
    if flag:
        raise Cancelled("cancelled")


def resolve_columns(config: RunConfig, columns: Mapping[str, Sequence[float] | np.ndarray], n: int) -> dict[str, Any]:
    """Hyperparameter overrides holding (n, 1) columns for ``columns`` (keys ``name`` or ``name[i]``),
    the other components of a pair from the run's resolved value. ValueError for unknown keys."""
    spec = get_spec(config.optimizer)
    resolved = dict(spec.create(config.hyperparameters).hp)
    out: dict[str, Any] = {}
    for key, values in columns.items():
        col = np.asarray(values, dtype=np.float64).reshape(-1, 1)
        if col.shape[0] != n:
            raise ValueError(f"Invalid values for {key}: {col.shape[0]} values for {n} rows")
        name, index = component_key(key)
        if name not in resolved:
            known = ", ".join(resolved)
            raise ValueError(f"Invalid key: {key!r} is not a hyperparameter of {spec.name} (known: {known})")
        current = out.get(name, resolved[name])
        if index is None:
            if isinstance(current, tuple):
                raise ValueError(f"Invalid key: {key!r} is a pair; vary one component, e.g. {name}[0]")
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                raise ValueError(f"Invalid key: {key!r} is not a number of {spec.name}")
            out[name] = col
        else:
            if not isinstance(current, tuple):
                raise ValueError(f"Invalid key: {key!r}: {name} of {spec.name} has no components")
            if index >= len(current):
                raise ValueError(f"Invalid key: {key!r}: {name} has {len(current)} components (0…{len(current) - 1})")
            parts = list(current)
            parts[index] = col
            out[name] = tuple(parts)
    return out


def row_value(value: Any, i: int) -> Any:
    """Row ``i`` of an override holding columns, as the single run's plain value."""
    if isinstance(value, tuple):
        return tuple(row_value(v, i) for v in value)
    if isinstance(value, np.ndarray):
        return float(value.reshape(-1)[i])
    return value


def _rows_per_call(problem: Problem, n: int) -> int:
    """Rows per gradient/loss call that keep a data problem's sums bit-identical to one row's."""
    samples = problem.n_samples
    if samples is None:
        return n
    return max(1, min(n, _data._CHUNK_ELEMENTS // samples))


def _take(value: Any, keep: npt.NDArray[np.intp]) -> Any:
    if isinstance(value, tuple):
        return tuple(_take(v, keep) for v in value)
    if isinstance(value, np.ndarray):
        return value[keep]
    return value


class _Shard:
    """Rows ``lo:hi`` stepped together (see the module docstring); results written into ``out``."""

    def __init__(self, problem: Problem, run: Run, starts: FloatArray, columns: dict[str, Any],
                 rows: IntArray, out: RowResults, near: float | None) -> None:
        self.problem = problem
        self.out = out
        self.rows = rows  # original row index of each active row
        self.optimizer: Optimizer[Any] = run.spec.create(run.config.hyperparameters)
        self.columns = columns
        if columns:
            self.optimizer.set_hyperparameters(**columns)
        self.sampler = copy.deepcopy(run.sampler)
        self.rng = _rng_copy(run._noise_rng)
        self.noise = run._noise
        self.tol = run._tol
        self.per_call = _rows_per_call(problem, len(rows))
        self.near = near
        self.minima = problem.minima if near is not None else np.zeros((0, problem.dim))
        self.k = 0
        params = np.array(starts, dtype=np.float64)
        self.state: OptState = self.optimizer.init_state(params)
        with np.errstate(all="ignore"):
            loss = self._loss(params)
            exact = self._gradient(params, None)
        self.params, self.exact, self.loss = params, exact, loss
        self.best = loss.copy()
        self.reached = np.full(len(rows), -1, dtype=np.int64)
        self._near_check(np.ones(len(rows), dtype=bool))
        finite = np.isfinite(loss)
        out.final_points[rows] = params
        out.final_loss[rows] = np.where(finite, loss, np.nan)
        out.best_loss[rows] = np.where(finite, loss, np.nan)
        out.steps[rows] = 0
        out.evaluations[rows] = 0
        gnorm = np.sqrt(np.einsum("ij,ij->i", exact, exact)) if self.tol else None
        done = ~finite
        out.status[rows[~finite]] = DIVERGED
        if gnorm is not None:
            conv = finite & (gnorm < self.tol)
            out.status[rows[conv]] = CONVERGED
            done |= conv
        self.live = ~done
        self._compact(force=True)

    # -- evaluations in row groups (data problems sum exactly as one row) -----------------------
    def _gradient(self, params: FloatArray, batch: Any) -> FloatArray:
        n, per = params.shape[0], self.per_call
        if n <= per:
            return self.problem.gradient(params, batch)
        return np.concatenate([self.problem.gradient(params[lo : lo + per], batch) for lo in range(0, n, per)])

    def _loss(self, params: FloatArray) -> FloatArray:
        n, per = params.shape[0], self.per_call
        if n <= per:
            return np.asarray(self.problem.loss(params), dtype=np.float64)
        return np.concatenate([np.asarray(self.problem.loss(params[lo : lo + per]), dtype=np.float64)
                               for lo in range(0, n, per)])

    def _near_check(self, mask: npt.NDArray[np.bool_]) -> None:
        if self.near is None or not len(self.minima):
            return
        p = self.params
        hit = np.zeros(len(p), dtype=bool)
        for m in self.minima:
            d = p - m
            hit |= np.einsum("ij,ij->i", d, d) < self.near * self.near
        new = hit & mask & (self.reached < 0)
        self.reached[new] = self.k

    @property
    def active(self) -> int:
        return int(self.live.sum())

    def _compact(self, *, force: bool = False) -> None:
        """Drop frozen rows from the arrays (when an eighth of them are frozen, or ``force``)."""
        n = len(self.live)
        dead = n - int(self.live.sum())
        if dead == 0 or (not force and dead * 8 < n):
            return
        keep = np.flatnonzero(self.live)
        self.rows = self.rows[keep]
        self.params = self.params[keep]
        self.exact = self.exact[keep]
        self.loss = self.loss[keep]
        self.best = self.best[keep]
        self.reached = self.reached[keep]
        self.live = self.live[keep]
        state = self.state
        state.buffers = {k: (v[keep] if v.shape[0] == n else v) for k, v in state.buffers.items()}
        if self.columns:
            self.columns = {k: _take(v, keep) for k, v in self.columns.items()}
            if len(keep):
                self.optimizer.set_hyperparameters(**self.columns)

    def _freeze(self, which: npt.NDArray[np.bool_], status: int, *, previous: bool) -> None:
        """Write the results of the rows ``which`` (previous: their last finite point/loss)."""
        if not which.any():
            return
        rows = self.rows[which]
        out = self.out
        out.steps[rows] = self.k
        if not previous:
            out.final_points[rows] = self.params[which]
            out.final_loss[rows] = self.loss[which]
        out.status[rows] = status
        out.best_loss[rows] = self.best[which]
        out.evaluations[rows] = self.k  # one gradient per step
        if self.near is not None:
            out.steps_to_minimum[rows] = self.reached[which]
        self.live &= ~which

    def advance(self, steps: int, cancel: Cancel | None) -> None:
        """Up to ``steps`` steps of every live row."""
        problem, opt, sampler, rng = self.problem, self.optimizer, self.sampler, self.rng
        noise, tol = self.noise, self.tol
        out = self.out
        dim = problem.dim
        with np.errstate(all="ignore"):
            for _ in range(steps):
                if not len(self.rows):
                    return
                batch = sampler.next() if sampler is not None else None
                params = self.params
                g = self.exact if batch is None else self._gradient(params, batch)
                if noise:
                    g = g + noise * rng.standard_normal((1, dim))
                prev_points = params.copy()
                prev_loss = self.loss
                opt.update(params, g, self.state)
                self.k += 1
                loss = self._loss(params)
                finite_point = np.isfinite(params).all(axis=1)
                bad = self.live & ~(finite_point & np.isfinite(loss))
                if bad.any():  # diverged here: the last finite point and loss stay the final ones
                    rows = self.rows[bad]
                    out.final_points[rows] = prev_points[bad]
                    out.final_loss[rows] = prev_loss[bad]
                    self._freeze(bad, DIVERGED, previous=True)
                self.loss = loss
                np.fmin(self.best, loss, out=self.best, where=self.live)
                self.exact = self._gradient(params, None)  # the exact gradient: the convergence test, next step's g
                self._near_check(self.live)
                if tol:
                    e = self.exact
                    gnorm = np.sqrt(np.einsum("ij,ij->i", e, e))
                    conv = self.live & (gnorm < tol)
                    if conv.any():
                        self._freeze(conv, CONVERGED, previous=False)
                self._compact()
            del cancel

    def finish(self) -> None:
        """The rows still live ran the whole budget: ``ok``."""
        self._freeze(self.live.copy(), OK, previous=False)


def run_rows(problem: Problem, config: RunConfig, steps: int, *, starts: npt.ArrayLike | None = None,
             columns: Mapping[str, Sequence[float] | np.ndarray] | None = None, near: float | None = None,
             progress: Progress | None = None, cancel: Cancel | None = None) -> RowResults:
    """Run N rows of ``config`` for ``steps`` steps (see the module docstring).

    ``starts``: (N, D) start points (default: ``config.start`` for every row); ``columns``:
    hyperparameter key (``lr``, ``betas[0]``) → N values. N is the number of starts, or of values.
    ``near``: also record each row's first step within ``near`` of a known minimum.
    Raises ValueError for bad settings, :class:`Cancelled` when ``cancel`` is set.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"Invalid steps value: {steps!r} (must be a whole number ≥ 0)")
    steps = int(steps)
    columns = dict(columns or {})
    run0 = Run(problem, config)  # validates the config; the sampler and noise generator as every single run
    if starts is None:
        counts = {len(np.ravel(v)) for v in columns.values()}
        n = counts.pop() if counts else 1
        if counts:
            raise ValueError("Invalid columns: different numbers of values")
        start_arr = np.repeat(run0.params, n, axis=0)
    else:
        start_arr = np.array(starts, dtype=np.float64)
        if start_arr.ndim != 2 or start_arr.shape[1] != problem.dim:
            raise ValueError(f"Invalid starts: shape {start_arr.shape} (need (N, {problem.dim}))")
        if not np.isfinite(start_arr).all():
            raise ValueError("Invalid starts: every coordinate must be a finite number")
        n = start_arr.shape[0]
    overrides = resolve_columns(config, columns, n) if columns else {}
    out = RowResults(
        final_points=np.zeros((n, problem.dim)), final_loss=np.full(n, np.nan), best_loss=np.full(n, np.nan),
        steps=np.zeros(n, dtype=np.int64), status=np.zeros(n, dtype=np.int8), evaluations=np.zeros(n, dtype=np.int64),
        steps_to_minimum=np.full(n if near is not None else 0, -1, dtype=np.int64),
    )
    if n == 0:
        return out
    if run0.schedule is not None or isinstance(run0.optimizer, ObjectiveRule):
        _run_singly(problem, config, start_arr, overrides, steps, out, near, progress, cancel)
        return out
    if overrides:  # validate every value once, with a clear message, before any work
        run0.spec.create({**config.hyperparameters, **overrides})
    workers = _workers() if n >= SHARD_ROWS else 1
    edges = [round(n * i / workers) for i in range(workers + 1)]
    shards = []
    for lo, hi in itertools.pairwise(edges):
        cols = {k: _take(v, np.arange(lo, hi)) for k, v in overrides.items()}
        shards.append(_Shard(problem, run0, start_arr[lo:hi], cols, np.arange(lo, hi, dtype=np.int64), out, near))
    pool = ThreadPoolExecutor(max_workers=len(shards)) if len(shards) > 1 else None
    try:
        done = 0
        while done < steps:
            _check_cancel(cancel)
            chunk = min(CHUNK_STEPS, steps - done)
            if pool is None:
                shards[0].advance(chunk, cancel)
            else:
                err = np.geterr()
                futures = [pool.submit(_advance_in, err, s, chunk, cancel) for s in shards]
                for f in futures:
                    f.result()
            done += chunk
            if all(not len(s.rows) for s in shards):
                break
            if progress is not None:
                progress(done / steps)
        _check_cancel(cancel)
    finally:
        if pool is not None:
            pool.shutdown()
    for s in shards:
        s.finish()
    if progress is not None:
        progress(1.0)
    return out


def _advance_in(err: Any, shard: _Shard, steps: int, cancel: Cancel | None) -> None:
    with np.errstate(**err):
        shard.advance(steps, cancel)


def _run_singly(problem: Problem, config: RunConfig, starts: FloatArray, overrides: dict[str, Any], steps: int,
                out: RowResults, near: float | None, progress: Progress | None, cancel: Cancel | None) -> None:
    """One :class:`Run` per row (schedules, rules that evaluate the objective): the definition."""
    n = starts.shape[0]
    minima = problem.minima
    for i in range(n):
        if i % 16 == 0:
            _check_cancel(cancel)
            if progress is not None and i:
                progress(i / n)
        hp = {**config.hyperparameters, **{k: row_value(v, i) for k, v in overrides.items()}}
        run = Run(problem, config.with_(start=tuple(float(v) for v in starts[i]), hyperparameters=hp)).run(steps)
        _record(run, i, out)
        if near is not None:
            pts = run.history.points
            hit = np.zeros(len(pts), dtype=bool)
            for m in minima:
                d = pts - m
                hit |= np.einsum("ij,ij->i", d, d) < near * near
            out.steps_to_minimum[i] = int(np.argmax(hit)) if hit.any() else -1
    _check_cancel(cancel)
    if progress is not None:
        progress(1.0)


def _record(run: Run, i: int, out: RowResults) -> None:
    """Row ``i`` of ``out`` from a finished single run."""
    h = run.history
    code = _CODES[run.status]
    out.status[i] = code
    if len(h):
        out.final_points[i] = h.points[-1]
        out.final_loss[i] = h.loss[-1]
        finite = h.loss[np.isfinite(h.loss)]
        out.best_loss[i] = float(finite.min()) if finite.size else math.nan
    else:
        out.final_points[i] = run.config.start
    out.steps[i] = run.diverged_at if code == DIVERGED and run.diverged_at is not None else h.steps
    if EVALS in h.internals:
        ev = h.step_array(EVALS)
        out.evaluations[i] = int(np.nansum(ev))
    else:
        out.evaluations[i] = h.steps
