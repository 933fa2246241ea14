"""`gdstudio sweep` and `gdstudio basins`: CSV/JSON/NPZ/PNG outputs equal `gdstudio trace`; bad input exits 2."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gdstudio.cli import main
from gdstudio.engine.problems import make_problem


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def trace(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = run_cli(capsys, "trace", *args)
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def trace_summary(doc: dict[str, object], steps: int) -> tuple[float, float, int, str]:
    """(final loss, best loss, steps, status) of a trace document, as sweep/basins report them."""
    loss = np.asarray(doc["loss"], dtype=float)
    status = str(doc["status"])
    taken = int(doc["diverged_at"]) if status == "diverged" else len(loss) - 1  # type: ignore[call-overload]
    return (float(loss[-1]) if len(loss) else math.nan, float(loss.min()) if len(loss) else math.nan, taken,
            status)


def test_sweep_csv_has_the_contract_columns_and_equals_trace(capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--problem", "rosenbrock", "--optimizer", "sgd", "--start=-1.5,2", "--steps", "200",
              "--set", "momentum=0.5"]
    code, out, err = run_cli(capsys, "sweep", *common, "--vary", "lr=1e-5:0.05:8:log")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["lr", "final_loss", "best_loss", "steps", "status"]
    assert len(rows) == 9
    lrs = np.geomspace(1e-5, 0.05, 8)
    statuses = set()
    for row, lr in zip(rows[1:], lrs, strict=True):
        assert float(row[0]) == lr
        final, best, steps, status = trace_summary(trace(capsys, *common, "--set", f"lr={float(lr)!r}"), 200)
        assert math.isclose(float(row[1]), final, rel_tol=1e-12) and math.isclose(float(row[2]), best, rel_tol=1e-12)
        assert int(row[3]) == steps and row[4] == status
        statuses.add(status)
    assert {"ok", "diverged"} <= statuses


def test_two_keys_with_a_component_first_key_slowest(capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--problem", "himmelblau", "--optimizer", "adam", "--steps", "80", "--tol", "1e-3"]
    code, out, err = run_cli(capsys, "sweep", *common, "--vary", "lr=0.01:0.5:3:log", "--vary", "betas[0]=0:0.9:2")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["lr", "betas[0]", "final_loss", "best_loss", "steps", "status"]
    pairs = [(float(r[0]), float(r[1])) for r in rows[1:]]
    assert pairs == [(lr, b1) for lr in np.geomspace(0.01, 0.5, 3) for b1 in np.linspace(0, 0.9, 2)]
    lr, b1 = pairs[3]
    final, _, steps, status = trace_summary(trace(capsys, *common, "--set", f"lr={float(lr)!r}", "--set",
                                                  f"betas={float(b1)!r},0.999"), 80)
    assert math.isclose(float(rows[4][2]), final, rel_tol=1e-12) and int(rows[4][4]) == steps and rows[4][5] == status


def test_sweep_json_and_mini_batches(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    common = ["--problem", "linear-regression", "--optimizer", "sgd", "--steps", "50", "--batch-size", "4",
              "--seed", "3"]
    out_file = tmp_path / "sweep.json"
    code, _, err = run_cli(capsys, "sweep", *common, "--vary", "lr=0.001:0.3:4:log", "--format", "json",
                           "--out", str(out_file))
    assert code == 0, err
    doc = json.loads(out_file.read_text())
    assert doc["keys"] == ["lr"] and len(doc["values"][0]) == 4 and len(doc["cells"]) == 4
    assert doc["problem"] == "linear-regression" and doc["batch_size"] == 4 and doc["seed"] == 3
    cell = doc["cells"][2]
    assert set(cell) == {"lr", "final_loss", "best_loss", "steps", "status"}
    final, _, steps, status = trace_summary(trace(capsys, *common, "--set", f"lr={cell['lr']!r}"), 50)
    assert math.isclose(cell["final_loss"], final, rel_tol=1e-12) and cell["steps"] == steps
    assert cell["status"] == status


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def test_sweep_png_one_and_two_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for vary in (["--vary", "lr=1e-4:1:12:log"], ["--vary", "lr=1e-4:1:6:log", "--vary", "alpha=0.5:0.99:5"]):
        path = tmp_path / "s.png"
        code, _, err = run_cli(capsys, "sweep", "--problem", "rosenbrock", "--optimizer", "rmsprop", "--steps", "30",
                               *vary, "--format", "png", "--out", str(path))
        assert code == 0, err
        assert png_size(path.read_bytes()) == (800, 600)


def test_basins_csv_columns_order_and_equality_with_trace(capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--problem", "himmelblau", "--optimizer", "sgd", "--steps", "120", "--set", "lr=0.02", "--tol", "1e-6"]
    code, out, err = run_cli(capsys, "basins", *common, "--grid", "5", "--bounds=-6,6,-6,6")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["x", "y", "final_x", "final_y", "final_loss", "steps", "status", "minimum"]
    assert len(rows) == 26
    g = np.linspace(-6, 6, 5)
    assert [(float(r[0]), float(r[1])) for r in rows[1:]] == [(x, y) for y in g for x in g]
    minima = make_problem("himmelblau").minima
    statuses = set()
    for row in rows[1:]:
        doc = trace(capsys, *common, f"--start={row[0]},{row[1]}")
        final, _, steps, status = trace_summary(doc, 120)
        point = np.asarray(doc["points"], dtype=float)[-1]
        assert [float(row[2]), float(row[3])] == pytest.approx(point.tolist(), abs=1e-12)
        assert math.isclose(float(row[4]), final, rel_tol=1e-12, abs_tol=1e-300)
        assert int(row[5]) == steps and row[6] == status
        near = np.flatnonzero(np.linalg.norm(minima - point, axis=1) < 1e-2)
        assert int(row[7]) == (int(near[0]) if near.size else -1)
        statuses.add(status)
    assert {"ok", "converged", "diverged"} <= statuses
    assert {int(r[7]) for r in rows[1:]} - {-1}  # some start reached a known minimum


def test_basins_npz_and_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    npz = tmp_path / "b.npz"
    code, _, err = run_cli(capsys, "basins", "--problem", "himmelblau", "--optimizer", "adam", "--set", "lr=0.1",
                           "--steps", "200", "--grid", "8", "--format", "npz", "--out", str(npz))
    assert code == 0, err
    with np.load(npz) as data:
        for key in ("x", "y", "final_x", "final_y", "final_loss", "best_loss", "steps", "status", "status_names",
                    "minimum", "steps_to_minimum", "minima", "settings"):
            assert key in data.files, key
        assert data["final_x"].shape == (8, 8) and data["x"].tolist() == np.linspace(-5, 5, 8).tolist()
        assert set(data["minimum"].ravel().tolist()) <= {-1, 0, 1, 2, 3}
    png = tmp_path / "b.png"
    code, _, err = run_cli(capsys, "basins", "--problem", "rastrigin", "--optimizer", "adam", "--steps", "20",
                           "--grid", "16", "--format", "png", "--out", str(png))
    assert code == 0, err
    assert png_size(png.read_bytes()) == (800, 600)


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--vary", "lr=1:2"], "Invalid --vary"),
    (["sweep", "--vary", "lr=a:2:3"], "Invalid --vary"),
    (["sweep", "--vary", "lr=1:2:3:lin"], "only be 'log'"),
    (["sweep", "--vary", "lr=-1:2:3:log"], "needs LO and HI > 0"),
    (["sweep", "--vary", "lr=0.1:0.2:0"], "COUNT must be ≥ 1"),
    (["sweep"], "Missing --vary"),
    (["sweep", "--vary", "lr=0.1:1:2", "--vary", "eps=1e-8:1e-6:2", "--vary", "weight_decay=0:1:2"], "Too many"),
    (["sweep", "--vary", "lr=0.1:1:2", "--vary", "lr=0.1:1:2"], "given twice"),
    (["sweep", "--vary", "gamma=0.1:1:2"], "not a hyperparameter of adam"),
    (["sweep", "--vary", "betas=0.1:1:2"], "is a pair"),
    (["sweep", "--vary", "lr=-1:1:3"], "lr"),
    (["sweep", "--vary", "lr=0.1:1:100000", "--vary", "eps=1e-8:1e-6:100000"], "at most"),
    (["basins", "--grid", "0"], "Invalid --grid"),
    (["basins", "--grid", "10000000"], "at most"),
    (["basins", "--bounds=1,2,3"], "Invalid --bounds"),
    (["basins", "--bounds=2,1,0,1"], "Invalid --bounds"),
    (["basins", "--start=1,1"], "unrecognized arguments"),
])
def test_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, args[0], "--problem", "himmelblau", "--optimizer", "adam", "--steps", "5",
                             *args[1:])
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_basins_needs_a_2d_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "basins", "--problem", "line-through-origin", "--optimizer", "sgd")
    assert code == 2 and "a basin map needs 2" in err
