"""L-BFGS reports its own termination and a deterministic Run ends ``converged`` there.

torch's ``LBFGS.step`` returns without moving when max |g| ≤ tolerance_grad, or when its first
direction is no descent direction (g·d > −tolerance_change); with the same gradient every later
step does the same, so torch's trajectory stops moving for good. The reference data
(``tests/data/reference_torch_extra.npz``, torch 2.13 float64) hold 200 steps of each case:
the Run must end exactly after torch's last moving step, with that trajectory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.optimizers.lbfgs import LBFGS, LBFGSParams
from gdstudio.engine.optimizers.newton import Newton
from gdstudio.engine.optimizers.objective import BatchObjective
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig, Status
from tests.engine.test_reference_torch_extra import CASES, LOOSE, TIGHT, _id, _problem, _ref, assert_close

LBFGS_CASES = [c for c in CASES if c["optimizer"] == "lbfgs"]


def _last_move(case: dict[str, Any]) -> int:
    points = _ref(case)
    moved = np.nonzero(np.any(points[1:] != points[:-1], axis=1))[0]
    return int(moved[-1]) + 1 if moved.size else 0


def test_torch_stops_moving_in_most_reference_cases() -> None:
    """The data are not vacuous: torch's LBFGS stops moving in all but one case, at varied steps."""
    stops = [_last_move(c) for c in LBFGS_CASES]
    assert sum(s < c["steps"] for s, c in zip(stops, LBFGS_CASES, strict=True)) >= 10
    assert len(set(stops)) >= 6


@pytest.mark.parametrize("case", LBFGS_CASES, ids=_id)
def test_run_converges_at_the_step_torch_stops_moving(case: dict[str, Any]) -> None:
    problem = _problem(case)
    run = Run(problem, RunConfig("lbfgs", tuple(case["start"]), dict(case["overrides"]), tol=0.0))
    run.run(case["steps"])
    last = _last_move(case)
    ref = _ref(case)
    horizon = last if case["tight"] else min(last, case["horizon"])
    assert_close(run.history.points[: horizon + 1], ref[: horizon + 1], TIGHT if case["tight"] else LOOSE, _id(case))
    if last == case["steps"]:  # torch moves at every step: the run goes on
        assert run.status is Status.RUNNING and run.steps == case["steps"] and run.stop_reason is None
        return
    assert run.status is Status.CONVERGED and run.steps == last
    assert run.preview() is None and run.advance(5) == 0
    # Which of torch's tests held, judged independently at torch's resting point.
    hp = get_spec("lbfgs").params(case["overrides"])
    assert isinstance(hp, LBFGSParams)
    largest = float(np.abs(problem.gradient(ref[-1:])).max())
    reason = run.stop_reason
    assert reason is not None
    if largest <= hp.tolerance_grad:
        assert reason.startswith("max |∇f| = ") and f"≤ tolerance_grad ({hp.tolerance_grad:g})" in reason
    else:
        assert reason.startswith("∇f·d = ") and f"> -tolerance_change (-{hp.tolerance_change:g})" in reason


def test_the_rosenbrock_preset_ends_converged_with_the_default_tol() -> None:
    """The preset (strong Wolfe from (−1.5, 2), Run's default tol 1e-8) used to stay running unmoved."""
    case = next(c for c in LBFGS_CASES if c["problem"] == "rosenbrock" and c["overrides"].get("line_search_fn"))
    run = Run(make_problem("rosenbrock"), RunConfig("lbfgs", (-1.5, 2.0), {"line_search_fn": "strong_wolfe"}))
    run.run(500)
    assert run.status is Status.CONVERGED and run.steps == _last_move(case) == 40
    assert run.grad_norm >= run.config.tol  # the gradient-norm test alone would never end it
    np.testing.assert_allclose(run.history.points[-1], [1.0, 1.0], atol=1e-5)  # torch rests 2.7e-6 away


def test_done_is_per_row_and_leaves_done_rows_where_they_were() -> None:
    """Himmelblau's minimum (3, 2) has ∇f = 0 exactly: that row is done, the other steps."""
    problem = make_problem("himmelblau")
    opt = LBFGS(LBFGSParams(line_search_fn="strong_wolfe"))
    p = np.array([[3.0, 2.0], [0.0, 0.0]])
    state = opt.init_state(p)
    opt.step(p, problem.gradient(p), state, objective=BatchObjective(problem))
    assert opt.done(state).tolist() == [True, False]
    assert p[0].tolist() == [3.0, 2.0] and not np.array_equal(p[1], [0.0, 0.0])
    assert opt.converged(state, 0) == "max |∇f| = 0 ≤ tolerance_grad (1e-07): L-BFGS takes no further step"
    assert opt.converged(state, 1) is None
    assert opt.failure(state, 0) is None


def test_no_descent_direction_is_done_before_moving() -> None:
    """gtd = −|g|² on the first iteration: above −tolerance_change the step ends unmoved."""
    problem = make_problem("booth")
    opt = LBFGS(LBFGSParams(tolerance_change=1e6))
    p = np.array([[0.0, 0.0]])
    g = problem.gradient(p)
    state = opt.init_state(p)
    opt.step(p, g, state)
    gtd = -float(g[0] @ g[0])
    assert opt.done(state).tolist() == [True] and p.tolist() == [[0.0, 0.0]]
    assert opt.converged(state) == (f"∇f·d = {gtd:.3g} > -tolerance_change (-1e+06) along the L-BFGS "
                                    "direction d: it takes no further step")


def test_other_rules_never_report_done() -> None:
    problem = make_problem("himmelblau")
    opt = Newton()
    p = np.array([[3.0, 2.0]])
    state = opt.init_state(p)
    opt.step(p, problem.gradient(p), state, objective=BatchObjective(problem))
    assert opt.done(state).tolist() == [False] and opt.converged(state) is None


@pytest.mark.parametrize(("problem_name", "batch_size", "noise"), [
    ("himmelblau", None, 1e-3),
    ("linear-regression", 4, 0.0),
])
def test_a_stochastic_step_that_is_done_does_not_end_the_run(problem_name: str, batch_size: int | None,
                                                              noise: float) -> None:
    """With noise or mini-batches the next gradient differs, so torch's next step may move: the
    Run records the unmoved step and goes on. The same settings on all the data converge at once."""
    problem = make_problem(problem_name)
    hp = {"tolerance_grad": 1e6}  # every gradient is "small": every step returns at once
    noisy = Run(problem, RunConfig("lbfgs", problem.start, hp, batch_size=batch_size, noise=noise, tol=0.0))
    assert noisy.advance(5) == 5 and noisy.status is Status.RUNNING and noisy.stop_reason is None
    assert (noisy.history.update == 0.0).all()
    exact = Run(problem, RunConfig("lbfgs", problem.start, hp, tol=0.0))
    assert exact.preview() is None
    assert exact.advance(5) == 0 and exact.status is Status.CONVERGED and exact.steps == 0
    assert exact.stop_reason is not None and exact.stop_reason.startswith("max |∇f| = ")


def test_an_uphill_direction_stops_the_run_instead() -> None:
    """η = 3 on Himmelblau: after overflowing steps the curvature pairs give g·d > 0 (measured:
    step 29). torch's step returns there for good too, but that is a breakdown, not convergence."""
    problem = make_problem("himmelblau")
    run = Run(problem, RunConfig("lbfgs", problem.start, {"lr": 3.0}, tol=0.0)).run(150)
    assert run.status is Status.STOPPED and run.steps == 28
    assert run.stop_reason is not None and run.stop_reason.startswith(
        "the L-BFGS direction d points uphill at step 29 (∇f·d = ")
    d = run.state.buffers["d"][0]
    assert float(problem.gradient(run.history.points[-1:])[0] @ d) > 0  # uphill, judged independently
    assert run.preview() is None and run.advance(3) == 0
