"""The problem interface: a loss over D parameters, its exact gradient, view bounds and minima.

Points are arrays of shape (..., D): a single point (D,), N points (N, D), or a grid (R, R, D)
all work. Data-driven problems also take ``indices``, the mini-batch whose mean loss the
gradient is of; the loss they report is always over all the data.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

__all__ = ["Bounds", "Problem", "Surface", "check_bounds"]

Bounds = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Surface:
    """The loss sampled on a grid: ``z[i, j] = loss(xs[j], ys[i])`` (row-major, y down the rows).

    For a 1-D problem ``ys`` is None and ``z[j] = loss(xs[j])``.
    """

    xs: np.ndarray
    ys: np.ndarray | None
    z: np.ndarray


def check_bounds(bounds: object, dim: int) -> Bounds:
    """``bounds`` as ``dim`` finite (lo, hi) pairs with lo < hi, or ValueError."""
    try:
        pairs = tuple((float(lo), float(hi)) for lo, hi in bounds)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"Invalid bounds value: {bounds!r} (must be {dim} (low, high) pair(s))") from None
    if len(pairs) != dim:
        raise ValueError(f"Invalid bounds value: {bounds!r} (must be {dim} (low, high) pair(s))")
    for lo, hi in pairs:
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"Invalid bounds value: {(lo, hi)!r} (need finite low < high)")
    return pairs


class Problem(ABC):
    """A loss surface to minimize.

    Attributes: ``name`` (registry key), ``title``, ``formula`` (for labels), ``params``
    (parameter names), ``bounds`` (default view, one (lo, hi) per parameter), ``start``
    (suggested start point) and ``minima`` (known minimizers, shape (M, D); may be empty).
    """

    name: str
    title: str
    formula: str
    params: tuple[str, ...]
    bounds: Bounds
    start: tuple[float, ...]

    @property
    def dim(self) -> int:
        return len(self.params)

    @property
    def minima(self) -> np.ndarray:
        """Known minimizers, shape (M, D)."""
        return np.empty((0, self.dim))

    @property
    def n_samples(self) -> int | None:
        """Number of data points for data-driven problems, None for analytic ones."""
        return None

    @abstractmethod
    def loss(self, points: np.ndarray) -> np.ndarray:
        """The loss at ``points`` (..., D) -> (...). Over all data for data-driven problems."""

    def batch_loss(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """The loss whose gradient :meth:`gradient` gives for ``indices``: the mean over that
        mini-batch for data-driven problems (:meth:`loss` when ``indices`` is None or the
        problem has no data). What a rule that evaluates the objective itself (L-BFGS's line
        search) sees, as a torch closure computes the batch's loss."""
        return self.loss(points)

    @abstractmethod
    def gradient(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """The exact gradient at ``points`` (..., D) -> (..., D).

        ``indices`` selects the mini-batch for data-driven problems (None: all data); analytic
        problems ignore it.
        """

    def hessian(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """The exact Hessian ∇²f at ``points`` (..., D) -> (..., D, D), symmetric.

        Of the function :meth:`gradient` differentiates: for data-driven problems the mean over
        the mini-batch ``indices`` (all data when None), for analytic ones the surface's own
        (``indices`` ignored). Where f is not twice differentiable (kinks of a typed |u|), the
        second derivative almost everywhere. Non-finite entries are results, never warnings.
        Problems without one raise NotImplementedError (Newton's method needs it).
        """
        raise NotImplementedError(f"Problem {self.name!r} has no exact Hessian")

    def grid(self, resolution: int = 256, bounds: Bounds | None = None) -> Surface:
        """The loss on a ``resolution``-point grid (per axis) over ``bounds`` (default view).

        Non-finite values (overflow far from the minimum) are left in ``z`` without warnings.
        """
        if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
            raise ValueError(f"Invalid resolution value: {resolution!r} (must be a whole number ≥ 2)")
        bounds = self.bounds if bounds is None else check_bounds(bounds, self.dim)
        if self.dim == 1:
            xs = np.linspace(*bounds[0], resolution)
            with np.errstate(all="ignore"):
                return Surface(xs, None, self.loss(xs[:, None]))
        xs = np.linspace(*bounds[0], resolution)
        ys = np.linspace(*bounds[1], resolution)
        with np.errstate(all="ignore"):
            z = self._grid_values(xs, ys)
        return Surface(xs, ys, z)

    def _grid_values(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        xx, yy = np.meshgrid(xs, ys)
        return self.loss(np.stack([xx, yy], axis=-1))

    def describe(self) -> str:
        return f"{self.name}: {self.formula}"
