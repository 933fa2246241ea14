"""tune_lr picks the grid η with the lowest documented score,

    score(η) = mean(L(θ_k), k = ⌊(steps + 1) / 2⌋ … steps), +inf if the run diverges,

checked by brute force with hand-written optimizer loops that do not use the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import RunConfig
from gdstudio.engine.tuning import LR_GRID, lr_score, tune_lr


def bowl(p):
    return p[0] ** 2 / 20.0 + p[1] ** 2, np.array([p[0] / 10.0, 2.0 * p[1]])


def rosenbrock(p):
    x, y = p
    r = y - x * x
    return (1 - x) ** 2 + 100 * r * r, np.array([-2 * (1 - x) - 400 * x * r, 200 * r])


def hand_losses(f, start, rule: str, lr: float, steps: int) -> list[float]:
    """Losses L(θ_0 … θ_steps) of GD, heavy-ball momentum (γ 0.9) or Adam (torch's forms)."""
    p = np.array(start, dtype=float)
    b = m = v = None
    losses = [f(p)[0]]
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = f(p)[1]
            if rule == "gd":
                d = g
            elif rule == "momentum":
                b = g.copy() if b is None else 0.9 * b + g
                d = b
            else:  # adam, β = (0.9, 0.999), ε = 1e-8
                m = (1 - 0.9) * g if m is None else 0.9 * m + (1 - 0.9) * g
                v = (1 - 0.999) * g * g if v is None else 0.999 * v + (1 - 0.999) * g * g
                d = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
            p = p - lr * d
            loss = f(p)[0]
            if not (np.isfinite(p).all() and math.isfinite(loss)):
                return [*losses, math.inf]
            losses.append(loss)
    return losses


def brute_force(f, start, rule, steps, grid) -> tuple[float, list[float]]:
    scores = []
    for lr in grid:
        losses = hand_losses(f, start, rule, lr, steps)
        scores.append(math.inf if math.inf in losses else float(np.mean(losses[(steps + 1) // 2:])))
    best = min(range(len(grid)), key=lambda i: (scores[i], grid[i]))
    return grid[best], scores


@pytest.mark.parametrize(("problem", "f", "start"), [
    ("bowl", bowl, (-7.0, 2.0)),
    ("rosenbrock", rosenbrock, (-1.5, 2.0)),
])
@pytest.mark.parametrize("rule", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("steps", [40, 41])
def test_tune_lr_matches_brute_force(problem, f, start, rule, steps):
    p = make_problem(problem)
    cfg = RunConfig(rule, start)
    expected, scores = brute_force(f, start, rule, steps, list(LR_GRID))
    # The winner must be clear of float noise for the comparison to be meaningful.
    finite = sorted(s for s in scores if math.isfinite(s))
    assert len(finite) >= 2 and finite[0] < finite[1] * (1 - 1e-9)
    assert tune_lr(p, cfg, steps=steps) == expected
    for lr, score in zip(LR_GRID, scores, strict=True):
        got = lr_score(p, cfg, lr, steps)
        assert got == score if math.isinf(score) else got == pytest.approx(score, rel=1e-9), lr


def test_some_grid_values_diverge_and_score_inf():
    p = make_problem("bowl")
    scores = [lr_score(p, RunConfig("gd", (-7.0, 2.0)), lr, 250) for lr in LR_GRID]
    # GD multiplies y by (1 − 2η): for η > 1 that is ≤ −5, so y² overflows within 250 steps.
    assert [math.isinf(s) for s in scores] == [lr > 1 for lr in LR_GRID]


def test_ties_go_to_the_smaller_lr_and_grid_order_does_not_matter():
    p = make_problem("bowl")
    at_min = RunConfig("gd", (0.0, 0.0))  # every η stays at the minimum: all scores 0
    assert tune_lr(p, at_min, steps=10, grid=(0.3, 0.01, 1.0)) == 0.01
    all_diverge = RunConfig("gd", (1.0, 1.0))
    assert tune_lr(p, all_diverge, steps=10, grid=(1e300, 1e200)) == 1e200
    cfg = RunConfig("momentum", (-7.0, 2.0))
    assert tune_lr(p, cfg, steps=30, grid=LR_GRID[::-1]) == tune_lr(p, cfg, steps=30)


def test_tune_lr_keeps_other_settings_and_is_deterministic_on_minibatches():
    p = make_problem("linear-regression")
    cfg = RunConfig("adam", (0.0, 0.0), {"betas": (0.8, 0.99), "lr": 5.0}, batch_size=10, noise=0.1, seed=4,
                    tol=1e-3)
    first = tune_lr(p, cfg, steps=30, grid=(0.01, 0.1, 1.0))
    assert first == tune_lr(p, cfg, steps=30, grid=(0.01, 0.1, 1.0))
    assert cfg.hyperparameters == {"betas": (0.8, 0.99), "lr": 5.0} and cfg.tol == 1e-3
    # tol is ignored (a run that converges early would otherwise score on a short history).
    scores = {lr: lr_score(p, cfg, lr, 30) for lr in (0.01, 0.1, 1.0)}
    assert first == min(scores, key=lambda lr: (scores[lr], lr))


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"steps": 0}, "Invalid steps value: 0"),
    ({"steps": 2.5}, "Invalid steps value: 2.5"),
    ({"grid": ()}, "Invalid grid value: empty"),
    ({"grid": (0.1, -1.0)}, "Invalid lr value: -1.0"),
])
def test_tune_lr_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        tune_lr(make_problem("bowl"), RunConfig("gd", (1.0, 1.0)), **kwargs)


def test_lr_grid_is_the_documented_1_3_10_ladder():
    expected = [m * 10.0**e for e in range(-4, 2) for m in (1, 3)][:-1]
    assert pytest.approx(expected, rel=1e-15) == LR_GRID and LR_GRID[-1] == 10.0 and len(LR_GRID) == 11
