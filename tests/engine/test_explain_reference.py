"""`explain`'s state equals the reference optimizer's ``optimizer.state[p]`` after K steps, name by name.

Reference data: ``tests/data/reference_state.json`` (tools/reference_state.py: torch 2.13.0,
pytorch_optimizer 4.1.0, schedulefree 1.4.1, float64, analytic gradients). Names are torch's in
both; where the engine keeps a value under another form it is mapped here, and the names the
engine does not keep are listed with the reason (:data:`NOT_KEPT`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.explain import explain_step
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import RunConfig

DATA = json.loads((Path(__file__).parents[1] / "data" / "reference_state.json").read_text(encoding="utf-8"))

#: Reference state entries the engine does not keep, and why.
NOT_KEPT: dict[str, dict[str, str]] = {
    # torch's LBFGS keeps the two-loop recursion's scratch list and the loss of the last closure call;
    # neither is read by the next step.
    "lbfgs": {"al": "scratch of the two-loop recursion (rewritten before it is read)",
              "prev_loss": "the last closure loss (the next step re-evaluates it)"},
    # pytorch_optimizer's Lamb stores per-step diagnostics (norms of θ and of the Adam step, their ratio).
    "lamb": {"adam_norm": "diagnostic", "weight_norm": "diagnostic", "trust_ratio": "diagnostic"},
    # LaProp accumulates 1 − β₂ᵗ as exp_avg_lr_2 but its step never reads it.
    "laprop": {"exp_avg_lr_2": "1 − β₂ᵗ, accumulated, never read by the step"},
}

CASES = [(c, int(k)) for c in DATA["cases"] for k in c["states"]]


def _ids(case: tuple[dict[str, Any], int]) -> str:
    c, k = case
    return f"{c['id']}-{c['optimizer']}-{c['problem']}-k{k}"


def _engine_value(name: str, state: dict[str, Any], optimizer: str) -> np.ndarray:
    value = np.asarray(state[name], dtype=np.float64)
    if optimizer == "lbfgs" and name in ("old_dirs", "old_stps", "ro"):
        assert len(value) == int(state["n_old"])  # explain shows the pairs held, as torch's lists
    return value


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_explain_state_equals_the_reference_state(case: tuple[dict[str, Any], int]) -> None:
    c, k = case
    problem = make_problem(c["problem"], dataset=c["dataset"])
    overrides = {key: tuple(v) if isinstance(v, list) else v for key, v in c["overrides"].items()}
    config = RunConfig(c["optimizer"], tuple(c["start"]), overrides, tol=0.0)
    e = explain_step(problem, config, k)
    ref = c["states"][str(k)]
    np.testing.assert_allclose(e.param_after, ref["__point__"], rtol=1e-12, atol=1e-14)
    not_kept = NOT_KEPT.get(c["optimizer"], {})
    compared = 0
    for name, want in ref.items():
        if name == "__point__" or name in not_kept:
            continue
        assert name in e.state, f"{c['optimizer']}: the reference's {name!r} is not in explain's state {list(e.state)}"
        got = _engine_value(name, e.state, c["optimizer"])
        expected = np.asarray(want, dtype=np.float64)
        if c["optimizer"] == "lbfgs" and name in ("old_dirs", "old_stps", "ro") and expected.size == 0:
            assert got.size == 0
            compared += 1
            continue
        got = got.reshape(expected.shape)
        scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-13 * scale, err_msg=f"{c['optimizer']} {name}")
        compared += 1
    assert compared == len([n for n in ref if n != "__point__" and n not in not_kept])


def test_the_reference_covers_every_torch_rule() -> None:
    covered = {c["optimizer"] for c in DATA["cases"]}
    torch_rules = {"gd", "sgd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam", "adamax",
                   "adadelta", "rprop", "asgd", "adafactor", "lbfgs", "muon"}
    assert torch_rules <= covered
    notes = " ".join(c["note"] for c in DATA["cases"])
    assert "AMSGrad" in notes and "centered" in notes
    assert any(c["optimizer"] == "nag" for c in DATA["cases"])
