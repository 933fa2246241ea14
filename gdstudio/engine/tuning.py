"""Learning-rate tuning for fair races: the same start, the same budget, each optimizer's best η.

For each candidate η on a 1-3-10 log grid, run ``steps`` steps (seeded, deterministic) and score
the mean full loss over the second half of the steps (rewarding fast, settled descent over a lucky
last step; a diverged run scores +inf); the best η wins, ties going to the smaller η.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import Run, RunConfig

__all__ = ["LR_GRID", "tune_lr"]

#: Candidate learning rates: 1e-4, 3e-4, 1e-3, … 3, 10.
LR_GRID: tuple[float, ...] = tuple(float(f"{m}e{e}") for e in range(-4, 2) for m in (1, 3))[:-1]


def tune_lr(problem: Problem, config: RunConfig, *, steps: int = 150,
            grid: Sequence[float] = LR_GRID) -> float:
    """The η from ``grid`` with the lowest mean loss over the second half of ``steps`` steps."""
    best_lr, best = float(grid[0]), math.inf
    for lr in grid:
        cfg = config.with_(hyperparameters={**config.hyperparameters, "lr": float(lr)}, tol=0.0)
        run = Run(problem, cfg).run(steps)
        loss = run.history.loss
        score = math.inf if run.status.value == "diverged" else float(np.mean(loss[len(loss) // 2 :]))
        if score < best:
            best_lr, best = float(lr), score
    return best_lr
