"""A small hand-made network landscape for the landscape tests (no training: exact, fast)."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.problems.landscape import LandscapeData, RecordedPath

COLORS = ("#E69F00", "#56B4E9", "#009E73")


def bowl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A tilted bowl with a ridge: loss row b, column a."""
    return 0.5 + 0.8 * a[None, :] ** 2 + 0.3 * b[:, None] ** 2 + 0.2 * np.sin(3 * a[None, :]) * b[:, None]


def make_landscape(grid: int = 21, n: int = 11) -> LandscapeData:
    a = np.linspace(-2.0, 2.0, grid)
    b = np.linspace(-1.5, 1.5, grid - 4)
    t = np.linspace(0.0, 1.0, n)
    start = np.array([1.6, 1.2])
    paths = []
    for k, (name, hp) in enumerate((("gd", {"lr": 0.1}), ("momentum", {"lr": 0.01}), ("adam", {"lr": 0.001}))):
        end = np.array([-0.2 + 0.2 * k, -0.3 * k])
        bend = np.array([0.3 * (k - 1), 0.2]) * np.sin(np.pi * t)[:, None]
        pts = start + (end - start) * t[:, None] + bend
        true = 2.0 * np.exp(-3 * t) + 0.05 * (k + 1)
        paths.append(RecordedPath(["SGD", "Momentum", "Adam"][k], name, pts, true, np.arange(n) * 10.0, hp))
    return LandscapeData(a, b, bowl(a, b), ("PC1 38%", "PC2 12%"), "loss over 100 of 1,797 training images",
                         "pca", tuple(paths))
