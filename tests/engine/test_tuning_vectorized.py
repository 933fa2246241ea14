"""The vectorized tuner (all η of one optimizer as rows of one array, η an (N, 1) column)
scores every candidate exactly as one full Run per η does (``_lr_score_reference``), so it
picks the same η: over every optimizer and variant × analytic, typed and data problems, with
mini-batches and gradient noise, and with data large enough to be summed in chunks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.engine.optimizers import make_optimizer, optimizer_names
from gdstudio.engine.problems import data as data_module
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.engine.tuning import LR_GRID, _lr_score_reference, _tune_lr_reference, lr_scores, tune_lr

#: Registry names plus the variants whose code paths differ (decoupled decay, AMSGrad, Nesterov, ...).
VARIANTS: list[tuple[str, dict]] = [(name, {}) for name in optimizer_names()] + [
    ("sgd", {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}),
    ("nag", {"weight_decay": 0.01}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"weight_decay": 0.3, "amsgrad": True}),
    ("nadam", {"decoupled_weight_decay": True, "weight_decay": 0.2}),
    ("radam", {"decoupled_weight_decay": True, "weight_decay": 0.2}),
    ("radam", {"weight_decay": 0.2}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("adadelta", {"rho": 0.8, "weight_decay": 0.05}),
    ("adamax", {"weight_decay": 0.05}),
]

#: (problem, problem kwargs, start, batch size, noise σ)
PROBLEMS = [
    ("rosenbrock", {}, (-1.5, 2.0), None, 0.0),
    ("himmelblau", {}, None, None, 0.0),
    ("bowl", {}, (-7.0, 2.0), None, 0.0),
    ("ackley", {}, None, None, 0.0),
    ("rastrigin", {}, None, None, 0.1),
    ("custom", {"expr": "sin(x)*cos(y) + 0.1*(x**2 + y**2) + exp(-x*y/4)"}, (1.0, -0.5), None, 0.0),
    ("sigmoid-neuron", {"dataset": "six-point"}, None, 2, 0.0),
    ("linear-regression", {}, None, 10, 0.2),
    ("line-through-origin", {}, None, 1, 0.0),
]


def _config(problem, name, hp, start, batch, noise, seed=3):
    return RunConfig(name, start or problem.start, hp, batch, True, noise, seed, 1e-8)


def _assert_same_scores(problem, cfg, steps, grid=LR_GRID):
    got = lr_scores(problem, cfg, grid, steps)
    want = np.array([_lr_score_reference(problem, cfg, lr, steps) for lr in grid])
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(want).any()  # a comparison of all-inf scores would prove little
    return got


@pytest.mark.parametrize(("pname", "pkw", "start", "batch", "noise"), PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_scores_equal_one_run_per_lr_for_every_optimizer(pname, pkw, start, batch, noise):
    problem = make_problem(pname, **pkw)
    steps = 40
    for name, hp in VARIANTS:
        cfg = _config(problem, name, hp, start, batch, noise)
        _assert_same_scores(problem, cfg, steps)
        assert tune_lr(problem, cfg, steps=steps) == _tune_lr_reference(problem, cfg, steps=steps), name


@pytest.mark.parametrize("name", ["gd", "adam", "adadelta", "nadam"])
def test_race_length_on_the_articles_problems(name):
    """The race's own budget (150 steps) on the book's bowl and Rosenbrock from (−1.5, 2)."""
    for pname, start in (("bowl", (-7.0, 2.0)), ("rosenbrock", (-1.5, 2.0))):
        problem = make_problem(pname)
        scores = _assert_same_scores(problem, _config(problem, name, {}, start, None, 0.0), 150)
        assert math.isinf(scores[-1]) or name != "gd"  # η = 10 makes GD diverge on both


def test_large_data_is_tuned_in_row_groups_that_sum_exactly(monkeypatch):
    """With a chunk budget of 256 elements, 100 samples allow 2 rows per gradient call: the
    rows go in groups, and the scores still equal the single runs' (which sum in one chunk)."""
    monkeypatch.setattr(data_module, "_CHUNK_ELEMENTS", 256)
    problem = make_problem("linear-regression")
    assert problem.n_samples == 100
    for name in ("adam", "momentum", "rmsprop"):
        _assert_same_scores(problem, _config(problem, name, {}, None, 30, 0.1), 25)
    # Without grouping the chunks would differ: 11 rows sum 256 // 11 = 23 samples at a time.
    calls = []
    real = problem.gradient

    def spy(points, indices=None):
        calls.append(points.shape[0])
        return real(points, indices)

    monkeypatch.setattr(problem, "gradient", spy)
    lr_scores(problem, _config(problem, "adam", {}, None, 30, 0.0), LR_GRID, 3)
    # Groups of 2, 2, 2, 2, 2, 1 rows, 3 steps each (plus each group's Run's one-row start gradient).
    assert max(calls) == 2 and calls.count(2) == 5 * 3


def test_each_row_sees_the_single_runs_batches_and_noise():
    """Row i of a per-row-η state steps exactly as Run with η = lr[i]: checked on the points."""
    problem = make_problem("linear-regression")
    lrs = [0.01, 0.3, 1.0]
    cfg = RunConfig("adamw", problem.start, {"weight_decay": 0.5}, batch_size=7, noise=0.4, seed=9, tol=0.0)
    runs = [Run(problem, cfg.with_(hyperparameters={"weight_decay": 0.5, "lr": lr})).run(20) for lr in lrs]
    base = Run(problem, cfg.with_(hyperparameters={"weight_decay": 0.5, "lr": lrs[0]}))
    params = np.repeat(base.params, 3, axis=0)
    base.optimizer.set_hyperparameters(lr=np.array(lrs).reshape(3, 1))
    state = base.optimizer.init_state(params)
    assert base.optimizer.hp["lr"].shape == (3, 1)
    with np.errstate(all="ignore"):
        for k in range(1, 21):
            g = problem.gradient(params, base.sampler.next()) + 0.4 * base._noise_rng.standard_normal((1, 2))
            base.optimizer.update(params, g, state)
            for i, run in enumerate(runs):
                np.testing.assert_array_equal(params[i], run.history.points[k])


def test_per_row_lr_is_validated_like_lr():
    opt = make_optimizer("adam")
    with pytest.raises(ValueError, match=r"^Invalid lr value: -1\.0 \(must be in \[0\.0, inf\)\) in row 1$"):
        opt.set_hyperparameters(lr=np.array([[0.1], [-1.0]]))
    opt.set_hyperparameters(lr=np.array([[0.1]]))
    with pytest.raises(ValueError, match=r"per-row values have 1 rows, the parameters 2"):
        opt.init_state(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"Invalid lr value: -1\.0"):
        tune_lr(make_problem("bowl"), RunConfig("adam", (1.0, 1.0)), grid=(0.1, -1.0))


def test_rules_that_evaluate_the_objective_are_scored_one_run_per_lr():
    """L-BFGS with strong Wolfe searches a line per step: its scores are the single runs' too."""
    problem = make_problem("rosenbrock")
    cfg = RunConfig("lbfgs", (-1.5, 2.0), {"line_search_fn": "strong_wolfe"}, tol=0.0)
    got = lr_scores(problem, cfg, (0.1, 1.0), 15)
    want = np.array([_lr_score_reference(problem, cfg, lr, 15) for lr in (0.1, 1.0)])
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(want).all()


def test_runs_with_a_schedule_are_scored_one_run_per_lr():
    problem = make_problem("bowl")
    cfg = RunConfig("momentum", (-7.0, 2.0), tol=0.0, schedule="step", schedule_settings={"step_size": 5})
    got = lr_scores(problem, cfg, (0.01, 0.1), 20)
    want = np.array([_lr_score_reference(problem, cfg, lr, 20) for lr in (0.01, 0.1)])
    np.testing.assert_array_equal(got, want)
    plain = lr_scores(problem, RunConfig("momentum", (-7.0, 2.0), tol=0.0), (0.01, 0.1), 20)
    assert not np.array_equal(got, plain)  # the schedule was applied


def test_a_start_with_infinite_loss_scores_inf_everywhere_but_still_validates():
    problem = make_problem("custom", expr="1/(x**2 + y**2)")
    cfg = RunConfig("gd", (0.0, 0.0), tol=0.0)
    assert np.isinf(lr_scores(problem, cfg, (0.1, 1.0), 5)).all()
    assert tune_lr(problem, cfg, steps=5, grid=(1.0, 0.1)) == 0.1
    with pytest.raises(ValueError, match="Invalid lr value"):
        lr_scores(problem, cfg, (0.1, float("nan")), 5)
