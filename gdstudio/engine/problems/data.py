"""Data-driven losses: the mean of a per-sample loss over a dataset, with mini-batch gradients.

The loss reported is always the mean over all the data; the gradient is the mean over the
mini-batch ``indices`` (all the data when None), so a last partial batch is averaged over its
own size. Grids are computed in chunks of data points so memory stays small.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable

import numpy as np

from gdstudio.engine.problems.base import Bounds, Problem

__all__ = ["DATASETS", "DataProblem", "LineThroughOrigin", "LinearRegression", "SigmoidNeuron", "exact_rows_per_call"]

#: Elements per temporary when broadcasting points against data (~8 MB of float64).
_CHUNK_ELEMENTS = 1 << 20


def exact_rows_per_call(problem: Problem, n: int) -> int:
    """How many of ``n`` rows one loss/gradient call may hold and still sum the data exactly as one
    row does: a data problem sums its samples in chunks of ``_CHUNK_ELEMENTS // rows``, so a single
    chunk for every row count up to this one keeps each row's sum bit-identical (n for a surface)."""
    samples = problem.n_samples
    if samples is None:
        return n
    return max(1, min(n, _CHUNK_ELEMENTS // samples))


#: A per-sample piece: (θ columns, x, y) -> its parts (``_sample_loss`` wrapped in a 1-tuple, ``_sample_grad``).
_SampleFn = Callable[[tuple[np.ndarray, ...], np.ndarray, np.ndarray], tuple[np.ndarray, ...]]


class DataProblem(Problem):
    """A loss ``mean_i ℓ(ŷ(xᵢ; θ), yᵢ)`` over data (x, y) of a model ŷ (see :meth:`predict`)."""

    dataset: str
    #: The model, for labels (e.g. "ŷ = a·x + b").
    model: str = "ŷ"

    def __init__(self, x: object, y: object, dataset: str = "custom") -> None:
        try:
            xs = np.array(x, dtype=float).ravel()
            ys = np.array(y, dtype=float).ravel()
        except (TypeError, ValueError):
            raise ValueError("Invalid data: x and y must be sequences of numbers") from None
        if xs.size == 0:
            raise ValueError("Invalid data: no data points")
        if xs.shape != ys.shape:
            raise ValueError(f"Invalid data: {xs.size} x values but {ys.size} y values")
        if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
            raise ValueError("Invalid data: every x and y must be a finite number")
        xs.flags.writeable = False  # a problem's data never changes under a run
        ys.flags.writeable = False
        self.x = xs
        self.y = ys
        self.dataset = dataset

    @property
    def n_samples(self) -> int:
        return int(self.x.size)

    # Per-sample pieces, broadcasting params (..., 1) against data (k,) -> (..., k).
    @abstractmethod
    def _sample_loss(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """ℓ for every (point, sample) pair."""

    @abstractmethod
    def _sample_grad(
        self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """∂ℓ/∂θ_d for every (point, sample) pair, one array per parameter."""

    def _mean_over_data(
        self, points: np.ndarray, fn: _SampleFn, indices: np.ndarray | None, n_out: int, vector: bool
    ) -> np.ndarray:
        """mean over the selected samples of ``fn``'s ``n_out`` parts: shape (...) for a scalar
        (``vector`` false), (..., n_out) for a vector, whatever ``n_out`` is."""
        p = np.asarray(points, dtype=float)
        lead = p.shape[:-1]
        flat = p.reshape(-1, self.dim)
        theta = tuple(flat[:, d : d + 1] for d in range(self.dim))
        x = self.x if indices is None else self.x[indices]
        y = self.y if indices is None else self.y[indices]
        total = np.zeros((n_out, flat.shape[0]))
        chunk = max(1, _CHUNK_ELEMENTS // max(1, flat.shape[0]))
        with np.errstate(all="ignore"):  # overflow far out is a result (inf/NaN), not a warning
            for lo in range(0, x.size, chunk):
                parts = fn(theta, x[lo : lo + chunk], y[lo : lo + chunk])
                for k, part in enumerate(parts):
                    total[k] += part.sum(axis=-1)
            total /= x.size
        return total.T.reshape(*lead, n_out) if vector else total[0].reshape(lead)

    # The model ŷ(x; θ), broadcasting like the per-sample pieces.
    @abstractmethod
    def _predict(self, theta: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
        """ŷ for every (parameter, x) pair."""

    def predict(self, params: object, x: object) -> np.ndarray:
        """The model's output ŷ at inputs ``x`` for parameters ``params``.

        ``params`` (D,) gives ``x.shape``; (N, D) gives (N, *x.shape), one row per parameter
        vector. Non-finite parameters or overflow give inf / NaN (no warning). The loss is the
        mean over the data of the per-sample loss of ``predict(θ, self.x)`` against ``self.y``.
        """
        p = np.asarray(params, dtype=float)
        if p.ndim not in (1, 2) or p.shape[-1] != self.dim:
            raise ValueError(f"Invalid params shape: {p.shape} (expected ({self.dim},) or (N, {self.dim}))")
        xs = np.asarray(x, dtype=float)
        lead = p.shape[:-1]
        theta = tuple(p[..., d].reshape(lead + (1,) * xs.ndim) for d in range(self.dim))
        with np.errstate(all="ignore"):
            return np.asarray(self._predict(theta, xs), dtype=float).reshape(lead + xs.shape)

    def loss(self, points: np.ndarray) -> np.ndarray:
        return self._mean_over_data(points, lambda t, x, y: (self._sample_loss(t, x, y),), None, 1, False)

    def gradient(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        return self._mean_over_data(points, self._sample_grad, indices, self.dim, True)

    def batch_loss(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        return self._mean_over_data(points, lambda t, x, y: (self._sample_loss(t, x, y),), indices, 1, False)

    def _sample_hess(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """∂²ℓ/∂θ_i∂θ_j for every (point, sample) pair, D·D arrays in row-major order."""
        raise NotImplementedError(f"Problem {self.name!r} has no exact Hessian")

    def hessian(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """The mean over the mini-batch ``indices`` (all data when None) of the per-sample
        Hessians, (..., D, D): the Hessian of :meth:`batch_loss`, whose gradient :meth:`gradient` is."""
        p = np.asarray(points, dtype=float)
        flat = self._mean_over_data(p, self._sample_hess, indices, self.dim * self.dim, True)
        return flat.reshape(*p.shape[:-1], self.dim, self.dim)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


class SigmoidNeuron(DataProblem):
    """ŷ = σ(w·x + b), ℓ = ½(ŷ − y)² (seed 000's sigmoid neuron, loss averaged over the data)."""

    name = "sigmoid-neuron"
    title = "Sigmoid neuron"
    formula = "mean ½(σ(wx+b) − y)²"
    params = ("w", "b")
    bounds: Bounds = ((-7.0, 5.0), (-7.0, 5.0))
    start = (-2.0, -2.0)

    def __init__(self, x: object = (0.5, 2.5), y: object = (0.2, 0.9), dataset: str = "two-point") -> None:
        super().__init__(x, y, dataset)

    model = "ŷ = σ(w·x + b)"

    def _predict(self, theta: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
        w, b = theta
        return _sigmoid(w * x + b)

    def _sample_loss(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        w, b = theta
        out: np.ndarray = 0.5 * (_sigmoid(w * x + b) - y) ** 2
        return out

    def _sample_grad(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        w, b = theta
        yp = _sigmoid(w * x + b)
        common = (yp - y) * yp * (1 - yp)
        return common * x, common

    def _sample_hess(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """ℓ''(z) (x, 1)ᵀ(x, 1) with z = wx + b, ℓ''(z) = σ'(σ' + (σ − y)(1 − 2σ)), σ' = σ(1 − σ)."""
        w, b = theta
        s = _sigmoid(w * x + b)
        ds = s * (1 - s)
        c = ds * (ds + (s - y) * (1 - 2 * s))
        cx = c * x
        return cx * x, cx, cx, c

    def _grid_values(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Loop over samples with e^(−(wx+b)) = e^(−wx)·e^(−b): one outer product per sample
        instead of R² exponentials, on cache-sized buffers (256², 1,000 points: ~0.1 s).

        The factors can overflow to inf·0 where wx + b itself is fine; for such extreme views
        the chunked per-sample mean is used instead."""
        reach = float(np.max(np.abs(self.x))) * float(np.max(np.abs(xs))) + float(np.max(np.abs(ys)))
        if not reach < 600.0:  # e^600 ~ 1e260: no factor overflows below this
            return super()._grid_values(xs, ys)
        out = np.zeros((ys.size, xs.size))
        e = np.empty_like(out)
        exp_b = np.exp(-ys)[:, None]
        for xi, yi in zip(self.x, self.y, strict=False):
            np.multiply(exp_b, np.exp(-xs * xi)[None, :], out=e)
            e += 1.0
            np.reciprocal(e, out=e)
            e -= yi
            e *= e
            out += e
        out *= 0.5 / self.x.size
        return out

    @property
    def minima(self) -> np.ndarray:
        """Exact fit for two points with distinct x and 0 < y < 1 (σ⁻¹ is the logit)."""
        if self.x.size == 2 and self.x[0] != self.x[1] and np.all((self.y > 0) & (self.y < 1)):
            logit = np.log(self.y / (1 - self.y))
            w = (logit[1] - logit[0]) / (self.x[1] - self.x[0])
            return np.array([[w, logit[0] - w * self.x[0]]])
        return np.empty((0, 2))


class LinearRegression(DataProblem):
    """ŷ = a·x + b, ℓ = (ŷ − y)² (seed 003's line fit)."""

    name = "linear-regression"
    title = "Linear regression"
    formula = "mean (ax + b − y)²"
    params = ("a", "b")
    bounds: Bounds = ((-2.0, 6.0), (-1.0, 7.0))
    start = (0.0, 0.0)

    def __init__(self, x: object | None = None, y: object | None = None, dataset: str = "line-2x+3") -> None:
        if (x is None) != (y is None):
            raise ValueError("Invalid data: give both x and y, or neither for the default line")
        if x is None:
            x = np.linspace(-1, 1, 100)
            y = 2 * x + 3
        super().__init__(x, y, dataset)

    model = "ŷ = a·x + b"

    def _predict(self, theta: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
        a, b = theta
        out: np.ndarray = a * x + b
        return out

    def _sample_loss(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a, b = theta
        out: np.ndarray = (a * x + b - y) ** 2
        return out

    def _sample_grad(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        a, b = theta
        r2 = 2 * (a * x + b - y)
        return r2 * x, r2

    def _sample_hess(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """2 (x, 1)ᵀ(x, 1), the same at every θ (broadcast to the points' rows)."""
        a, _ = theta
        ones = np.ones_like(a * x)
        return 2 * x * x * ones, 2 * x * ones, 2 * x * ones, 2 * ones

    def _grid_values(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """From the data's moments: mean (ax+b−y)² = a²⟨x²⟩ + 2ab⟨x⟩ + b² − 2a⟨xy⟩ − 2b⟨y⟩ + ⟨y²⟩,
        so a grid costs O(R²) whatever the data size (clipped at 0 against rounding)."""
        x, y = self.x, self.y
        mxx, mx, mxy, my, myy = (float(np.mean(v)) for v in (x * x, x, x * y, y, y * y))
        a = xs[None, :]
        b = ys[:, None]
        z = a * a * mxx + 2 * a * b * mx + b * b - 2 * a * mxy - 2 * b * my + myy
        out: np.ndarray = np.maximum(z, 0.0)
        return out

    @property
    def minima(self) -> np.ndarray:
        """Least squares (a, b); none when all x are equal."""
        if np.ptp(self.x) == 0:
            return np.empty((0, 2))
        a, b = np.polyfit(self.x, self.y, 1)
        return np.array([[a, b]])


class LineThroughOrigin(DataProblem):
    """ŷ = w·x, ℓ = (ŷ − y)² with one parameter (seed 002)."""

    name = "line-through-origin"
    title = "Line through the origin"
    formula = "mean (wx − y)²"
    params = ("w",)
    bounds: Bounds = ((-1.0, 5.0),)
    start = (1.0,)

    def __init__(self, x: object = (1.0, 2.0, 3.0), y: object = (2.0, 4.0, 6.0), dataset: str = "y=2x") -> None:
        super().__init__(x, y, dataset)

    model = "ŷ = w·x"

    def _predict(self, theta: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
        (w,) = theta
        out: np.ndarray = w * x
        return out

    def _sample_loss(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        (w,) = theta
        out: np.ndarray = (w * x - y) ** 2
        return out

    def _sample_grad(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        (w,) = theta
        return (2 * x * (w * x - y),)

    def _sample_hess(self, theta: tuple[np.ndarray, ...], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """2x², the same at every w."""
        (w,) = theta
        return (2 * x * x * np.ones_like(w * x),)

    @property
    def minima(self) -> np.ndarray:
        sxx = float(np.dot(self.x, self.x))
        if sxx == 0 or not math.isfinite(sxx):
            return np.empty((0, 1))
        return np.array([[float(np.dot(self.x, self.y)) / sxx]])


#: Named datasets per data-driven problem: name -> (x, y).
DATASETS: dict[str, dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = {
    "sigmoid-neuron": {
        "two-point": ((0.5, 2.5), (0.2, 0.9)),
        "six-point": ((3.5, 0.35, 3.2, -2.0, 1.5, -0.5), (0.5, 0.5, 0.5, 0.5, 0.1, 0.3)),
    },
    "linear-regression": {
        "line-2x+3": (tuple(np.linspace(-1, 1, 100).tolist()), tuple((2 * np.linspace(-1, 1, 100) + 3).tolist())),
    },
    "line-through-origin": {
        "y=2x": ((1.0, 2.0, 3.0), (2.0, 4.0, 6.0)),
        "y=x+3": ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0)),
    },
}
