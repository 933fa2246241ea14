"""Hyperparameter sweeps: one or two hyperparameters over a grid, every cell a run from the same
start, all cells in one vectorized call through per-row hyperparameter columns.

A key names a number (``lr``, ``momentum``, ``eps``) or one component of a pair or triple,
written ``name[i]``: ``betas[0]`` is β₁, ``betas[1]`` β₂. Cell ``[i0, i1]`` is what
``Run(problem, config with key0 = values0[i0], key1 = values1[i1]).run(steps)`` ends with
(``gdstudio trace``; a mini-batch problem uses the run's seed, so the same batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gdstudio.engine.explore.memory import check_memory
from gdstudio.engine.explore.rows import Cancel, Progress, component_key, run_rows
from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import RunConfig

__all__ = ["LOG_KEYS", "Sweep", "sweep", "sweep_values"]

#: Keys drawn (and suggested) on log axes.
LOG_KEYS = frozenset({"lr", "eps", "weight_decay", "initial_accumulator_value", "lr_decay"})


@dataclass
class Sweep:
    """A sweep's cells: arrays shaped (len(values[0]),) or (len(values[0]), len(values[1]))."""

    keys: tuple[str, ...]
    values: tuple[npt.NDArray[np.float64], ...]
    final_loss: npt.NDArray[np.float64]
    best_loss: npt.NDArray[np.float64]
    steps: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    final_points: npt.NDArray[np.float64]  #: (..., D)
    evaluations: npt.NDArray[np.int64]


def sweep_values(lo: float, hi: float, count: int, log: bool = False) -> npt.NDArray[np.float64]:
    """``numpy.linspace(lo, hi, count)``, or ``numpy.geomspace`` when ``log`` (ValueError if
    ``count`` < 1, a bound is not finite, or ``log`` with a bound ≤ 0)."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"Invalid count: {count!r} (must be a whole number ≥ 1)")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"Invalid range: {lo}:{hi} (bounds must be finite numbers)")
    if log:
        if lo <= 0 or hi <= 0:
            raise ValueError(f"Invalid range: {lo}:{hi} (a log range needs bounds > 0)")
        return np.geomspace(lo, hi, int(count))
    return np.linspace(lo, hi, int(count))


def sweep(problem: Problem, config: RunConfig, vary: Sequence[tuple[str, Sequence[float] | np.ndarray]], steps: int,
          *, progress: Progress | None = None, cancel: Cancel | None = None) -> Sweep:
    """Every cell of ``vary`` (one or two (key, values)) run from ``config.start`` (see the module
    docstring). ValueError for bad keys or values (the optimizer's own checks), no or more than two
    keys, a key given twice, a sweep too large for memory; :class:`Cancelled` on ``cancel``."""
    if not 1 <= len(vary) <= 2:
        raise ValueError(f"Invalid sweep: {len(vary)} keys (vary one or two)")
    keys = tuple(str(k).strip() for k, _ in vary)
    for k in keys:
        component_key(k)
    if len(keys) == 2 and component_key(keys[0]) == component_key(keys[1]):
        raise ValueError(f"Invalid sweep: {keys[0]} is varied twice")
    values = tuple(np.asarray(v, dtype=np.float64).ravel() for _, v in vary)
    for k, v in zip(keys, values, strict=True):
        if v.size == 0:
            raise ValueError(f"Invalid values for {k}: none")
    shape = tuple(v.size for v in values)
    check_memory(shape, problem.dim, config.optimizer, what="sweep")
    if len(values) == 1:
        columns = {keys[0]: values[0]}
    else:
        a, b = np.meshgrid(values[0], values[1], indexing="ij")
        columns = {keys[0]: a.ravel(), keys[1]: b.ravel()}
    res = run_rows(problem, config, steps, columns=columns, progress=progress, cancel=cancel)
    return Sweep(
        keys=keys, values=values, final_loss=res.final_loss.reshape(shape), best_loss=res.best_loss.reshape(shape),
        steps=res.steps.reshape(shape), status=res.status.reshape(shape),
        final_points=res.final_points.reshape(*shape, problem.dim), evaluations=res.evaluations.reshape(shape),
    )
