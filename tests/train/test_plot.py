"""The Pillow plot: ticks, a diverged curve, the log axis, colours where the curves are."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.train.compare import Entry, TrainConfig, compare_optimizers, make_entry
from gdstudio.train.datasets import load_dataset
from gdstudio.train.plot import PALETTE, nice_ticks, render_curves


def test_nice_ticks():
    assert nice_ticks(0, 2000, 8) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(0, 2.3, 6) == pytest.approx([0, 0.5, 1.0, 1.5, 2.0])
    assert nice_ticks(0.1, 0.1) == [0.1]


@pytest.fixture(scope="module")
def result():
    data = load_dataset("digits")
    cfg = TrainConfig(hidden=(16,), iterations=40, batch_size=32, eval_every=20)
    return compare_optimizers(data, [Entry("adam", "adam"), make_entry("sgd", {"lr": 1e20}, label="wild")], cfg)


@pytest.mark.parametrize("smooth", ["kaiser", "ema", "none"])
@pytest.mark.parametrize("log_y", [False, True])
def test_render_with_a_diverged_curve(result, smooth, log_y):
    assert result.diverged["wild"] is not None
    img = render_curves(result, smooth=smooth, log_y=log_y, size=(640, 400))
    assert img.size == (640, 400) and img.mode == "RGB"
    pixels = np.asarray(img)
    blue = np.array([int(PALETTE[0][i:i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(pixels.astype(int) - blue).sum(axis=2) < 30).sum() > 100  # adam's line is drawn


def test_bad_plot_arguments(result):
    with pytest.raises(ValueError, match="Invalid smooth value: 'median'"):
        render_curves(result, smooth="median")
    with pytest.raises(ValueError, match="Invalid size value"):
        render_curves(result, size=(50, 50))
