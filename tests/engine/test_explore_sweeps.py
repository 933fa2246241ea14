"""Sweeps and fair races: every cell equals the single Run with that hyperparameter, to 1e-12."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from gdstudio.engine.explore import STATUS_NAMES, Cancelled, component_key, fair_race, sweep, sweep_values
from gdstudio.engine.explore.fair import evaluated_run, with_value
from gdstudio.engine.optimizers import OPTIMIZERS, get_spec
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.engine.tuning import tune_lr
from tests.engine.explore_helpers import close, single


def assert_cells_equal_runs(problem_name: str, config: RunConfig, vary: list[tuple[str, np.ndarray]],
                            steps: int) -> set[str]:
    problem = make_problem(problem_name)
    s = sweep(problem, config, vary, steps)
    assert s.final_loss.shape == tuple(len(v) for _, v in vary)
    seen = set()
    for idx in np.ndindex(s.final_loss.shape):
        cfg = config
        for (key, values), i in zip(vary, idx, strict=True):
            cfg = with_value(cfg, key, float(values[i]))
        ref = single(problem, cfg, steps)
        where = f"cell {idx}: {cfg.hyperparameters}"
        status = STATUS_NAMES[s.status[idx]]
        assert status == ref["status"], where
        assert s.steps[idx] == ref["steps"], where
        np.testing.assert_allclose(s.final_points[idx], ref["point"], rtol=0, atol=1e-12, err_msg=where)
        assert close(s.final_loss[idx], ref["loss"]), where
        assert close(s.best_loss[idx], ref["best"]), where
        seen.add(status)
    return seen


def test_values_are_linspace_or_geomspace() -> None:
    np.testing.assert_array_equal(sweep_values(0.1, 0.9, 5), np.linspace(0.1, 0.9, 5))
    np.testing.assert_array_equal(sweep_values(1e-4, 1, 9, log=True), np.geomspace(1e-4, 1, 9))
    with pytest.raises(ValueError, match="log range"):
        sweep_values(0, 1, 3, log=True)


def test_keys_name_a_hyperparameter_or_a_component() -> None:
    assert component_key("lr") == ("lr", None)
    assert component_key("betas[1]") == ("betas", 1)
    for bad in ("betas[x]", "[0]", "lr;", ""):
        with pytest.raises(ValueError, match="Invalid key"):
            component_key(bad)


def test_learning_rate_sweep_with_diverged_cells() -> None:
    seen = assert_cells_equal_runs("rosenbrock", RunConfig("sgd", (-1.5, 2.0)),
                                   [("lr", np.geomspace(1e-5, 0.05, 14))], 200)
    assert {"ok", "diverged"} <= seen


def test_two_keys_with_a_betas_component_and_converged_cells() -> None:
    seen = assert_cells_equal_runs("himmelblau", RunConfig("adam", (-0.5, -0.5), tol=1e-4),
                                   [("lr", np.geomspace(1e-3, 3, 7)), ("betas[0]", np.linspace(0, 0.99, 5))], 150)
    assert {"ok", "converged"} <= seen


def test_second_moment_component_and_rmsprop_alpha() -> None:
    assert_cells_equal_runs("himmelblau", RunConfig("adam", (1.0, 1.0)),
                            [("betas[1]", np.linspace(0.9, 0.9999, 4)), ("eps", np.geomspace(1e-8, 1e-2, 3))], 60)
    assert_cells_equal_runs("rosenbrock", RunConfig("rmsprop", (-1.0, 1.0)),
                            [("lr", np.geomspace(1e-4, 1, 6)), ("alpha", np.linspace(0.5, 0.999, 4))], 100)


def test_mini_batch_data_problem_uses_the_runs_seed() -> None:
    problem = make_problem("linear-regression")
    seen = assert_cells_equal_runs("linear-regression", RunConfig("sgd", problem.start, batch_size=4, seed=5),
                                   [("lr", np.geomspace(1e-3, 1, 10))], 100)
    assert "ok" in seen
    neuron = make_problem("sigmoid-neuron")
    assert_cells_equal_runs("sigmoid-neuron", RunConfig("sgd", neuron.start, batch_size=1, seed=1),
                            [("lr", np.geomspace(0.01, 30, 6)), ("momentum", np.linspace(0, 0.95, 3))], 60)


def test_noise_and_rules_that_run_singly() -> None:
    assert_cells_equal_runs("bowl", RunConfig("sgd", (-7, 2), noise=0.3, seed=2),
                            [("lr", np.linspace(0.01, 1.2, 8))], 80)
    assert_cells_equal_runs("himmelblau", RunConfig("lbfgs", (-0.5, -0.5)), [("lr", np.geomspace(0.01, 1, 3))], 8)
    assert_cells_equal_runs("himmelblau", RunConfig("sgd", (-0.5, -0.5), schedule="cosine"),
                            [("lr", np.geomspace(1e-3, 0.1, 3))], 40)


def test_bad_sweeps_are_value_errors() -> None:
    problem = make_problem("himmelblau")
    config = RunConfig("adam", (0, 0))
    with pytest.raises(ValueError, match="not a hyperparameter of adam"):
        sweep(problem, config, [("gamma", [0.1])], 5)
    with pytest.raises(ValueError, match="is a pair"):
        sweep(problem, config, [("betas", [0.1])], 5)
    with pytest.raises(ValueError, match="2 components"):
        sweep(problem, config, [("betas[2]", [0.1])], 5)
    with pytest.raises(ValueError, match="varied twice"):
        sweep(problem, config, [("lr", [0.1]), ("lr", [0.2])], 5)
    with pytest.raises(ValueError, match="one or two"):
        sweep(problem, config, [("lr", [0.1]), ("eps", [0.2]), ("weight_decay", [0.0])], 5)
    with pytest.raises(ValueError, match="lr"):  # the optimizer's own check of a value
        sweep(problem, config, [("lr", [-1.0, 0.1])], 5)
    with pytest.raises(ValueError, match=r"a 100000×100000 sweep needs .*at most \d+×\d+ fits"):
        sweep(problem, config, [("lr", np.ones(100_000)), ("eps", np.ones(100_000))], 5)


def test_cancel_raises() -> None:
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        sweep(make_problem("himmelblau"), RunConfig("adam", (0, 0)), [("lr", np.geomspace(1e-3, 1, 50))], 100,
              cancel=event)


# -- fair races ---------------------------------------------------------------------------------
def test_fair_race_tunes_lr_as_tune_lr_does_and_runs_the_tuned_config() -> None:
    problem = make_problem("himmelblau")
    configs = [RunConfig("sgd", (-0.5, -0.5)), RunConfig("adam", (-0.5, -0.5)),
               RunConfig("lbfgs", (-0.5, -0.5), {"line_search_fn": "strong_wolfe", "max_iter": 4})]
    rows = fair_race(problem, configs, 60)
    for config, row in zip(configs, rows, strict=True):
        lr = tune_lr(problem, config, steps=60)
        assert row.tuned == {"lr": lr} and row.optimizer == config.optimizer
        assert row.config.hyperparameters["lr"] == lr
        ref = single(problem, row.config, 60)
        assert close(row.final_loss, ref["loss"]) and row.status == ref["status"] and row.steps == ref["steps"]
    run = Run(problem, rows[2].config).run(60)
    assert rows[2].evaluations == int(np.nansum(run.history.step_array("evals")))  # the line search counted
    assert rows[2].evaluations > rows[2].steps
    assert rows[0].evaluations == rows[0].steps  # one gradient per first-order step


def test_evaluation_budget_stops_before_the_step_that_would_exceed_it() -> None:
    problem = make_problem("rosenbrock")
    config = RunConfig("lbfgs", (-1.5, 2.0), {"lr": 1.0, "line_search_fn": "strong_wolfe"}, tol=0.0)
    run, kept, used = evaluated_run(problem, config, 40, "evaluations")
    evals = np.cumsum(Run(problem, config).run(run.history.steps).history.step_array("evals"))
    assert used <= 40 and used == (int(evals[kept - 2]) if kept > 1 else 0)
    assert kept - 1 == len(evals) or evals[kept - 1] > 40


def test_fair_race_with_a_second_key_and_steps_to_tol() -> None:
    problem = make_problem("himmelblau")
    rows = fair_race(problem, [RunConfig("sgd", (-0.5, -0.5))], 100, tune=("lr", "momentum"),
                     second=[0.0, 0.5, 0.9])
    row = rows[0]
    assert set(row.tuned) == {"lr", "momentum"} and row.tuned["momentum"] in (0.0, 0.5, 0.9)
    ref = Run(problem, row.config).run(100).history.loss
    hit = np.flatnonzero(ref - problem.loss(problem.minima).min() <= 1e-6)
    assert row.steps_to_tol == (int(hit[0]) if hit.size else -1)
    assert math.isfinite(row.final_loss)


def test_fair_race_bad_input() -> None:
    problem = make_problem("himmelblau")
    with pytest.raises(ValueError, match="budget"):
        fair_race(problem, [RunConfig("sgd", (0, 0))], 0)
    with pytest.raises(ValueError, match="budget kind"):
        fair_race(problem, [RunConfig("sgd", (0, 0))], 5, budget_kind="seconds")
    with pytest.raises(ValueError, match="candidate values"):
        fair_race(problem, [RunConfig("sgd", (0, 0))], 5, tune=("lr", "momentum"))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_sweep_cell_equals_its_run(name: str) -> None:
    """η (and β₁ or the momentum, when the rule has one) as per-row columns, rows converging at
    different steps (the active set is compacted with its per-row columns and buffers)."""
    hp = get_spec(name).create({}).hp
    vary: list[tuple[str, np.ndarray]] = [("lr", np.geomspace(1e-3, 0.5, 5))]
    if "betas" in hp:
        vary.append(("betas[0]", np.linspace(0.5, 0.95, 3)))
    elif "momentum" in hp:
        vary.append(("momentum", np.linspace(0.1, 0.9, 3)))
    assert_cells_equal_runs("himmelblau", RunConfig(name, (-0.5, -0.5), tol=1e-3), vary, 60)
