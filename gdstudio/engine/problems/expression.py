"""The typed-function problem: f(x, y) as text, with exact SymPy derivatives.

The text is parsed, differentiated and compiled by :mod:`gdstudio.engine.expressions` (SymPy,
loaded only when this module is imported: :func:`~gdstudio.engine.problems.registry.make_problem`
imports it for ``custom`` only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gdstudio.engine.expressions import CompiledHessian, prepare_expression, prepare_hessian
from gdstudio.engine.problems.base import Bounds, Problem

__all__ = ["ExpressionProblem"]


def _check_bounds(bounds: Sequence[Sequence[float]]) -> Bounds:
    try:
        pairs = tuple((float(lo), float(hi)) for lo, hi in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid bounds: {bounds!r} (need ((x_lo, x_hi), (y_lo, y_hi)))") from None
    if len(pairs) != 2 or not all(
        math.isfinite(lo) and math.isfinite(hi) and lo < hi for lo, hi in pairs
    ):
        raise ValueError(
            f"Invalid bounds: {bounds!r} (need two finite (lo, hi) pairs with lo < hi)"
        )
    return pairs


class ExpressionProblem(Problem):
    """f(x, y) typed by the user, with its exact SymPy gradient.

    ``formula`` is the text with runs of whitespace collapsed; ``expr`` the SymPy expression and
    ``grad_exprs`` (∂f/∂x, ∂f/∂y). ``bounds`` default to ((-5, 5), (-5, 5)); ``start`` defaults
    to the point 10 % / 90 % across the bounds ((-4, 4) by default), or if f or its gradient is
    not finite or the gradient is zero there, the nearest point of a 21 × 21 grid over the
    bounds where they are finite (preferring a non-zero gradient). Minima are not searched for.
    """

    name = "custom"
    title = "Typed function"
    params = ("x", "y")

    def __init__(
        self,
        text: str,
        bounds: Sequence[Sequence[float]] | None = None,
        start: Sequence[float] | None = None,
    ) -> None:
        self.text = text
        compiled = prepare_expression(text)
        self.expr = compiled.expr
        self.formula = " ".join(text.split())
        self.bounds = _check_bounds(bounds) if bounds is not None else ((-5.0, 5.0), (-5.0, 5.0))
        self.grad_exprs = compiled.grad_exprs
        self._f, self._gx, self._gy = compiled.f, compiled.gx, compiled.gy
        self._hessian: CompiledHessian | None = None
        if start is not None:
            s = tuple(float(v) for v in start)
            if len(s) != 2 or not all(math.isfinite(v) for v in s):
                raise ValueError(f"Invalid start: {tuple(start)!r} (need two finite numbers)")
            self.start = s
        else:
            self.start = self._default_start()

    def __repr__(self) -> str:
        return f"ExpressionProblem({self.text!r})"

    def loss(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        return self._f(p[..., 0], p[..., 1])

    def gradient(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        out = np.empty(p.shape, dtype=float)
        out[..., 0] = self._gx(p[..., 0], p[..., 1])
        out[..., 1] = self._gy(p[..., 0], p[..., 1])
        return out

    def hessian(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """The exact Hessian (..., 2, 2) (see :meth:`Problem.hessian`). Compiled on first use by
        :func:`prepare_hessian`, which raises :class:`ExpressionError` when it is over budget."""
        hessian = self._hessian
        if hessian is None:
            hessian = self._hessian = prepare_hessian(self.text)
        p = np.asarray(points, dtype=float)
        x, y = p[..., 0], p[..., 1]
        hxy = hessian.hxy(x, y)
        out = np.empty((*p.shape[:-1], 2, 2), dtype=float)
        out[..., 0, 0] = hessian.hxx(x, y)
        out[..., 0, 1] = hxy
        out[..., 1, 0] = hxy
        out[..., 1, 1] = hessian.hyy(x, y)
        return out

    def _default_start(self) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.bounds
        preferred = np.array([x0 + 0.1 * (x1 - x0), y0 + 0.9 * (y1 - y0)])
        xs = np.linspace(x0, x1, 21)
        ys = np.linspace(y0, y1, 21)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        pts = np.vstack([preferred, grid])
        loss = self.loss(pts)
        grad = self.gradient(pts)
        finite = np.isfinite(loss) & np.isfinite(grad).all(axis=1)
        moving = finite & (np.abs(grad).sum(axis=1) > 0)
        for ok in (moving, finite):
            if ok.any():
                scale = np.array([x1 - x0, y1 - y0])
                dist = np.where(ok, np.hypot(*((pts - preferred) / scale).T), np.inf)
                best = pts[int(np.argmin(dist))]
                return (float(best[0]), float(best[1]))
        return (float(preferred[0]), float(preferred[1]))
