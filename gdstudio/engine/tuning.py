"""Learning-rate tuning for fair races: the same start, the same budget, each optimizer's best η.

For each candidate η on a 1-3-10 log grid, run ``steps`` steps (seeded, deterministic, never
stopping early: ``tol`` = 0) and score it by the mean full loss over the second half of the run,

    score(η) = mean(L(θ_k) for k = ⌊(steps + 1) / 2⌋ … steps),

rewarding fast, settled descent over a lucky last step; a diverged run scores +inf. The η with
the lowest score wins, ties going to the smaller η (and, if every η diverges, the smallest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import Run, RunConfig, Status

__all__ = ["LR_GRID", "lr_score", "tune_lr"]

#: Candidate learning rates: 1e-4, 3e-4, 1e-3, … 3, 10.
LR_GRID: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-4, 2) for m in (1, 3))[:-1]


def lr_score(problem: Problem, config: RunConfig, lr: float, steps: int) -> float:
    """The score of ``lr`` (see the module docstring): lower is better, +inf if it diverges."""
    cfg = config.with_(hyperparameters={**config.hyperparameters, "lr": float(lr)}, tol=0.0)
    run = Run(problem, cfg).run(steps)
    if run.status is Status.DIVERGED:
        return math.inf
    loss = run.history.loss
    score = float(np.mean(loss[len(loss) // 2 :]))
    return score if math.isfinite(score) else math.inf


def tune_lr(problem: Problem, config: RunConfig, *, steps: int = 150,
            grid: Sequence[float] = LR_GRID) -> float:
    """The η from ``grid`` with the lowest :func:`lr_score` over ``steps`` steps.

    ValueError for ``steps`` < 1, an empty grid, or a grid value the optimizer rejects.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"Invalid steps value: {steps!r} (must be a whole number ≥ 1)")
    candidates = sorted(float(lr) for lr in grid)
    if not candidates:
        raise ValueError("Invalid grid value: empty (need at least one learning rate)")
    best_lr, best = candidates[0], math.inf
    for lr in candidates:
        score = lr_score(problem, config, lr, int(steps))
        if score < best:
            best_lr, best = lr, score
    return best_lr
