"""`gdstudio analyze`: the JSON contract's keys, values equal to the closed forms (Hessians derived by
hand here), text output, and bad input as exit 2 with one line (never NaN)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gdstudio.cli import main

KEYS = ["hessian", "eigenvalues", "eigenvectors", "condition_number", "gd_max_stable_lr", "gd_optimal_lr",
        "gd_rate", "momentum_optimal_lr", "momentum_optimal", "momentum_rate", "quadratic"]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def expected(h):
    """Closed forms from a symmetric 2×2 Hessian: λ = tr/2 ± √((tr/2)² − det)."""
    (a, b), (_, d) = h
    m, det = (a + d) / 2, a * d - b * b
    lo, hi = m - math.sqrt(m * m - det), m + math.sqrt(m * m - det)
    k = hi / lo
    sk = math.sqrt(k)
    return {"eigenvalues": [lo, hi], "condition_number": k, "gd_max_stable_lr": 2 / hi,
            "gd_optimal_lr": 2 / (lo + hi), "gd_rate": (k - 1) / (k + 1),
            "momentum_optimal_lr": 4 / (math.sqrt(hi) + math.sqrt(lo)) ** 2,
            "momentum_optimal": ((sk - 1) / (sk + 1)) ** 2, "momentum_rate": (sk - 1) / (sk + 1)}


@pytest.mark.parametrize("args, hessian, quadratic", [
    (["--problem", "rotated-bowl"], [[4.2, -3.8], [-3.8, 4.2]], True),
    (["--problem", "bowl", "--at=3,-1"], [[0.1, 0.0], [0.0, 2.0]], True),
    (["--problem", "booth"], [[10.0, 8.0], [8.0, 10.0]], True),
    (["--problem", "matyas"], [[0.52, -0.48], [-0.48, 0.52]], True),
    (["--problem", "custom", "--expr", "x**2 + 3*y**2 + x*y"], [[2.0, 1.0], [1.0, 6.0]], True),
    # Rosenbrock at its minimum (1, 1): 2 − 400(y − x²) + 800x², −400x, 200
    (["--problem", "rosenbrock", "--at=1,1"], [[802.0, -400.0], [-400.0, 200.0]], False),
    (["--problem", "custom", "--expr", "x**4 + y**2", "--at=1,2"], [[12.0, 0.0], [0.0, 2.0]], False),
])
def test_json_has_exactly_the_contract_keys_and_the_closed_forms(capsys, args, hessian, quadratic):
    code, out, err = run_cli(capsys, "analyze", *args, "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert list(doc) == KEYS
    assert doc["quadratic"] is quadratic
    np.testing.assert_allclose(doc["hessian"], hessian, rtol=1e-12, atol=1e-12)
    for key, value in expected(hessian).items():
        np.testing.assert_allclose(doc[key], value, rtol=1e-10, err_msg=key)
    v = np.array(doc["eigenvectors"])  # columns match the ascending eigenvalues
    np.testing.assert_allclose(np.array(hessian) @ v, v * np.array(doc["eigenvalues"]), atol=1e-9)
    assert "NaN" not in out and "Infinity" not in out


def test_text_format_names_the_numbers(capsys):
    code, out, _ = run_cli(capsys, "analyze", "--problem", "rotated-bowl")
    assert code == 0
    assert "quadratic: one Hessian everywhere" in out
    assert "κ = λmax/λmin = 20" in out and "2/λmax = 0.25" in out and "2/(λmin+λmax) = 0.238095" in out
    assert "γ = ((√κ−1)/(√κ+1))² = 0.402605" in out and "rate (√κ−1)/(√κ+1) = 0.634512" in out
    code, out, _ = run_cli(capsys, "analyze", "--problem", "beale", "--at=3,0.5")
    assert code == 0 and out.startswith("not quadratic: local Hessian at (3, 0.5)")


def test_a_data_problem_and_a_one_dimensional_one(capsys):
    code, out, _ = run_cli(capsys, "analyze", "--problem", "linear-regression", "--data-x", "0,1,2",
                           "--data-y", "1,3,5", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    x = np.array([0.0, 1.0, 2.0])  # mean (ax + b − y)²: H = 2[[mean x², mean x], [mean x, 1]]
    np.testing.assert_allclose(doc["hessian"], 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1]]))
    assert doc["quadratic"] is True
    code, out, _ = run_cli(capsys, "analyze", "--problem", "line-through-origin", "--at=0.5", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["hessian"]) == 1 and doc["condition_number"] == 1.0 and doc["gd_rate"] == 0.0


@pytest.mark.parametrize("args, message", [
    (["--problem", "nope"], "Unknown problem: 'nope'"),
    (["--problem", "bowl", "--at=1,2,3"], "Invalid --at: '1,2,3' needs 2 value(s) for (x, y), e.g. --at=0,0"),
    (["--problem", "line-through-origin", "--at=1,2"], "Invalid --at: '1,2' needs 1 value(s) for (w)"),
    (["--problem", "bowl", "--at=1,x"], "Invalid --at"),
    (["--problem", "rosenbrock", "--at=0,1"],
     "the Hessian at (0, 1) has a negative eigenvalue −398 (along (1, 0)): no optimal step size exists "
     "(not convex here)"),
    (["--problem", "saddle"], "the Hessian of saddle (constant) has a negative eigenvalue −2"),
    (["--problem", "custom", "--expr", "x**2 + 1"], "is singular (eigenvalue 0 along (0, 1)): no optimal step size"),
    (["--problem", "custom"], "The custom problem needs an expression"),
    (["--problem", "bowl", "--format", "csv"], "invalid choice: 'csv'"),
    (["--problem", "sigmoid-neuron", "--at=nan,0"], "Invalid --at"),
])
def test_bad_input_is_exit_2_and_one_line(capsys, args, message):
    extra = [] if "--format" in args else ["--format", "json"]
    code, out, err = run_cli(capsys, "analyze", *args, *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("gdstudio analyze: error: ")
    assert message in err
    assert "nan" not in err.lower().replace("'nan", "")


def test_help_lists_analyze(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "analyze          the quadratic theory of a problem" in out
