"""The step explanation equals the engine's own history and state, for every registry entry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.explain import (
    Explainer,
    explain_run,
    explain_step,
    to_json,
    to_latex,
    to_markdown,
)
from gdstudio.engine.optimizers import OPTIMIZERS, get_spec
from gdstudio.engine.optimizers.quantities import ROLES, docstring_math
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig, Status

STEPS = 24
SETTINGS: dict[str, dict[str, Any]] = {
    "plain": dict(problem="beale", start=(1.0, 1.5), config={}),
    # a data problem on mini-batches of 7 (shuffled) with gradient noise
    "minibatch": dict(problem="linear-regression", start=(0.5, -0.5),
                      config=dict(batch_size=7, noise=0.05, seed=3)),
    # a schedule that changes η each step and cycles the momentum / β₁ of the rules that have one
    "schedule": dict(problem="himmelblau", start=(0.5, 0.5),
                     config=dict(schedule="onecycle", schedule_settings={"total_steps": 40}, warmup=2)),
}
# Rules whose default η barely moves or whose steps are large: a rate that keeps the run finite and moving.
LR = {"lbfgs": 0.1, "newton": 0.5, "rprop": 0.01, "adadelta": 1.0, "schedulefree-sgd": 1e-3}


def _run(name: str, setting: str, **extra: object) -> tuple[Run, RunConfig]:
    s = SETTINGS[setting]
    problem = make_problem(str(s["problem"]))
    hp: dict[str, Any] = {"lr": LR[name]} if name in LR else {}
    hp.update(extra)  # type: ignore[arg-type]
    options: dict[str, Any] = dict(s["config"])
    if "schedule" in options and not {"betas", "momentum"} & {h.name for h in get_spec(name).hyperparams}:
        options["schedule_settings"] = {**options["schedule_settings"], "cycle_momentum": False}
    config = RunConfig(name, tuple(s["start"]), hp, tol=0.0, **options)  # type: ignore[arg-type]
    run = Run(problem, config).run(STEPS)
    return run, config


def _same(a: object, b: object) -> None:
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_explanation_equals_engine_history_and_state(name: str, setting: str) -> None:
    run, config = _run(name, setting)
    assert run.steps >= 6, f"{name}/{setting}: only {run.steps} steps ({run.status})"
    h = run.history
    explainer = Explainer(run, every=4)  # small checkpoints: the replay crosses several
    spec = get_spec(name)
    rule = spec.rule
    for k in (run.steps, 1, 5, run.steps - 1, 3):
        e = explainer.explain(k)
        assert e.step == k
        _same(e.param_before, h.points[k - 1])
        _same(e.param_after, h.points[k])
        _same(e.grad, h.grad[k - 1])
        _same(e.effective_lr, h.effective_lr[k - 1])
        _same(e.update, h.update[k - 1])
        assert e.lr == h.lr[k - 1]
        assert (e.loss_before, e.loss_after) == (h.loss[k - 1], h.loss[k]) or math.isnan(h.loss[k])
        # the moments and internals the history recorded equal the state after step k
        for buffer, recorded in ((rule.first_moment_buffer, h.first_moment), (rule.second_moment_buffer,
                                                                             h.second_moment)):
            if buffer is not None and buffer in e.state:
                _same(e.state[buffer], recorded[k - 1])
        for internal in h.internals:
            if internal in e.state:
                _same(e.state[internal], h.step_array(internal)[k - 1])
        assert e.state["step"] == k
        # every buffer: the state of an independent run stopped after k steps
        fresh = Run(run.problem, config).run(k)
        assert fresh.state.t == k
        rows = {b: v[0, 0] if v.ndim == 2 and v.shape[1] == 1 else v[0] for b, v in fresh.state.buffers.items()}
        for buffer, want in fresh.optimizer.explain_state(rows).items():  # L-BFGS: the pairs held
            _same(e.state[buffer], want)
        for scalar, value in fresh.state.scalars.items():
            assert e.state[scalar] == value or (math.isnan(value) and math.isnan(e.state[scalar]))  # type: ignore
        # the rows: generic ones always, every state entry once, roles valid
        names = [q.name for q in e.quantities]
        assert len(names) == len(set(names)), names
        for generic in ("theta_before", "grad", "lr", "effective_lr", "update", "theta_after", "loss_before",
                        "loss_after"):
            assert generic in names
        assert set(e.state) <= set(names)
        assert all(q.role is None or q.role in ROLES for q in e.quantities)
        vectors = e.vectors()
        assert vectors["gradient"].name == "grad" and vectors["step"].name == "update"
        # velocity_old + velocity_add = velocity_new (when the rule declares the addition)
        if "velocity_old" in vectors:
            old, add, new = (np.asarray(vectors[r].value) for r in ("velocity_old", "velocity_add", "velocity_new"))
            np.testing.assert_allclose(old + add, new, rtol=1e-9, atol=1e-12 * (1 + np.abs(new).max()))
        assert e.formula_latex.strip()
        assert to_json(e)["step"] == k


def test_explain_step_equals_explain_run_and_a_live_run_is_untouched() -> None:
    problem = make_problem("rosenbrock")
    config = RunConfig("adam", (-1.5, 2.0), {"lr": 0.05})
    run = Run(problem, config).run(300)
    before = run.history.points.copy()
    a = explain_run(run, 211)
    b = explain_step(problem, config, 211)
    assert to_json(a) == to_json(b)
    _same(run.history.points, before)
    assert run.steps == 300 and run.state.t == 300
    # the same step again is the cached explanation; scrubbing back reuses the checkpoints
    assert explain_run(run, 211) is a
    for k in (210, 3, 299, 64, 65, 128):
        _same(explain_run(run, k).grad, run.history.grad[k - 1])


def test_adam_rows_are_its_formula() -> None:
    """η_eff = η/(1−β₁ᵗ)/(√v̂ + ε) bit for bit from the rows; AMSGrad divides by the max."""
    problem = make_problem("beale")
    for amsgrad in (False, True):
        run = Run(problem, RunConfig("adam", (1.0, 1.5), {"lr": 0.1, "amsgrad": amsgrad})).run(20)
        e = explain_run(run, 17)
        bc1 = e.row("bias_correction1").value
        assert bc1 == 1 - 0.9**17 and e.row("bias_correction2").value == 1 - 0.999**17
        _same(e.effective_lr, (0.1 / bc1) / np.asarray(e.row("denom").value))
        v = e.state["max_exp_avg_sq" if amsgrad else "exp_avg_sq"]
        _same(e.row("v_hat").value, np.asarray(v) / (1 - 0.999**17))
        assert e.vectors()["scale"].name == "denom"
        assert ("max" in e.formula_latex) is amsgrad
        assert "lambda" not in e.formula_latex.split("&\\eta")[0]  # no weight-decay line at λ = 0
    decayed = explain_step(problem, RunConfig("adam", (1.0, 1.5), {"weight_decay": 0.1}), 3)
    assert r"\lambda\theta_{t-1}" in decayed.formula_latex
    _same(decayed.row("decayed_grad").value, decayed.grad + 0.1 * decayed.param_before)  # coupled: g + λθ
    assert "decayed_grad" not in [q.name for q in explain_step(problem, RunConfig("adam", (1.0, 1.5)), 3).quantities]
    w = explain_step(problem, RunConfig("adamw", (1.0, 1.5)), 3)
    assert "decoupled" in w.formula_latex and "decayed_grad" not in [q.name for q in w.quantities]


def test_nag_declares_the_look_ahead_and_its_direction() -> None:
    problem = make_problem("rosenbrock")
    run = Run(problem, RunConfig("nag", (-1.5, 2.0), {"lr": 1e-3})).run(10)
    e = explain_run(run, 6)
    assert "Nesterov" in e.formula_latex and "look-ahead" in e.formula_latex
    assert e.vectors()["gradient_point"].name == "lookahead"
    _same(e.row("lookahead").value, e.param_before)
    # Δθ = −η(g + γ b_t) and the classical iterate ϑ = θ + ηγ b_{t−1}
    np.testing.assert_allclose(e.update, -1e-3 * np.asarray(e.row("direction").value), rtol=1e-12)
    b_old = np.asarray(e.state_before["momentum_buffer"])
    _same(e.row("classical_theta").value, e.param_before + 1e-3 * 0.9 * b_old)
    plain = explain_run(Run(problem, RunConfig("momentum", (-1.5, 2.0), {"lr": 1e-3})).run(10), 6)
    assert "Nesterov" not in plain.formula_latex
    assert {"lookahead", "direction"}.isdisjoint(q.name for q in plain.quantities)
    gd = explain_step(problem, RunConfig("gd", (-1.5, 2.0), {"lr": 1e-3}), 2)
    assert "velocity_old" not in gd.vectors() and "b_t" not in gd.formula_latex


@pytest.mark.parametrize(("name", "scale"), [("adagrad", "std"), ("rmsprop", "avg"), ("adamax", "exp_inf")])
def test_preconditioner_scale_gives_the_effective_rate(name: str, scale: str) -> None:
    run = Run(make_problem("beale"), RunConfig(name, (1.0, 1.5), {"lr": 0.01})).run(12)
    e = explain_run(run, 9)
    assert e.vectors()["scale"].name == scale
    if name == "adamax":
        _same(e.effective_lr, (0.01 / (1 - 0.9**9)) / np.asarray(e.state["exp_inf"]))
    else:
        _same(e.effective_lr, 0.01 / np.asarray(e.row(scale).value))


def test_errors_are_one_line() -> None:
    problem = make_problem("rosenbrock")
    config = RunConfig("sgd", (-1.5, 2.0), {"lr": 1.0})
    run = Run(problem, config).run(100)
    assert run.status is Status.DIVERGED and run.diverged_at is not None
    d = run.diverged_at
    with pytest.raises(ValueError, match=rf"^step {d + 3} is beyond the divergence at step {d}$"):
        explain_step(problem, config, d + 3)
    with pytest.raises(ValueError, match=rf"^step {d} is the divergence"):
        explain_run(run, d)
    for bad in (0, -2):
        with pytest.raises(ValueError, match=r"^Invalid step value: .*steps count from 1"):
            explain_step(problem, config, bad)
    with pytest.raises(ValueError, match=r"^Invalid step value: 2.5"):
        explain_step(problem, config, 2.5)  # type: ignore[arg-type]
    live = Run(problem, RunConfig("adam", (-1.5, 2.0))).run(10)
    with pytest.raises(ValueError, match=r"^step 11 is beyond the run's end at step 10$"):
        explain_run(live, 11)
    stopped_problem = make_problem("custom", expr="x**4 + y**4")
    with pytest.raises(ValueError, match=r"^step 1 is beyond the run's end at step 0 \(stopped: singular Hessian"):
        explain_step(stopped_problem, RunConfig("newton", (0.0, 1.0)), 1)
    with pytest.raises(ValueError, match=r"^step 500 is beyond the run's end at step \d+ \(converged\)$"):
        explain_step(make_problem("bowl"), RunConfig("newton", (1.0, 1.0)), 500)
    with pytest.raises(ValueError, match=r"^Unknown optimizer"):
        explain_step(problem, RunConfig("nope", (0.0, 0.0)), 1)


def test_tables_hold_every_row() -> None:
    e = explain_step(make_problem("beale"), RunConfig("rmsprop", (1.0, 1.5), {"centered": True, "momentum": 0.5}), 4)
    md, tex = to_markdown(e), to_latex(e)
    for q in e.quantities:
        assert f"`{q.name}`" in md and f"${q.symbol}$" in md and f"${q.symbol}$" in tex
    assert md.count("\n|") == len(e.quantities) + 2
    assert tex.count("\\\\\n") >= len(e.quantities) and "\\begin{tabular}" in tex
    assert "\\bar g_t" in md  # grad_avg's symbol (centered)


def test_docstring_math_is_the_block_only() -> None:
    doc = """Rule.

    .. math::
        a &\\leftarrow b \\\\
        c &\\leftarrow d

    Prose after the block.
    """
    assert docstring_math(doc) == "a &\\leftarrow b \\\\\nc &\\leftarrow d"
    assert docstring_math("no maths") == ""


@pytest.mark.parametrize("name", ["adabelief", "yogi", "ademamix", "adam", "sgd", "rmsprop"])
def test_velocity_addends_use_the_decayed_gradient(name: str) -> None:
    """With coupled weight decay the addend is (1−β)(g + λθ): old + addend = new still holds."""
    hp: dict[str, Any] = {"weight_decay": 0.3}
    if name in ("adabelief", "yogi", "ademamix"):
        hp["weight_decouple"] = False
    if name in ("sgd", "rmsprop"):
        hp["momentum"] = 0.7
    run = Run(make_problem("beale"), RunConfig(name, (1.0, 1.5), {"lr": 1e-3, **hp})).run(6)
    e = explain_run(run, 5)
    v = e.vectors()
    old, add, new = (np.asarray(v[r].value) for r in ("velocity_old", "velocity_add", "velocity_new"))
    np.testing.assert_allclose(old + add, new, rtol=1e-12)
    assert not np.allclose(add, (np.asarray(add) / np.asarray(e.grad))[0] * np.asarray(e.grad))  # λθ entered


def test_playing_forward_from_the_last_step_equals_a_replay_from_zero() -> None:
    """Explaining K, K+1, … replays one step from the twin kept after K: the same as replaying from 0."""
    problem = make_problem("linear-regression")
    config = RunConfig("nadam", (0.5, -0.5), {"lr": 0.05}, batch_size=9, noise=0.2, seed=5, tol=0.0,
                       schedule="exponential", schedule_settings={"gamma": 0.97})
    run = Run(problem, config).run(90)
    explainer = Explainer(run, every=32)
    for k in [*range(60, 70), 20, 21, 89, 33]:
        assert to_json(explainer.explain(k)) == to_json(Explainer(run, every=10**9).explain(k)), k


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_formula_is_balanced_and_ends_with_the_values(name: str) -> None:
    latex = get_spec(name).create().update_latex()
    depth = 0
    for ch in latex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, latex
    assert depth == 0, latex
    last = latex.splitlines()[-1]
    assert last.startswith("&") and ("\\eta = " in last or name == "newton"), last


def test_rmsprop_and_adagrad_formulas_follow_their_switches() -> None:
    settings: tuple[dict[str, Any], ...] = ({}, {"centered": True, "momentum": 0.5})
    plain, centered = (get_spec("rmsprop").create(hp).update_latex() for hp in settings)
    assert r"\bar g" not in plain and "b_t" not in plain
    assert r"\bar g_t^2" in centered and r"b_t &\leftarrow \gamma" in centered
    decayed = get_spec("adagrad").create({"lr_decay": 0.1, "weight_decay": 0.2}).update_latex()
    assert r"\tilde\eta_t" in decayed and r"\lambda\theta" in decayed
    assert r"\tilde\eta" not in get_spec("adagrad").create().update_latex()
