"""Run.preview(): the next step, computed on copies, equals the history rows advance(1) then
records (==, not approx), and previewing never changes a run's trajectory."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.engine.optimizers import optimizer_names
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig, Status

#: Every registry optimizer, plus momentum / Nesterov / centered variants of the rules that have them.
VARIANTS: list[tuple[str, dict]] = [(name, {}) for name in optimizer_names()] + [
    ("sgd", {"momentum": 0.7, "dampening": 0.2}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("rmsprop", {"momentum": 0.5, "centered": True}),
    ("adam", {"amsgrad": True}),
    ("nadam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("asgd", {"t0": 5.0}),  # the average x̄ moves from step 6
    ("lbfgs", {"line_search_fn": "strong_wolfe"}),  # evaluates the step's objective several times
    ("lbfgs", {"max_iter": 3, "lr": 0.1}),
]

#: (problem, kwargs, batch size, noise σ): a 2-D surface and a mini-batch data problem with noise.
SETTINGS = [
    ("himmelblau", {}, None, 0.0),
    ("sigmoid-neuron", {"dataset": "six-point"}, 2, 0.05),
    ("linear-regression", {}, 7, 0.3),
]

KEYS = {"grad": "grad", "first_moment": "first_moment", "effective_lr": "effective_lr", "update": "update"}


def _run(pname, kw, batch, noise, name, hp) -> Run:
    problem = make_problem(pname, **kw)
    lr = {"gd": 0.01, "sgd": 0.01, "momentum": 0.005, "nag": 0.005, "adadelta": 1.0, "asgd": 0.01}.get(name, 0.05)
    if name == "newton":  # undamped, a 2-sample batch's Hessian turns singular and the run stops (test_newton.py)
        hp = {"damping": 1.0, **hp}
    return Run(problem, RunConfig(name, problem.start, {"lr": lr, **hp}, batch, True, noise, 5, 0.0))


@pytest.mark.parametrize(("pname", "kw", "batch", "noise"), SETTINGS, ids=[s[0] for s in SETTINGS])
@pytest.mark.parametrize(("name", "hp"), VARIANTS, ids=[f"{n}{sorted(h)}" for n, h in VARIANTS])
def test_preview_equals_the_rows_advance_records(pname, kw, batch, noise, name, hp):
    run = _run(pname, kw, batch, noise, name, hp)
    plain = _run(pname, kw, batch, noise, name, hp)  # never previewed
    for k in range(25):
        before = run.history.points[-1].copy()
        seen = run.preview()
        internals = run.history.internals
        if seen is None and run.running:  # the next step would end the run unrecorded (L-BFGS converged)
            assert run.advance(1) == 0 and plain.advance(1) == 0
            assert run.status is plain.status is Status.CONVERGED and run.stop_reason is not None
            assert run.steps == k and np.array_equal(run.history.points[-1], before)
            break
        assert seen is not None and set(seen) == set(KEYS) | set(internals)
        assert all(seen[key].shape == (run.problem.dim,) for key in KEYS)
        assert run.steps == k and np.array_equal(run.history.points[-1], before)  # nothing moved
        assert run.advance(1) == 1 and plain.advance(1) == 1
        h = run.history
        for key, field in (*KEYS.items(), *((name, name) for name in internals)):
            np.testing.assert_array_equal(seen[key], h.step_array(field)[k], err_msg=f"{key} at step {k}")
        np.testing.assert_array_equal(seen["update"], h.points[k + 1] - h.points[k])
        if run.optimizer.first_moment_buffer is None or (name in ("gd", "sgd") and not hp):
            assert np.isnan(seen["first_moment"]).all()
    # Previewing at every step left the trajectory bit-identical to a run that never previewed.
    for field in ("points", "loss", "grad_norm", "grad", "first_moment", "second_moment", "effective_lr", "update"):
        np.testing.assert_array_equal(getattr(run.history, field), getattr(plain.history, field), err_msg=field)
    for name in run.history.internals:
        np.testing.assert_array_equal(run.history.step_array(name), plain.history.step_array(name), err_msg=name)


def test_preview_does_not_share_memory_with_the_run():
    run = _run("linear-regression", {}, 7, 0.3, "adam", {})
    run.advance(3)
    seen = run.preview()
    arrays = [run.params, *run.state.buffers.values(), run.history.points, run.history.first_moment]
    for value in seen.values():
        assert not any(np.shares_memory(value, a) for a in arrays)
    seen["update"][:] = 1e9  # scribbling on a preview changes nothing
    assert run.advance(1) == 1 and abs(run.history.update[-1]).max() < 1e3


def test_no_preview_once_a_run_has_stopped():
    bowl = make_problem("bowl")
    diverging = Run(bowl, RunConfig("gd", (1.0, 1.0), {"lr": 5.0}, tol=0.0))
    diverging.advance(2000)
    assert diverging.status is Status.DIVERGED and diverging.preview() is None
    converged = Run(bowl, RunConfig("gd", (0.0, 0.0)))
    assert converged.status is Status.CONVERGED and converged.preview() is None


def test_preview_of_a_diverging_step_is_non_finite_and_the_step_then_diverges():
    run = Run(make_problem("bowl"), RunConfig("gd", (1.0, 1e150), {"lr": 1e200}, tol=0.0))
    assert run.status is Status.RUNNING
    seen = run.preview()
    assert not np.isfinite(seen["update"]).all()
    run.advance(1)
    assert run.status is Status.DIVERGED
