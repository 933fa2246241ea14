"""An L-BFGS run that ends by its own test reads "converged" everywhere: the trace JSON (with the
rule's reason as ``stop_reason``) and the session's message; a converged-by-tol run keeps null."""

from __future__ import annotations

import json

import pytest

from gdstudio.cli import main
from gdstudio.engine.runs import RunConfig, Status
from gdstudio.model.session import Session

PRESET = ("--problem", "rosenbrock", "--optimizer", "lbfgs", "--start=-1.5,2", "--set", "line_search_fn=strong_wolfe")


def test_trace_json_says_converged_with_the_rules_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", *PRESET, "--steps", "300"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "converged" and doc["diverged_at"] is None
    assert len(doc["points"]) == 41 and len(doc["lr"]) == 40  # torch's last move is step 40
    assert doc["stop_reason"].startswith("∇f·d = ") and "tolerance_change" in doc["stop_reason"]


def test_trace_json_converged_by_tol_has_no_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--problem", "booth", "--optimizer", "gd", "--start=0,0", "--steps", "5000",
                 "--set", "lr=0.05", "--tol", "1e-6"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "converged" and doc["stop_reason"] is None


def test_session_message_names_the_rules_reason() -> None:
    s = Session()
    s.set_problem(name="rosenbrock")
    rid = s.add_run(RunConfig("lbfgs", (-1.5, 2.0), {"line_search_fn": "strong_wolfe"}))
    messages: list[str] = []
    s.message.connect(messages.append)
    s.forward(60)
    run = s.entry(rid).run
    assert run is not None and run.status is Status.CONVERGED and run.stop_reason is not None
    assert any(m.endswith(f"converged at step 40: {run.stop_reason}") for m in messages), messages
