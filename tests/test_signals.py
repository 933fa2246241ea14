"""Interrupts stop cleanly (issue 15, item 7): SIGINT and SIGTERM during render (MP4, GIF, PNG
folder), train and trace stop the work, leave no temporary beside the target (and an existing
target untouched), print one line and exit with 130 / 143 — never a crash (a render once ended in
a segmentation fault when the encoder thread outlived the interpreter).

Each case runs the real command in a subprocess and sends the signal once the work has begun
(the first progress line for render and train; trace prints nothing, so a moment after start).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gdstudio", *args], cwd=ROOT, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _interrupt(proc: subprocess.Popen, signum: int, wait_for: str | None) -> tuple[str, list[str]]:
    """Send ``signum`` once a stderr line starting with ``wait_for`` appeared (None: after the
    interpreter has had a moment to start); returns stdout and the stderr lines."""
    seen = []
    try:
        if wait_for is not None:
            while True:
                line = proc.stderr.readline()
                assert line, f"the command ended before {wait_for!r}: {''.join(seen)}"
                seen.append(line)
                if line.startswith(wait_for):
                    break
        else:
            time.sleep(2.0)  # not an assertion on time: the trace is ~20 s long, the signal lands inside it
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, "".join([*seen, err]).splitlines()


def _last_line_only(lines: list[str], prefix: str) -> str:
    assert not any("Traceback" in l for l in lines), "\n".join(lines)
    ends = [l for l in lines if "interrupted" in l]
    assert len(ends) == 1, "\n".join(lines)
    assert ends[0].startswith(prefix), ends[0]
    assert lines[-1] == ends[0]
    return ends[0]


@pytest.mark.parametrize(("signum", "status"), SIGNALS, ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("name", ["long.mp4", "long.gif", "long_frames"])
def test_render_stops_cleanly(tmp_path: Path, name: str, signum: int, status: int) -> None:
    pytest.importorskip("PySide6")
    target = tmp_path / name
    if name.endswith(".mp4"):
        target.write_bytes(b"the old movie")
    proc = _start("render", "--preset", "himmelblau", "--steps", "3000", "--size", "320x180", "--out", str(target))
    _out, lines = _interrupt(proc, signum, "gdstudio render: frame")
    assert proc.returncode == status, "\n".join(lines)  # not -11 (segfault), not -15 (killed)
    _last_line_only(lines, "gdstudio render: interrupted")
    if name.endswith(".mp4"):
        assert target.read_bytes() == b"the old movie"
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    else:
        assert list(tmp_path.iterdir()) == []  # no hidden .long.gif.xxxx or .long_frames.xxxx/


@pytest.mark.parametrize(("signum", "status"), SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_train_stops_cleanly_and_keeps_what_was_recorded(tmp_path: Path, signum: int, status: int) -> None:
    out = tmp_path / "c.csv"
    proc = _start("train", "--iterations", "1000000", "--hidden", "8", "--optimizers", "sgd", "--eval-every", "0",
                  "--out", str(out))
    _stdout, lines = _interrupt(proc, signum, "  0% 1/1000000 it")
    assert proc.returncode == status, "\n".join(lines)
    _last_line_only(lines, "gdstudio train: interrupted after")
    assert out.read_text().startswith("iteration,loss_sgd,test_accuracy_sgd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


@pytest.mark.parametrize(("signum", "status"), SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_trace_stops_cleanly(tmp_path: Path, signum: int, status: int) -> None:
    out = tmp_path / "t.json"
    proc = _start("trace", "--problem", "rosenbrock", "--optimizer", "adam", "--tol", "0", "--steps", "1000000",
                  "--out", str(out))
    stdout, lines = _interrupt(proc, signum, None)
    assert proc.returncode == status, "\n".join(lines)
    assert stdout == ""
    line = _last_line_only(lines, "gdstudio trace: interrupted")
    assert f"signal {int(signum)}" in line
    assert list(tmp_path.iterdir()) == []
