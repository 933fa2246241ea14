"""Fuzzing runs: any optimizer, hyperparameters from (or outside) each HyperParam's valid range,
any problem, starts up to 1e300, any batch size, noise and seed.

Contract: ``Run(...)`` either raises ValueError (only for invalid settings, or the documented
cross-parameter check) or gives a run whose ``advance(50)`` never raises, never warns, and
leaves a consistent status, ``diverged_at`` and history.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdstudio.engine import OPTIMIZERS, HyperParam, Run, RunConfig, Status, make_problem
from gdstudio.engine.problems import ANALYTIC
from gdstudio.engine.runs import History

_rng = np.random.default_rng(0)
_ux = _rng.normal(0, 3, 40)
PROBLEMS = [
    *ANALYTIC,
    make_problem("sigmoid-neuron"),
    make_problem("sigmoid-neuron", dataset="six-point"),
    make_problem("sigmoid-neuron", data_x=_ux, data_y=_rng.uniform(0, 1, 40)),
    make_problem("linear-regression"),
    make_problem("linear-regression", data_x=_ux, data_y=5 * _ux + _rng.normal(0, 1, 40)),
    make_problem("line-through-origin"),
    make_problem("line-through-origin", dataset="y=x+3"),
]
NAMES = list(OPTIMIZERS)
#: The documented cross-parameter checks (each value valid alone, the combination not).
CROSS_CHECKS = (
    "nesterov",  # Nesterov needs momentum and no dampening
    "Invalid eta values",  # Rprop: 0 < η₋ < 1 < η₊ (torch's message)
    "Invalid betas[0] value: 0.0",  # AdEMAMix's β₃ warm-up and schedule-free's x need β₁ > 0
    "must be > 0 with t_alpha_beta3",  # AdEMAMix's β₃ warm-up takes log β₃
)
HUGE = [1e200, -1e200, 1e300, -1e300, 1e-300, 0.0, 1e15, -1e8]


def _scalar_valid(hp: HyperParam) -> st.SearchStrategy[float]:
    lo = hp.low if math.isfinite(hp.low) else -1e300
    hi = hp.high if math.isfinite(hp.high) else 1e300
    wide = st.floats(lo, hi, exclude_min=hp.low_open, exclude_max=hp.high_open,
                     allow_nan=False, allow_infinity=False)
    soft_lo = max(lo, hp.soft_low)
    soft_hi = min(hi, hp.soft_high)
    soft = st.floats(soft_lo, soft_hi, exclude_min=hp.low_open and soft_lo == lo,
                     exclude_max=hp.high_open and soft_hi == hi, allow_nan=False, allow_infinity=False)
    return st.one_of(soft, soft, wide)


def _scalar_invalid(hp: HyperParam) -> st.SearchStrategy[object]:
    bad: list[object] = [math.nan, math.inf, -math.inf, "abc", None]
    if getattr(hp, "optional", False):  # None is a value (a reference's "automatic": Prodigy's beta3)
        bad.remove(None)
    if getattr(hp, "allow_inf", False):  # inf is a value (Prodigy's growth_rate)
        bad.remove(math.inf)
    options: list[st.SearchStrategy[object]] = [st.sampled_from(bad)]
    if math.isfinite(hp.low):
        options.append(st.floats(max_value=hp.low, exclude_max=not hp.low_open, allow_nan=False,
                                 allow_infinity=False))
    if math.isfinite(hp.high):
        options.append(st.floats(min_value=hp.high, exclude_min=not hp.high_open, allow_nan=False,
                                 allow_infinity=False))
    return st.one_of(options)


def _valid(hp: HyperParam) -> st.SearchStrategy[object]:
    if hp.kind == "bool":
        return st.booleans()
    if hp.kind == "choice":
        return st.sampled_from(hp.choices)
    if hp.kind == "int":  # bounded above: L-BFGS's max_iter and max_eval multiply a step's work
        return st.integers(int(hp.low), int(min(hp.high, 200)))
    if hp.kind == "triple":
        return st.tuples(_scalar_valid(hp), _scalar_valid(hp), _scalar_valid(hp))
    if hp.kind == "pair":
        return st.tuples(_scalar_valid(hp), _scalar_valid(hp))
    return _scalar_valid(hp)


def _invalid(hp: HyperParam) -> st.SearchStrategy[object]:
    if hp.kind == "bool":
        return st.sampled_from([1, 0.5, None, "maybe", 2.0])
    if hp.kind == "choice":
        return st.sampled_from(["maybe", 1, 0.5, True, ""])
    if hp.kind == "int":
        return st.sampled_from([int(hp.low) - 1, 1.5, math.nan, "abc", None, True])
    if hp.kind == "triple":
        return st.sampled_from([(1.0, 2.0), (math.nan, 1.0, 1.0), "x,y,z", 0.5, (1.0, 1.0, math.inf)])
    if hp.kind == "pair":
        return st.one_of(
            st.tuples(_scalar_invalid(hp), _scalar_valid(hp)),
            st.tuples(_scalar_valid(hp), _scalar_invalid(hp)),
            st.sampled_from([(0.5,), (0.5, 0.5, 0.5), "x,y", 0.5]),
        )
    return _scalar_invalid(hp)


def _coordinate(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        st.sampled_from(HUGE),
        st.floats(allow_nan=False, allow_infinity=False),
    )


@st.composite
def _cases(draw: st.DrawFn) -> tuple[object, RunConfig, bool]:
    """(problem, config, whether some setting is invalid on purpose)."""
    invalid = False
    name = draw(st.sampled_from(NAMES))
    hps: dict[str, object] = {}
    for hp in OPTIMIZERS[name].hyperparams:
        mode = draw(st.integers(0, 19))
        if mode < 9:
            continue  # default
        if mode == 19:
            hps[hp.name] = draw(_invalid(hp))
            invalid = True
        else:
            hps[hp.name] = draw(_valid(hp))
    problem = draw(st.sampled_from(PROBLEMS))
    start = [draw(_coordinate(lo, hi)) for lo, hi in problem.bounds]
    if draw(st.integers(0, 29)) == 0:
        start[0] = draw(st.sampled_from([math.nan, math.inf]))
        invalid = True
    n = problem.n_samples
    batch_size = None
    if n is not None and draw(st.booleans()):
        batch_size = draw(st.integers(1, n + 3))
    if draw(st.integers(0, 29)) == 0:
        batch_size = draw(st.sampled_from([0, -2])) if n is not None else draw(st.integers(1, 5))
        invalid = True
    noise = draw(st.one_of(st.just(0.0), st.floats(0, 10), st.floats(0, 1e300)))
    if draw(st.integers(0, 29)) == 0:
        noise = draw(st.sampled_from([-1.0, math.nan, math.inf]))
        invalid = True
    tol = draw(st.one_of(st.just(0.0), st.floats(0, 1.0)))
    seed = draw(st.integers(0, 2**63))
    shuffle = draw(st.booleans())
    cfg = RunConfig(name, tuple(start), hps, batch_size=batch_size, shuffle=shuffle, noise=noise, seed=seed,
                    tol=tol)
    return problem, cfg, invalid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_runs_never_raise_or_warn(case):
    problem, cfg, invalid = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run = Run(problem, cfg)
        except ValueError as err:
            assert invalid or any(check in str(err) for check in CROSS_CHECKS), (
                f"valid settings rejected: {err}"
            )
            assert not caught, [str(w.message) for w in caught]
            return
        assert not invalid, f"invalid settings accepted: {cfg}"
        taken = run.advance(50)
        again = run.advance(3)
    assert not caught, [str(w.message) for w in caught]

    h = run.history
    n, d = len(h), problem.dim
    assert run.status in (Status.RUNNING, Status.CONVERGED, Status.DIVERGED, Status.STOPPED)
    # stopped: the rule could not take a step (Newton's singular H + λI), and says why in one line;
    # converged may also carry one (L-BFGS's own termination test), a running or diverged run never
    assert run.stop_reason is None or run.status in (Status.STOPPED, Status.CONVERGED)
    assert (run.stop_reason is not None) or run.status is not Status.STOPPED
    if run.stop_reason is not None:
        assert "\n" not in run.stop_reason and run.advance(1) == 0
    if run.status is Status.STOPPED:
        assert run.stop_reason and "\n" not in run.stop_reason and run.advance(1) == 0
    assert h.points.shape == (n, d) and h.loss.shape == (n,)
    assert h.grad_norm.shape == (h.steps,)
    for field in History.STEP_FIELDS:
        assert h.step_array(field).shape == (h.steps, d)
    assert h.internals == run.optimizer.internal_buffers
    for name in h.internals:  # ASGD's x̄ (steps, D), L-BFGS's evaluations (steps,), …
        assert h.step_array(name).shape[0] == h.steps
    assert np.isfinite(h.points).all() and np.isfinite(h.loss).all()
    np.testing.assert_array_equal(h.update, np.diff(h.points, axis=0))
    assert h.steps == taken + again <= 53
    if run.status is Status.DIVERGED:
        assert run.diverged_at == n
        assert run.advance(1) == 0
    else:
        assert run.diverged_at is None
        assert n >= 1
        np.testing.assert_array_equal(h.points[-1], run.params[0])
    if run.status is Status.RUNNING:
        assert h.steps == 53
        assert cfg.tol == 0 or not run.grad_norm < cfg.tol
    if run.status is Status.CONVERGED:  # by tol, or by the rule's own test (which says so)
        assert run.grad_norm < cfg.tol or run.stop_reason is not None
        assert run.advance(1) == 0


@settings(max_examples=40, deadline=None)
@given(_cases())
def test_runs_are_reproducible(case):
    problem, cfg, _ = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            a = Run(problem, cfg)
        except ValueError:
            return
        b = Run(problem, cfg)
        a.advance(30)
        b.advance(30)
    assert a.status == b.status and a.diverged_at == b.diverged_at
    np.testing.assert_array_equal(a.history.points, b.history.points)
    np.testing.assert_array_equal(a.history.grad, b.history.grad)
