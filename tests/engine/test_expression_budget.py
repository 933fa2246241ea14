"""Typed functions have a budget: exact numbers, folded exponents, tree size and time are bounded.

The refusals are decided by size estimates made *before* SymPy computes (deterministic, not by a
clock), except the time limit itself, which is tested with a worker made slow on purpose. "Never
hangs" is checked with generous guards (a subprocess killed after 60 s; a thread joined for 20 s),
not with timed assertions; bench/expression_budget.py prints the actual times.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdstudio.engine import expressions as ex
from gdstudio.engine.deadline import DeadlineExceeded, run_with_deadline
from gdstudio.engine.expressions import (
    MAX_DIGITS,
    MAX_FOLDED_EXPONENT,
    MAX_ROOT_DIGITS,
    ExpressionError,
    parse_expression,
    prepare_expression,
)
from gdstudio.engine.problems.expression import ExpressionProblem

HANG_GUARD = 20.0  # seconds; 10× the 2 s bound: only a hang (or a broken deadline) trips it


def _no_hang(fn: Callable[[], object]) -> object:
    """fn() run in a thread; fails if it is still running after HANG_GUARD seconds."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised below
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(HANG_GUARD)
    assert not t.is_alive(), "hung"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def _refusal(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        _no_hang(lambda: ExpressionProblem(text))
    err = info.value
    assert isinstance(err, ValueError)
    assert "\n" not in str(err)
    return err


# -- the cases from the issue -------------------------------------------------------------------

ISSUE_CASES = [
    # (text, the part named, its column)
    ("(((1/9**100)**100)**100)**100", "(1/9**100)**100", 13),
    ("((((1/9**100)**100)**100)**100)**100", "(1/9**100)**100", 14),
    ("x*(((((1/3**100)**100)**100)**100)**100)", "(1/3**100)**100", 17),
]


@pytest.mark.parametrize(("text", "part", "column"), ISSUE_CASES, ids=[c[0] for c in ISSUE_CASES])
def test_issue_cases_are_refused_naming_the_part(text: str, part: str, column: int) -> None:
    err = _refusal(text)
    assert str(err).startswith(f"Number too large in {part} at column {column}: ")
    assert f"at most {MAX_DIGITS}" in str(err)
    assert err.position == column - 1
    # The digit estimate bounds the true size from above, closely: (1/9**100)**100 = 1/9**10000.
    estimate = int(str(err).split("~")[1].split(" ")[0].replace(",", ""))
    true_digits = math.floor(10000 * math.log10(int(part[3]))) + 1
    assert true_digits <= estimate < 1.01 * true_digits


def test_issue_cases_do_not_hang_even_in_a_fresh_process() -> None:
    """A subprocess, so that even a hang inside one C call (holding the GIL) fails the test."""
    texts = [c[0] for c in ISSUE_CASES] + ["(x*((1/7**100)**10 + (1/9**100)**10))**(-99/7)"]
    script = textwrap.dedent(f"""
        from gdstudio.engine.expressions import ExpressionError
        from gdstudio.engine.problems.expression import ExpressionProblem
        for text in {texts!r}:
            try:
                ExpressionProblem(text)
            except ExpressionError as err:
                print("refused:", err)
            else:
                print("accepted:", text)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == len(texts)
    assert all(line.startswith("refused: Number too large in ") for line in lines), lines


# -- each bound, just inside and just outside ---------------------------------------------------


def test_exact_numbers_just_within_the_digit_budget_are_exact() -> None:
    # (1/3**100)**4 = 3**-400 ≈ 1.4e-191 (191 digits): kept exact, then rounded once to a double.
    problem = ExpressionProblem("x*(1/3**100)**4 + y")
    exact = Fraction(1, 3**400)
    assert problem.loss(np.array([1.0, 0.0])) == float(exact)
    np.testing.assert_array_equal(problem.gradient(np.array([0.5, 0.5])), [float(exact), 1.0])
    # 1/9**100 has 96 digits: to the 4th ~383 (accepted), to the 5th ~478 (refused).
    assert isinstance(ExpressionProblem("x + (1/9**100)**4"), ExpressionProblem)
    err = _refusal("x + (1/9**100)**5")
    assert str(err).startswith("Number too large in (1/9**100)**5 at column 15")  # at its **


def test_sums_that_fold_past_the_digit_budget_are_refused() -> None:
    # Each term is within budget (~250 digits); their sum's denominator is their product.
    err = _refusal("(1/7**100)**3 + (1/9**100)**3 + x")
    assert "Number too large in (1/7**100)**3 + (1/9**100)**3 at column 15" in str(err)
    assert f"(at most {MAX_DIGITS}" in str(err)


def test_folded_exponents_are_bounded() -> None:
    problem = ExpressionProblem("(x**100)**100 + y")  # x**10000: at the bound
    assert problem.expr == ex.X**10000 + ex.Y
    np.testing.assert_array_equal(problem.gradient(np.array([1.0, 3.0])), [10000.0, 1.0])
    err = _refusal("((x**100)**100)**2 + y")
    assert str(err) == (f"Exponent too large after folding in ((x**100)**100)**2 at column 16: "
                        f"|exponent| 20,000 (at most {MAX_FOLDED_EXPONENT:,})")
    err = _refusal("((2*x**50)**100)**3")
    assert "Exponent too large after folding" in str(err) or "Number too large" in str(err)


def test_symbolic_sums_are_not_expanded_so_their_numbers_do_not_count() -> None:
    # (x + c)**n stays unexpanded: no big number is ever made, so nothing is refused.
    # (1/3**100 has 48 digits: expanded, its 100th power would have 4,772.)
    problem = ExpressionProblem("(x/2 + 3)**100 + (y + 1/3**100)**100")
    p = np.array([0.5, 0.25])
    ref_grad = [100 * (0.25 + 3) ** 99 / 2, 100 * (0.25 + 3.0**-100) ** 99]
    np.testing.assert_allclose(problem.gradient(p), ref_grad, rtol=1e-12)


def test_roots_of_long_exact_numbers_are_refused() -> None:
    # sqrt(x/7**40): 7**40 has 34 digits, its root 7**20 is extracted exactly.
    problem = ExpressionProblem("sqrt(x/7**40) + y")
    assert problem.loss(np.array([4.0, 0.0])) == pytest.approx(2 / 7**20, rel=1e-15)
    for text, part in [("sqrt((1/7**100)**2*x)", "sqrt((1/7**100)**2*x)"),
                       ("((1/7**100)**2*x)**(1/3)", "((1/7**100)**2*x)**(1/3)"),
                       # Each root alone is within budget (60 digits); their product is not.
                       ("(10**59+1)**(1/3)*(10**59+7)**(1/3)*x", "(10**59+1)**(1/3)*(10**59+7)**(1/3)")]:
        err = _refusal(text)
        assert str(err).startswith(f"Exact number too large under a fractional power in {part}"), str(err)
        assert f"(at most {MAX_ROOT_DIGITS}" in str(err)


def test_decimals_never_grow_so_they_are_not_refused() -> None:
    problem = ExpressionProblem("x*(((1e-300**100)**100)**100)**100 + y")
    np.testing.assert_array_equal(problem.gradient(np.array([1.0, 1.0])), [0.0, 1.0])


def test_node_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "+".join(f"sin({i}*x)" for i in range(1, 12))
    assert ex._count_nodes(parse_expression(text)) > 30
    monkeypatch.setattr(ex, "MAX_NODES", 30)
    with pytest.raises(ExpressionError, match=r"^Expression too large in .* nodes after simplification "
                                              r"\(at most 30\)$"):
        parse_expression(text)


def test_gradient_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "sin(sin(sin(sin(x*y))))*cos(x)"
    monkeypatch.setattr(ex, "MAX_GRADIENT_NODES", 20)
    with pytest.raises(ExpressionError, match=r"^Gradient too large: ∂f/∂x has \d+ nodes \(at most 20\)$"):
        prepare_expression(text)


# -- the time limit -----------------------------------------------------------------------------


def _wait_for_workers_to_end(name: str, patience: float = HANG_GUARD) -> bool:
    end = time.monotonic() + patience
    while time.monotonic() < end:
        if not any(t.name == name for t in threading.enumerate()):
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize(("stage", "target"), [("differentiating", "_derivative"),
                                                ("compiling", "compile_expression")])
def test_a_slow_stage_is_abandoned_named_and_stopped(
    monkeypatch: pytest.MonkeyPatch, stage: str, target: str
) -> None:
    def busy(*args: object) -> None:
        while True:  # pure Python: the asynchronous stop request lands here
            pass

    monkeypatch.setattr(ex, "TIME_LIMIT", 0.2)
    monkeypatch.setattr(ex, "_CACHE", OrderedDict())
    monkeypatch.setattr(ex, target, busy)
    with pytest.raises(ExpressionError) as info:
        prepare_expression("x**3 + 2*y")
    assert str(info.value) == f"Expression too complex: {stage} it took more than 0.2 s (simplify it)"
    assert _wait_for_workers_to_end("gdstudio-expression")  # the worker did not keep spinning


def test_sympy_assumption_blowup_while_parsing_is_cut_off() -> None:
    # Building sqrt(tanh(log(exp(sin(...))))) makes SymPy's assumption system recurse for minutes.
    text = "".join(["sin(", "exp(", "log(", "tanh(", "sqrt("] * 9) + "x*y+2" + ")" * 45
    err = _refusal(text)
    assert str(err) == f"Expression too complex: parsing it took more than {ex.TIME_LIMIT:g} s (simplify it)"
    assert _wait_for_workers_to_end("gdstudio-expression")


def test_deadline_returns_values_and_passes_errors_through() -> None:
    assert run_with_deadline(lambda: 41 + 1, 5.0) == 42
    with pytest.raises(KeyError, match="boom"):
        run_with_deadline(lambda: {}["boom"], 5.0)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    with pytest.raises(DeadlineExceeded, match=r"took more than 0\.05 s"):
        run_with_deadline(spin, 0.05, name="test-spin")
    assert _wait_for_workers_to_end("test-spin")
    stop.set()


# -- ordinary expressions keep working, and are cached -------------------------------------------

ORDINARY = [
    ("sin(x)*cos(y) + 0.1*(x**2 + y**2)",
     lambda x, y: np.sin(x) * np.cos(y) + 0.1 * (x**2 + y**2)),
    ("x**2 + 100*(y - x**2)**2", lambda x, y: x**2 + 100 * (y - x**2) ** 2),
    ("(1 - x)^10 + 100*(y - x^2)^10", lambda x, y: (1 - x) ** 10 + 100 * (y - x**2) ** 10),
    ("(x*y - 3)^9 + (x + 2*y)^8 / 7 + x^7*y^3", lambda x, y: (x * y - 3) ** 9 + (x + 2 * y) ** 8 / 7 + x**7 * y**3),
    ("(1/3)**10*x**10 + 12345678901234567890*y", lambda x, y: (1 / 3) ** 10 * x**10 + 12345678901234567890 * y),
]


@pytest.mark.parametrize(("text", "ref"), ORDINARY, ids=[o[0] for o in ORDINARY])
def test_ordinary_expressions_are_unchanged(text: str, ref: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    problem = ExpressionProblem(text)
    p = np.random.default_rng(0).uniform(-1.5, 1.5, (50, 2))
    x, y = p[:, 0], p[:, 1]
    np.testing.assert_allclose(problem.loss(p), ref(x, y), rtol=1e-12)
    h = 1e-6
    fd = np.stack([(ref(x + h, y) - ref(x - h, y)) / (2 * h), (ref(x, y + h) - ref(x, y - h)) / (2 * h)], -1)
    np.testing.assert_allclose(problem.gradient(p), fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())


def test_prepared_expressions_are_cached_by_text() -> None:
    text = "x**2 + 7*y**2 + sin(x*y)"
    first = prepare_expression(text)
    assert prepare_expression(text) is first
    problem = ExpressionProblem(text)
    assert problem.expr is first.expr and problem.grad_exprs is first.grad_exprs
    with pytest.raises(ExpressionError):
        prepare_expression("x + q")  # refusals are not cached: asked again, refused again
    with pytest.raises(ExpressionError):
        prepare_expression("x + q")


# -- fuzz: nested powers and products of exact numbers ------------------------------------------

_ATOM = st.one_of(
    st.sampled_from(["x", "y", "2", "3", "0.5", "1e-300", "pi"]),
    st.tuples(st.integers(1, 9), st.integers(1, 100)).map(lambda t: f"1/{t[0]}**{t[1]}"),
    st.tuples(st.integers(2, 9), st.integers(1, 100)).map(lambda t: f"{t[0]}**{t[1]}"),
)


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    exponents = st.one_of(st.integers(-100, 100).map(str), st.sampled_from(["(1/2)", "(1/3)", "(99/7)", "0.5"]))
    return st.one_of(
        st.tuples(inner, exponents).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}*{t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})/({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} + {t[1]})"),
        inner.map(lambda s: f"sqrt({s})"),
    )


NESTED = st.recursive(_ATOM, _grow, max_leaves=8)
BUDGET_REFUSALS = ("too large", "too complex", "Undefined value", "Not a real number", "Infinite value",
                   "Expression too long", "nested too deeply")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NESTED)
def test_fuzz_nested_powers_are_refused_or_accepted_never_hang(text: str) -> None:
    def outcome() -> str:
        try:
            problem = ExpressionProblem(text)
        except ExpressionError as err:
            return f"refused: {err}"
        problem.loss(np.zeros((3, 2)))
        problem.gradient(np.zeros((3, 2)))
        return "accepted"

    result = _no_hang(outcome)
    assert isinstance(result, str)
    if result.startswith("refused"):
        assert any(r in result for r in BUDGET_REFUSALS), result
        return
    # Accepted: every exact number within the budget, every folded exponent too.
    expr = prepare_expression(text).expr
    for q in expr.atoms(sympy.Rational):
        assert max(len(str(abs(q.p))), len(str(q.q))) <= MAX_DIGITS + 1
    for power in expr.atoms(sympy.Pow):
        if power.exp.is_number:
            assert abs(float(power.exp)) <= MAX_FOLDED_EXPONENT
