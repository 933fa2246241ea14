"""Runs: one optimizer walking one problem from one start, with its whole history.

A run owns its optimizer state, its mini-batch sampler and its noise generator (both seeded from
``seed``), and appends each step to a :class:`History` of growable NumPy arrays. It stops at the
first non-finite point or loss (``diverged``, never an exception or a warning) or when the exact
gradient norm falls below ``tol`` (``converged``). The same config gives an identical history.
"""

from __future__ import annotations

import copy
import math
import mmap
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers import OptState, get_spec
from gdstudio.engine.optimizers.objective import BatchObjective, ObjectiveRule
from gdstudio.engine.problems import Problem
from gdstudio.engine.sampling import BatchSampler, check_batch_size
from gdstudio.engine.schedules import Schedule, make_schedule, momentum_target

__all__ = ["History", "Run", "RunConfig", "Status", "lazy_buffer"]


class Status(StrEnum):
    RUNNING = "running"
    CONVERGED = "converged"
    DIVERGED = "diverged"
    #: The rule could not take the next step (Newton: a singular H + λI); ``Run.stop_reason`` says why.
    STOPPED = "stopped"


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's trajectory.

    ``hyperparameters`` holds overrides of the optimizer's registry defaults (torch names).
    ``batch_size`` None means all the data; ``noise`` is the σ of Gaussian noise added to the
    gradient (any problem); ``tol`` the exact-gradient norm that counts as converged (0: never).
    ``schedule``: a learning-rate schedule of :mod:`gdstudio.engine.schedules` (None: constant η)
    with its keyword ``schedule_settings``, after a linear ``warmup`` of that many steps.
    """

    optimizer: str
    start: tuple[float, ...]
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    shuffle: bool = True
    noise: float = 0.0
    seed: int = 0
    tol: float = 1e-8
    schedule: str | None = None
    schedule_settings: Mapping[str, Any] = field(default_factory=dict)
    warmup: int = 0

    def with_(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)


#: History buffers from this size on are anonymous memory maps (see :class:`_Grow`).
MMAP_BYTES = 1 << 18


def lazy_buffer(rows: int, shape: tuple[int, ...] = (), dtype: DTypeLike = np.float64) -> np.ndarray:
    """An uninitialised (rows, *shape) array; from :data:`MMAP_BYTES` on, in its own memory map.

    A private anonymous map costs address space, not memory: a page becomes resident when a
    row on it is first written, and the whole map goes back to the OS (munmap) when the last
    array viewing it is freed. Through malloc, a buffer freed after a doubling stays in the
    process heap (glibc raises its mmap threshold after such a free, so the next buffers come
    from the brk heap) and a ``np.full`` capacity is resident before it is used.
    """
    dtype = np.dtype(dtype)
    nbytes = rows * math.prod(shape) * dtype.itemsize
    if nbytes < MMAP_BYTES:
        return np.empty((rows, *shape), dtype)
    try:
        buffer = mmap.mmap(-1, nbytes)
    except (OSError, OverflowError):  # ENOMEM, or beyond ssize_t: NumPy's exception type for these
        raise MemoryError(f"Unable to allocate {nbytes} bytes for an array of {rows} rows") from None
    return np.frombuffer(buffer, dtype=dtype).reshape(rows, *shape)


class _Grow:
    """A growable (capacity, *shape) float array; ``view()`` is a zero-copy contiguous slice.

    Capacity doubles (amortised O(1) copying per row). Rows at and past ``n`` are unspecified
    and never read. Memory: only the rows written are resident (:func:`lazy_buffer`), so RSS
    follows the steps taken, not the capacity; a doubling briefly holds the old and the new
    copy of the rows written (for one array at a time, unless a caller still holds a view of
    the old buffer).
    """

    def __init__(self, shape: tuple[int, ...], capacity: int = 256) -> None:
        self.data = lazy_buffer(capacity, shape)
        self.n = 0

    def reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > self.data.shape[0]:
            cap = max(need, 2 * self.data.shape[0])
            new = lazy_buffer(cap, self.data.shape[1:])
            new[: self.n] = self.data[: self.n]
            self.data = new

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class History:
    """A run's record. ``points[k]`` is the point after k steps and ``loss[k]`` its full loss.

    Per-step arrays have one row per step taken: row k describes the step from ``points[k]`` to
    ``points[k+1]``: ``grad`` (the gradient used, with batch and noise), ``grad_norm`` (norm of
    the exact full gradient at ``points[k]``), ``first_moment``, ``second_moment`` (NaN where the
    rule has none), ``effective_lr`` and ``update`` (``points[k+1] − points[k]``); ``lr``, the
    learning rate the step used (the schedule's, else η).

    ``internals`` names the rule's extra per-step quantities (its ``internal_buffers``: ASGD's
    averaged iterate ``ax``, L-BFGS's evaluations ``evals`` …); :meth:`step_array` gives each
    one's value after every step: (steps, D) for a per-parameter buffer, (steps,) for a per-row
    (N, 1) one. Steps before a buffer existed hold NaN.
    """

    STEP_FIELDS = ("grad", "first_moment", "second_moment", "effective_lr", "update")

    def __init__(self, dim: int, internals: tuple[str, ...] = ()) -> None:
        self.dim = dim
        self.internals = tuple(internals)
        self._points = _Grow((dim,))
        self._loss = _Grow(())
        self._grad_norm = _Grow(())
        self._lr = _Grow(())
        self._step = {name: _Grow((dim,)) for name in self.STEP_FIELDS}
        self._internal: dict[str, _Grow] = {}

    def __len__(self) -> int:
        """Number of points recorded (steps + 1)."""
        return self._points.n

    @property
    def steps(self) -> int:
        return max(0, self._points.n - 1)

    @property
    def points(self) -> np.ndarray:
        return self._points.view()

    @property
    def loss(self) -> np.ndarray:
        return self._loss.view()

    @property
    def grad_norm(self) -> np.ndarray:
        return self._grad_norm.view()

    @property
    def lr(self) -> np.ndarray:
        """lr[k]: the learning rate step k + 1 used."""
        return self._lr.view()

    def step_array(self, name: str) -> np.ndarray:
        """A per-step array by name: one of :data:`STEP_FIELDS`, ``lr``, or of :attr:`internals`."""
        if name == "lr":
            return self.lr
        if name in self._step:
            return self._step[name].view()
        if name not in self.internals:
            known = ", ".join((*self.STEP_FIELDS, *self.internals))
            raise KeyError(f"no per-step array {name!r} (known: {known})")
        grow = self._internal.get(name)
        return np.full(self.steps, np.nan) if grow is None else grow.view()

    def _record_internal(self, name: str, i: int, buffer: np.ndarray) -> None:
        """Row 0 of the state ``buffer`` as step ``i``'s value of internal ``name``."""
        grow = self._internal.get(name)
        if grow is None:
            shape: tuple[int, ...] = () if buffer.shape[1:] == (1,) else buffer.shape[1:]
            grow = self._internal[name] = _Grow(shape, capacity=self._points.data.shape[0])
            grow.data[:i] = np.nan
        grow.data[i] = buffer[0, 0] if grow.data.ndim == 1 else buffer[0]
        grow.n = i + 1

    @property
    def grad(self) -> np.ndarray:
        return self.step_array("grad")

    @property
    def effective_lr(self) -> np.ndarray:
        return self.step_array("effective_lr")

    @property
    def first_moment(self) -> np.ndarray:
        return self.step_array("first_moment")

    @property
    def second_moment(self) -> np.ndarray:
        return self.step_array("second_moment")

    @property
    def update(self) -> np.ndarray:
        return self.step_array("update")

    def _reserve(self, extra: int) -> None:
        self._points.reserve(extra)
        self._loss.reserve(extra)
        self._grad_norm.reserve(extra)
        self._lr.reserve(extra)
        for g in self._step.values():
            g.reserve(extra)
        for g in self._internal.values():
            g.reserve(extra)

    def _truncate(self, n_points: int) -> None:
        """Keep the first ``n_points`` points (and the steps between them)."""
        self._points.n = self._loss.n = min(self._points.n, n_points)
        n_steps = max(0, self._points.n - 1)
        self._grad_norm.n = self._lr.n = min(self._grad_norm.n, n_steps)
        for g in (*self._step.values(), *self._internal.values()):
            g.n = min(g.n, n_steps)


def _peek(sampler: BatchSampler) -> np.ndarray | None:
    """The batch ``sampler.next()`` would return, leaving ``sampler`` as it is.

    ``next()`` only rebinds the sampler's counters and slices its epoch order, so a shallow copy
    serves, except at an epoch boundary, where the copy draws the new order from a copy of the
    generator (a deep copy costs ~50 µs; the arrows ask for a preview at every frame).
    """
    twin = copy.copy(sampler)
    if not twin.full_batch and twin._pos >= twin.n:
        twin.rng = _rng_copy(twin.rng)
    return twin.next()


def _rng_copy(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator in the same state (same draws from here on)."""
    bits = rng.bit_generator
    twin = type(bits)(0)
    twin.state = bits.state
    return np.random.Generator(twin)


def _check_number(name: str, value: object) -> float:
    """A finite real number ≥ 0, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"Invalid {name} value: {value!r} (must be a number ≥ 0)")
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"Invalid {name} value: {value!r} (must be a number ≥ 0)")
    return number


class Run:
    """An optimizer on a problem from a start point; :meth:`advance` takes steps.

    ``status`` is ``converged`` as soon as the exact gradient norm at the current point is below
    ``tol`` (checked at the start and after every step), and ``diverged`` at the first point
    whose coordinates or loss are not finite; that point is not recorded, so
    ``len(history) == diverged_at``. Invalid settings raise ValueError here, never later.
    ``stopped`` when the rule could not take a step (:meth:`ObjectiveRule.failure`: Newton's
    singular H + λI): the point stays the last one recorded and ``stop_reason`` is the rule's
    one-line message. Also ``converged`` when a deterministic step (all the data, no noise) met
    the rule's own termination test and left the point where it was
    (:meth:`ObjectiveRule.converged`: L-BFGS with max |g| ≤ tolerance_grad, as torch's ``step``
    returning early): that step is not recorded and ``stop_reason`` is the rule's message.
    ``stop_reason`` is None otherwise (running, diverged, or converged by ``tol``).
    """

    def __init__(self, problem: Problem, config: RunConfig) -> None:
        self.problem = problem
        self.config = config
        self.spec = get_spec(config.optimizer)
        self.optimizer = self.spec.create(config.hyperparameters)
        try:
            start = tuple(float(v) for v in config.start)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid start: {config.start!r} (must be a sequence of numbers)") from None
        if len(start) != problem.dim:
            names = ", ".join(problem.params)
            raise ValueError(
                f"Invalid start: {len(start)} value(s) for {problem.dim} parameter(s) ({names})"
            )
        if not all(math.isfinite(v) for v in start):
            raise ValueError(f"Invalid start: {start} (every coordinate must be a finite number)")
        self._noise = _check_number("noise", config.noise)
        self._tol = _check_number("tol", config.tol)
        seed = config.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Invalid seed value: {seed!r} (must be a whole number ≥ 0)")
        if not isinstance(config.shuffle, (bool, np.bool_)):
            raise ValueError(f"Invalid shuffle value: {config.shuffle!r} (must be true or false)")
        n = problem.n_samples
        if n is None:
            if config.batch_size is not None:
                raise ValueError(
                    f"Invalid batch_size value: {config.batch_size!r} "
                    f"(problem {problem.name!r} has no data, so a batch size does not apply)"
                )
            self.sampler = None
        else:
            check_batch_size(config.batch_size, n)
            self.sampler = BatchSampler(
                n, config.batch_size, shuffle=bool(config.shuffle), rng=np.random.default_rng([int(seed), 0])
            )
        self._noise_rng = np.random.default_rng([int(seed), 1])
        self.params = np.array([start], dtype=np.float64)
        self.state: OptState = self.optimizer.init_state(self.params)
        self._configured = dict(self.optimizer.hp)
        self._lr_now = 0.0
        self.schedule: Schedule | None = make_schedule(
            config.schedule, config.schedule_settings, self._configured["lr"], warmup=config.warmup
        )
        self._momentum_key = None if self.schedule is None else momentum_target(
            self.schedule.name, self.schedule.settings, self.spec.name, self._configured
        )
        if self.schedule is not None:
            self._apply_schedule()
        self.history = History(problem.dim, self.optimizer.internal_buffers)
        self.status = Status.RUNNING
        self.diverged_at: int | None = None
        self.stop_reason: str | None = None
        self.history._reserve(1)
        with np.errstate(all="ignore"):
            loss0 = float(problem.loss(self.params[0]))
            self._set_exact_gradient()
        self._record_point(self.params[0], loss0)
        if not math.isfinite(loss0):
            self._diverge(0)
        elif self._tol and self._gnorm < self._tol:
            self.status = Status.CONVERGED

    @property
    def hyperparameters(self) -> dict[str, Value]:
        """Every resolved hyperparameter value (as configured: a schedule changes η as it runs)."""
        return dict(self._configured) if self.schedule is not None else dict(self.optimizer.hp)

    def _apply_schedule(self) -> bool:
        """Give the optimizer the schedule's rates for the next step (η, and β₁ or the momentum
        for cyclic/onecycle); False when they are not valid values (an η grown to inf)."""
        schedule = self.schedule
        assert schedule is not None
        changes: dict[str, Any] = {"lr": schedule.lr}
        if self._momentum_key == "betas":
            betas = self.optimizer.hp["betas"]
            assert isinstance(betas, tuple)
            changes["betas"] = (schedule.momentum, *betas[1:])
        elif self._momentum_key == "momentum":
            changes["momentum"] = schedule.momentum
        try:
            self.optimizer.set_hyperparameters(**changes)
        except ValueError:
            return False
        self._lr_now = float(np.ravel(schedule.lr)[0])
        return True

    def _step_schedule(self) -> bool:
        """Step the schedule after a step (plateau with the full loss at the new point)."""
        schedule = self.schedule
        assert schedule is not None
        lr, momentum = schedule.lr, schedule.momentum
        schedule.step(float(self.problem.loss(self.params[0])) if schedule.watches_loss else None)
        if schedule.lr is lr and schedule.momentum == momentum:  # unchanged (plateau, step …): nothing to set
            return True
        return self._apply_schedule()

    @property
    def steps(self) -> int:
        return self.history.steps

    @property
    def running(self) -> bool:
        return self.status is Status.RUNNING

    @property
    def grad_norm(self) -> float:
        """Norm of the exact full gradient at the current (last recorded) point."""
        return self._gnorm

    def _set_exact_gradient(self) -> None:
        """The exact full gradient at ``self.params`` and its norm (call under errstate)."""
        self._exact = self.problem.gradient(self.params)
        row = self._exact[0]
        self._gnorm = math.sqrt(float(np.dot(row, row)))

    def _record_point(self, point: np.ndarray, loss: float) -> None:
        h = self.history
        h._points.data[h._points.n] = point
        h._points.n += 1
        h._loss.data[h._loss.n] = loss
        h._loss.n += 1

    def _diverge(self, k: int) -> None:
        self.history._truncate(k)
        self.status = Status.DIVERGED
        self.diverged_at = k

    def advance(self, k: int = 1) -> int:
        """Take up to ``k`` steps; returns how many were taken (fewer if the run stopped).

        Each step: the next mini-batch (all data for GD), its mean gradient plus optional
        N(0, σ²) noise, one optimizer update; the loss recorded is the full-data loss.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ValueError(f"Invalid k value: {k!r} (must be a whole number)")
        if k <= 0 or self.status is not Status.RUNNING:
            return 0
        h = self.history
        h._reserve(k)
        problem, opt, sampler, state = self.problem, self.optimizer, self.sampler, self.state
        noise, tol = self._noise, self._tol
        p = self.params
        first = h._points.n  # index of the first point this call adds
        st = h._step
        # Hot loop (bench/engine.py): write straight into the history's rows, let the optimizer
        # fill the effective-lr row in place (Optimizer.update: no errstate or copies per step),
        # and take the updates as differences of points after the loop.
        points, grad_norms = h._points.data, h._grad_norm.data
        grads, firsts, seconds, effs = (
            st[name].data for name in ("grad", "first_moment", "second_moment", "effective_lr")
        )
        name1, name2 = opt.first_moment_buffer, opt.second_moment_buffer
        update, isfinite, nan = opt.update, math.isfinite, np.nan
        internals, record_internal = h.internals, h._record_internal
        evaluates = opt if isinstance(opt, ObjectiveRule) else None
        i = first - 1  # the step row this iteration writes; its new point is row i + 1
        schedule, lrs, bad_rate = self.schedule, h._lr.data, False
        stop_reason: str | None = None
        done = False
        with np.errstate(all="ignore"):
            for _ in range(k):
                batch = sampler.next() if sampler is not None else None
                g = self._exact if batch is None else problem.gradient(p, batch)
                if noise:
                    g = g + noise * self._noise_rng.standard_normal(g.shape)
                if evaluates is None:
                    update(p, g, state, effs[i : i + 1])
                else:  # the rule evaluates this step's objective itself (L-BFGS's line search)
                    objective = BatchObjective(problem, batch, noise=noise, rng=self._noise_rng)
                    evaluates.update(p, g, state, effs[i : i + 1], objective)
                    stop_reason = evaluates.failure(state)
                    if stop_reason is not None:  # the step was not taken: record nothing, stop here
                        p[0] = points[i]
                        break
                    if batch is None and not noise:  # deterministic: a step the rule ended unmoved repeats
                        stop_reason = evaluates.converged(state)
                        if stop_reason is not None:  # the rule's own test: record nothing, converged here
                            done = True
                            p[0] = points[i]
                            break
                grad_norms[i] = self._gnorm
                if schedule is not None:
                    lrs[i] = self._lr_now
                grads[i] = g[0]
                bufs = state.buffers
                m1, m2 = bufs.get(name1), bufs.get(name2)  # type: ignore[arg-type]
                firsts[i] = nan if m1 is None else m1[0]
                seconds[i] = nan if m2 is None else m2[0]
                for name in internals:
                    buf = bufs.get(name)
                    if buf is not None:
                        record_internal(name, i, buf)
                i += 1
                row = p[0]
                points[i] = row
                if not all(map(isfinite, row.tolist())):
                    break
                if schedule is not None and not self._step_schedule():
                    bad_rate = True  # the schedule's next η is not a valid value: the run stops here
                    break
                self._set_exact_gradient()
                if tol and self._gnorm < tol:
                    self.status = Status.CONVERGED
                    break
            h._grad_norm.n = h._lr.n = i
            if schedule is None:
                lrs[first - 1 : i] = np.ravel(self._configured["lr"])[0]
            for arr in (*st.values(), *h._internal.values()):
                arr.n = i
            h._points.n = i + 1
            # update[j] = points[j+1] − points[j]: the same subtraction per row, in one call.
            np.subtract(points[first : i + 1], points[first - 1 : i], out=st["update"].data[first - 1 : i])
            # Losses of the new points in one vectorized call.
            new = points[first : i + 1]
            h._loss.data[first : i + 1] = problem.loss(new)
            h._loss.n = i + 1
            bad = ~(np.isfinite(new).all(axis=1) & np.isfinite(h._loss.data[first : i + 1]))
        if bad.any():
            self._diverge(first + int(np.argmax(bad)))
        elif bad_rate:
            self.status = Status.DIVERGED
            self.diverged_at = h._points.n
        elif stop_reason is not None:
            self.status = Status.CONVERGED if done else Status.STOPPED
            self.stop_reason = stop_reason
        return max(0, h.steps - (first - 1))

    def preview(self) -> dict[str, np.ndarray] | None:
        """The step :meth:`advance` would take next, without taking it; None unless running, or when
        ``advance`` would record no step (the rule stops, or converges by its own test, there).

        Computed on copies of the optimizer state, the parameters, the mini-batch sampler and
        the noise generator, so the run is untouched (its later trajectory is bit-identical).
        Keys, each a (D,) array equal to the history row ``advance(1)`` would record: ``grad``
        (with batch and noise), ``first_moment`` (NaN where the rule has none),
        ``effective_lr`` and ``update`` (next point − last point; non-finite if that step
        diverges), and each of the rule's internals (``History.internals``: (D,) or a 0-d array
        for a per-row value). For the views' arrows at the newest point.
        """
        if self.status is not Status.RUNNING:
            return None
        opt = self.optimizer
        state = self.state.copy()
        params = self.params.copy()
        eff = np.empty_like(params)
        with np.errstate(all="ignore"):
            batch = _peek(self.sampler) if self.sampler is not None else None
            g = self._exact if batch is None else self.problem.gradient(params, batch)
            rng = _rng_copy(self._noise_rng)
            if self._noise:
                g = g + self._noise * rng.standard_normal(g.shape)
            if isinstance(opt, ObjectiveRule):
                opt.update(params, g, state, eff, BatchObjective(self.problem, batch, noise=self._noise, rng=rng))
                if opt.failure(state) is not None or (
                    batch is None and not self._noise and opt.converged(state) is not None
                ):
                    return None  # advance would record no step: it stops or converges there
            else:
                opt.update(params, g, state, eff)
            update = params[0] - self.params[0]
        m1 = None if opt.first_moment_buffer is None else state.buffers.get(opt.first_moment_buffer)
        out = {
            "grad": np.array(g[0]),
            "first_moment": np.full(self.problem.dim, np.nan) if m1 is None else m1[0].copy(),
            "effective_lr": eff[0],
            "update": update,
        }
        for name in self.history.internals:
            buf = state.buffers.get(name)
            if buf is not None:
                out[name] = np.array(buf[0, 0]) if buf.shape[1:] == (1,) else buf[0].copy()
        return out

    def run(self, steps: int) -> Run:
        """Advance until ``steps`` steps are recorded or the run stops; returns self."""
        self.advance(steps - self.steps)
        return self
