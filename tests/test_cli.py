"""The `gdstudio` command line: list, trace, and one-line errors with exit status 2."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gdstudio.cli import main
from gdstudio.engine.hyperparams import format_value
from gdstudio.engine.optimizers import OPTIMIZERS
from gdstudio.engine.problems import PROBLEMS, make_problem

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_names_every_problem_and_optimizer_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for info in PROBLEMS.values():
        assert info.name in out and info.formula in out
    for spec in OPTIMIZERS.values():
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(spec.name + " "))
        assert spec.title in line
        for hp in spec.hyperparams:
            assert f"{hp.name}={format_value(hp.default)}" in out


def test_trace_json_has_the_contract_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "trace", "--problem", "rosenbrock", "--optimizer", "adam", "--start=-1.5,2",
                           "--steps", "25", "--set", "lr=0.05", "--set", "betas=0.8,0.99", "--set", "amsgrad=true")
    assert code == 0
    doc = json.loads(out)
    for key in ("problem", "optimizer", "hyperparameters", "start", "steps", "params", "points", "loss", "status",
                "diverged_at"):
        assert key in doc
    assert doc["hyperparameters"] == {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-8, "weight_decay": 0.0,
                                      "amsgrad": True, "decoupled_weight_decay": False}
    assert doc["params"] == ["x", "y"] and doc["start"] == [-1.5, 2.0] and doc["steps"] == 25
    assert doc["status"] == "ok" and doc["diverged_at"] is None
    pts = np.array(doc["points"])
    assert pts.shape == (26, 2)
    np.testing.assert_allclose(doc["loss"], make_problem("rosenbrock").loss(pts), rtol=1e-15)


def test_trace_reports_divergence_without_non_finite_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "trace", "--problem", "rosenbrock", "--optimizer", "sgd", "--start=-1.5,2",
                             "--steps", "100", "--set", "lr=0.1")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["status"] == "diverged"
    assert doc["diverged_at"] == len(doc["points"]) == len(doc["loss"])
    assert all(math.isfinite(v) for p in doc["points"] for v in p)
    assert all(math.isfinite(v) for v in doc["loss"])


def test_trace_converged_status(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "trace", "--problem", "booth", "--optimizer", "gd", "--start=0,0",
                           "--steps", "5000", "--set", "lr=0.05", "--tol", "1e-6")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "converged"
    assert len(doc["points"]) < 5001
    np.testing.assert_allclose(doc["points"][-1], [1, 3], atol=1e-5)


def test_trace_csv_header_and_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "trace", "--problem", "sigmoid-neuron", "--optimizer", "momentum",
                           "--start=-2,-2", "--steps", "7", "--set", "lr=0.5", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["step", "w", "b", "loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(8))
    code, out2, _ = run_cli(capsys, "trace", "--problem", "sigmoid-neuron", "--optimizer", "momentum",
                            "--start=-2,-2", "--steps", "7", "--set", "lr=0.5")
    doc = json.loads(out2)
    np.testing.assert_array_equal([[float(v) for v in r[1:3]] for r in rows[1:]], doc["points"])
    np.testing.assert_array_equal([float(r[3]) for r in rows[1:]], doc["loss"])


def test_trace_one_dimensional_start_and_minibatch_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "trace", "--problem", "linear-regression", "--optimizer", "adam", "--start=0,0",
                           "--steps", "50", "--set", "lr=0.1", "--batch-size", "20", "--seed", "3")
    doc = json.loads(out)
    assert code == 0 and doc["batch_size"] == 20 and doc["seed"] == 3 and len(doc["data"]["x"]) == 100
    code, out_again, _ = run_cli(capsys, "trace", "--problem", "linear-regression", "--optimizer", "adam",
                                 "--start=0,0", "--steps", "50", "--set", "lr=0.1", "--batch-size", "20", "--seed", "3")
    assert out_again == out  # same seed, same bytes
    code, out_other, _ = run_cli(capsys, "trace", "--problem", "linear-regression", "--optimizer", "adam",
                                 "--start=0,0", "--steps", "50", "--set", "lr=0.1", "--batch-size", "20", "--seed", "4")
    assert json.loads(out_other)["points"] != doc["points"]


def test_trace_noise_is_seeded(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["trace", "--problem", "bowl", "--optimizer", "gd", "--start=-7,2", "--steps", "20", "--set", "lr=0.1",
            "--noise", "0.5"]
    a = json.loads(run_cli(capsys, *args, "--seed", "1")[1])
    b = json.loads(run_cli(capsys, *args, "--seed", "1")[1])
    c = json.loads(run_cli(capsys, *args, "--seed", "2")[1])
    assert a["points"] == b["points"] != c["points"]


def test_trace_out_writes_the_file_atomically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "t.csv"
    code, out, _ = run_cli(capsys, "trace", "--problem", "bowl", "--optimizer", "adam", "--steps", "3",
                           "--format", "csv", "--out", str(target))
    assert code == 0 and out == ""
    assert target.read_text().startswith("step,x,y,loss\n")
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


BAD_INPUT = [
    (["trace", "--problem", "nope", "--optimizer", "adam"], "Unknown problem: 'nope'"),
    (["trace", "--problem", "bowl", "--optimizer", "nope"], "Unknown optimizer: 'nope'"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--set", "lr=-1"], "Invalid lr value: -1.0"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--set", "lr=fast"], "Invalid lr value: 'fast'"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--set", "betas=0.9,1"], "Invalid betas[1] value: 1.0"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--set", "colour=red"],
     "Unknown hyperparameter for adam: colour"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--set", "lr"], "Invalid --set 'lr'"),
    (["trace", "--problem", "bowl", "--optimizer", "sgd", "--set", "nesterov=true"], "Nesterov momentum requires"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--start=1"], "Invalid --start: '1' needs 2 value(s)"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--start=a,b"], "Invalid --start: 'a,b'"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--start=1,nan"], "finite"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--steps", "-3"], "Invalid --steps: -3"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--steps", "many"], "invalid int value: 'many'"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--batch-size", "4"], "Invalid batch_size value: 4"),
    (["trace", "--problem", "linear-regression", "--optimizer", "adam", "--batch-size", "0"],
     "Invalid batch_size value: 0"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--noise", "-1"], "Invalid noise value: -1.0"),
    (["trace", "--problem", "sigmoid-neuron", "--optimizer", "gd", "--data-x", "1,2"], "both x and y"),
    (["trace", "--problem", "sigmoid-neuron", "--optimizer", "gd", "--data-x", "1,2", "--data-y", "1"],
     "2 x values but 1 y values"),
    (["trace", "--problem", "sigmoid-neuron", "--optimizer", "gd", "--dataset", "ten-point"],
     "Unknown dataset for sigmoid-neuron: 'ten-point'"),
    (["trace", "--problem", "custom", "--optimizer", "adam"], "needs an expression"),
    (["trace", "--problem", "custom", "--optimizer", "adam", "--expr", "__import__('os').system('true')"], "column"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--format", "xml"], "invalid choice: 'xml'"),
    (["trace", "--problem", "bowl", "--optimizer", "adam", "--out", "/nonexistent/dir/t.json"],
     "Invalid --out path: /nonexistent/dir/t.json (folder /nonexistent/dir does not exist)"),
    (["trace", "--optimizer", "adam"], "the following arguments are required: --problem"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a[1:5]) for a, _ in BAD_INPUT])
def test_bad_input_is_one_clear_line_and_status_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                                  message: str) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gdstudio")
    assert message in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("entry", [["-m", "gdstudio"], [str(ROOT / "main.py")]], ids=["python -m", "main.py"])
def test_entry_points_run_the_same_cli(entry: list[str]) -> None:
    ok = subprocess.run([sys.executable, *entry, "list"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "rosenbrock" in ok.stdout
    bad = subprocess.run([sys.executable, *entry, "trace", "--problem", "nope", "--optimizer", "adam"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "gdstudio trace: error: Unknown problem: 'nope' (known: " + ", ".join(PROBLEMS) + ")"


def test_every_source_folder_is_a_package() -> None:
    """A folder without __init__.py would be left out of a built wheel (setuptools find)."""
    for folder in (ROOT / "gdstudio").rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
            assert (folder / "__init__.py").is_file(), f"{folder.relative_to(ROOT)} has no __init__.py"
