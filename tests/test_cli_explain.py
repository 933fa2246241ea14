"""`gdstudio explain`: the public JSON keys, values equal to `gdstudio trace`'s run, text output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gdstudio.cli import main
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


CONTRACT = ("step", "param_before", "param_after", "grad", "state", "lr", "effective_lr", "quantities")


def test_json_has_the_contract_keys_and_the_engine_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "explain", "--problem", "rosenbrock", "--optimizer", "adam", "--start=-1.5,2",
                             "--set", "lr=0.05", "--set", "amsgrad=true", "--step", "7", "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(CONTRACT) <= set(doc)
    assert doc["step"] == 7
    run = Run(make_problem("rosenbrock"), RunConfig("adam", (-1.5, 2.0), {"lr": 0.05, "amsgrad": True})).run(7)
    h = run.history
    assert doc["param_before"] == h.points[6].tolist() and doc["param_after"] == h.points[7].tolist()
    assert doc["grad"] == h.grad[6].tolist() and doc["effective_lr"] == h.effective_lr[6].tolist()
    assert doc["lr"] == 0.05
    state = run.state.buffers
    for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        assert doc["state"][name] == state[name][0].tolist()
    assert doc["state"]["step"] == 7.0
    rows = {q["name"]: q for q in doc["quantities"]}
    assert {"name", "symbol", "value", "meaning", "role"} <= set(rows["exp_avg"])
    assert rows["bias_correction1"]["value"] == 1 - 0.9**7
    assert rows["denom"]["role"] == "scale" and rows["update"]["role"] == "step"
    assert "\\max" in doc["formula_latex"]


def test_text_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "explain", "--problem", "bowl", "--optimizer", "nag", "--step", "3")
    assert code == 0
    assert out.startswith("Step 3 of nag on bowl")
    lines = out.splitlines()
    for name in ("theta_before", "grad", "momentum_buffer", "lookahead", "effective_lr", "update", "loss_after"):
        assert any(f" {name} " in line and not line.startswith(name) for line in lines), name  # after its symbol
    for symbol, name in (("θₜ₋₁", "theta_before"), ("gₜ", "grad"), ("Δθₜ", "update"), ("bₜ", "momentum_buffer")):
        assert any(line.startswith(symbol + " ") and f" {name} " in line for line in lines), (symbol, name)
    assert "Nesterov" in out and "θₜ ← θₜ₋₁ - η (gₜ + γ bₜ)" in out  # the rule in Unicode, not LaTeX
    assert "\\leftarrow" not in out


def test_mini_batch_and_schedule_follow_the_trace_options(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    args = ("--problem", "linear-regression", "--optimizer", "momentum", "--batch-size", "10", "--noise", "0.1",
            "--seed", "4", "--schedule", "step", "--schedule-set", "step_size=2", "--steps", "20")
    code, out, _ = run_cli(capsys, "trace", *args)
    trace = json.loads(out)
    target = tmp_path / "e.json"
    code, out, _ = run_cli(capsys, "explain", *args, "--step", "9", "--format", "json", "--out", str(target))
    assert code == 0 and out == ""
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["param_before"] == trace["points"][8] and doc["param_after"] == trace["points"][9]
    assert doc["lr"] == trace["lr"][8] and doc["lr"] != trace["lr"][0]


@pytest.mark.parametrize(("args", "message"), [
    (("--step", "0"), "Invalid --step: 0"),
    (("--step", "50", "--steps", "10"), "Invalid --step: 50 is beyond --steps 10"),
    (("--step", "3", "--optimizer", "nope"), "Unknown optimizer"),
    (("--step", "3", "--set", "lr=-1"), "Invalid lr value"),
    (("--step", "3", "--format", "xml"), "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                          message: str) -> None:
    base = {"--problem": "bowl", "--optimizer": "adam"}
    argv = ["explain"]
    for key, value in base.items():
        if key not in args:
            argv += [key, value]
    code, out, err = run_cli(capsys, *argv, *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


def test_divergence_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    run = Run(make_problem("rosenbrock"), RunConfig("sgd", (-1.5, 2.0), {"lr": 1.0})).run(100)
    d = run.diverged_at
    assert d is not None
    code, out, err = run_cli(capsys, "explain", "--problem", "rosenbrock", "--optimizer", "sgd", "--start=-1.5,2",
                             "--set", "lr=1", "--step", str(d + 5))
    assert code == 2 and out == ""
    assert err.strip() == f"gdstudio explain: error: step {d + 5} is beyond the divergence at step {d}"


def test_every_value_is_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Prodigy's growth rate is ∞ and L-BFGS's state holds lists: the document still parses strictly."""
    for optimizer in ("prodigy", "lbfgs", "asgd", "nadam"):
        code, out, _ = run_cli(capsys, "explain", "--problem", "beale", "--optimizer", optimizer, "--step", "4",
                               "--format", "json")
        assert code == 0
        doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
        assert np.asarray(doc["grad"]).shape == (2,)
