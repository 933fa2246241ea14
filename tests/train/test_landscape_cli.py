"""`gdstudio landscape` (JSON / NPZ half): the public JSON contract, files, and exit 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gdstudio.cli import main
from gdstudio.train.landscape import Landscape
from gdstudio.train.landscape_cli import main as module_main

SMALL = ["--optimizers", "sgd,momentum,adam", "--iterations", "20", "--hidden", "10", "--batch-size", "32",
         "--grid", "5", "--subset", "120", "--record-every", "5"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["landscape", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_to_stdout_has_the_contract_keys(capsys):
    status, out, err = run(capsys, *SMALL)
    assert status == 0, err
    doc = json.loads(out)
    for key in ("plane", "explained_variance", "axes", "loss", "paths", "path_loss", "iterations"):
        assert key in doc
    assert doc["plane"] == "pca"
    ev = doc["explained_variance"]
    assert len(ev) == 2 and 0 < ev[1] <= ev[0] and ev[0] + ev[1] <= 1 + 1e-12
    assert set(doc["axes"]) == {"a", "b"} and len(doc["axes"]["a"]) == 5 and len(doc["axes"]["b"]) == 5
    assert np.array(doc["loss"]).shape == (5, 5)  # row b, column a
    assert doc["iterations"] == [0, 5, 10, 15, 20]
    assert list(doc["paths"]) == ["sgd", "momentum", "adam"] == doc["optimizers"]
    for label in doc["optimizers"]:
        assert np.array(doc["paths"][label]).shape == (5, 2) and len(doc["path_loss"][label]) == 5
        assert doc["paths"][label][0] == doc["paths"]["sgd"][0]  # the shared start, one point
    assert doc["axis_titles"][0].startswith("PC1 ") and doc["subset"].startswith("loss over 120 of ")
    assert "training: " in err and "surface: " in err  # progress on stderr, not stdout


def test_same_seed_same_bytes_and_random_plane_centre(capsys):
    args = [*SMALL, "--plane", "random", "--center", "adam", "--seed", "3", "--quiet"]
    status, one, _ = run(capsys, *args)
    status2, two, err = run(capsys, *args)
    assert status == status2 == 0 and one == two and err == ""
    doc = json.loads(one)
    assert doc["explained_variance"] is None and doc["center"] == "adam"
    assert doc["axis_titles"] == ["random direction 1", "random direction 2"]
    # the centre grid point is the centre weights: the loss there is adam's true final loss
    assert doc["loss"][2][2] == pytest.approx(doc["path_loss"]["adam"][-1], rel=1e-5)


def test_endpoints_and_files(capsys, tmp_path):
    out = tmp_path / "ls.npz"  # the format follows the suffix
    status, stdout, err = run(capsys, *SMALL, "--plane", "endpoints", "--endpoints", "adam,sgd", "--out", str(out),
                              "--quiet")
    assert status == 0, err
    assert stdout == ""
    ls = Landscape.from_npz(out)
    assert ls.plane == "endpoints" and ls.axis_titles == ("towards adam", "towards sgd (⊥)")
    np.testing.assert_allclose(ls.paths["adam"][0], [0, 0], atol=1e-9)
    assert abs(ls.paths["adam"][-1][1]) < 1e-6 * abs(ls.paths["adam"][-1][0])  # A on the a axis
    jpath = tmp_path / "ls.json"
    status, _, err = run(capsys, *SMALL, "--plane", "endpoints", "--endpoints", "adam,sgd", "--out", str(jpath),
                         "--quiet")
    assert status == 0, err
    assert Landscape.from_dict(json.loads(jpath.read_text())).to_json() == ls.to_json()


def test_module_entry_point_writes_json(capsys):
    assert module_main([*SMALL, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["plane"] == "pca"


@pytest.mark.parametrize(("args", "needle"), [
    (["--grid", "1"], "--grid"),
    (["--grid", "5000"], "--grid"),
    (["--span", "0"], "--span"),
    (["--span", "inf"], "--span"),
    (["--record-every", "0"], "--record-every"),
    (["--subset", "-3"], "--subset"),
    (["--plane", "diagonal"], "--plane"),
    (["--format", "svg"], "--format"),
    (["--format", "npz"], "--out"),
    (["--format", "png"], "--out"),
    (["--center", "adam"], "--center"),
    (["--plane", "random", "--center", "nadam"], "--center"),
    (["--plane", "endpoints", "--endpoints", "sgd"], "--endpoints"),
    (["--plane", "endpoints", "--endpoints", "sgd,sgd"], "--endpoints"),
    (["--plane", "endpoints", "--optimizers", "adam"], "two optimizers"),
    (["--optimizers", "nosuch"], "nosuch"),
    (["--iterations", "0"], "iterations"),
    (["--out", ""], "--out"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, needle):
    status, out, err = run(capsys, "--iterations", "5", "--hidden", "4", *args)
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("gdstudio landscape: error:"), err
