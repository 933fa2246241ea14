"""PNG / GIF of a network landscape (gdstudio.ui.landscape_command), and `gdstudio landscape --format png|gif`."""

from __future__ import annotations

import gdstudio_landscape_fixture as fx
import numpy as np
import pytest
from PIL import Image

from gdstudio.ui.landscape_command import render_landscape


def _near(rgb: np.ndarray, color: str, tol: int = 12) -> int:
    want = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb.astype(int) - want).max(axis=-1) <= tol).sum())


def test_png_draws_every_path_in_its_colour(qapp, tmp_path):
    out = tmp_path / "landscape.png"
    assert render_landscape(fx.make_landscape(), out, colors=fx.COLORS) == out
    img = Image.open(out)
    assert img.format == "PNG" and img.size == (1280, 720)
    rgb = np.asarray(img.convert("RGB"))
    for color in fx.COLORS:
        assert _near(rgb, color) > 200, color  # each path (and its legend swatch) in its colour
    blank = tmp_path / "none.png"
    other = ("#FF00FF", "#00FFFF", "#FFFF00")
    render_landscape(fx.make_landscape(), blank, colors=other)
    rgb2 = np.asarray(Image.open(blank).convert("RGB"))
    assert _near(rgb2, fx.COLORS[1]) < _near(rgb, fx.COLORS[1]) / 4  # the colour comes from the paths


def test_gif_has_one_frame_per_frame_asked_and_the_paths_grow(qapp, tmp_path):
    out = tmp_path / "landscape.gif"
    render_landscape(fx.make_landscape(), out, frames=4, colors=fx.COLORS, fps=5)
    img = Image.open(out)
    assert img.n_frames == 4 and img.size == (800, 450)
    counts = []
    for k in range(img.n_frames):
        img.seek(k)
        counts.append(_near(np.asarray(img.convert("RGB")), fx.COLORS[0], tol=40))
    assert counts[0] < counts[-1]  # the first frame shows the start, the last the whole path


def test_bad_format_is_one_line(qapp, tmp_path):
    with pytest.raises(ValueError, match="Invalid format value: 'bmp'"):
        render_landscape(fx.make_landscape(), tmp_path / "x.bmp")


SMALL = ["landscape", "--iterations", "40", "--hidden", "16,16", "--optimizers", "sgd,momentum,adam", "--grid", "7",
         "--subset", "100", "--record-every", "10"]


def test_gdstudio_landscape_writes_a_gif_with_one_frame_per_recorded_iterate(qapp, tmp_path, capsys):
    from gdstudio.cli import main

    out = tmp_path / "l.gif"
    assert main([*SMALL, "--format", "gif", "--out", str(out)]) == 0
    img = Image.open(out)
    assert img.n_frames == 5  # iterations 0, 10, 20, 30, 40
    err = capsys.readouterr().err
    assert "gdstudio landscape: wrote" in err and "loss over 100 of" in err


def test_gdstudio_landscape_png_and_bad_input(qapp, tmp_path, capsys):
    from gdstudio.cli import main

    out = tmp_path / "l.png"
    assert main([*SMALL, "--out", str(out)]) == 0  # the format from the suffix
    assert Image.open(out).format == "PNG"
    capsys.readouterr()
    assert main([*SMALL, "--format", "gif", "--out", str(tmp_path / "x.gif"), "--frames", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frames" in err[0]
    assert not (tmp_path / "x.gif").exists()
