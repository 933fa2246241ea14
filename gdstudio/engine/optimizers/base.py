"""The optimizer interface: vectorized, in-place update rules over (N, D) parameter arrays.

Every rule follows torch.optim's single-tensor float64 code path operation by operation, so a
NumPy trajectory matches torch's to rounding. Rows are independent: N start points (or N runs of
the same optimizer) advance in one call. Large N is processed in row blocks, large enough for
NumPy's per-call overhead to vanish and small enough for the temporaries to stay in cache
(see :data:`BLOCK_ROWS`).
"""

from __future__ import annotations

import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from gdstudio.engine.hyperparams import HyperParam, Value

__all__ = ["BLOCK_ROWS", "LR_ROWS", "PARALLEL_ROWS", "Array", "OptState", "Optimizer", "StepInternals"]

Array = np.ndarray

#: Rows per block for large N. Each NumPy call costs ~0.5-1 µs whatever its size and a rule
#: makes ~10-15 of them per block, so small blocks pay that per row; past the caches every
#: temporary goes to main memory. Adam over 10⁶ x 2 points (``bench/engine.py --sweep-blocks``,
#: AMD EPYC, 1 MiB L2 per core), ns per point-step: 2048 rows 13.6, 4096 11.3, 8192 10.7,
#: 16384 10.6, 32768 9.9, 65536 9.5, 131072 9.5, unblocked 13.4. 65536 is as fast at 10⁶ but
#: page-faults on every call at 10⁵ (malloc maps and unmaps its 1 MiB temporaries); 32768 rows x 2
#: parameters x 8 bytes = 512 KiB per temporary does not.
BLOCK_ROWS = 32768

#: From this many rows the row ranges run on all available cores (see :meth:`Optimizer.update`).
PARALLEL_ROWS = 4 * BLOCK_ROWS

#: Name of the optional (N, 1) state buffer of per-row learning rates (see :meth:`Optimizer.init_state`).
LR_ROWS = "lr_rows"

_POOL: ThreadPoolExecutor | None = None


def _workers() -> int:
    """Cores this process may use (at most 8)."""
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(8, os.cpu_count() or 1))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="gdstudio-rows")
    return _POOL


@dataclass
class OptState:
    """Per-run optimizer state: the step count ``t`` (shared by all rows), named (N, D)
    buffers, and scalars shared by all rows (e.g. NAdam's running product of μ)."""

    t: int = 0
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)

    def copy(self) -> OptState:
        return OptState(self.t, {k: v.copy() for k, v in self.buffers.items()}, dict(self.scalars))


@dataclass
class StepInternals:
    """What one step did, for arrows and curves (each array has the parameters' shape).

    ``first_moment``: the velocity / momentum buffer / first moment, or None for plain rules.
    ``second_moment``: the squared-gradient accumulator (or its infinity-norm), or None.
    ``effective_lr``: the per-parameter factor the rule multiplied its direction by this step
    (``lr`` for SGD; ``lr / (sqrt(v̂) + ε)`` for Adam; see each rule's docstring).
    """

    first_moment: np.ndarray | None
    second_moment: np.ndarray | None
    effective_lr: np.ndarray


class Optimizer(ABC):
    """Base class of the update rules.

    Subclasses declare ``name``, ``title`` and ``hyperparams`` and implement :meth:`_buffers`
    (the state buffers to create) and :meth:`_update` (one step on a block of rows, in place).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    hyperparams: ClassVar[tuple[HyperParam, ...]]
    #: Names of the buffers reported as first and second moment in :class:`StepInternals`.
    first_moment_buffer: ClassVar[str | None] = None
    second_moment_buffer: ClassVar[str | None] = None

    def __init__(self, **values: object) -> None:
        specs = {spec.name: spec for spec in self.hyperparams}
        unknown = sorted(set(values) - set(specs))
        if unknown:
            known = ", ".join(specs)
            raise ValueError(f"Unknown hyperparameter for {self.name}: {unknown[0]} (known: {known})")
        resolved: dict[str, Value] = {}
        for spec in self.hyperparams:
            resolved[spec.name] = spec.validate(values[spec.name]) if spec.name in values else spec.default
        self.hp: Mapping[str, Value] = resolved
        self._check(resolved)

    def _check(self, hp: Mapping[str, Value]) -> None:
        """Cross-parameter checks (e.g. Nesterov needs momentum); raise ValueError."""

    # -- state -------------------------------------------------------------------------
    def init_state(self, params: np.ndarray, *, lr: object = None) -> OptState:
        """Fresh state for parameters of shape (N, D).

        ``lr``, if given, is one learning rate per row (N values, each validated like η): row i
        then steps with ``lr[i]`` instead of ``hp["lr"]`` (used to tune η: N candidates in one
        call). They live in the state as the (N, 1) buffer :data:`LR_ROWS`, the one buffer that
        is not (N, D), so row blocks slice it with the other buffers. Every rule only multiplies
        or divides by η, so in float64 row i is bit-identical to a run with ``lr=lr[i]``.
        """
        params = np.asarray(params)
        if not np.issubdtype(params.dtype, np.floating):
            params = params.astype(np.float64)
        buffers = {name: np.full_like(params, fill) for name, fill in self._buffers().items()}
        if lr is not None:
            buffers[LR_ROWS] = self._lr_rows(lr, params.shape[0])
        return OptState(0, buffers, self._initial_scalars())

    def _lr_rows(self, lr: object, n: int) -> np.ndarray:
        """``lr`` as a validated (n, 1) float64 column, or ValueError."""
        spec = next(h for h in self.hyperparams if h.name == "lr")
        try:
            values = [spec.validate(v) for v in np.asarray(lr, dtype=object).ravel()]
        except TypeError:
            raise ValueError(f"Invalid lr value: {lr!r} (must be one number per row)") from None
        if len(values) != n:
            raise ValueError(f"Invalid lr value: {len(values)} learning rate(s) for {n} row(s)")
        return np.array(values, dtype=np.float64).reshape(n, 1)

    def _lr(self, bufs: Mapping[str, np.ndarray]) -> float | np.ndarray:
        """η for a block of rows: the scalar ``hp["lr"]``, or the (rows, 1) :data:`LR_ROWS` column."""
        rows = bufs.get(LR_ROWS)
        return float(self.hp["lr"]) if rows is None else rows  # type: ignore[arg-type]

    def _initial_scalars(self) -> dict[str, float]:
        """Scalars shared by all rows, at t = 0."""
        return {}

    def _advance_scalars(self, t: int, scalars: dict[str, float]) -> None:
        """Update the shared scalars once per step (before the blocks run)."""

    @abstractmethod
    def _buffers(self) -> dict[str, float]:
        """Buffer names and their initial fill value."""

    # -- stepping ----------------------------------------------------------------------
    def step(
        self, params: np.ndarray, grad: np.ndarray, state: OptState, *, record: bool = True
    ) -> StepInternals | None:
        """Advance ``params`` (N, D) one step in place, given ``grad`` at ``params``.

        Returns the step's internals when ``record`` is true (the returned arrays are fresh
        copies), else None; the bench path uses ``record=False``. Overflow and NaN are results,
        never warnings (the update runs under ``np.errstate(all="ignore")``).
        """
        eff = np.empty_like(params) if record else None
        with np.errstate(all="ignore"):
            self.update(params, grad, state, eff)
        if eff is None:
            return None
        return StepInternals(
            first_moment=self._moment(state, self.first_moment_buffer),
            second_moment=self._moment(state, self.second_moment_buffer),
            effective_lr=eff,
        )

    def update(self, params: np.ndarray, grad: np.ndarray, state: OptState, eff: np.ndarray | None = None) -> None:
        """The bare in-place step behind :meth:`step`, for hot loops.

        Same arithmetic as :meth:`step`, but it neither enters ``np.errstate`` (the caller does,
        once around its loop: entering costs ~1 µs, a tenth of a 2-parameter step) nor copies
        the moments: read them from ``state.buffers`` (names in ``first_moment_buffer`` and
        ``second_moment_buffer``). ``eff``, if given, has ``params``' shape and receives the
        effective learning rate.
        """
        state.t += 1
        self._advance_scalars(state.t, state.scalars)
        n = params.shape[0]
        if n <= BLOCK_ROWS:
            self._update(params, grad, state.buffers, state.t, state.scalars, eff)
            return
        # Rows are independent: large N runs as contiguous row ranges, one per core, each in
        # cache-sized blocks (NumPy releases the GIL inside ufuncs, so the ranges overlap in time).
        workers = _workers() if n >= PARALLEL_ROWS else 1
        edges = [round(n * i / workers) for i in range(workers + 1)]
        ranges = list(itertools.pairwise(edges))
        if workers == 1:
            self._update_rows(params, grad, state, eff, 0, n)
            return
        pool = _pool()
        futures = [pool.submit(self._update_rows, params, grad, state, eff, lo, hi) for lo, hi in ranges[1:]]
        self._update_rows(params, grad, state, eff, *ranges[0])
        for future in futures:
            future.result()

    def _update_rows(self, params: np.ndarray, grad: np.ndarray, state: OptState, eff: np.ndarray | None,
                     start: int, stop: int) -> None:
        """Rows ``start:stop`` in blocks of ``BLOCK_ROWS``."""
        t, scalars, buffers = state.t, state.scalars, state.buffers
        for lo in range(start, stop, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, stop)
            bufs = {k: v[lo:hi] for k, v in buffers.items()}
            self._update(params[lo:hi], grad[lo:hi], bufs, t, scalars, None if eff is None else eff[lo:hi])

    @staticmethod
    def _moment(state: OptState, name: str | None) -> np.ndarray | None:
        buf = None if name is None else state.buffers.get(name)
        return None if buf is None else buf.copy()

    @abstractmethod
    def _update(
        self,
        p: np.ndarray,
        g: np.ndarray,
        bufs: dict[str, np.ndarray],
        t: int,
        scalars: dict[str, float],
        eff: np.ndarray | None,
    ) -> None:
        """One step on a block of rows: update ``p`` and ``bufs`` in place; fill ``eff`` if given.

        ``g`` must not be modified. ``t`` is the step number, starting at 1; ``scalars`` were
        already advanced for this step and must not be changed here.
        """
