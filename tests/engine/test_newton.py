"""Newton's method θ ← θ − η(H + λI)⁻¹∇f against its closed form (there is no torch class).

One step lands on the minimum of a quadratic; a step elsewhere equals the 2 × 2 inverse written
out in Python floats; a large damping λ tends to gradient descent with step η/λ; the effective
learning rate is η·diag((H + λI)⁻¹); the mini-batch step uses that batch's Hessian; a singular or
non-finite H + λI stops the run with a clear status that the trace and the session report; and
eight trajectories equal torch's (autograd Hessian, ``torch.linalg.solve``) to 1e-11.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.optimizers import get_spec, make_optimizer
from gdstudio.engine.optimizers.newton import FAILED, Newton, NewtonParams
from gdstudio.engine.optimizers.objective import BatchObjective
from gdstudio.engine.problems import DataProblem, Problem, make_problem
from gdstudio.engine.runs import Run, RunConfig, Status

QUADRATICS = ["bowl", "rotated-bowl", "booth", "matyas"]
#: A typed quadratic and its minimiser: ∇f = (6x + 2y − 4, 2x + 2y + 1) = 0.
TYPED_QUADRATIC = "3*x**2 + 2*x*y + y**2 - 4*x + y + 2"
TYPED_MIN = (1.25, -1.75)


def _step(problem: Problem, start: np.ndarray, hp: dict[str, object] | None = None,
          indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, Newton]:
    """One Newton step from each row of ``start``; returns (new points, effective lr, rule)."""
    opt = make_optimizer("newton", hp or {})
    assert isinstance(opt, Newton)
    p = np.array(start, dtype=np.float64)
    state = opt.init_state(p)
    eff = np.empty_like(p)
    opt.update(p, problem.gradient(p, indices), state, eff, BatchObjective(problem, indices))
    return p, eff, opt


@pytest.mark.parametrize("name", [*QUADRATICS, "typed"])
def test_one_step_from_any_start_reaches_the_minimum_of_a_quadratic(name: str) -> None:
    problem = make_problem("custom", expr=TYPED_QUADRATIC) if name == "typed" else make_problem(name)
    target = np.array(TYPED_MIN) if name == "typed" else problem.minima[0]
    rng = np.random.default_rng(4)
    starts = np.vstack([rng.uniform(-10, 10, (20, 2)), [problem.start], [[1e3, -1e3]]])
    p, _, _ = _step(problem, starts)
    err = np.abs(p - target).max(axis=1) / np.maximum(1.0, np.abs(starts).max(axis=1))
    assert err.max() < 1e-12, f"{name}: {err.max():.3g}"
    # ... and a Run says converged after that one step.
    run = Run(problem, RunConfig("newton", problem.start, tol=1e-9))
    assert run.advance(10) == 1 and run.status is Status.CONVERGED


def _closed_form(h: np.ndarray, g: np.ndarray, lr: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """η(H + λI)⁻¹g and η·diag((H + λI)⁻¹) by the 2 × 2 adjugate, in Python floats."""
    a, b, c, d = float(h[0, 0]) + lam, float(h[0, 1]), float(h[1, 0]), float(h[1, 1]) + lam
    det = a * d - b * c
    inv = np.array([[d / det, -b / det], [-c / det, a / det]])
    return lr * (inv @ g), lr * np.diag(inv)


@pytest.mark.parametrize(("name", "start", "lr", "lam"), [
    ("rosenbrock", (-1.5, 2.0), 1.0, 0.0),
    ("rosenbrock", (0.3, -0.4), 0.5, 2.0),
    ("beale", (1.0, 1.4), 0.7, 0.1),
    ("himmelblau", (-0.5, -0.5), 1.0, 0.0),
    ("six-hump-camel", (-1.5, -0.9), 0.3, 5.0),
    ("ravine", (-9.0, 2.0), 1.0, 0.5),
])
def test_step_and_effective_lr_equal_the_closed_form(name: str, start: tuple[float, float], lr: float,
                                                     lam: float) -> None:
    problem = make_problem(name)
    x = np.array([start])
    h = problem.hessian(x)[0]
    g = problem.gradient(x)[0]
    step, eff_ref = _closed_form(h, g, lr, lam)
    p, eff, _ = _step(problem, x, {"lr": lr, "damping": lam})
    np.testing.assert_allclose(p[0], x[0] - step, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(eff[0], eff_ref, rtol=1e-13)


def test_large_damping_is_gradient_descent_with_step_lr_over_damping() -> None:
    """(H + λI)⁻¹ = I/λ − H/λ² + O(λ⁻³): the step differs from GD's (η/λ)∇f by at most ~‖H‖/λ relatively."""
    problem = make_problem("rosenbrock")
    x = np.array([[-1.5, 2.0]])
    g = problem.gradient(x)[0]
    norm_h = float(np.linalg.norm(problem.hessian(x)[0], 2))
    previous = math.inf
    for lam in (1e4, 1e6, 1e8, 1e10):
        lr = 0.001 * lam  # GD with η/λ = 0.001
        p, eff, _ = _step(problem, x, {"lr": lr, "damping": lam})
        gd = x[0] - 0.001 * g
        rel = float(np.abs((p[0] - x[0]) - (gd - x[0])).max() / np.abs(gd - x[0]).max())
        assert rel <= 2 * norm_h / lam + 1e-12, (lam, rel)
        assert rel < previous
        previous = rel
        np.testing.assert_allclose(eff[0], 0.001, rtol=2 * norm_h / lam + 1e-12)
    assert previous < 1e-6


def test_damping_makes_gd_exact_on_a_flat_hessian() -> None:
    """Line through the origin with x = 0 has H = 0: with λ the step is exactly GD's η/λ·g."""
    problem = make_problem("line-through-origin", data_x=[0.0, 0.0], data_y=[1.0, -3.0])
    p, eff, _ = _step(problem, np.array([[2.0]]), {"lr": 1.0, "damping": 4.0})
    assert p[0, 0] == 2.0 and eff[0, 0] == 0.25  # the gradient is 0 here too: nothing moves, η/λ = 1/4


def test_mini_batch_step_lands_on_the_batch_least_squares_fit() -> None:
    """Linear regression is quadratic: one η = 1 step with a batch's gradient and Hessian solves that batch."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, 40)
    y = 1.5 * x - 0.7 + rng.normal(0, 0.3, 40)
    problem = make_problem("linear-regression", data_x=x.tolist(), data_y=y.tolist())
    assert isinstance(problem, DataProblem)
    batch = np.array([3, 17, 5, 29, 11, 0, 38])
    a, b = np.polyfit(x[batch], y[batch], 1)
    p, _, _ = _step(problem, np.array([[4.0, 4.0]]), indices=batch)
    np.testing.assert_allclose(p[0], [a, b], rtol=1e-12, atol=1e-12)
    full, _, _ = _step(problem, np.array([[4.0, 4.0]]))
    np.testing.assert_allclose(full[0], problem.minima[0], rtol=1e-12, atol=1e-12)
    assert not np.allclose(p[0], full[0], atol=1e-3)


def test_mini_batch_run_uses_each_steps_batch() -> None:
    """Through Run: with batches of 8, every step lands on its batch's own fit (the sampler's order)."""
    problem = make_problem("linear-regression")
    run = Run(problem, RunConfig("newton", (0.0, 0.0), batch_size=8, seed=3, tol=0.0))
    from gdstudio.engine.sampling import BatchSampler

    sampler = BatchSampler(problem.n_samples or 0, 8, shuffle=True, rng=np.random.default_rng([3, 0]))
    run.advance(5)
    assert isinstance(problem, DataProblem)
    for k in range(1, 6):
        batch = sampler.next()
        assert batch is not None
        fit = np.polyfit(problem.x[batch], problem.y[batch], 1)
        np.testing.assert_allclose(run.history.points[k], fit, rtol=1e-10, atol=1e-10)


def test_defaults_validation_and_registry() -> None:
    spec = get_spec("newton")
    assert spec.rule is Newton and spec.resolve({}) == {"lr": 1.0, "damping": 0.0}
    assert [h.name for h in spec.hyperparams] == ["lr", "damping"]
    with pytest.raises(ValueError, match=r"^Invalid damping value: -1\.0 \(must be in \[0\.0, inf\)\)$"):
        spec.create({"damping": -1.0})
    with pytest.raises(ValueError, match=r"^Invalid damping value: -2\.0 \(must be in \[0\.0, inf\)\) in row 1$"):
        spec.create({"damping": np.array([[0.0], [-2.0]])})
    assert "(H + \\lambda I)^{-1}" in spec.docstring and "Effective learning rate" in spec.docstring
    assert NewtonParams().lr == 1.0


def test_needs_the_hessian_from_its_objective() -> None:
    opt = make_optimizer("newton")
    assert isinstance(opt, Newton)
    p = np.zeros((1, 2))
    with pytest.raises(ValueError, match="pass objective="):
        opt.update(p, np.ones((1, 2)), opt.init_state(p))

    class LossOnly:
        def loss(self, points: np.ndarray) -> np.ndarray:
            return np.zeros(points.shape[0])

        def gradient(self, points: np.ndarray) -> np.ndarray:
            return np.zeros_like(points)

    with pytest.raises(ValueError, match=r"^newton needs the exact Hessian of the objective"):
        opt.update(p, np.ones((1, 2)), opt.init_state(p), None, LossOnly())


# -- a singular or non-finite H + λI: a status, not a crash -------------------------------------------
def test_singular_hessian_stops_the_run_with_a_clear_reason() -> None:
    problem = make_problem("custom", expr="x**4 + y**4")  # H = diag(12x², 12y²): singular on the axes
    run = Run(problem, RunConfig("newton", (0.0, 1.0)))
    assert run.advance(10) == 0
    assert run.status is Status.STOPPED and str(run.status) == "stopped"
    assert run.stop_reason == "singular Hessian (H + λI not invertible) at step 1: add damping"
    assert run.steps == 0 and run.diverged_at is None
    np.testing.assert_array_equal(run.history.points, [[0.0, 1.0]])
    np.testing.assert_array_equal(run.params, [[0.0, 1.0]])
    assert run.preview() is None and run.advance(5) == 0 and not run.running
    # Damping makes it invertible: the same start now runs (towards the origin).
    damped = Run(problem, RunConfig("newton", (0.0, 1.0), {"damping": 0.1}))
    assert damped.advance(10) == 10 and damped.running and damped.stop_reason is None
    assert abs(damped.history.points[-1, 1]) < 0.1


def test_singular_after_some_steps_keeps_those_steps() -> None:
    """x² + y⁴ from y = 1: H's y entry 12y² shrinks each step until it rounds to singular."""
    problem = make_problem("custom", expr="x**2 + y**4")
    run = Run(problem, RunConfig("newton", (1.0, 1.0), tol=0.0))
    run.advance(500)
    assert run.status is Status.STOPPED
    k = run.steps
    assert k > 10 and run.stop_reason == f"singular Hessian (H + λI not invertible) at step {k + 1}: add damping"
    assert np.isfinite(run.history.points).all() and len(run.history.points) == k + 1
    assert run.history.effective_lr.shape == (k, 2) and np.isfinite(run.history.loss).all()
    y = 1.0
    for j in range(1, k + 1):  # y ← y − 4y³/12y² = 2y/3 (x reaches 0 in one step)
        y = y - (4 * y**3) / (12 * y**2)
        assert run.history.points[j, 1] == pytest.approx(y, rel=1e-12)


def test_linear_function_has_a_zero_hessian() -> None:
    run = Run(make_problem("custom", expr="2*x - y"), RunConfig("newton", (1.0, 1.0)))
    run.advance(3)
    assert run.status is Status.STOPPED and run.stop_reason is not None
    assert run.stop_reason.startswith("singular Hessian")


def test_non_finite_hessian_is_reported() -> None:
    """Ackley's cone tip has no second derivative (+inf): at the origin with tol 0."""
    run = Run(make_problem("ackley"), RunConfig("newton", (0.0, 0.0), tol=0.0))
    run.advance(3)
    assert run.status is Status.STOPPED
    assert run.stop_reason == "non-finite Hessian at step 1: H + λI has an infinite or NaN entry"
    np.testing.assert_array_equal(run.params, [[0.0, 0.0]])


def test_a_singular_row_stays_put_while_the_other_rows_move() -> None:
    problem = make_problem("custom", expr="x**4 + y**4")
    starts = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    opt = make_optimizer("newton", {"damping": np.array([[0.0], [0.5], [0.0]])})
    assert isinstance(opt, Newton)
    state = opt.init_state(starts)
    p = starts.copy()
    eff = np.empty_like(p)
    opt.update(p, problem.gradient(p), state, eff, BatchObjective(problem))
    np.testing.assert_array_equal(p[0], starts[0])
    np.testing.assert_array_equal(eff[0], [0.0, 0.0])
    assert not np.array_equal(p[1], starts[1]) and not np.array_equal(p[2], starts[2])
    np.testing.assert_array_equal(state.buffers[FAILED][:, 0], [1.0, 0.0, 0.0])
    assert opt.failure(state, 0) is not None and opt.failure(state, 1) is None


def test_an_overflowing_step_with_a_regular_hessian_is_divergence() -> None:
    """H + λI is fine; the step η(H + λI)⁻¹∇f lands at x = −1e308, whose loss overflows: diverged, not stopped."""
    run = Run(make_problem("bowl"), RunConfig("newton", (1.0, 1.0), {"lr": 1e308}, tol=0.0))
    run.advance(5)
    assert run.status is Status.DIVERGED and run.diverged_at == 1 and run.stop_reason is None
    np.testing.assert_array_equal(run.history.points, [[1.0, 1.0]])  # the non-finite point is not recorded


def test_trace_json_reports_the_stop(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from gdstudio.cli import main

    code = main(["trace", "--problem", "custom", "--expr", "x**4 + y**4", "--optimizer", "newton", "--start=0,1",
                 "--steps", "20"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    doc = json.loads(out.out)
    assert doc["status"] == "stopped" and doc["diverged_at"] is None
    assert doc["stop_reason"] == "singular Hessian (H + λI not invertible) at step 1: add damping"
    assert doc["points"] == [[0.0, 1.0]] and doc["lr"] == []
    code = main(["trace", "--problem", "bowl", "--optimizer", "newton", "--steps", "5"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["status"] == "converged" and doc["stop_reason"] is None and len(doc["points"]) == 2


def test_session_reports_the_stop_once() -> None:
    from gdstudio.model import Session

    s = Session()
    s.set_problem(name="custom", expr="x**4 + y**4")
    messages: list[str] = []
    s.message.connect(messages.append)
    rid = s.add_run(RunConfig("newton", (0.0, 1.0)))
    s.add_run(RunConfig("newton", (1.0, 1.0), {"damping": 0.1}))
    s.set_playing(True)
    for _ in range(5):
        s.tick()
    entry = s.entry(rid)
    assert entry.status is Status.STOPPED
    stops = [m for m in messages if m.startswith(f"Run {rid} ")]
    assert stops == [f"Run {rid} ({entry.label}) stopped: singular Hessian (H + λI not invertible) at step 1: "
                     "add damping"]


# -- per-row columns (the registry-wide test covers the defaults; here a failing row too) ---------------
def _trajectory(opt: Newton, problem: Problem, start: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    p = start.copy()
    state = opt.init_state(p)
    points, effs = [p.copy()], []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            eff = np.empty_like(p)
            opt.update(p, problem.gradient(p), state, eff, BatchObjective(problem))
            points.append(p.copy())
            effs.append(eff)
    return np.array(points), np.array(effs)


@pytest.mark.parametrize(("expr", "start"), [(None, (-1.5, 2.0)), ("x**4 + y**4 + x*y", (0.0, 1.0))])
def test_columns_equal_separate_runs_bit_for_bit(expr: str | None, start: tuple[float, float]) -> None:
    problem = make_problem("custom", expr=expr) if expr else make_problem("rosenbrock")
    lrs = np.array([[1.0], [0.5], [0.0], [2.0], [1.0]])
    lams = np.array([[0.0], [0.0], [1.0], [10.0], [1e-3]])
    n = lrs.shape[0]
    opt = make_optimizer("newton", {"lr": lrs, "damping": lams})
    assert isinstance(opt, Newton)
    points, effs = _trajectory(opt, problem, np.repeat([start], n, axis=0), 30)
    for i in range(n):
        single = make_optimizer("newton", {"lr": float(lrs[i, 0]), "damping": float(lams[i, 0])})
        assert isinstance(single, Newton)
        p1, e1 = _trajectory(single, problem, np.array([start]), 30)
        assert points[:, i : i + 1].tobytes() == p1.tobytes(), f"row {i}"
        assert effs[:, i : i + 1].tobytes() == e1.tobytes(), f"row {i}"


# -- torch (tools/reference_newton.py): autograd Hessians and torch.linalg.solve, step by step -----------
_TORCH = json.loads((Path(__file__).resolve().parents[1] / "data" / "reference_newton.json").read_text("utf-8"))


@pytest.mark.parametrize("case", _TORCH["trajectories"],
                         ids=[f"{c['problem']}-lr{c['lr']}-damping{c['damping']}" for c in _TORCH["trajectories"]])
def test_trajectory_equals_torch(case: dict[str, Any]) -> None:
    problem = make_problem(case["problem"], **case["kwargs"])
    ref = np.array(case["points"])
    run = Run(problem, RunConfig("newton", tuple(case["start"]), {"lr": case["lr"], "damping": case["damping"]},
                                 tol=0.0))
    run.advance(len(ref) - 1)
    assert run.running and run.history.points.shape == ref.shape
    err = np.abs(run.history.points - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() < 1e-11, f"{err.max():.3g}"
