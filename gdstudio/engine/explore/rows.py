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

Rows run in blocks of :data:`BLOCK` (every temporary stays in cache), each block all its steps in
turn, blocks on all cores (NumPy releases the GIL inside its loops), each with its own copy of
the optimizer, the sampler and the noise generator (identical sequences). Frozen rows leave the
active set (the arrays are compacted when an eighth of them is done; a diverged row at once), so
a map where most starts converge early costs less. An analytic f(x, y) is evaluated on contiguous
columns (its arithmetic, elementwise, unchanged). A rule that evaluates the
objective itself (L-BFGS, Newton) or a run with an lr schedule is run one :class:`Run` per row,
the definition.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gdstudio.engine.optimizers import OptState, get_spec
from gdstudio.engine.optimizers.base import Optimizer, _workers
from gdstudio.engine.optimizers.objective import EVALS, ObjectiveRule
from gdstudio.engine.problems import AnalyticProblem, Problem
from gdstudio.engine.problems.data import exact_rows_per_call
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
#: Rows per block: each block runs all its steps in turn (its arrays stay in cache), blocks on all cores.
#: 8000 rows x 2 parameters x 8 bytes stays under glibc's 128 KiB mmap threshold: larger temporaries
#: are mapped and unmapped (page faults) at every NumPy call (3-10x slower per element, measured).
BLOCK = 8000
#: Threads for the blocks (None: every core this process may use).
WORKERS: int | None = None

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


def _is_cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def _check_cancel(cancel: Cancel | None) -> None:
    if _is_cancelled(cancel):
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


def _take(value: Any, keep: npt.NDArray[np.intp]) -> Any:
    if isinstance(value, tuple):
        return tuple(_take(v, keep) for v in value)
    if isinstance(value, np.ndarray):
        return value[keep]
    return value


class _Shard:
    """Rows ``lo:hi`` stepped together (see the module docstring); results written into ``out``."""

    def __init__(self, problem: Problem, run: Run, starts: FloatArray, columns: dict[str, Any],
                 rows: IntArray, out: RowResults, near: float | None, track_best: bool = True) -> None:
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
        self.per_call = exact_rows_per_call(problem, len(rows))
        self.near = near
        self.track_best = track_best
        self.minima = problem.minima if near is not None else np.zeros((0, problem.dim))
        self.k = 0
        # An analytic f(x, y) runs on contiguous columns: parameters (and so every buffer and
        # temporary of the update, all elementwise) in column-major order.
        self.analytic = isinstance(problem, AnalyticProblem) and type(problem).gradient is AnalyticProblem.gradient \
            and type(problem).loss is AnalyticProblem.loss
        params = np.array(starts, dtype=np.float64, order="F" if self.analytic else "C")
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
        out.best_loss[rows] = np.where(finite, loss, np.nan) if track_best else np.nan
        out.steps[rows] = 0
        out.evaluations[rows] = 0
        gnorm = np.sqrt(self._sumsq(exact)) if self.tol else None
        done = ~finite
        out.status[rows[~finite]] = DIVERGED
        if gnorm is not None:
            conv = finite & (gnorm < self.tol)
            out.status[rows[conv]] = CONVERGED
            done |= conv
        if near is not None:
            out.steps_to_minimum[rows[done]] = self.reached[done]
        self.live = ~done
        self.frozen = int(done.sum())  # rows frozen but still in the arrays
        self._compact(force=True)

    # -- evaluations in row groups (data problems sum exactly as one row) -----------------------
    def _gradient(self, params: FloatArray, batch: Any) -> FloatArray:
        if self.analytic:  # AnalyticProblem.gradient's arithmetic on contiguous columns
            assert isinstance(self.problem, AnalyticProblem)
            gx, gy = self.problem.df(params[:, 0], params[:, 1])
            out = np.empty((2, params.shape[0]))
            out[0] = gx
            out[1] = gy
            return out.T
        n, per = params.shape[0], self.per_call
        if n <= per:
            return self.problem.gradient(params, batch)
        return np.concatenate([self.problem.gradient(params[lo : lo + per], batch) for lo in range(0, n, per)])

    def _loss(self, params: FloatArray) -> FloatArray:
        if self.analytic:
            assert isinstance(self.problem, AnalyticProblem)
            return np.asarray(self.problem.f(params[:, 0], params[:, 1]), dtype=np.float64)
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
            hit |= self._sumsq(p - m) < self.near * self.near
        new = hit & mask & (self.reached < 0)
        self.reached[new] = self.k

    @property
    def active(self) -> int:
        return int(self.live.sum())

    def _compact(self, *, force: bool = False) -> None:
        """Drop frozen rows from the arrays (when an eighth of them are frozen, or ``force``)."""
        n = len(self.live)
        if not self.frozen or (not force and self.frozen * 8 < n):
            return
        self.frozen = 0
        keep = np.flatnonzero(self.live)
        self.rows = self.rows[keep]
        order: Literal["F", "C"] = "F" if self.analytic else "C"
        self.params = np.asarray(self.params[keep], order=order)
        self.exact = np.asarray(self.exact[keep], order=order)
        self.loss = self.loss[keep]
        self.best = self.best[keep]
        self.reached = self.reached[keep]
        self.live = self.live[keep]
        state = self.state
        state.buffers = {k: (np.asarray(v[keep], order=order) if v.shape[0] == n else v)
                         for k, v in state.buffers.items()}
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
        out.best_loss[rows] = self.best[which] if self.track_best else np.nan
        out.evaluations[rows] = self.k  # one gradient per step
        if self.near is not None:
            out.steps_to_minimum[rows] = self.reached[which]
        self.frozen += int(which.sum())
        self.live &= ~which

    def _sumsq(self, e: FloatArray) -> FloatArray:
        """Σ gᵢ² per row, as ``np.dot(row, row)`` sums it (in order)."""
        if e.shape[1] == 2:
            x, y = e[:, 0], e[:, 1]
            s = x * x
            s += y * y
            return s
        sq: FloatArray = np.einsum("ij,ij->i", e, e)
        return sq

    def advance(self, steps: int) -> None:
        """Up to ``steps`` steps of every live row.

        Divergence is checked exactly only when a quick test fails (the sum of the new losses and
        points is not finite: a non-finite row, or an overflowing sum); convergence only for the
        rows whose Σ g² is near tol² (then √(Σ g²) < tol as the single run tests it)."""
        problem, opt, sampler, rng = self.problem, self.optimizer, self.sampler, self.rng
        noise, tol = self.noise, self.tol
        out, dim, isfinite = self.out, problem.dim, math.isfinite
        near_tol2 = tol * tol * (1 + 1e-6) + 1e-300
        with np.errstate(all="ignore"):
            for _ in range(steps):
                if not len(self.rows):
                    return
                batch = sampler.next() if sampler is not None else None
                params = self.params
                g = self.exact if batch is None else self._gradient(params, batch)
                if noise:
                    g = g + noise * rng.standard_normal((1, dim))
                prev_points = params.copy(order="K")
                prev_loss = self.loss
                opt.update(params, g, self.state)
                self.k += 1
                loss = self._loss(params)
                self.loss = loss
                if not isfinite(float(loss.sum()) + float(params.sum())):
                    bad = self.live & ~(np.isfinite(params).all(axis=1) & np.isfinite(loss))
                    if bad.any():  # diverged here: the last finite point and loss stay the final ones
                        rows = self.rows[bad]
                        out.final_points[rows] = prev_points[bad]
                        out.final_loss[rows] = prev_loss[bad]
                        self._freeze(bad, DIVERGED, previous=True)
                        self._compact(force=True)  # no non-finite row stays to fail the quick test
                        params, loss = self.params, self.loss
                        if not len(self.rows):
                            return
                if self.track_best:
                    np.fmin(self.best, loss, out=self.best)
                self.exact = self._gradient(params, None)  # the exact gradient: convergence test, next step's g
                if self.near is not None:
                    self._near_check(self.live)
                if tol:
                    s = self._sumsq(self.exact)
                    if float(s.min()) < near_tol2:
                        cand = np.flatnonzero(self.live & (s < near_tol2))
                        if cand.size:
                            conv = np.zeros(len(s), dtype=bool)
                            conv[cand] = np.sqrt(s[cand]) < tol
                            if conv.any():
                                self._freeze(conv, CONVERGED, previous=False)
                self._compact()

    def finish(self) -> None:
        """The rows still live ran the whole budget: ``ok``."""
        self._freeze(self.live.copy(), OK, previous=False)


def run_rows(problem: Problem, config: RunConfig, steps: int, *, starts: npt.ArrayLike | None = None,
             columns: Mapping[str, Sequence[float] | np.ndarray] | None = None, near: float | None = None,
             best: bool = True, progress: Progress | None = None, cancel: Cancel | None = None) -> RowResults:
    """Run N rows of ``config`` for ``steps`` steps (see the module docstring).

    ``starts``: (N, D) start points (default: ``config.start`` for every row); ``columns``:
    hyperparameter key (``lr``, ``betas[0]``) → N values. N is the number of starts, or of values.
    ``near``: also record each row's first step within ``near`` of a known minimum; ``best``
    False: skip the best loss (NaN; a little faster).
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
    blocks = [(lo, min(n, lo + BLOCK)) for lo in range(0, n, BLOCK)]
    workers = min(WORKERS or _workers(), len(blocks))
    done_steps = [0] * len(blocks)
    stop = threading.Event()

    total = steps * len(blocks)

    def work(b: int, err: Any, report: bool) -> None:
        """Block ``b``, all its steps in chunks (stop, or on the caller's thread cancel, between chunks)."""
        lo, hi = blocks[b]
        with np.errstate(**err):
            cols = {k: _take(v, np.arange(lo, hi)) for k, v in overrides.items()}
            shard = _Shard(problem, run0, start_arr[lo:hi], cols, np.arange(lo, hi, dtype=np.int64), out, near,
                           track_best=best)
            while shard.k < steps and len(shard.rows):
                if stop.is_set() or (report and _is_cancelled(cancel)):
                    stop.set()
                    return
                shard.advance(min(CHUNK_STEPS, steps - shard.k))
                done_steps[b] = shard.k
                if report and progress is not None:
                    progress(sum(done_steps) / max(1, total))
            shard.finish()
            done_steps[b] = steps

    err = np.geterr()
    if workers == 1:
        for b in range(len(blocks)):
            _check_cancel(cancel)
            work(b, err, True)
            if stop.is_set():
                raise Cancelled("cancelled")
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gdstudio-explore")
        try:
            futures = [pool.submit(work, b, err, False) for b in range(len(blocks))]
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.05, return_when=FIRST_EXCEPTION)
                for f in finished:
                    f.result()
                if _is_cancelled(cancel):
                    stop.set()
                    for f in pending:
                        f.cancel()
                    raise Cancelled("cancelled")
                if progress is not None and pending:
                    progress(sum(done_steps) / max(1, total))
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    _check_cancel(cancel)
    if progress is not None:
        progress(1.0)
    return out


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
