"""`gdstudio render`: presets, session files and trace options to MP4 / GIF / PNG, headless.

Subprocesses run the real command (QT_QPA_PLATFORM=offscreen with DISPLAY unset for the contour
view; the X display pytest-xvfb provides for the 3-D view); bad input is checked in-process
(it fails before Qt is needed) and in a subprocess for the missing-display message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")  # rendering draws the window's views
av = pytest.importorskip("av")

from PIL import Image  # noqa: E402

from gdstudio.cli import main  # noqa: E402
from gdstudio.export.render_options import NO_DISPLAY_MESSAGE  # noqa: E402
from gdstudio.export.schedule import frame_steps  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SMALL = "320x180"


def _env(display: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    if not display:
        env.pop("DISPLAY", None)
    return env


def render(*args: str, display: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gdstudio", "render", *args], capture_output=True, text=True,
                          timeout=180, cwd=ROOT, env=_env(display))


def mp4_info(path: Path) -> tuple[int, tuple[int, int], str, float, list[np.ndarray]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
        return len(frames), (s.codec_context.width, s.codec_context.height), s.codec_context.name, \
            float(s.average_rate), frames


def test_preset_contour_offscreen_without_display(tmp_path: Path) -> None:
    out = tmp_path / "himmelblau.mp4"
    proc = render("--preset", "himmelblau", "--steps", "24", "--size", SMALL, "--fps", "12", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    n, size, codec, fps, frames = mp4_info(out)
    assert (n, size, codec, fps) == (25, (320, 180), "h264", 12.0)  # one frame per step: steps + 1
    assert "Traceback" not in proc.stderr and "wrote" in proc.stderr and "frame 25 / 25" in proc.stderr
    # the paths grow: the last frame differs from the first
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 0.3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["himmelblau.mp4"]


def test_session_file_uses_its_saved_steps_and_frames_spread(tmp_path: Path) -> None:
    from gdstudio.engine.runs import RunConfig
    from gdstudio.model.persistence import save_session
    from gdstudio.model.session import Session

    s = Session()
    s.set_problem(name="rosenbrock", log_scale=True)
    s.replace_runs([RunConfig("adam", (-1.5, 2.0), {"lr": 0.05}), RunConfig("momentum", (-1.5, 2.0), {"lr": 0.001})])
    s.forward(30)
    s.seek(10)
    path = tmp_path / "s.json"
    save_session(s, path)
    assert json.loads(path.read_text())["playback"]["computed_steps"] == 30

    gif = tmp_path / "s.gif"
    proc = render("--session", str(path), "--frames", "7", "--size", SMALL, "--fps", "5", "--out", str(gif))
    assert proc.returncode == 0, proc.stderr
    with Image.open(gif) as im:
        assert im.n_frames == 7 and im.size == (320, 180)
        assert im.info["loop"] == 0 and im.info["duration"] == 200
    assert "steps 0–30" in proc.stderr

    folder = tmp_path / "frames"
    proc = render("--session", str(path), "--steps", "12", "--no-caption", "--size", SMALL, "--out", str(folder))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(13)]
    with Image.open(folder / names[0]) as im:
        assert im.size == (320, 180)


def test_trace_options_render_one_run(tmp_path: Path) -> None:
    out = tmp_path / "rb.mp4"
    proc = render("--problem", "rosenbrock", "--optimizer", "adam", "--set", "lr=0.05", "--start=-1.5,2",
                  "--steps", "40", "--frames", "9", "--frame-mode", "article", "--log-scale", "--size", SMALL,
                  "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert mp4_info(out)[0] == 9
    assert frame_steps(40, 9, mode="article")[-1] < 40


def test_surface_without_display_is_one_clear_line(tmp_path: Path) -> None:
    out = tmp_path / "s.mp4"
    proc = render("--preset", "himmelblau", "--view", "surface", "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"gdstudio render: error: {NO_DISPLAY_MESSAGE}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs the X display pytest-xvfb provides")
def test_both_views_under_x(tmp_path: Path) -> None:
    out = tmp_path / "both.mp4"
    proc = render("--preset", "himmelblau", "--view", "both", "--steps", "6", "--size", "480x240", "--out", str(out),
                  display=True)
    assert proc.returncode == 0, proc.stderr
    n, size, _codec, _fps, frames = mp4_info(out)
    assert (n, size) == (7, (480, 240))
    right = frames[-1][60:, 240:]  # the 3-D half: the dark background with a lit surface on it
    assert right.std() > 10


@pytest.mark.parametrize(("args", "message"), [
    (["--preset", "himmelblau", "--size", "10x10"], "Invalid --size"),
    (["--preset", "himmelblau", "--size", "big"], "Invalid --size"),
    (["--preset", "himmelblau", "--fps", "0"], "Invalid --fps"),
    (["--preset", "himmelblau", "--frames", "0"], "Invalid --frames"),
    (["--preset", "nope"], "Unknown preset"),
    (["--preset", "himmelblau", "--problem", "rosenbrock"], "exactly one of"),
    ([], "exactly one of"),
    (["--problem", "rosenbrock"], "--optimizer is required"),
    (["--preset", "himmelblau", "--optimizer", "adam"], "--optimizer applies only with --problem"),
    (["--preset", "himmelblau", "--set", "lr=1"], "--set applies only with --problem"),
    (["--problem", "rosenbrock", "--optimizer", "adam", "--set", "lr=-1"], "lr"),
    (["--problem", "nope", "--optimizer", "adam"], "Unknown problem"),
    (["--preset", "himmelblau", "--steps", "-3"], "Invalid --steps"),
    (["--session", "/nonexistent/s.json"], "No such file"),
    (["--preset", "himmelblau", "--view", "sideways"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    status = main(["render", *args, "--out", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err
    assert status == 2
    # argparse's own errors (a bad choice) are printed by gdstudio.cli as "gdstudio: error: ..."
    assert err.startswith(("gdstudio render: error: ", "gdstudio: error: ")) and err.count("\n") == 1, err
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_output_problems_exit_2(tmp_path: Path, capsys) -> None:
    for out, message in ((tmp_path / "no" / "x.mp4", f"(folder {tmp_path / 'no'} does not exist)"),
                         (tmp_path / "x.avi", "Unsupported output")):
        assert main(["render", "--preset", "himmelblau", "--steps", "3", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    assert main(["render", "--preset", "himmelblau", "--steps", "3", "--out", str(full)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
