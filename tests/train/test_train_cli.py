"""`gdstudio train`: exit codes, one-line errors, CSV columns, the PNG, atomic writes."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest
from PIL import Image

from gdstudio.resources import resource_path
from gdstudio.train.cli import add_train_arguments, main, parse_entries, parse_hidden, run_train
from gdstudio.train.idx import write_idx

FAST = ["--iterations", "30", "--hidden", "16,16", "--batch-size", "32", "--quiet"]


def _run(argv):
    """Through a parent parser, as the main CLI's command table registers the command."""
    parser = argparse.ArgumentParser(prog="gdstudio")
    sub = parser.add_subparsers(dest="command")
    add_train_arguments(sub.add_parser("train"))
    return run_train(parser.parse_args(["train", *argv]))


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_csv_columns_and_values(tmp_path, capsys):
    out = tmp_path / "curves.csv"
    code = _run([*FAST, "--optimizers", "sgd,adam", "--eval-every", "10", "--out", str(out)])
    assert code == 0
    rows = _read(out)
    assert rows[0] == ["iteration", "loss_sgd", "loss_adam", "test_accuracy_sgd", "test_accuracy_adam"]
    body = rows[1:]
    assert [r[0] for r in body] == [str(i) for i in range(1, 31)]
    assert all(r[1] and r[2] for r in body)
    evaluated = [r[0] for r in body if r[3]]
    assert evaluated == ["10", "20", "30"]
    assert all(0.0 <= float(r[4]) <= 1.0 for r in body if r[4])
    assert body[0][1] == body[0][2]  # same start, same first batch
    stdout = capsys.readouterr().out
    assert "sgd" in stdout and "test accuracy" in stdout


def test_defaults_are_the_books_five(tmp_path, capsys):
    out = tmp_path / "c.csv"
    assert main(["--iterations", "3", "--hidden", "8", "--quiet", "--out", str(out)]) == 0
    header = _read(out)[0]
    assert header[1:6] == ["loss_sgd", "loss_momentum", "loss_adagrad", "loss_adam", "loss_rmsprop"]
    text = capsys.readouterr().out
    assert "momentum  " in text and "lr=0.01, momentum=0.9" in text


def test_set_labels_and_plot(tmp_path):
    out, png = tmp_path / "c.csv", tmp_path / "c.png"
    code = _run([*FAST, "--optimizers", "adam,fast=adam", "--set", "fast.lr=0.01", "--set", "adam.betas=0.8,0.99",
                 "--out", str(out), "--plot", str(png)])
    assert code == 0
    rows = _read(out)
    assert rows[0][1:3] == ["loss_adam", "loss_fast"]
    assert rows[1][1] == rows[1][2] and rows[3][1] != rows[3][2]
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (960, 600)
        pixels = np.asarray(img.convert("RGB"))
    assert (pixels != 255).any(axis=2).mean() > 0.01  # something was drawn


def test_mnist_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (64, 28, 28)).astype(np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 64).astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (16, 28, 28)).astype(np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 16).astype(np.uint8))
    out = tmp_path / "c.csv"
    assert _run([*FAST, "--dataset", f"mnist:{folder}", "--optimizers", "sgd", "--out", str(out)]) == 0
    assert len(_read(out)) == 31


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "cifar"], "Unknown dataset: 'cifar'"),
    (["--dataset", "mnist:/definitely/not/here"], "MNIST folder does not exist: /definitely/not/here"),
    (["--optimizers", "sgd,adamm"], "Unknown optimizer: 'adamm'"),
    (["--optimizers", "sgd,sgd"], "'sgd' is listed twice"),
    (["--optimizers", "sgd,newton"], "newton needs the exact Hessian"),
    (["--optimizers", "sgd,"], "Invalid --optimizers value"),
    (["--hidden", "100,x"], "Invalid --hidden value: '100,x'"),
    (["--hidden", "100,-5"], "Invalid --hidden value"),
    (["--set", "adam.lr=0.1"], "adam is not among --optimizers"),
    (["--set", "sgd.lr"], "Invalid --set value: 'sgd.lr'"),
    (["--set", "sgd.foo=1"], "Unknown hyperparameter for sgd: foo (known: lr, momentum"),
    (["--set", "sgd.lr=fast"], "Invalid lr value: 'fast'"),
    (["--set", "sgd.lr=-1"], "Invalid lr value: -1.0"),
    (["--set", "sgd.nesterov=true"], "Invalid nesterov value"),
    (["--iterations", "0"], "Invalid iterations value: 0"),
    (["--batch-size", "0"], "Invalid batch_size value: 0"),
    (["--eval-every", "-1"], "Invalid eval_every value: -1"),
    (["--test-fraction", "1.5"], "Invalid test_fraction value: 1.5"),
    (["--threads", "-2"], "Invalid --threads value: -2"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    out = tmp_path / "c.csv"
    code = _run([*FAST, "--optimizers", "sgd", *argv, "--out", str(out)] if "--optimizers" not in argv
                else [*FAST, *argv, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("gdstudio train: error: ")
    assert message in lines[0]
    assert not out.exists()


def test_missing_output_folder_is_bad_input(tmp_path, capsys):
    code = _run([*FAST, "--optimizers", "sgd", "--out", str(tmp_path / "no" / "c.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Invalid --out path" in err and "does not exist" in err


def test_argparse_level_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        _run(["--iterations", "many", "--out", "x.csv"])
    assert info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_progress_goes_to_stderr(tmp_path, capsys):
    out = tmp_path / "c.csv"
    assert _run(["--iterations", "20", "--hidden", "8", "--optimizers", "sgd", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "100% 20/20 it" in captured.err and "digits: 1438 training / 359 test images" in captured.err
    assert "20/20" not in captured.out


def test_parsers():
    assert parse_hidden("100, 50") == (100, 50) and parse_hidden("none") == ()
    entries = parse_entries("Adam,slow=sgd", ["slow.lr=0.001", "ADAM.amsgrad=yes"])
    assert [(e.label, e.optimizer, dict(e.overrides)) for e in entries] == [
        ("adam", "adam", {"amsgrad": True}), ("slow", "sgd", {"lr": 0.001})]


def test_resource_path(monkeypatch, tmp_path):
    assert resource_path("datasets", "digits.csv.gz").is_file()
    with pytest.raises(FileNotFoundError, match=r"Resource not found: datasets/none\.csv"):
        resource_path("datasets", "none.csv")
    with pytest.raises(ValueError, match="must be relative"):
        resource_path("..", "secrets")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "digits.csv.gz").write_bytes(b"x")
    monkeypatch.setenv("GDSTUDIO_RESOURCES", str(tmp_path))
    assert resource_path("datasets", "digits.csv.gz") == tmp_path / "datasets" / "digits.csv.gz"


def test_ctrl_c_writes_what_was_recorded(tmp_path):
    """SIGINT in the middle of a run: exit 130, the CSV holds the iterations done so far."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "c.csv"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdstudio.train.cli", "--iterations", "1000000", "--hidden", "8",
         "--optimizers", "sgd", "--eval-every", "0", "--out", str(out)],
        cwd=root, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # the dataset line, printed before training starts
        assert line.startswith("digits:"), line
        assert proc.stderr.readline().startswith("  0% 1/1000000 it")  # training has begun
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "Traceback" not in err
    rows = _read(out)
    assert rows[0] == ["iteration", "loss_sgd", "test_accuracy_sgd"]
    assert 1 <= len(rows) - 1 < 1000000
    assert rows[-1][2] != ""  # the state reached was evaluated
