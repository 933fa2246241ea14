"""Learning-rate tuning for fair races: the same start, the same budget, each optimizer's best η.

For each candidate η on a 1-3-10 log grid, run ``steps`` steps (seeded, deterministic, never
stopping early: ``tol`` = 0) and score it by the mean full loss over the second half of the run,

    score(η) = mean(L(θ_k) for k = ⌊(steps + 1) / 2⌋ … steps),

rewarding fast, settled descent over a lucky last step; a diverged run scores +inf. A run its rule
ends where it would stay (L-BFGS converged by its own test, Newton stopped) keeps that loss to the end. The η with
the lowest score wins, ties going to the smaller η (and, if every η diverges, the smallest).

All candidates of one optimizer run at once, as the rows of one (N, D) parameter array stepped by
one optimizer whose ``lr`` is the (N, 1) column of candidates (per-row hyperparameters):
one gradient call and one update per step instead of N. Each row sees exactly what its own
:class:`~gdstudio.engine.runs.Run` would (the same mini-batch sequence and gradient noise, which do
not depend on η; every rule only multiplies or divides by η), so the scores are bit-identical to
N separate runs (``_tune_lr_reference``, kept for the tests and ``bench/tuning.py``). A rule that
evaluates the objective during a step (L-BFGS with a line search), or a run with an lr schedule,
is scored one Run per η.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gdstudio.engine.optimizers.objective import ObjectiveRule
from gdstudio.engine.problems import Problem
from gdstudio.engine.problems.data import exact_rows_per_call
from gdstudio.engine.runs import Run, RunConfig, Status

__all__ = ["LR_GRID", "lr_score", "lr_scores", "tune_lr"]

#: Candidate learning rates: 1e-4, 3e-4, 1e-3, … 3, 10.
LR_GRID: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-4, 2) for m in (1, 3))[:-1]


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"Invalid steps value: {steps!r} (must be a whole number ≥ 1)")
    return int(steps)


def _tuning_config(config: RunConfig, lr: float) -> RunConfig:
    return config.with_(hyperparameters={**config.hyperparameters, "lr": float(lr)}, tol=0.0)


def _score(loss: np.ndarray) -> float:
    """The documented score of a run's losses L(θ_0 … θ_steps), all finite."""
    score = float(np.mean(loss[len(loss) // 2 :]))
    return score if math.isfinite(score) else math.inf


def _block_scores(problem: Problem, config: RunConfig, lrs: list[float], steps: int) -> np.ndarray:
    """Scores of ``lrs`` run together as rows (see the module docstring)."""
    n = len(lrs)
    scores = np.full(n, math.inf)
    # A Run of the first η validates the config and builds the seeded sampler and noise generator
    # exactly as every single run would; its rule instance steps all rows with per-row η.
    run = Run(problem, _tuning_config(config, lrs[0]))
    if run.schedule is not None or (isinstance(run.optimizer, ObjectiveRule) and run.optimizer.needs_objective()):
        # A schedule changes η (and maybe β₁) from each run's own base η; a line search evaluates
        # the objective at points of its own, with its own noise draws: one Run per η, the definition.
        return np.array([_lr_score_reference(problem, config, lr, steps) for lr in lrs])
    params = np.repeat(run.params, n, axis=0)
    run.optimizer.set_hyperparameters(lr=np.array(lrs, dtype=np.float64).reshape(n, 1))  # validates every η
    state = run.optimizer.init_state(params)
    if run.status is Status.DIVERGED:  # the start's loss is not finite
        return scores
    loss0 = float(run.history.loss[0])
    dim = problem.dim
    points = np.empty((n, steps + 1, dim))
    points[:, 0] = params
    gradient, update, sampler = problem.gradient, run.optimizer.update, run.sampler
    noise, rng = run._noise, run._noise_rng
    with np.errstate(all="ignore"):
        for k in range(1, steps + 1):
            batch = sampler.next() if sampler is not None else None
            g = gradient(params, batch)
            if noise:
                g = g + noise * rng.standard_normal((1, dim))  # the single run's draw, for every row
            update(params, g, state)
            points[:, k] = params
        for i in range(n):
            path = points[i]
            if not np.isfinite(path).all():
                continue
            loss = np.empty(steps + 1)
            loss[0] = loss0
            loss[1:] = problem.loss(path[1:])  # one call over the path, as Run.advance(steps) makes
            if np.isfinite(loss).all():
                scores[i] = _score(loss)
    return scores


def lr_scores(problem: Problem, config: RunConfig, grid: Sequence[float], steps: int) -> np.ndarray:
    """The score of each η in ``grid`` (in grid order), all candidates run at once.

    ValueError for ``steps`` < 1, an empty grid, a value the optimizer rejects or a bad config.
    """
    steps = _check_steps(steps)
    lrs = [float(lr) for lr in grid]
    if not lrs:
        raise ValueError("Invalid grid value: empty (need at least one learning rate)")
    group = exact_rows_per_call(problem, len(lrs))
    return np.concatenate([_block_scores(problem, config, lrs[lo : lo + group], steps)
                           for lo in range(0, len(lrs), group)])


def lr_score(problem: Problem, config: RunConfig, lr: float, steps: int) -> float:
    """The score of ``lr`` (see the module docstring): lower is better, +inf if it diverges."""
    return float(lr_scores(problem, config, [lr], steps)[0])


def tune_lr(problem: Problem, config: RunConfig, *, steps: int = 150,
            grid: Sequence[float] = LR_GRID) -> float:
    """The η from ``grid`` with the lowest :func:`lr_score` over ``steps`` steps.

    ValueError for ``steps`` < 1, an empty grid, or a grid value the optimizer rejects.
    """
    steps = _check_steps(steps)
    candidates = sorted(float(lr) for lr in grid)
    if not candidates:
        raise ValueError("Invalid grid value: empty (need at least one learning rate)")
    scores = lr_scores(problem, config, candidates, steps)
    return candidates[int(np.argmin(scores))]  # the first minimum: ties (and all +inf) go to the smaller η


# ---------------------------------------------------------------------------- reference
def _lr_score_reference(problem: Problem, config: RunConfig, lr: float, steps: int) -> float:
    """:func:`lr_score` as one full :class:`Run` per η (the definition; slow)."""
    run = Run(problem, _tuning_config(config, lr)).run(steps)
    if run.status is Status.DIVERGED:
        return math.inf
    loss = run.history.loss
    if len(loss) < steps + 1:  # the rule ended the run where it stays (L-BFGS's own test, Newton's stop):
        loss = np.concatenate([loss, np.full(steps + 1 - len(loss), loss[-1])])  # the budget at that loss
    return _score(loss)


def _tune_lr_reference(problem: Problem, config: RunConfig, *, steps: int = 150,
                       grid: Sequence[float] = LR_GRID) -> float:
    """:func:`tune_lr` with one :class:`Run` per η, for tests and ``bench/tuning.py``."""
    steps = _check_steps(steps)
    candidates = sorted(float(lr) for lr in grid)
    if not candidates:
        raise ValueError("Invalid grid value: empty (need at least one learning rate)")
    best_lr, best = candidates[0], math.inf
    for lr in candidates:
        score = _lr_score_reference(problem, config, lr, steps)
        if score < best:
            best_lr, best = lr, score
    return best_lr
