"""The quadratic theory (gdstudio.engine.quadratic): analyze equals the closed forms computed here by
hand, quadratic detection, no optimum where not convex, the predicted rates measured on real runs
(GD and heavy-ball at their optima on the rotated bowl), the stability limits found by running just
below and above them, and divergence explained in one line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.engine.quadratic import (
    JSON_KEYS,
    NotConvexError,
    analyze,
    divergence_reason,
    error_along_eigenvectors,
    is_quadratic,
    predicted_errors,
    step_rates,
)
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.resources import resource_path

# Hessians worked out by hand from the formulas `gdstudio list` prints.
HAND = {
    "bowl": [[0.1, 0.0], [0.0, 2.0]],                 # x²/20 + y²
    "rotated-bowl": [[4.2, -3.8], [-3.8, 4.2]],       # 0.1(x+y)² + 2(x−y)²: 0.2 + 4, 0.2 − 4
    "booth": [[10.0, 8.0], [8.0, 10.0]],              # (x+2y−7)² + (2x+y−5)²: 2 + 8, 4 + 4, 8 + 2
    "matyas": [[0.52, -0.48], [-0.48, 0.52]],         # 0.26(x² + y²) − 0.48xy
}


def eig2(h):
    """Eigenvalues of a symmetric 2×2 by the formula tr/2 ± √((tr/2)² − det), ascending."""
    (a, b), (_, d) = h
    m, det = (a + d) / 2, a * d - b * b
    r = math.sqrt(m * m - det)
    return m - r, m + r


def closed_forms(lo, hi):
    k = hi / lo
    sk = math.sqrt(k)
    return {
        "condition_number": k,
        "gd_max_stable_lr": 2 / hi,
        "gd_optimal_lr": 2 / (lo + hi),
        "gd_rate": (k - 1) / (k + 1),
        "momentum_optimal_lr": (2 / (math.sqrt(hi) + math.sqrt(lo))) ** 2,
        "momentum_optimal": ((sk - 1) / (sk + 1)) ** 2,
        "momentum_rate": (sk - 1) / (sk + 1),
    }


@pytest.mark.parametrize("name", sorted(HAND))
def test_analyze_equals_the_closed_forms_of_the_hand_derived_hessian(name):
    a = analyze(make_problem(name))
    assert a.quadratic
    np.testing.assert_allclose(a.hessian, HAND[name], rtol=1e-12, atol=1e-12)
    lo, hi = eig2(HAND[name])
    np.testing.assert_allclose(a.eigenvalues, [lo, hi], rtol=1e-12)
    for key, value in closed_forms(lo, hi).items():
        assert getattr(a, key) == pytest.approx(value, rel=1e-10), key
    # Columns are unit eigenvectors of H, matching the eigenvalues.
    h = np.array(HAND[name])
    for i in range(2):
        v = a.eigenvectors[:, i]
        assert np.linalg.norm(v) == pytest.approx(1.0)
        np.testing.assert_allclose(h @ v, a.eigenvalues[i] * v, atol=1e-12)
    assert set(a.as_json()) == set(JSON_KEYS)
    assert all(np.isfinite(np.asarray(a.as_json()[k], dtype=float)).all() for k in JSON_KEYS if k != "quadratic")


def test_rotated_bowl_numbers_and_its_minimum():
    a = analyze(make_problem("rotated-bowl"))
    assert a.eigenvalues.tolist() == pytest.approx([0.4, 8.0])
    assert a.condition_number == pytest.approx(20.0)
    # The shallow direction is (1, 1)/√2, the steep one (1, −1)/√2.
    assert abs(a.eigenvectors[:, 0] @ np.array([1, 1]) / math.sqrt(2)) == pytest.approx(1.0)
    assert abs(a.eigenvectors[:, 1] @ np.array([1, -1]) / math.sqrt(2)) == pytest.approx(1.0)
    np.testing.assert_allclose(a.minimum, [0, 0], atol=1e-12)
    booth = analyze(make_problem("booth"), at=(-3, 4))  # the point does not matter for a quadratic
    np.testing.assert_allclose(booth.minimum, [1, 3], atol=1e-12)
    assert booth.point == (-3.0, 4.0)


def test_linear_regression_is_quadratic_with_the_data_moments_as_hessian():
    p = make_problem("linear-regression")
    x = np.asarray(p.x, dtype=float)
    hand = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])  # of mean (ax + b − y)²
    a = analyze(p, at=(10.0, -4.0))
    assert a.quadratic
    np.testing.assert_allclose(a.hessian, hand, rtol=1e-12)
    np.testing.assert_allclose(a.eigenvalues, eig2(hand.tolist()), rtol=1e-12)
    # The minimum of the quadratic is least squares' solution.
    sol = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), np.asarray(p.y, float), rcond=None)[0]
    np.testing.assert_allclose(a.minimum, sol, rtol=1e-10)
    one = analyze(make_problem("line-through-origin"))  # 1-D: κ = 1, GD's optimum is Newton's step
    assert one.eigenvectors.shape == (1, 1) and one.condition_number == 1.0
    assert one.gd_rate == 0.0 and one.momentum_optimal == 0.0
    assert one.gd_optimal_lr == pytest.approx(1 / one.eigenvalues[0])


def test_typed_quadratics_are_detected_by_sympy_and_analysed_exactly():
    p = make_problem("custom", expr="x**2+3*y**2+x*y")
    assert is_quadratic(p)
    a = analyze(p)
    np.testing.assert_allclose(a.hessian, [[2, 1], [1, 6]], atol=1e-12)
    np.testing.assert_allclose(a.eigenvalues, eig2([[2, 1], [1, 6]]), rtol=1e-12)
    assert is_quadratic(make_problem("custom", expr="(x + 2*y - 1)**2 + 0.5*(x - y)**2 + 7"))
    assert is_quadratic(make_problem("custom", expr="(x+1)**3 - x**3 - 3*x**2 + y**2"))  # cubic cancels
    for text in ("x**4", "x**4 + y**2", "sin(x) + y**2", "abs(x) + y**2", "exp(x*y)", "x**3 + y**2"):
        assert not is_quadratic(make_problem("custom", expr=text)), text
    for name in ("rosenbrock", "beale", "himmelblau", "sigmoid-neuron", "rastrigin"):
        assert not is_quadratic(make_problem(name)), name


def test_a_surface_that_is_not_quadratic_gets_the_local_hessian_at_the_point():
    p = make_problem("rosenbrock")
    a = analyze(p, at=(1.0, 1.0))
    assert not a.quadratic and a.point == (1.0, 1.0)
    hand = [[2 - 400 * (1 - 1) + 800, -400.0], [-400.0, 200.0]]
    np.testing.assert_allclose(a.hessian, hand)
    lo, hi = eig2(hand)
    assert a.condition_number == pytest.approx(hi / lo)
    assert analyze(p).point == (1.0, 1.0)  # default: the known minimum
    typed = analyze(make_problem("custom", expr="x**4 + y**2"), at=(1.0, 0.0))
    assert not typed.quadratic
    np.testing.assert_allclose(typed.hessian, [[12, 0], [0, 2]])


@pytest.mark.parametrize("name, at, words", [
    ("saddle", None, "the Hessian of saddle (constant) has a negative eigenvalue −2"),
    ("rosenbrock", (0.0, 1.0), "the Hessian at (0, 1) has a negative eigenvalue −398"),
    ("himmelblau", (0.0, 0.0), "the Hessian at (0, 0) has a negative eigenvalue −42"),
])
def test_not_convex_means_no_optimum_in_one_line_never_nan(name, at, words):
    with pytest.raises(NotConvexError) as err:
        analyze(make_problem(name), at=at)
    text = str(err.value)
    assert text.startswith(words) and "no optimal step size exists (not convex here)" in text
    assert "\n" not in text and "nan" not in text.lower()
    assert err.value.eigenvalues[0] < 0  # the panel can still show what was computed


def test_a_singular_hessian_has_no_optimum():
    with pytest.raises(NotConvexError, match=r"^the Hessian of custom \(constant\) is singular \(eigenvalue 0 "
                                             r"along \(0, 1\)\): no optimal step size exists"):
        analyze(make_problem("custom", expr="x**2 + 3"))


def test_bad_points_are_one_line_errors():
    with pytest.raises(ValueError, match=r"Invalid point: 3 value\(s\) for 2 parameter\(s\) \(x, y\)"):
        analyze(make_problem("bowl"), at=(1, 2, 3))
    with pytest.raises(ValueError, match="must be a finite number"):
        analyze(make_problem("rosenbrock"), at=(math.nan, 1.0))
    with pytest.raises(ValueError, match=r"Hessian at .* is not finite"):
        analyze(make_problem("custom", expr="sqrt(x) + y**2"), at=(-1.0, 0.0))


def run_points(problem, optimizer, start, steps, **hp):
    run = Run(problem, RunConfig(optimizer=optimizer, start=start, hyperparameters=hp, tol=0.0))
    run.run(steps)
    assert run.status is Status.RUNNING
    return run.history.points


def test_gd_at_the_optimal_step_contracts_at_the_predicted_rate_on_the_rotated_bowl():
    p = make_problem("rotated-bowl")
    a = analyze(p)
    pts = run_points(p, "gd", (-4.0, -2.0), 120, lr=a.gd_optimal_lr)
    err = np.linalg.norm(pts - np.array(a.minimum), axis=1)
    assert err[-1] > 1e-200  # still measurable (θ* = 0 exactly, no rounding floor)
    ratios = err[1:] / err[:-1]
    # At η = 2/(λmin+λmax) both directions shrink by exactly (κ−1)/(κ+1) = 19/21 each step.
    np.testing.assert_allclose(ratios, 19 / 21, rtol=1e-9)
    slope = np.polyfit(np.arange(len(err)), np.log(err), 1)[0]
    assert math.exp(slope) == pytest.approx(a.gd_rate, rel=1e-9)
    # Per eigendirection: |e_i(k)| = |e_i(0)|·|1 − ηλ_i|^k, the predicted curves.
    e = np.abs(error_along_eigenvectors(pts, a.minimum, a.eigenvectors))
    pred = predicted_errors(e[0], a.eigenvalues, len(pts) - 1, a.gd_optimal_lr)
    np.testing.assert_allclose(e, pred, rtol=1e-8)


def test_gd_at_another_step_has_per_direction_rates_one_minus_eta_lambda():
    p = make_problem("rotated-bowl")
    a = analyze(p)
    pts = run_points(p, "gd", (-4.0, -2.0), 60, lr=0.2)
    e = np.abs(error_along_eigenvectors(pts, a.minimum, a.eigenvectors))
    for i, lam in enumerate(a.eigenvalues):
        fitted = math.exp(np.polyfit(np.arange(len(e)), np.log(e[:, i]), 1)[0])
        assert fitted == pytest.approx(abs(1 - 0.2 * lam), rel=1e-6)  # 0.92 and 0.6 (rounding: ~1e-8)
    np.testing.assert_allclose(step_rates(a.eigenvalues, 0.2), [0.92, 0.6])


def test_heavy_ball_at_its_optimum_contracts_at_sqrt_kappa_rate():
    """At the optimal η, γ both extreme eigenvalues give a double root ρ = (√κ−1)/(√κ+1) of the
    companion matrix, so each error is (a + b·k)·ρᵏ: we fit log(‖e_k‖/(k+1)) against k over steps
    40..160 (the polynomial factor divided out) and compare the slope's exp with ρ."""
    p = make_problem("rotated-bowl")
    a = analyze(p)
    pts = run_points(p, "momentum", (-4.0, -2.0), 160, lr=a.momentum_optimal_lr, momentum=a.momentum_optimal)
    err = np.linalg.norm(pts - np.array(a.minimum), axis=1)
    k = np.arange(len(err))
    window = slice(40, None)
    fitted = math.exp(np.polyfit(k[window], np.log(err[window] / (k[window] + 1)), 1)[0])
    assert fitted == pytest.approx(a.momentum_rate, rel=2e-3)
    # Far better than GD's best: √κ instead of κ.
    assert a.momentum_rate < a.gd_rate
    rates = step_rates(a.eigenvalues, a.momentum_optimal_lr, a.momentum_optimal)
    np.testing.assert_allclose(rates, a.momentum_rate, rtol=1e-6)  # a double root: eigvals to ~√ε


@pytest.mark.parametrize("optimizer, gamma, bound", [
    ("gd", 0.0, lambda g: 2.0),
    ("momentum", 0.9, lambda g: 2 * (1 + g)),
    ("momentum", 0.5, lambda g: 2 * (1 + g)),
    ("nag", 0.9, lambda g: 2 * (1 + g) / (1 + 2 * g)),
])
def test_stability_limits_hold_on_real_runs_just_below_and_above(optimizer, gamma, bound):
    p = make_problem("rotated-bowl")
    limit = bound(gamma) / 8.0  # λmax = 8
    hp = {} if optimizer == "gd" else {"momentum": gamma}
    below = Run(p, RunConfig(optimizer=optimizer, start=(-4.0, -2.0), hyperparameters={"lr": 0.98 * limit, **hp},
                             tol=0.0)).run(3000)
    above = Run(p, RunConfig(optimizer=optimizer, start=(-4.0, -2.0), hyperparameters={"lr": 1.02 * limit, **hp},
                             tol=0.0)).run(3000)
    assert below.status is Status.RUNNING and np.linalg.norm(below.history.points[-1]) < 1e-3
    assert above.status is Status.DIVERGED or np.linalg.norm(above.history.points[-1]) > 1e6
    assert max(step_rates([8.0], 0.98 * limit, gamma, nesterov=optimizer == "nag")) < 1
    assert max(step_rates([8.0], 1.02 * limit, gamma, nesterov=optimizer == "nag")) > 1
    reason = divergence_reason(p, above.config)
    assert reason is not None and reason.endswith(f"for η > {limit:.4g}")
    assert divergence_reason(p, below.config) is None


def test_divergence_reason_texts():
    p = make_problem("rotated-bowl")
    assert divergence_reason(p, RunConfig("gd", (1.0, 1.0), {"lr": 0.3})) == \
        "η·λmax = 2.4 > 2: GD is unstable on this surface for η > 0.25"
    assert divergence_reason(p, RunConfig("momentum", (1.0, 1.0), {"lr": 0.5})) == \
        "η·λmax = 4 > 2(1+γ) = 3.8: heavy-ball momentum (γ = 0.9) is unstable on this surface for η > 0.475"
    assert divergence_reason(p, RunConfig("sgd", (1.0, 1.0), {"lr": 0.5, "momentum": 0.9, "dampening": 0.5})) is None
    assert divergence_reason(p, RunConfig("nag", (1.0, 1.0), {"lr": 0.2})).startswith(
        "η·λmax = 1.6 > 2(1+γ)/(1+2γ) = 1.357: NAG (γ = 0.9) is unstable")
    assert divergence_reason(p, RunConfig("gd", (1.0, 1.0), {"lr": 0.1}), lr=0.3).startswith("η·λmax = 2.4 > 2")
    assert divergence_reason(p, RunConfig("gd", (1.0, 1.0), {"lr": 0.2, "weight_decay": 2.0})) is None  # η·λ = 2
    assert divergence_reason(p, RunConfig("gd", (1.0, 1.0), {"lr": 0.21, "weight_decay": 2.0})) == \
        "η·λmax = 2.1 > 2: GD is unstable on this surface for η > 0.2"  # λmax + λ_wd = 10
    saddle = make_problem("saddle")
    assert divergence_reason(saddle, RunConfig("gd", (1.0, 1.0), {"lr": 0.01})) == \
        "λmin = −2 < 0: the surface falls away along (0, 1) (no minimum), so GD diverges for every η"
    # Not this theory: another rule, a surface that is not quadratic, mini-batches.
    assert divergence_reason(p, RunConfig("adam", (1.0, 1.0), {"lr": 5.0})) is None
    assert divergence_reason(make_problem("rosenbrock"), RunConfig("gd", (1.0, 1.0), {"lr": 1.0})) is None
    lin = make_problem("linear-regression")
    assert divergence_reason(lin, RunConfig("gd", (0.0, 0.0), {"lr": 5.0})) is not None
    assert divergence_reason(lin, RunConfig("gd", (0.0, 0.0), {"lr": 5.0}, batch_size=1)) is None


def test_the_preset_races_gd_and_heavy_ball_at_their_optima_on_an_ill_conditioned_bowl():
    doc = json.loads((resource_path("presets") / "optimal-momentum-ill-conditioned.json").read_text(encoding="utf-8"))
    p = make_problem(doc["problem"]["name"], expr=doc["problem"]["expr"])
    a = analyze(p)
    assert a.quadratic and 50 <= a.condition_number <= 100.0001
    gd, hb = doc["runs"]
    assert gd["optimizer"] == "gd" and gd["hyperparameters"]["lr"] == pytest.approx(a.gd_optimal_lr, rel=1e-12)
    assert hb["optimizer"] == "momentum"
    assert hb["hyperparameters"] == {"lr": pytest.approx(a.momentum_optimal_lr, rel=1e-12),
                                     "momentum": pytest.approx(a.momentum_optimal, rel=1e-12)}
    steps = doc["playback"]["max_steps"]
    runs = [Run(p, RunConfig(r["optimizer"], tuple(r["start"]), r["hyperparameters"], tol=r["tol"])).run(steps)
            for r in (gd, hb)]
    err = [np.linalg.norm(r.history.points - np.array(a.minimum), axis=1) for r in runs]
    # GD is still 5 % of the way out at the end (0.98 per step); heavy-ball converges at step 133 (the
    # description says so).
    assert runs[0].status is Status.RUNNING and err[0][-1] / err[0][0] == pytest.approx(a.gd_rate ** steps, rel=1e-6)
    assert round(100 * err[0][-1] / err[0][0]) == 5 and "still 5 % of the way" in doc["description"]
    assert runs[1].status is Status.CONVERGED and f"converges at step {runs[1].steps}" in doc["description"]
