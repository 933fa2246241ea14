"""Typed functions: whitelist parsing, exact gradients vs finite differences, refusals, fuzzing."""

from __future__ import annotations

import builtins
import math
import string
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdstudio.engine.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    parse_expression,
)
from gdstudio.engine.problems import make_problem
from gdstudio.engine.problems.analytic import ANALYTIC
from gdstudio.engine.problems.expression import ExpressionProblem
from gdstudio.engine.runs import Run, RunConfig, Status

Arr = np.ndarray

# (text, the same formula written by hand in NumPy, sampling box for x and y)
CASES: list[tuple[str, Callable[[Arr, Arr], Arr], tuple[float, float, float, float]]] = [
    ("sin(x)*cos(y) + 0.1*(x**2 + y**2)",
     lambda x, y: np.sin(x) * np.cos(y) + 0.1 * (x**2 + y**2), (-5, 5, -5, 5)),
    ("x^2 + 3*y^2", lambda x, y: x**2 + 3 * y**2, (-5, 5, -5, 5)),
    ("(1 - x)**2 + 100*(y - x**2)**2", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
     (-2, 2, -1, 3)),
    ("tan(x/3) + sinh(y/2) - cosh(x/4) * tanh(y)",
     lambda x, y: np.tan(x / 3) + np.sinh(y / 2) - np.cosh(x / 4) * np.tanh(y), (-4, 4, -4, 4)),
    ("asin(x) * acos(y) + atan(x*y)",
     lambda x, y: np.arcsin(x) * np.arccos(y) + np.arctan(x * y), (-0.9, 0.9, -0.9, 0.9)),
    ("exp(-x**2 - y**2) + log(x) - log10(y) + log2(x*y)",
     lambda x, y: np.exp(-(x**2) - y**2) + np.log(x) - np.log10(y) + np.log2(x * y),
     (0.2, 4, 0.2, 4)),
    ("sqrt(x**2 + y**2 + 1) / (1 + y**2)",
     lambda x, y: np.sqrt(x**2 + y**2 + 1) / (1 + y**2), (-5, 5, -5, 5)),
    ("abs(x) + 2*sign(y)*y + max(x, y) - min(x, 2*y, 1)",
     lambda x, y: np.abs(x) + 2 * np.sign(y) * y + np.maximum(x, y)
     - np.minimum(np.minimum(x, 2 * y), 1), (-5, 5, -5, 5)),
    ("abs(log(x)) * y + sign(x/y) * x**2 + abs(x/y)",  # arguments SymPy cannot prove real
     lambda x, y: np.abs(np.log(x)) * y + np.sign(x / y) * x**2 + np.abs(x / y),
     (1.2, 4, -4, -0.5)),
    ("atan2(y, x) + x*y", lambda x, y: np.arctan2(y, x) + x * y, (0.5, 4, -4, 4)),
    ("e**x * pi - -y + +x", lambda x, y: np.e**x * np.pi + y + x, (-3, 3, -3, 3)),
    ("x**y + 2**x + x**-2 + x**0.5 + y**(1/3)",
     lambda x, y: x**y + 2.0**x + x**-2.0 + x**0.5 + y ** (1 / 3), (0.5, 3, 0.5, 3)),
    ("0.123456789012345678*x + 1/3*y + 1e-3*x*y + 12345678901234567890*x",
     lambda x, y: 0.123456789012345678 * x + 1 / 3 * y + 1e-3 * x * y
     + 12345678901234567890.0 * x, (-5, 5, -5, 5)),
    ("(x\n + y) ** 2 # a comment", lambda x, y: (x + y) ** 2, (-5, 5, -5, 5)),
]

IDS = [c[0].split("\n")[0][:30] for c in CASES]


def _points(box: tuple[float, float, float, float], n: int, seed: int) -> Arr:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(box[0], box[1], n), rng.uniform(box[2], box[3], n)], axis=-1)


def _away_from_kinks(text: str, p: Arr) -> Arr:
    """Drop points within 1e-3 of a kink of abs, sign, min or max (derivative undefined there)."""
    x, y = p[:, 0], p[:, 1]
    if "abs" in text or "min" in text or "max" in text:
        kinks = [x, y, x - y, x - 2 * y, 2 * y - 1, x - 1]
        keep = np.all([np.abs(k) > 1e-3 for k in kinks], axis=0)
        return p[keep]
    return p


@pytest.mark.parametrize(("text", "reference", "box"), CASES, ids=IDS)
def test_values_match_numpy_by_hand(
    text: str, reference: Callable[[Arr, Arr], Arr], box: tuple[float, float, float, float]
) -> None:
    problem = ExpressionProblem(text)
    p = _points(box, 200, 1)
    np.testing.assert_allclose(problem.loss(p), reference(p[:, 0], p[:, 1]), rtol=1e-13, atol=0)


@pytest.mark.parametrize(("text", "reference", "box"), CASES, ids=IDS)
def test_gradient_matches_central_differences(
    text: str, reference: Callable[[Arr, Arr], Arr], box: tuple[float, float, float, float]
) -> None:
    problem = ExpressionProblem(text)
    p = _away_from_kinks(text, _points(box, 200, 2))
    assert len(p) > 100
    x, y = p[:, 0], p[:, 1]
    h = 1e-6
    fd = np.stack([
        (reference(x + h, y) - reference(x - h, y)) / (2 * h),
        (reference(x, y + h) - reference(x, y - h)) / (2 * h),
    ], axis=-1)
    grad = problem.gradient(p)
    scale = np.maximum(1.0, np.abs(reference(x, y)))[:, None]
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * scale.max())


@pytest.mark.parametrize(("name", "text"), [
    ("rosenbrock", "(1-x)^2 + 100*(y-x^2)^2"),
    ("beale", "(1.5-x+x*y)^2 + (2.25-x+x*y^2)^2 + (2.625-x+x*y^3)^2"),
    ("himmelblau", "(x^2+y-11)^2 + (x+y^2-7)^2"),
    ("booth", "(x+2*y-7)^2 + (2*x+y-5)^2"),
    ("rastrigin", "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)"),
    ("ackley", "-20*exp(-0.2*sqrt(0.5*(x^2+y^2))) - exp(0.5*(cos(2*pi*x)+cos(2*pi*y))) + e + 20"),
    ("six-hump-camel", "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2"),
])
def test_agrees_with_hand_derived_analytic_problems(name: str, text: str) -> None:
    analytic = {p.name: p for p in ANALYTIC}[name]
    typed = ExpressionProblem(text, bounds=analytic.bounds)
    (x0, x1), (y0, y1) = analytic.bounds
    p = _points((x0, x1, y0, y1), 300, 3)
    np.testing.assert_allclose(typed.loss(p), analytic.loss(p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(typed.gradient(p), analytic.gradient(p), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("text", ["x**2 + y**2", "2*x + 3", "7", "x - x", "y", "max(x, 1)"])
@pytest.mark.parametrize("shape", [(), (1,), (5,), (4, 6), (2, 3, 4)])
def test_shapes_broadcast_for_any_input_and_constant_results(
    text: str, shape: tuple[int, ...]
) -> None:
    problem = ExpressionProblem(text)
    pts = np.random.default_rng(4).uniform(-3, 3, (*shape, 2))
    loss = problem.loss(pts)
    grad = problem.gradient(pts)
    assert loss.shape == shape and loss.dtype == np.float64
    assert grad.shape == (*shape, 2) and grad.dtype == np.float64
    # Same values whatever the layout: one point at a time agrees with the batch.
    flat = pts.reshape(-1, 2)
    for i in range(0, len(flat), 7):
        assert problem.loss(flat[i]) == loss.reshape(-1)[i]
        np.testing.assert_array_equal(problem.gradient(flat[i]), grad.reshape(-1, 2)[i])


def test_constant_gradients_fill_the_input_shape() -> None:
    pts = np.random.default_rng(6).uniform(-3, 3, (4, 6, 2))
    linear = ExpressionProblem("2*x - 3*y + 5")
    np.testing.assert_array_equal(linear.gradient(pts), np.broadcast_to([2.0, -3.0], pts.shape))
    constant = ExpressionProblem("7")
    np.testing.assert_array_equal(constant.loss(pts), np.full((4, 6), 7.0))
    np.testing.assert_array_equal(constant.gradient(pts), np.zeros((4, 6, 2)))
    out = constant.loss(pts)
    out[0, 0] = 1.0  # writable, not a broadcast view


def test_grid_surface_and_attributes() -> None:
    problem = ExpressionProblem("  x^2 +   y**2 ")
    assert (problem.name, problem.title, problem.params) == ("custom", "Typed function", ("x", "y"))
    assert problem.formula == "x^2 + y**2"
    assert problem.bounds == ((-5.0, 5.0), (-5.0, 5.0))
    assert problem.start == (-4.0, 4.0)
    assert problem.minima.shape == (0, 2)
    assert problem.n_samples is None
    surface = problem.grid(33)
    xx, yy = np.meshgrid(surface.xs, surface.ys)
    np.testing.assert_allclose(surface.z, xx**2 + yy**2, rtol=1e-15)
    assert problem.expr == parse_expression("x**2 + y**2")


def test_custom_bounds_and_start() -> None:
    problem = ExpressionProblem("x**2 + y**2", bounds=((0, 10), (-1, 1)))
    assert problem.bounds == ((0.0, 10.0), (-1.0, 1.0))
    assert problem.start == pytest.approx((1.0, 0.8))
    assert ExpressionProblem("x", start=(1, 2)).start == (1.0, 2.0)
    for bad in [((1, 0), (0, 1)), ((0, 1),), ((0, math.inf), (0, 1)), "nonsense", ((0, 1), (0, "a"))]:
        with pytest.raises(ValueError, match="bounds"):
            ExpressionProblem("x", bounds=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="start"):
        ExpressionProblem("x", start=(0, math.nan))


@pytest.mark.parametrize("text", ["log(x) + log(y)", "sqrt(x - 3) + y**2", "x**(1/3) * y",
                                  "asin(x) + acos(y)"])
def test_default_start_has_finite_loss_and_gradient(text: str) -> None:
    problem = ExpressionProblem(text)
    start = np.array(problem.start)
    (x0, x1), (y0, y1) = problem.bounds
    assert x0 <= start[0] <= x1 and y0 <= start[1] <= y1
    assert np.isfinite(problem.loss(start))
    assert np.isfinite(problem.gradient(start)).all()


def test_undefined_values_are_nan_quietly() -> None:
    problem = ExpressionProblem("log(x) + sqrt(y) + sqrt(-x**2) + asin(y) + 1/x")
    pts = np.array([[-1.0, -2.0], [0.0, 0.5], [1.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = problem.loss(pts)
        grad = problem.gradient(pts)
        problem.grid(20)
    assert np.isnan(loss[0]) and np.isnan(grad[0]).all()
    assert not np.isfinite(loss[1])
    assert np.isnan(loss[2])  # sqrt(-x²) is not real at x = 1
    overflow = ExpressionProblem("exp(1000*x) + 1e300*y**3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert overflow.loss(np.array([1.0, 1e10])) == np.inf


def test_many_argument_max_and_min_have_exact_gradients() -> None:
    terms = [(i, j) for i in range(-2, 3) for j in range(-2, 3)]
    text = "max(" + ",".join(f"{i}*x+{j}*y+{i * j / 2}" for i, j in terms) + ")"
    assert len(text) <= MAX_LENGTH
    problem = ExpressionProblem(text)
    p = _points((-4, 4, -4, 4), 100, 7)
    values = np.array([[i * x + j * y + i * j / 2 for i, j in terms] for x, y in p])
    np.testing.assert_allclose(problem.loss(p), values.max(axis=1), rtol=1e-13)
    best = np.array(terms, dtype=float)[values.argmax(axis=1)]  # slope of the active plane
    np.testing.assert_allclose(problem.gradient(p), best, rtol=1e-13)
    lower = ExpressionProblem("min(x, y, 1 - x, 2 - y)")
    ref = np.minimum.reduce([p[:, 0], p[:, 1], 1 - p[:, 0], 2 - p[:, 1]])
    np.testing.assert_allclose(lower.loss(p), ref, rtol=1e-13)


def test_kinks_take_the_documented_one_sided_average() -> None:
    ties = np.array([[1.0, 1.0], [0.0, 0.0]])
    # max(a, b): ∂/∂a = H(a − b) with H(0) = ½; |u|' = sign(u) = 0 at 0; sign' = 0.
    np.testing.assert_array_equal(ExpressionProblem("max(x, y)").gradient(ties), 0.5)
    np.testing.assert_array_equal(ExpressionProblem("min(x, y)").gradient(ties), 0.5)
    np.testing.assert_array_equal(ExpressionProblem("abs(x) + sign(y)").gradient(ties[1]), 0.0)


def test_long_flat_chains_are_one_level_and_need_no_deep_recursion() -> None:
    n = MAX_LENGTH // 2 - 1
    chains = {
        "+".join(["x"] * n): (n * 1.5, (n, 0)),
        "*".join(["y"] * n): (2.0**n, (0, n * 2.0 ** (n - 1))),
        "-".join(["x"] * n): ((2 - n) * 1.5, (2 - n, 0)),
    }
    for text, (value, grad) in chains.items():
        problem = ExpressionProblem(text)
        assert problem.loss(np.array([1.5, 2.0])) == pytest.approx(value)
        np.testing.assert_allclose(problem.gradient(np.array([1.5, 2.0])), grad)


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**40),
))
def test_number_literals_are_the_nearest_doubles(value: float | int) -> None:
    problem = ExpressionProblem(f"{value!r}*x + y")
    assert problem.loss(np.array([1.0, 0.0])) == float(value)
    assert problem.gradient(np.array([1.0, 0.0]))[0] == float(value)


# -- refusals ------------------------------------------------------------------------------------

ERRORS: list[tuple[str, int | None, str]] = [
    ("x + z", 4, "Unknown name 'z' at column 5 (allowed: x, y, pi, e)"),
    ("", None, "Empty expression"),
    ("   ", None, "Empty expression"),
    ("x" * (MAX_LENGTH + 1), None, f"at most {MAX_LENGTH}"),
    ("x +", 3, "Syntax error at column 4"),
    ("x + * 2", 4, "Syntax error at column 5"),
    ("2x", 0, "write * to multiply"),
    ("(x + y", 0, "never closed"),
    ("x\n+ y", 2, "Syntax error at column 3"),
    ("x.real", 1, "Attribute access"),
    ("x[0]", 1, "Indexing"),
    ("().__class__", 0, "Tuples"),
    ("__import__('os').system('x')", 0, "'__'"),
    ("(lambda: 1)()", 1, "Lambdas"),
    ("[x for x in y]", 0, "Comprehensions"),
    ("(x for x in y)", 0, "Comprehensions"),
    ("open('f')", 0, "unknown function"),
    ("foo(x)", 0, "'foo' is an unknown function at column 1"),
    ("pi(2)", 0, "variable, not a function"),
    ("(x + 1)(2)", 7, "called by name"),
    ("sin", 0, "call it as sin(...)"),
    ("sin(x, y)", 0, "sin() takes one argument (2 given)"),
    ("log(x, 2)", 0, "log() takes one argument"),
    ("atan2(x)", 0, "atan2() takes 2 arguments (1 given)"),
    ("max(x)", 0, "two or more"),
    ("sin(x=1)", 4, "Keyword arguments"),
    ("sin(*x)", 4, "Starred"),
    ("'x'", 0, "Strings"),
    ("f'{x}'", 0, "Strings"),
    ("1j * x", 0, "Complex"),
    ("True + x", 0, "True is not allowed"),
    ("x < y", 0, "Comparisons"),
    ("x and y", 0, "'and' / 'or'"),
    ("not x", 0, "'not'"),
    ("x % 2", 2, "Operator '%' is not allowed"),
    ("x // 2", 2, "Operator '//'"),
    ("x @ y", 2, "Operator '@'"),
    ("x if y else 1", 0, "Conditional"),
    ("(x := 2)", 1, "Assignments"),
    ("{x: 1}", 0, "Dicts"),
    ("x**101", 3, "Exponent too large"),
    ("x^(-200)", 3, "Exponent too large"),
    ("9**9**9", 4, "Power towers"),
    ("x^y^2", 3, "Power towers"),
    ("1e400 * x", 0, "too large"),
    ("1e308**2", 5, "too large"),
    ("x + 1/0", 5, "Undefined"),
    ("log(0) * y", 0, "Undefined"),
    ("sqrt(-1) * x", 0, "Not a real number"),
    ("(-8)**(1/3)", 4, "Not a real number"),
    ("x × y", 2, "use '*'"),
    ("x\x00", 1, "Unsupported character"),
    ("-" * 60 + "x", MAX_DEPTH, "nested too deeply"),
    ("sin(" * 60 + "x" + ")" * 60, 4 * MAX_DEPTH, "nested too deeply"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), ERRORS, ids=[e[0][:20] for e in ERRORS])
def test_refusals_say_where_and_why(text: str, position: int | None, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.position == position
    assert fragment in str(err)
    if position is not None:
        assert f"at column {position + 1}" in str(err)


def test_caret_positions_map_back_to_the_text() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression("x^2 + y^2 + w")
    assert info.value.position == 12  # not shifted by the '^' -> '**' rewrite


def test_hostile_text_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "pwned"
    calls: list[str] = []

    def trap(name: str) -> Callable[..., None]:
        def fail(*args: object, **kwargs: object) -> None:
            calls.append(name)
            raise AssertionError(f"{name} called")
        return fail

    monkeypatch.setattr(builtins, "eval", trap("eval"))
    monkeypatch.setattr(builtins, "exec", trap("exec"))
    monkeypatch.setattr(builtins, "open", trap("open"))
    monkeypatch.setattr("os.system", trap("os.system"))
    hostile = [
        f"__import__('os').system('touch {target}')",
        f"open('{target}', 'w')",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "[x for x in y]",
        "x.real",
        "exec('1')",
        "eval('x')",
        "globals()",
        "__builtins__",
        "sin.__globals__",
        "sin(x).__class__",
        "getattr(x, 'real')",
    ]
    for text in hostile:
        with pytest.raises(ExpressionError):
            parse_expression(text)
    assert not calls
    assert not target.exists()


def test_registry_builds_custom_problems() -> None:
    problem = make_problem("custom", expr="x**2 + y**2")
    assert isinstance(problem, ExpressionProblem)
    p = _points((-3, 3, -3, 3), 10, 5)
    np.testing.assert_allclose(problem.gradient(p), 2 * p)
    with pytest.raises(ExpressionError, match="Unknown name 'q'"):
        make_problem("custom", expr="q")


def test_run_converges_on_a_typed_bowl() -> None:
    problem = make_problem("custom", expr="x^2 + 3*y^2")
    run = Run(problem, RunConfig("gd", start=problem.start, hyperparameters={"lr": 0.1})).run(2000)
    assert run.status is Status.CONVERGED
    np.testing.assert_allclose(run.history.points[-1], 0.0, atol=1e-8)
    # Each step is θ ← θ − 0.1·∇f with ∇f = (2x, 6y): compare with the loop written by hand.
    theta = np.array(problem.start)
    for k in range(5):
        np.testing.assert_allclose(run.history.points[k], theta, rtol=1e-15)
        theta = theta - 0.1 * np.array([2 * theta[0], 6 * theta[1]])


@pytest.mark.parametrize(("text", "start", "lr"), [
    ("x^2 + y^2", (1.0, 1.0), 1.5),  # |1 − 2·1.5| = 2: overflows to inf
    ("log(x) + y^2", (0.5, 1.0), 0.1),  # x steps below 0: log gives NaN
])
def test_run_diverges_quietly(text: str, start: tuple[float, float], lr: float) -> None:
    problem = make_problem("custom", expr=text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = Run(problem, RunConfig("gd", start=start, hyperparameters={"lr": lr})).run(5000)
    assert run.status is Status.DIVERGED
    assert run.diverged_at is not None and run.diverged_at < 5000
    assert np.isfinite(run.history.loss).all()


# -- fuzzing -------------------------------------------------------------------------------------

TOKENS = [
    "x", "y", "pi", "e", "z", "0", "1", "2.5", "1e308", "9", "-", "+", "*", "/", "**", "^", "%",
    "(", ")", "(", ")", ",", ".", "[", "]", "'", ":", "=", " ", "lambda", "for", "in", "__class__",
    "__import__", "open", "j", "sin", "log", "sqrt", "max", "atan2", "exp", "if", "else", "\n",
]


def _check_outcome(text: str) -> None:
    """Either an ExpressionError, or a problem that evaluates quietly to the right shapes."""
    try:
        problem = ExpressionProblem(text)
    except ExpressionError as err:
        assert err.position is None or 0 <= err.position <= len(text)
        assert str(err)
        return
    pts = np.random.default_rng(0).uniform(-3, 3, (3, 4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert problem.loss(pts).shape == (3, 4)
        assert problem.gradient(pts).shape == (3, 4, 2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=60),
    st.text(alphabet=string.printable, max_size=80),
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
))
def test_fuzz_random_text_only_raises_expression_error(text: str) -> None:
    _check_outcome(text)


@settings(max_examples=5, deadline=None)
@given(st.integers(MAX_LENGTH + 1, 20 * MAX_LENGTH), st.sampled_from(["x+", "(", "-", "sin("]))
def test_fuzz_long_text_is_refused(n: int, unit: str) -> None:
    with pytest.raises(ExpressionError, match="too long"):
        parse_expression((unit * n)[:n])


_LEAF = st.one_of(
    st.sampled_from(["x", "y", "pi", "e"]),
    st.floats(0, 1e3, allow_nan=False).map(repr),
    st.integers(0, 1000).map(str),
)
_UNARY = sorted(name for name, (_, n) in FUNCTIONS.items() if n == 1)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, st.integers(-4, 4)).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(inner, st.integers(-4, 4)).map(lambda t: f"({t[0]})^({t[1]})"),
        st.tuples(st.sampled_from(_UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["atan2", "min", "max"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        inner.map(lambda s: f"-{s}"),
    )


VALID = st.recursive(_LEAF, _extend, max_leaves=12)
# Constant sub-expressions may fold to 1/0, log(0), sqrt(-1) or overflow: those are refused, and so
# is whatever is over the budget (see test_expression_budget.py).
CONSTANT_REFUSALS = ("Undefined value", "Not a real number", "too large", "Infinite value", "too complex")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALID)
def test_fuzz_whitelisted_expressions_evaluate_to_right_shapes(text: str) -> None:
    try:
        problem = ExpressionProblem(text)
    except ExpressionError as err:
        assert any(r in str(err) for r in CONSTANT_REFUSALS), str(err)
        return
    for shape in [(), (7,), (5, 6)]:
        pts = np.random.default_rng(1).uniform(-3, 3, (*shape, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = problem.loss(pts)
            grad = problem.gradient(pts)
        assert loss.shape == shape and loss.dtype == np.float64
        assert grad.shape == (*shape, 2) and grad.dtype == np.float64
