"""The benchmark scripts still run (their quick modes), so a refactor cannot silently break them.

Nothing here looks at a timing: the scripts print ratios for people to read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    "args",
    [
        ["engine.py", "--quick"],
        ["train.py", "--quick"],
        ["problem_grids.py", "--rounds", "1", "--points", "50", "--res", "32"],
        ["ui.py", "--frames", "5", "--warmup", "1"],  # on the display pytest-xvfb provides
        ["export.py", "--steps", "5", "--repeat", "1", "--no-matplotlib"],
        ["window.py", "--quick"],  # the whole MainWindow, on the display pytest-xvfb provides
        ["multiples.py", "--frames", "5", "--warmup", "1", "--size", "960x540"],
        ["tuning.py", "--rounds", "1", "--steps", "20"],
        ["history.py", "--quick"],
        ["expressions.py", "--quick"],
        ["landscape.py", "--quick"],
        ["explore.py", "--quick"],
    ],
    ids=["engine", "train", "problem_grids", "ui", "export", "window", "multiples", "tuning", "history",
         "expressions", "landscape", "explore"],
)
def test_bench_script_runs(args: list[str]) -> None:
    done = subprocess.run([sys.executable, str(BENCH / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "×" in done.stdout or "x" in done.stdout  # it printed its ratios
