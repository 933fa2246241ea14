"""Basin-of-attraction maps: one run from every start of a grid, all in one vectorized call.

The starts are every pair (xᵢ, yⱼ) of ``numpy.linspace(x0, x1, gx)`` × ``numpy.linspace(y0, y1,
gy)``; grid arrays have shape (gy, gx), ``[j, i]`` the run from (xᵢ, yⱼ) (image order: a row is a
y). Each pixel is what ``Run(problem, config.with_(start=(xᵢ, yⱼ))).run(steps)`` ends with (see
:mod:`gdstudio.engine.explore.rows`), plus ``minimum``: the index into ``problem.minima`` of the
known minimum within ``tol`` of the final point (−1: none), and ``steps_to_minimum``: the first
step whose point is within ``tol`` of a known minimum (−1: never).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gdstudio.engine.explore.memory import check_memory
from gdstudio.engine.explore.rows import Cancel, Progress, run_rows
from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import RunConfig

__all__ = ["BasinMap", "basin_map", "grid_starts", "label_minima"]

#: Largest grid side the window offers (the CLI accepts what memory allows).
MAX_GRID = 512


@dataclass
class BasinMap:
    """A basin map. Grid arrays are (gy, gx) (or (N,) when built from explicit ``starts``)."""

    xs: npt.NDArray[np.float64] | None
    ys: npt.NDArray[np.float64] | None
    starts: npt.NDArray[np.float64]  #: (N, 2) flattened starts, j-major (all x of ys[0], then ys[1] …)
    final_points: npt.NDArray[np.float64]  #: (..., 2)
    final_loss: npt.NDArray[np.float64]
    best_loss: npt.NDArray[np.float64]
    steps: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    minimum: npt.NDArray[np.int64]
    steps_to_minimum: npt.NDArray[np.int64]
    minima: npt.NDArray[np.float64]  #: (M, 2) the problem's known minima
    tol: float


def _grid_size(grid: int | tuple[int, int]) -> tuple[int, int]:
    """``(gx, gy)`` of ``grid`` (G or (gx, gy)), or ValueError."""
    pair = (grid, grid) if isinstance(grid, (int, np.integer)) else tuple(grid)
    if len(pair) != 2 or any(isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1 for g in pair):
        raise ValueError(f"Invalid grid: {grid!r} (must be a whole number ≥ 1)")
    return int(pair[0]), int(pair[1])


def grid_starts(bounds: Sequence[float], grid: int | tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, starts)`` for ``bounds`` = (x0, x1, y0, y1) and ``grid`` = G or (gx, gy)."""
    try:
        x0, x1, y0, y1 = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid bounds: {bounds!r} (need X0,X1,Y0,Y1)") from None
    if not all(np.isfinite([x0, x1, y0, y1])) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"Invalid bounds: {(x0, x1, y0, y1)} (need finite X0 < X1 and Y0 < Y1)")
    gx, gy = _grid_size(grid)
    xs = np.linspace(x0, x1, int(gx))
    ys = np.linspace(y0, y1, int(gy))
    gridx, gridy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gridx.ravel(), gridy.ravel()])


def label_minima(points: np.ndarray, minima: np.ndarray, tol: float) -> np.ndarray:
    """(N,) index of the known minimum within ``tol`` of each point (the nearest), else −1."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, minima.shape[1] if minima.size else 2)
    label = np.full(len(pts), -1, dtype=np.int64)
    if not len(minima):
        return label
    with np.errstate(invalid="ignore"):
        d = np.sqrt(((pts[:, None, :] - minima[None, :, :]) ** 2).sum(axis=2))
        nearest = np.argmin(np.where(np.isfinite(d), d, np.inf), axis=1)
        close = d[np.arange(len(pts)), nearest] < tol
    label[close] = nearest[close]
    return label


def basin_map(problem: Problem, config: RunConfig, bounds: Sequence[float] | None, grid: int | tuple[int, int],
              steps: int, *, tol: float = 1e-2, progress: Progress | None = None, cancel: Cancel | None = None,
              starts: npt.ArrayLike | None = None, detail: bool = True) -> BasinMap:
    """The basin map of ``config`` (its start ignored) over ``bounds`` (x0, x1, y0, y1; None: the
    problem's view bounds) on a ``grid`` (G or (gx, gy)), ``steps`` steps; or from explicit
    ``starts`` (N, 2). ValueError for a problem that is not 2-D, bad bounds or grid, a grid too
    large for memory (the message names what fits); :class:`Cancelled` when ``cancel`` is set.
    ``detail`` False skips ``best_loss`` and ``steps_to_minimum`` (NaN / −1; a little faster)."""
    if problem.dim != 2:
        raise ValueError(f"Invalid problem: {problem.name} has {problem.dim} parameter(s); a basin map needs 2")
    xs: np.ndarray | None
    ys: np.ndarray | None
    if starts is None:
        if bounds is None:
            (bx0, bx1), (by0, by1) = problem.bounds
            bounds = (bx0, bx1, by0, by1)
        gx, gy = _grid_size(grid)
        check_memory((gy, gx), 2, config.optimizer, what="grid")  # before anything is allocated
        xs, ys, start_arr = grid_starts(bounds, (gx, gy))
        shape: tuple[int, ...] = (len(ys), len(xs))
    else:
        xs = ys = None
        start_arr = np.array(starts, dtype=np.float64).reshape(-1, 2)
        shape = (start_arr.shape[0],)
        check_memory(shape, 2, config.optimizer, what="set of starts")
    if start_arr.shape[0]:  # the config's own start is not used (nor checked)
        config = config.with_(start=(float(start_arr[0, 0]), float(start_arr[0, 1])))
    res = run_rows(problem, config, steps, starts=start_arr, near=float(tol) if detail else None, best=detail,
                   progress=progress, cancel=cancel)
    if not detail:
        res.steps_to_minimum = np.full(start_arr.shape[0], -1, dtype=np.int64)
    minima = problem.minima
    return BasinMap(
        xs=xs, ys=ys, starts=start_arr,
        final_points=res.final_points.reshape(*shape, 2), final_loss=res.final_loss.reshape(shape),
        best_loss=res.best_loss.reshape(shape), steps=res.steps.reshape(shape), status=res.status.reshape(shape),
        minimum=label_minima(res.final_points, minima, float(tol)).reshape(shape),
        steps_to_minimum=res.steps_to_minimum.reshape(shape), minima=minima.copy(), tol=float(tol),
    )
