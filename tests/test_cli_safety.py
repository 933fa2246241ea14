"""Inputs that can never hang or exhaust the machine (issue 15, items 3–6 and 8): counts checked
against memory before anything is allocated, empty option values refused by name, bounds whose
derived values overflow refused, short messages for huge inputs, streams that are full or closed,
session files and IDX files read with limits.

Cases that hang on a broken build (a FIFO, a 10¹² frame count) run in a subprocess with a timeout.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gdstudio import limits
from gdstudio.cli import main

ROOT = Path(__file__).resolve().parents[1]
TRACE = ["trace", "--problem", "bowl", "--optimizer", "adam"]
TRAIN = ["train", "--iterations", "3", "--hidden", "4", "--optimizers", "sgd", "--quiet"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, *needles: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _cap_memory() -> None:
    """Address space capped at 4 GiB: a build that reads /dev/zero or builds a 10¹²-frame list
    fails with MemoryError instead of exhausting the shared machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run(*args: str, timeout: float = 60, capped: bool = False, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run([sys.executable, "-m", "gdstudio", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=env, preexec_fn=_cap_memory if capped else None, **kwargs)


@pytest.fixture
def capped_memory():
    """This process's address space capped at its current size + 2 GiB while the test runs, so a
    build that allocates a 10⁹-step history fails with MemoryError instead of filling the machine
    (it did once: the OOM killer stopped the test run)."""
    import resource

    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _session(tmp_path: Path, **problem) -> Path:
    doc = {"format": "gdstudio-session", "version": 1, "problem": {"name": "rosenbrock", **problem},
           "runs": [{"optimizer": "adam", "start": [0.5, 0.5]}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    return path


def _no_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a, **_k):
        raise AssertionError("the work started")

    monkeypatch.setattr("gdstudio.export.render_options.compute", boom)


# -- 3. counts checked before allocation ------------------------------------------------------
@pytest.mark.parametrize("steps", [10**9, 10**12, 10**30])
def test_trace_steps_beyond_memory_are_refused(capsys, monkeypatch, capped_memory, steps: int) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: 16 * 2**30)
    code, out, err = cli(capsys, *TRACE, "--steps", str(steps))
    assert code == 2 and out == ""
    # one step of a 2-D run: history 8·(2 + 6·2) = 112 bytes + text 220·3 = 660 bytes
    most = int(0.75 * 16 * 2**30 // (112 + 660))
    one_error_line(err, f"gdstudio trace: error: --steps {steps} needs ~", "of history and output; at most ~",
                   f"{most:,} fit in the memory available (16 GiB)")


def test_trace_steps_that_fit_run(capsys, monkeypatch) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: 16 * 2**30)
    code, out, _ = cli(capsys, *TRACE, "--steps", "50", "--format", "csv")
    assert code == 0 and out.count("\n") == 52


@pytest.mark.parametrize("iterations", [10**12, 10**30])
def test_train_iterations_beyond_memory_are_refused(capsys, monkeypatch, capped_memory, iterations: int) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: 16 * 2**30)
    code, _, err = cli(capsys, *TRAIN, "--iterations", str(iterations), "--out", "-")
    assert code == 2
    one_error_line(err, f"--iterations {iterations} needs ~", "of loss history; at most ~",
                   "fit in the memory available")


def test_train_hidden_sizes_beyond_memory_are_refused(capsys, tmp_path, capped_memory) -> None:
    code, _, err = cli(capsys, *TRAIN, "--hidden", "100000000,100000000", "--out", str(tmp_path / "c.csv"))
    assert code == 2
    one_error_line(err, "--hidden 100000000,100000000 needs ~", "the memory available holds ~")
    assert list(tmp_path.iterdir()) == []


def test_render_frames_beyond_the_limit_are_refused_at_once(tmp_path) -> None:
    proc = run("render", "--preset", "himmelblau", "--frames", str(10**12), "--out", str(tmp_path / "a.gif"),
               capped=True)
    assert proc.returncode == 2
    one_error_line(proc.stderr, "Invalid --frames: 1000000000000 (must be in [1, 1,000,000]")
    assert list(tmp_path.iterdir()) == []


def test_render_frame_size_beyond_memory_is_refused(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(limits, "available_memory", lambda: 2**30)
    _no_compute(monkeypatch)
    code, _, err = cli(capsys, "render", "--preset", "himmelblau", "--size", "7680x7680", "--out",
                       str(tmp_path / "a.mp4"))
    assert code == 2
    one_error_line(err, "--size 7680x7680 needs ~3.5 GiB of frame buffers; the memory available holds ~768 MiB")


def test_check_count_names_the_largest_value() -> None:
    # the example: 16 bytes per step; 2.5 GiB available, 3/4 of it usable: 1.875 GiB / 16
    with pytest.raises(limits.CountError, match=r"^--steps 1000000000 needs ~15 GiB of history; at most "
                                               r"~125,829,120 fit in the memory available \(2\.5 GiB\)$"):
        limits.check_count("--steps", 10**9, 16, "history", memory=int(2.5 * 2**30))
    limits.check_count("--steps", 125_829_120, 16, "history", memory=int(2.5 * 2**30))


# -- 4. empty values ----------------------------------------------------------------------------
EMPTY = [
    ([*TRACE, "--start="], "--start"),
    ([*TRACE, "--start", "  "], "--start"),
    (["trace", "--problem", "sigmoid-neuron", "--optimizer", "gd", "--data-x", "", "--data-y", ""], "--data-x"),
    ([*TRACE, "--out", ""], "--out"),
    ([*TRACE, "--expr", " "], "--expr"),
    ([*TRACE, "--dataset", ""], "--dataset"),
    (["trace", "--problem", "", "--optimizer", "adam"], "--problem"),
    (["trace", "--problem", "bowl", "--optimizer", ""], "--optimizer"),
    ([*TRACE, "--set", ""], "--set"),
    (["render", "--preset", "himmelblau", "--size", "", "--out", "x.mp4"], "--size"),
    (["render", "--preset", "", "--out", "x.mp4"], "--preset"),
    (["render", "--session", " ", "--out", "x.mp4"], "--session"),
    ([*TRAIN, "--dataset", "", "--out", "x.csv"], "--dataset"),
    ([*TRAIN, "--hidden", "", "--out", "x.csv"], "--hidden"),
    ([*TRAIN, "--optimizers", " ", "--out", "x.csv"], "--optimizers"),
    ([*TRAIN, "--out", "x.csv", "--plot", ""], "--plot"),
    (["--session", ""], "--session"),
    (["--preset", " "], "--preset"),
]


@pytest.mark.parametrize(("args", "option"), EMPTY, ids=[f"{a[0]} {o}" for a, o in EMPTY])
def test_empty_values_are_an_error_naming_the_option(capsys, monkeypatch, tmp_path, args, option) -> None:
    monkeypatch.chdir(tmp_path)

    def no_window(_args):
        raise AssertionError("the window would open")

    monkeypatch.setattr("gdstudio.cli._cmd_window", no_window)
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    one_error_line(err, f"Invalid {option}:", "empty")
    assert list(tmp_path.iterdir()) == []


# -- 5. non-finite derived values -------------------------------------------------------------
@pytest.mark.parametrize(("bounds", "message"), [
    ([[-1e308, 1e308], [-1e308, 1e308]], "Invalid bounds for axis 0: (-1e+308, 1e+308) (the width overflows"),
    ([[0, 1], [-1.7e308, 1.7e308]], "Invalid bounds for axis 1"),
    ([[1.0, 1.0 + 1e-14], [0, 1]], "too narrow for a grid: the grid step rounds to 0"),
    ([[1e300, 1.00000000000001e300], [0, 1]], "too narrow for a grid"),
])
def test_bounds_whose_derived_values_overflow_are_refused(capsys, monkeypatch, tmp_path, bounds, message) -> None:
    from gdstudio.model.persistence import SessionError, read_session_file, session_from_dict

    path = _session(tmp_path, bounds=bounds)
    with pytest.raises(SessionError, match="problem: Invalid bounds for axis") as info:
        session_from_dict(read_session_file(path))
    assert message in str(info.value)
    _no_compute(monkeypatch)
    code, _, err = cli(capsys, "render", "--session", str(path), "--out", str(tmp_path / "x.gif"))
    assert code == 2
    one_error_line(err, "gdstudio render: error: problem: Invalid bounds for axis", message)


def test_bounds_session_renders_nothing_and_no_traceback(tmp_path) -> None:
    path = _session(tmp_path, bounds=[[-1e308, 1e308], [-1e308, 1e308]])
    proc = run("render", "--session", str(path), "--steps", "3", "--size", "320x180", "--out",
               str(tmp_path / "b.gif"))
    assert proc.returncode == 2 and not (tmp_path / "b.gif").exists()
    one_error_line(proc.stderr, "the width overflows")


# -- 6. short messages --------------------------------------------------------------------------
def test_a_session_with_a_million_values_is_quoted_briefly(tmp_path, capped_memory) -> None:
    from gdstudio.model.persistence import SessionError, read_session_file, session_from_dict

    xs = [float(i) for i in range(10**6)]
    xs[500_000] = "x"
    doc = {"format": "gdstudio-session", "version": 1,
           "problem": {"name": "linear-regression", "data_x": xs, "data_y": [1.0] * 10**6},
           "runs": [{"optimizer": "adam", "start": [0, 0]}]}
    with pytest.raises(SessionError) as info:
        session_from_dict(doc)
    text = str(info.value)
    assert len(text) < 300, text[:400]
    assert text.startswith("problem.data_x: expected a list of finite numbers, got 'x' at index 500000 of [0.0, 1.0")
    assert text.endswith("… (1000000 values)]")
    path = tmp_path / "big.json"  # as a file (15 MB) it is over the size limit: also one short line
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match=r"^big\.json is too large for a session file: 14,\d{3},\d{3} bytes "
                                           r"\(at most 8,388,608\)$"):
        read_session_file(path)


def test_cli_data_values_are_quoted_briefly(capsys) -> None:
    values = ",".join(str(i) for i in range(20000)) + ",oops"
    code, _, err = cli(capsys, "trace", "--problem", "linear-regression", "--optimizer", "gd", "--data-x", values,
                       "--data-y", values)
    assert code == 2
    line = one_error_line(err, "Invalid --data-x: ['0', '1', '2'", "… (20001 values)]", "'oops' is not a number")
    assert len(line) < 250


def test_brief() -> None:
    assert limits.brief([1.0, 2.0]) == "[1.0, 2.0]"
    text = limits.brief(list(range(1000)))
    assert text.startswith("[0, 1, 2, ") and text.endswith(", … (1000 values)]") and len(text) < 110
    assert limits.brief("a" * 1000) == repr("a" * 80) + "… (1000 characters)"


# -- 8. streams ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["list"], [*TRACE, "--steps", "3"]], ids=["list", "trace"])
def test_a_full_stdout_is_one_line_and_status_1(args) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "gdstudio", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    one_error_line(proc.stderr, "cannot write to standard output: No space left on device")


@pytest.mark.parametrize("args", [["list"], [*TRACE, "--steps", "3"]], ids=["list", "trace"])
def test_a_closed_stdout_is_one_line_and_status_1(args) -> None:
    proc = subprocess.run(["sh", "-c", 'exec >&-; exec "$0" -m gdstudio "$@"', sys.executable, *args],
                          stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    one_error_line(proc.stderr, "standard output", "closed")


def test_a_closed_pipe_is_quiet() -> None:
    proc = subprocess.run(["sh", "-c", '"$0" -m gdstudio trace --problem bowl --optimizer adam --steps 20000 '
                                       '--format csv | head -1', sys.executable], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.stdout == "step,x,y,loss\n" and "Traceback" not in proc.stderr and proc.stderr == ""


def test_progress_on_a_full_stderr_does_not_decide_success(tmp_path) -> None:
    out = tmp_path / "c.csv"
    with open("/dev/full", "w") as full:
        train = subprocess.run([sys.executable, "-m", "gdstudio", "train", "--iterations", "20", "--hidden", "4",
                                "--optimizers", "sgd", "--out", str(out)], stdout=subprocess.PIPE, stderr=full,
                               cwd=ROOT, timeout=120)
        assert train.returncode == 0 and out.read_text().startswith("iteration,loss_sgd")
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env["QT_QPA_PLATFORM"] = "offscreen"
        gif = tmp_path / "a.gif"
        render = subprocess.run([sys.executable, "-m", "gdstudio", "render", "--preset", "himmelblau", "--steps",
                                 "3", "--size", "320x180", "--out", str(gif)], stdout=subprocess.PIPE, stderr=full,
                                cwd=ROOT, timeout=120, env=env)
        assert render.returncode == 0 and gif.read_bytes()[:6] == b"GIF89a"


def test_expr_overflow_prints_no_warning() -> None:
    proc = run("trace", "--problem", "custom", "--expr", "1e308*x*y", "--optimizer", "adam", "--steps", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_train_negative_seed_names_the_option(capsys) -> None:
    code, _, err = cli(capsys, *TRAIN, "--seed", "-1", "--out", "-")
    assert code == 2
    one_error_line(err, "gdstudio train: error: Invalid --seed value: -1 (must be a whole number ≥ 0)")
    code, _, err = cli(capsys, *TRACE, "--seed", "-1")
    assert code == 2
    one_error_line(err, "gdstudio trace: error: Invalid --seed: -1")


# -- 8. inputs read with limits -----------------------------------------------------------------
def test_session_fifo_device_and_huge_file_are_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(9 * 2**20)  # sparse: 9 MB of zeros
    cases = [(fifo, "is not a regular file (a pipe or a device)"), ("/dev/zero", "is not a regular file"),
             (big, "is too large for a session file: 9,437,184 bytes (at most 8,388,608)")]
    for path, message in cases:
        proc = run("render", "--session", str(path), "--out", str(tmp_path / "x.gif"), timeout=30, capped=True)
        assert proc.returncode == 2
        one_error_line(proc.stderr, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json", "fifo.json"]


def _gzip_bomb(path: Path, header_shape: tuple[int, ...], inflated: int) -> None:
    """An IDX .gz whose header states ``header_shape`` (uint8) but whose data inflates to
    ``inflated`` bytes, written in chunks (small on disk)."""
    header = bytes([0, 0, 8, len(header_shape)]) + np.asarray(header_shape, ">u4").tobytes()
    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(header)
        for _ in range(inflated >> 20):
            fh.write(chunk)


def test_idx_gzip_is_checked_against_its_header_while_decompressing(tmp_path) -> None:
    from gdstudio.train.idx import IdxError, read_idx

    path = tmp_path / "bomb-idx3-ubyte.gz"
    _gzip_bomb(path, (10, 28, 28), 200 << 20)  # states 7,840 bytes, inflates to 200 MiB
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(IdxError, match=r"has at least 1048576 bytes beyond the data its header describes"):
            read_idx(path, ndim=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20  # the 200 MiB were never held

    huge = tmp_path / "huge-idx3-ubyte.gz"
    _gzip_bomb(huge, (2**31, 2**16, 2**8), 0)  # a header stating 32 PiB
    with pytest.raises(IdxError, match=r"states shape \(2147483648, 65536, 256\) of uint8: .* more than the memory"):
        read_idx(huge, ndim=3)


def test_idx_fifo_is_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    code = ("from gdstudio.train.idx import read_idx, IdxError\n"
            f"try:\n    read_idx({str(fifo)!r})\nexcept IdxError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert "is not a regular file" in proc.stdout, proc.stderr
