"""Problem.hessian: every problem's exact Hessian against finite differences, symmetric, shaped.

Analytic surfaces and data problems: central differences of the problem's own (exact) gradient,
relative 1e-6 of max(1, |H|) at several points. Typed functions: second differences of the
loss written by hand in NumPy (no SymPy anywhere in the reference), so a wrong symbolic
derivative cannot agree with itself. And ten problems (a typed one included) against torch's
autograd Hessians at five points each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.expressions import MAX_GRADIENT_NODES, ExpressionError, prepare_hessian
from gdstudio.engine.problems import ANALYTIC, DATASETS, DataProblem, Problem, make_problem
from gdstudio.engine.problems.base import Problem as BaseProblem
from gdstudio.engine.problems.expression import ExpressionProblem

RTOL = 1e-6


def _points(problem: Problem, n: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in problem.bounds])
    hi = np.array([b[1] for b in problem.bounds])
    pts = lo + (hi - lo) * rng.random((n, problem.dim))
    return np.vstack([pts, np.array(problem.start)[None, :]])


def _fd_of_gradient(problem: Problem, pts: np.ndarray, indices: np.ndarray | None = None,
                    h: float = 1e-5) -> np.ndarray:
    """Column j: (∇f(θ + h eⱼ) − ∇f(θ − h eⱼ)) / 2h, h relative to |θⱼ|."""
    m, d = pts.shape
    out = np.empty((m, d, d))
    for j in range(d):
        step = h * np.maximum(1.0, np.abs(pts[:, j]))
        e = np.zeros((m, d))
        e[:, j] = step
        out[:, :, j] = (problem.gradient(pts + e, indices) - problem.gradient(pts - e, indices)) / (2 * step[:, None])
    return out


def _close(h: np.ndarray, ref: np.ndarray, rtol: float = RTOL) -> float:
    err = float(np.max(np.abs(h - ref) / np.maximum(1.0, np.abs(h))))
    assert err < rtol, f"relative error {err:.3g}"
    return err


@pytest.mark.parametrize("problem", ANALYTIC, ids=[p.name for p in ANALYTIC])
def test_analytic_hessian_matches_finite_differences_of_the_gradient(problem: Problem) -> None:
    pts = _points(problem)
    h = problem.hessian(pts)
    assert h.shape == (pts.shape[0], 2, 2) and h.dtype == np.float64
    assert np.isfinite(h).all()
    np.testing.assert_array_equal(h, np.swapaxes(h, 1, 2))
    _close(h, _fd_of_gradient(problem, pts))


def test_every_registry_problem_has_a_hessian() -> None:
    from gdstudio.engine.problems import PROBLEMS

    for name, info in PROBLEMS.items():
        problem = make_problem(name, expr="x**2 + y**2") if info.kind == "custom" else make_problem(name)
        h = problem.hessian(np.array([problem.start]))
        assert h.shape == (1, problem.dim, problem.dim), name


def test_hessian_shapes_follow_the_points() -> None:
    p = make_problem("rosenbrock")
    assert p.hessian(np.array([0.5, 0.2])).shape == (2, 2)
    assert p.hessian(np.zeros((3, 4, 2))).shape == (3, 4, 2, 2)
    constant = make_problem("booth").hessian(np.zeros((5, 2)))  # a constant Hessian is broadcast
    np.testing.assert_array_equal(constant, np.broadcast_to([[10.0, 8.0], [8.0, 10.0]], (5, 2, 2)))


def test_known_hessians_in_closed_form() -> None:
    np.testing.assert_array_equal(make_problem("rosenbrock").hessian(np.array([1.0, 1.0])),
                                  [[802.0, -400.0], [-400.0, 200.0]])
    np.testing.assert_array_equal(make_problem("rotated-bowl").hessian(np.array([3.0, -1.0])),
                                  [[4.2, -3.8], [-3.8, 4.2]])
    np.testing.assert_array_equal(make_problem("saddle").hessian(np.array([0.0, 0.0])), [[2.0, 0.0], [0.0, -2.0]])


def test_ackley_tip_is_not_twice_differentiable() -> None:
    """At the cone's tip the Hessian does not exist: +inf on the diagonal (Newton reports it)."""
    h = make_problem("ackley").hessian(np.zeros((1, 2)))
    assert np.isposinf(h[0, 0, 0]) and np.isposinf(h[0, 1, 1])


def test_non_finite_points_give_non_finite_values_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in ANALYTIC:
            p.hessian(np.array([[np.nan, 1.0], [1e200, -1e200], [np.inf, 0.0]]))
        make_problem("sigmoid-neuron").hessian(np.array([[np.nan, 1.0], [1e300, 1e300]]))


DATA_CASES = [(name, ds) for name in DATASETS for ds in DATASETS[name]]


@pytest.mark.parametrize(("name", "dataset"), DATA_CASES, ids=[f"{n}-{d}" for n, d in DATA_CASES])
def test_data_hessian_full_and_mini_batch(name: str, dataset: str) -> None:
    problem = make_problem(name, dataset=dataset)
    pts = _points(problem, seed=3)
    full = problem.hessian(pts)
    assert full.shape == (pts.shape[0], problem.dim, problem.dim)
    np.testing.assert_array_equal(full, np.swapaxes(full, 1, 2))
    _close(full, _fd_of_gradient(problem, pts))
    n = problem.n_samples
    assert n is not None
    batch = np.array([n - 1, 0]) if n > 1 else np.array([0])
    mini = problem.hessian(pts, batch)
    _close(mini, _fd_of_gradient(problem, pts, batch))
    # The mini-batch Hessian is the mean of the per-sample ones: the batch of everything is the full one.
    np.testing.assert_allclose(problem.hessian(pts, np.arange(n)), full, rtol=1e-13, atol=1e-15)
    if n > 2:
        assert not np.allclose(mini, full)  # a batch really selects its samples


def test_linear_regression_hessian_is_twice_the_second_moments() -> None:
    p = make_problem("linear-regression")
    assert isinstance(p, DataProblem)
    x = p.x
    expected = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    np.testing.assert_allclose(p.hessian(np.array([[5.0, -2.0]]))[0], expected, rtol=1e-14, atol=1e-15)


def test_sigmoid_neuron_user_data() -> None:
    p = make_problem("sigmoid-neuron", data_x=[0.0, 1.0, -2.0, 3.5], data_y=[0.1, 0.9, 0.3, 0.6])
    pts = _points(p, seed=7)
    _close(p.hessian(pts), _fd_of_gradient(p, pts))


def test_base_problem_without_a_hessian_says_so() -> None:
    class Flat(BaseProblem):
        name = "flat"
        title = "Flat"
        formula = "0"
        params = ("x",)
        bounds = ((-1.0, 1.0),)
        start = (0.0,)

        def loss(self, points: np.ndarray) -> np.ndarray:
            return np.zeros(np.shape(points)[:-1])

        def gradient(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
            return np.zeros(np.shape(points))

    with pytest.raises(NotImplementedError, match=r"^Problem 'flat' has no exact Hessian$"):
        Flat().hessian(np.zeros((1, 1)))


# -- typed functions: SymPy's Hessian against hand-written NumPy -----------------------------------
TYPED: list[tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("x**2 + 3*x*y + y**4", lambda x, y: x**2 + 3 * x * y + y**4),
    ("sin(x)*cos(y) + exp(x*y/5)", lambda x, y: np.sin(x) * np.cos(y) + np.exp(x * y / 5)),
    ("sqrt(x**2 + y**2 + 1) + log(1 + x**2)", lambda x, y: np.sqrt(x**2 + y**2 + 1) + np.log(1 + x**2)),
    ("atan2(y, x) + tanh(x - y)", lambda x, y: np.arctan2(y, x) + np.tanh(x - y)),
    ("x^3 - 2*x*y^2 + 0.5*y", lambda x, y: x**3 - 2 * x * y**2 + 0.5 * y),
    ("abs(x)*y**2 + max(x, y)**2", lambda x, y: np.abs(x) * y**2 + np.maximum(x, y) ** 2),
    ("log10(x**2 + 2) * cosh(y/3)", lambda x, y: np.log10(x**2 + 2) * np.cosh(y / 3)),
]


def _second_differences(f: Callable[[np.ndarray, np.ndarray], np.ndarray], pts: np.ndarray,
                        h: float = 1e-4) -> np.ndarray:
    x, y = pts[:, 0], pts[:, 1]
    fxx = (f(x + h, y) - 2 * f(x, y) + f(x - h, y)) / h**2
    fyy = (f(x, y + h) - 2 * f(x, y) + f(x, y - h)) / h**2
    fxy = (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / (4 * h * h)
    return np.stack([np.stack([fxx, fxy], -1), np.stack([fxy, fyy], -1)], -2)


@pytest.mark.parametrize(("text", "f"), TYPED, ids=[t for t, _ in TYPED])
def test_typed_hessian_against_numpy_second_differences(text: str, f: Callable[..., np.ndarray]) -> None:
    problem = ExpressionProblem(text)
    rng = np.random.default_rng(11)
    pts = rng.uniform(-3, 3, (15, 2))
    pts = pts[np.abs(pts[:, 0] - pts[:, 1]) > 0.05]  # off max(x, y)'s kink
    pts = pts[np.abs(pts[:, 0]) > 0.05]  # off |x|'s kink
    h = problem.hessian(pts)
    assert h.shape == (pts.shape[0], 2, 2)
    np.testing.assert_array_equal(h, np.swapaxes(h, 1, 2))
    ref = _second_differences(f, pts)
    err = np.abs(h - ref) / np.maximum(1.0, np.abs(h))
    assert err.max() < RTOL, f"{text}: relative error {err.max():.3g}"


def test_typed_hessian_of_a_kink_is_zero_almost_everywhere() -> None:
    h = ExpressionProblem("abs(x) + sign(y) + max(x, y)").hessian(np.array([[0.5, -1.0], [-2.0, 3.0]]))
    np.testing.assert_array_equal(h, np.zeros((2, 2, 2)))


def test_typed_hessian_is_cached_and_budgeted(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "x**3*y + y**5"
    assert prepare_hessian(text) is prepare_hessian(text)
    import gdstudio.engine.expressions as expressions

    expressions.prepare_expression("exp(sin(x*y)) + cos(x)")  # f and its gradient within the usual budget
    expressions._HESSIANS.pop("exp(sin(x*y)) + cos(x)", None)
    monkeypatch.setattr(expressions, "MAX_GRADIENT_NODES", 5)
    with pytest.raises(ExpressionError, match=r"^Hessian too large: ∂²f/∂x² has [\d,]+ nodes \(at most 5\)$"):
        prepare_hessian("exp(sin(x*y)) + cos(x)")
    assert MAX_GRADIENT_NODES > 5


def test_typed_hessian_refusal_names_the_text_problem() -> None:
    with pytest.raises(ExpressionError, match="is an unknown function"):
        prepare_hessian("foo(x)")


# -- torch's autograd Hessians (tests/data/reference_newton.json, tools/reference_newton.py) --------
_TORCH = json.loads((Path(__file__).resolve().parents[1] / "data" / "reference_newton.json").read_text("utf-8"))


@pytest.mark.parametrize("case", _TORCH["hessians"], ids=[f"{c['problem']}{c['point']}" for c in _TORCH["hessians"]])
def test_hessian_equals_torch_autograd(case: dict[str, Any]) -> None:
    """The problems written again in torch, differentiated twice by ``torch.autograd.functional.hessian``."""
    problem = make_problem(case["problem"], **case["kwargs"])
    h = problem.hessian(np.array(case["point"]))
    ref = np.array(case["hessian"])
    assert np.max(np.abs(h - ref) / np.maximum(1.0, np.abs(ref))) < 1e-13
