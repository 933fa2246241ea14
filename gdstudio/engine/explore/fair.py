"""Fair races: every optimizer tuned on the same budget, then run on it.

A budget is a number of steps, or of loss/gradient evaluations (``budget_kind="evaluations"``):
a first-order step costs one evaluation; L-BFGS costs what its line search used (its ``evals``
internal, the initial evaluation included, as torch's ``func_evals`` counts); a Newton step one
(its Hessian is not counted separately). An evaluation budget ends a run at the last step whose
cumulative evaluations are within it.

Tuning picks, from a log grid (:data:`gdstudio.engine.tuning.LR_GRID` for η; for a second key
the ``second`` values), the value(s) with the lowest score of :mod:`gdstudio.engine.tuning`: the
mean full loss over the second half of the budget (a diverged run scores +inf; ties go to the
first, i.e. smaller, value). First-order candidates run together as rows
(:func:`gdstudio.engine.tuning.lr_scores`).

``steps_to_tol``: the first step whose loss is within ``target`` of the least loss at the
problem's known minima (L(θₖ) − L* ≤ target); for a problem without known minima, the step at
which the run converged by its ``tol``; −1: never.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdstudio.engine.explore.rows import _CODES, STATUS_NAMES, Cancel, Progress, _check_cancel, component_key
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.optimizers.objective import EVALS
from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.engine.tuning import LR_GRID, _score, lr_scores

__all__ = ["BUDGET_KINDS", "RaceRow", "evaluated_run", "fair_race", "with_value"]

BUDGET_KINDS = ("steps", "evaluations")


@dataclass(frozen=True)
class RaceRow:
    """One optimizer's result in a fair race."""

    optimizer: str
    tuned: dict[str, float]  #: key → the tuned value (``lr``, and the second key if tuned)
    final_loss: float
    best_loss: float
    steps: int  #: steps taken within the budget (a diverged run: its divergence step)
    steps_to_tol: int  #: see the module docstring; −1 never
    evaluations: int
    status: str  #: ok / converged / diverged / stopped
    config: RunConfig  #: the tuned config (start a race run with it)


def with_value(config: RunConfig, key: str, value: float) -> RunConfig:
    """``config`` with hyperparameter ``key`` (``name`` or ``name[i]``) set to ``value``."""
    name, index = component_key(key)
    hp = dict(config.hyperparameters)
    if index is None:
        hp[name] = float(value)
    else:
        current = get_spec(config.optimizer).create(config.hyperparameters).hp
        if name not in current or not isinstance(current[name], tuple):
            raise ValueError(f"Invalid key: {key!r}: {name} of {config.optimizer} has no components")
        parts = list(current[name])
        if index >= len(parts):
            raise ValueError(f"Invalid key: {key!r}: {name} has {len(parts)} components")
        parts[index] = float(value)
        hp[name] = tuple(parts)
    return config.with_(hyperparameters=hp)


def evaluated_run(problem: Problem, config: RunConfig, budget: int, budget_kind: str) -> tuple[Run, int, int]:
    """A Run within ``budget``; returns (run, points kept, evaluations used): a step budget runs
    ``budget`` steps; an evaluation budget keeps the steps whose cumulative evaluations fit."""
    run = Run(problem, config)
    if budget_kind == "steps":
        run.run(budget)
        return run, len(run.history), _evaluations(run, run.history.steps)
    used = 0
    while run.running and used < budget:
        if run.advance(1) == 0:
            break
        cost = _evaluations(run, run.history.steps) - used
        if used + cost > budget:
            return run, len(run.history) - 1, used  # this step went over: the race ends before it
        used += cost
    return run, len(run.history), used


def _evaluations(run: Run, steps: int) -> int:
    h = run.history
    if EVALS in h.internals:
        ev = h.step_array(EVALS)[:steps]
        return int(np.nansum(ev))
    return int(steps)


def _candidate_score(problem: Problem, config: RunConfig, budget: int, budget_kind: str) -> float:
    run, kept, _ = evaluated_run(problem, config.with_(tol=0.0), budget, budget_kind)
    if run.status is Status.DIVERGED and kept >= len(run.history):
        return math.inf
    loss = run.history.loss[:kept]
    if not len(loss) or not np.isfinite(loss).all():
        return math.inf
    return _score(loss)


def _scores(problem: Problem, config: RunConfig, lrs: Sequence[float], budget: int, budget_kind: str) -> np.ndarray:
    if budget_kind == "steps" or not _needs_objective(config):
        return lr_scores(problem, config, lrs, budget)  # one evaluation per step: steps = evaluations
    return np.array([_candidate_score(problem, config.with_(hyperparameters={**config.hyperparameters, "lr": lr}),
                                      budget, budget_kind) for lr in lrs])


def _needs_objective(config: RunConfig) -> bool:
    from gdstudio.engine.optimizers.objective import ObjectiveRule

    return isinstance(get_spec(config.optimizer).create(config.hyperparameters), ObjectiveRule)


def _steps_to_tol(problem: Problem, run: Run, kept: int, target: float) -> int:
    loss = run.history.loss[:kept]
    minima = problem.minima
    if len(minima):
        best = float(np.min(problem.loss(minima)))
        hit = np.flatnonzero(loss - best <= target)
        return int(hit[0]) if hit.size else -1
    if run.status is Status.CONVERGED and kept == len(run.history):
        return run.history.steps
    return -1


def fair_race(problem: Problem, configs: Sequence[RunConfig], budget: int, budget_kind: str = "steps",
              tune: Sequence[str] = ("lr",), *, grid: Sequence[float] = LR_GRID,
              second: Sequence[float] | None = None, target: float = 1e-6,
              progress: Progress | None = None, cancel: Cancel | None = None) -> list[RaceRow]:
    """Tune each config's ``tune`` keys on the budget, then run it (see the module docstring).

    ``tune``: ``("lr",)``, ``("lr", key)`` (``second``: that key's candidate values, required), or
    ``()`` (no tuning). ValueError for a bad budget, kind, key or value; :class:`Cancelled` on ``cancel``.
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"Invalid budget: {budget!r} (must be a whole number ≥ 1)")
    if budget_kind not in BUDGET_KINDS:
        raise ValueError(f"Invalid budget kind: {budget_kind!r} (steps or evaluations)")
    tune = tuple(tune)
    if tune not in ((), ("lr",)) and not (len(tune) == 2 and tune[0] == "lr"):
        raise ValueError(f"Invalid tune: {tune!r} (('lr',), ('lr', key) or ())")
    if len(tune) == 2:
        component_key(tune[1])
        if not second:
            raise ValueError(f"Invalid tune: give the candidate values of {tune[1]}")
    rows: list[RaceRow] = []
    lrs = sorted(float(v) for v in grid)
    for i, config in enumerate(configs):
        _check_cancel(cancel)
        tuned: dict[str, float] = {}
        best_cfg = config
        if tune:
            best_score = math.inf
            options: list[tuple[dict[str, float], RunConfig]] = []
            if len(tune) == 2:
                assert second is not None
                options = [({tune[1]: float(v)}, with_value(config, tune[1], float(v))) for v in second]
            else:
                options = [({}, config)]
            first = True
            for extra, cfg in options:
                _check_cancel(cancel)
                scores = _scores(problem, cfg, lrs, int(budget), budget_kind)
                j = int(np.argmin(scores))
                if first or scores[j] < best_score:
                    first = False
                    best_score = float(scores[j])
                    tuned = {"lr": lrs[j], **extra}
                    best_cfg = with_value(cfg, "lr", lrs[j])
        run, kept, used = evaluated_run(problem, best_cfg, int(budget), budget_kind)
        rows.append(_race_row(problem, best_cfg, tuned, run, kept, used, target))
        if progress is not None:
            progress((i + 1) / max(1, len(configs)))
    return rows


def _race_row(problem: Problem, config: RunConfig, tuned: dict[str, float], run: Run, kept: int, used: int,
              target: float) -> RaceRow:
    h = run.history
    complete = kept == len(h)
    loss = h.loss[:kept]
    finite = loss[np.isfinite(loss)]
    status: Any = _CODES[run.status] if complete else 0
    steps = (run.diverged_at or 0) if complete and run.status is Status.DIVERGED else max(0, kept - 1)
    return RaceRow(
        optimizer=config.optimizer, tuned=tuned,
        final_loss=float(loss[-1]) if len(loss) else math.nan,
        best_loss=float(finite.min()) if finite.size else math.nan,
        steps=int(steps), steps_to_tol=_steps_to_tol(problem, run, kept, target), evaluations=int(used),
        status=STATUS_NAMES[int(status)], config=config,
    )
