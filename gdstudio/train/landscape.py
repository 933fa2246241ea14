r"""Loss landscapes of a real network: every optimizer of a Training-lab race on one 2-D slice.

A plane through weight space is ``w(a, b) = c + a·d₁ + b·d₂`` (centre ``c``, directions ``d₁``,
``d₂`` over all P parameters ``[W_1, b_1, …, W_L, b_L]`` flattened in order). Three planes
(Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"):

- ``pca``: ``c`` = the mean of every recorded weight vector of every optimizer (each optimizer's
  path including the shared start); ``d₁, d₂`` = the two leading principal directions of those
  rows centred on ``c`` (unit vectors, so coordinates are Euclidean distances in weight space);
  ``explained_variance`` = ``σ_k² / Σ σ²``, the fractions of the total variance each axis holds.
  Signs are fixed so the shared start has coordinates ≤ 0 (paths run left to right, bottom up).
- ``random``: ``c`` = a chosen optimizer's final weights; ``d_k`` ~ N(0, I) (seeded), then
  filter-normalized: every filter (an output neuron's incoming weights: a column of our
  ``W_l`` (d_in, d_out), a row of torch's (out, in) weight) is scaled to the norm of the same
  filter of ``c``: ``d_j ← d_j / (‖d_j‖ + 10⁻¹⁰) · ‖c_j‖`` (Li et al.'s ``normalize_direction``).
  Bias directions are zero (Li et al.'s ``ignore='biasbn'``): the slice keeps ``c``'s biases.
- ``endpoints``: ``c`` = the shared initial weights ``w₀``; ``d₁ = (w_A − w₀)/‖w_A − w₀‖``,
  ``d₂`` = ``w_B − w₀`` with its ``d₁`` component removed, normalized (Gram–Schmidt), so ``w₀``
  is (0, 0), ``w_A`` is (‖w_A − w₀‖, 0) and ``w_B`` is (⟨w_B − w₀, d₁⟩, ‖(w_B − w₀)⊥‖): true
  distances, no shear.

Paths are projected by least squares in the plane's basis ``D = [d₁ d₂]``:
``(a, b) = (DᵀD)⁻¹ Dᵀ (w − c)`` — exact for a point of the plane, the orthogonal projection for
any other (``random``'s directions are not orthogonal, hence the Gram matrix).

The grid (``G`` × ``G``, ``span`` S): for ``pca`` and ``endpoints`` each axis covers the box of the
projected paths (with the centre) about the box's middle, its half-width times S (and at least
5 % of the other axis's, so a flat path still gets a slice); for ``random`` the square
``±S·max(1, max |coordinate|)`` about the centre (S = 1 is Li et al.'s [−1, 1]). ``loss[j, i]`` is
the mean cross-entropy at ``(axis_a[i], axis_b[j])`` (row b, column a) over the training images
(or a seeded subset of them), and ``path_loss`` the same loss at each recorded iterate itself, so
the gap between the slice and the path shows.

Speed: the grid is evaluated many points at a time. The first layer is affine in (a, b):
``X W₁(a, b) + b₁(a, b) = U_c + a U₁ + b U₂`` with ``U_k = X W₁ₖ + b₁ₖ`` computed once, so its
matrix product disappears; deeper layers multiply stacks of (points, images, width) by stacks of
weights (``np.matmul`` over a batch axis), one chunk of points per worker thread, each with
single-threaded BLAS (NumPy releases the GIL in matmul and ufuncs). See bench/landscape.py.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

import numpy as np

from gdstudio.train.blas import blas_threads
from gdstudio.train.compare import CompareResult, Entry, TrainConfig, TrainProgress, compare_optimizers
from gdstudio.train.datasets import Dataset
from gdstudio.train.mlp import MLP

__all__ = [
    "PLANES",
    "Landscape",
    "LandscapeCancelled",
    "LandscapeOptions",
    "LandscapeProgress",
    "Plane",
    "SurfaceEvaluator",
    "compute_landscape",
    "default_record_every",
    "endpoints_plane",
    "filter_normalize",
    "grid_axes",
    "landscape_from_result",
    "pca_plane",
    "random_plane",
    "subset_indices",
]

PLANES = ("pca", "random", "endpoints")
MAX_GRID = 1001
#: Points per chunk of the grid (fixed, so the result does not depend on the number of workers).
CHUNK_POINTS = 8
#: Images per block (bounds the chunk's activations: CHUNK_POINTS × IMAGE_BLOCK × width).
IMAGE_BLOCK = 1024
#: Rows above which the PCA uses randomized subspace iteration instead of the exact Gram matrix.
GRAM_ROWS = 4000


class LandscapeCancelled(Exception):
    """Raised by :func:`compute_landscape` / :func:`landscape_from_result` when ``cancel`` was set."""


@dataclass(frozen=True)
class LandscapeOptions:
    """How to slice: the plane, the grid, what to record and which images to evaluate."""

    plane: str = "pca"
    grid: int = 41
    span: float = 1.25
    record_every: int | None = None  # None: default_record_every(iterations)
    subset: int | None = None        # evaluate a seeded subset of this many training images; None: all
    seed: int = 0                    # random directions and the subset
    center: str | None = None        # random: the optimizer whose final weights centre the plane (first)
    endpoints: tuple[str, str] | None = None  # endpoints: the two optimizers (the first two)
    workers: int | None = None       # threads for the grid (None: every core)

    def validate(self, labels: Sequence[str] | None = None) -> None:
        """ValueError (one line naming the option) for a bad value; with ``labels``, also checks
        ``center`` / ``endpoints`` against the optimizers."""
        if self.plane not in PLANES:
            raise ValueError(f"Invalid plane value: {self.plane!r} (must be one of {', '.join(PLANES)})")
        _whole("grid", self.grid, 2, MAX_GRID)
        if isinstance(self.span, bool) or not isinstance(self.span, (int, float)) or not math.isfinite(self.span) \
                or self.span <= 0:
            raise ValueError(f"Invalid span value: {self.span!r} (must be a finite number > 0)")
        if self.record_every is not None:
            _whole("record_every", self.record_every, 1)
        if self.subset is not None:
            _whole("subset", self.subset, 1)
        _whole("seed", self.seed, 0)
        if self.workers is not None:
            _whole("workers", self.workers, 1, 256)
        if labels is None:
            return
        if self.plane == "random" and self.center is not None and self.center not in labels:
            raise ValueError(f"Invalid center value: {self.center!r} (not among the optimizers: {', '.join(labels)})")
        if self.plane == "endpoints":
            a, b = self.endpoint_labels(labels)
            for name in (a, b):
                if name not in labels:
                    raise ValueError(f"Invalid endpoints value: {name!r} (not among the optimizers: "
                                     f"{', '.join(labels)})")
            if a == b:
                raise ValueError(f"Invalid endpoints value: {a!r} twice (give two different optimizers)")

    def endpoint_labels(self, labels: Sequence[str]) -> tuple[str, str]:
        """The two optimizers of the ``endpoints`` plane (the first two by default)."""
        if self.endpoints is not None:
            return self.endpoints
        if len(labels) < 2:
            raise ValueError("Invalid plane value: 'endpoints' needs two optimizers (give at least two)")
        return labels[0], labels[1]


def _whole(name: str, value: object, low: int, high: int | None = None) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= low \
        and (high is None or value <= high)
    if not ok:
        upper = f" and ≤ {high}" if high is not None else ""
        raise ValueError(f"Invalid {name} value: {value!r} (must be a whole number ≥ {low}{upper})")


def default_record_every(iterations: int) -> int:
    """⌈iterations / 100⌉: about a hundred recorded iterates per optimizer."""
    return max(1, -(-int(iterations) // 100))


@dataclass(frozen=True)
class LandscapeProgress:
    """Sent to the progress callback: ``stage`` is train, plane, surface or paths."""

    stage: str
    done: int
    total: int
    elapsed: float


Progress = Callable[[LandscapeProgress], None]


# -- planes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plane:
    """``w(a, b) = center + a·d1 + b·d2`` (float64 vectors of length P)."""

    kind: str
    center: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    titles: tuple[str, str]
    explained_variance: tuple[float, float] | None = None
    center_label: str | None = None

    def point(self, a: float, b: float) -> np.ndarray:
        """The weights at coordinates (a, b)."""
        return self.center + a * self.d1 + b * self.d2

    def project(self, weights: np.ndarray) -> np.ndarray:
        """Least-squares coordinates (R, 2) of weight rows (R, P) in the plane's basis; a row that
        is not finite gives NaN."""
        w = np.atleast_2d(weights)
        basis = np.stack([self.d1, self.d2], axis=1)  # (P, 2)
        gram = basis.T @ basis
        out = np.full((len(w), 2), np.nan)
        ok = np.isfinite(w).all(axis=1)
        if ok.any():
            rhs = w[ok].astype(np.float64) @ basis - self.center @ basis
            out[ok] = np.linalg.solve(gram, rhs.T).T
        return out


def _finite_rows(weights: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    return [w[np.isfinite(w).all(axis=1)] for w in weights.values()]


def pca_plane(weights: Mapping[str, np.ndarray], start: np.ndarray | None = None) -> Plane:
    """The plane of the two leading principal directions of every finite recorded row of every
    optimizer, centred on their mean; signs so that ``start`` (default: the first row of the
    first path) has coordinates ≤ 0."""
    rows = _finite_rows(weights)
    n = sum(len(r) for r in rows)
    if n < 3:
        raise ValueError(f"Invalid recording: {n} finite weight vectors (the pca plane needs at least 3)")
    size = rows[0].shape[1]
    mean = np.zeros(size)
    for r in rows:
        mean += r.sum(axis=0, dtype=np.float64)
    mean /= n
    blocks = _column_blocks(size, n)
    total = 0.0
    if n <= GRAM_ROWS:
        gram = np.zeros((n, n))
        for lo, hi in blocks:
            x = _centred(rows, mean, lo, hi)
            gram += x @ x.T
            total += float(np.einsum("ij,ij->", x, x))
        vals, vecs = np.linalg.eigh(gram)
        order = np.argsort(vals)[::-1][:2]
        lam, u = np.maximum(vals[order], 0.0), vecs[:, order]
    else:
        lam, u, total = _randomized_top2(rows, mean, blocks)
    dirs = np.zeros((2, size))
    for lo, hi in blocks:
        dirs[:, lo:hi] = u.T @ _centred(rows, mean, lo, hi)
    norms = np.linalg.norm(dirs, axis=1)
    if not (norms > 0).all() or total <= 0:
        raise ValueError("Invalid recording: the weights span fewer than two directions (the pca plane needs two)")
    dirs /= norms[:, None]
    first = np.asarray(start, dtype=np.float64) if start is not None else rows[0][0].astype(np.float64)
    for k in range(2):
        if float((first - mean) @ dirs[k]) > 0:
            dirs[k] = -dirs[k]
    ev = (float(lam[0] / total), float(lam[1] / total))
    titles = (f"PC1 {ev[0]:.0%}", f"PC2 {ev[1]:.0%}")
    return Plane("pca", mean, dirs[0], dirs[1], titles, ev)


def _column_blocks(size: int, rows: int, budget: int = 32 << 20) -> list[tuple[int, int]]:
    step = max(256, budget // (8 * max(rows, 1)))
    return [(lo, min(lo + step, size)) for lo in range(0, size, step)]


def _centred(rows: Sequence[np.ndarray], mean: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Columns lo:hi of every row, float64, minus the mean."""
    x = np.concatenate([r[:, lo:hi] for r in rows]).astype(np.float64)
    x -= mean[lo:hi]
    return x


def _randomized_top2(rows: Sequence[np.ndarray], mean: np.ndarray, blocks: Sequence[tuple[int, int]],
                     iterations: int = 8) -> tuple[np.ndarray, np.ndarray, float]:
    """The two leading eigenpairs of X Xᵀ (X = the centred rows) by seeded subspace iteration on
    12 vectors (Halko et al.), never forming X; and ‖X‖²_F."""
    n = sum(len(r) for r in rows)
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((n, 12)))[0]
    total = 0.0
    for it in range(iterations + 1):
        y = np.zeros_like(q)
        for lo, hi in blocks:
            x = _centred(rows, mean, lo, hi)
            y += x @ (x.T @ q)
            if it == 0:
                total += float(np.einsum("ij,ij->", x, x))
        if it < iterations:
            q = np.linalg.qr(y)[0]
    small = q.T @ y  # Qᵀ X Xᵀ Q
    vals, vecs = np.linalg.eigh((small + small.T) / 2)
    order = np.argsort(vals)[::-1][:2]
    return np.maximum(vals[order], 0.0), q @ vecs[:, order], total


def filter_normalize(direction: np.ndarray, weights: np.ndarray, shapes: Sequence[tuple[int, int]]) -> np.ndarray:
    """Li et al.'s filter normalization of a flat ``direction`` against flat ``weights``: every
    column j of each weight matrix (an output neuron's filter) becomes
    ``d_j / (‖d_j‖ + 10⁻¹⁰) · ‖w_j‖``; bias entries (the (1, n) arrays) become 0."""
    d = np.array(direction, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    start = 0
    for k, (rows, cols) in enumerate(shapes):
        size = rows * cols
        part = d[start : start + size]
        if k % 2 == 1:  # a bias
            part[:] = 0.0
        else:
            dm = part.reshape(rows, cols)
            wm = w[start : start + size].reshape(rows, cols)
            dm *= np.linalg.norm(wm, axis=0) / (np.linalg.norm(dm, axis=0) + 1e-10)
        start += size
    return d


def random_plane(center: np.ndarray, shapes: Sequence[tuple[int, int]], seed: int,
                 center_label: str | None = None) -> Plane:
    """Two seeded Gaussian directions, filter-normalized against ``center``, centred there."""
    c = np.asarray(center, dtype=np.float64)
    if not np.isfinite(c).all():
        raise ValueError(f"Invalid center: the final weights of {center_label or 'the centre'} are not finite "
                         "(it diverged; centre the plane on another optimizer)")
    rng = np.random.default_rng([int(seed), 2])
    d1 = filter_normalize(rng.standard_normal(c.size), c, shapes)
    d2 = filter_normalize(rng.standard_normal(c.size), c, shapes)
    return Plane("random", c, d1, d2, ("random direction 1", "random direction 2"), None, center_label)


def endpoints_plane(start: np.ndarray, end_a: np.ndarray, end_b: np.ndarray, labels: tuple[str, str]) -> Plane:
    """The plane through the initial weights and two final weights (Gram–Schmidt, unit axes)."""
    w0 = np.asarray(start, dtype=np.float64)
    a = np.asarray(end_a, dtype=np.float64) - w0
    b = np.asarray(end_b, dtype=np.float64) - w0
    for label, v in zip(labels, (a, b), strict=True):
        if not np.isfinite(v).all():
            raise ValueError(f"Invalid endpoints value: {label!r} diverged (its final weights are not finite)")
    na = float(np.linalg.norm(a))
    if na == 0:
        raise ValueError(f"Invalid endpoints value: {labels[0]!r} ends where it started (no direction)")
    d1 = a / na
    perp = b - (b @ d1) * d1
    nb = float(np.linalg.norm(perp))
    if nb <= 1e-9 * max(na, float(np.linalg.norm(b))):
        raise ValueError(f"Invalid endpoints value: {labels[0]!r} and {labels[1]!r} end on one line through the "
                         "start (no plane)")
    return Plane("endpoints", w0, d1, perp / nb, (f"towards {labels[0]}", f"towards {labels[1]} (⊥)"))


def grid_axes(plane: Plane, coords: np.ndarray, grid: int, span: float) -> tuple[np.ndarray, np.ndarray]:
    """The grid's a and b coordinates (see the module doc) from the projected path points."""
    pts = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    pts = np.vstack([pts[np.isfinite(pts).all(axis=1)], [[0.0, 0.0]]])
    if plane.kind == "random":
        half = span * max(1.0, float(np.abs(pts).max()))
        axis = np.linspace(-half, half, grid)
        if grid % 2:
            axis[grid // 2] = 0.0  # the centre exactly
        return axis, axis.copy()
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    mid, halves = (lo + hi) / 2, (hi - lo) / 2
    biggest = float(halves.max())
    halves = np.ones(2) if biggest <= 0 else np.maximum(halves, 0.05 * biggest)
    axes = [np.linspace(m - span * h, m + span * h, grid) for m, h in zip(mid, halves, strict=True)]
    return axes[0], axes[1]


# -- evaluation -----------------------------------------------------------------------------------
class SurfaceEvaluator:
    """The mean cross-entropy of ``net`` on ``x``, ``y`` at many weight vectors.

    :meth:`plane_losses` evaluates points of a plane (the first layer precomputed, see the module
    doc); :meth:`row_losses` arbitrary flat weight rows. Points are split into chunks of
    :data:`CHUNK_POINTS` run on ``workers`` threads with one BLAS thread each (the chunks, and so
    the numbers, do not depend on ``workers``); ``progress(done, total)`` is called from the
    calling thread after each chunk, and ``cancel()`` (true → stop) is checked before each chunk
    starts (then :class:`LandscapeCancelled`).

    Per point and block of images, every activation lives in an (images, width + 1) buffer whose
    last column is 1, so a layer is one matrix product with the stacked ``[W; b]`` — the flat
    layout already stores ``W_l`` then ``b_l``, so that is a view — followed by an in-place ReLU
    (which leaves the ones); the logits are computed transposed, (classes, images), so the
    softmax reductions run over contiguous rows.
    """

    def __init__(self, net: MLP, x: np.ndarray, y: np.ndarray, *, workers: int | None = None,
                 chunk: int = CHUNK_POINTS, image_block: int = IMAGE_BLOCK) -> None:
        self.net, self.dtype = net, net.dtype
        x = np.asarray(x)
        self.y = np.asarray(y, dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != net.sizes[0] or self.y.shape != (len(x),) or not len(x):
            raise ValueError(f"Invalid data shape: x {x.shape}, y {self.y.shape} (expected (n, {net.sizes[0]}) "
                             "and (n,), n ≥ 1)")
        if self.y.min() < 0 or self.y.max() >= net.sizes[-1]:
            raise ValueError(f"Invalid labels: must be in [0, {net.sizes[-1]})")
        self.n = len(x)
        self.x1 = np.ones((self.n, net.sizes[0] + 1), net.dtype)  # [x, 1]
        self.x1[:, :-1] = x
        self.workers = workers or _cores()
        self.chunk, self.image_block = int(chunk), int(image_block)
        self.size = sum(a * b for a, b in net.shapes)
        ends = np.cumsum([0, *((a + 1) * b for a, b in zip(net.sizes[:-1], net.sizes[1:], strict=True))])
        self._layers = [(int(ends[l]), int(ends[l + 1])) for l in range(net.n_layers)]  # [W_l; b_l] in a flat row
        self._blocks = [(lo, min(lo + self.image_block, self.n)) for lo in range(0, self.n, self.image_block)]
        # the true label's logit sits at y_i·m + i in a (classes, m) block of m images
        self._label_at = [self.y[lo:hi] * (hi - lo) + np.arange(hi - lo) for lo, hi in self._blocks]
        self._local = threading.local()
        self._calls = itertools.count()  # each plane_losses call's token for the cached grid row

    def _stacked(self, flat: np.ndarray, l: int) -> np.ndarray:
        """``[W_l; b_l]`` (d_in + 1, d_out) of layer ``l`` of one flat row (a view)."""
        lo, hi = self._layers[l]
        return flat[lo:hi].reshape(self.net.sizes[l] + 1, self.net.sizes[l + 1])

    def _buffers(self, images: int) -> _Buffers:
        """This thread's buffers for a block of ``images`` images."""
        cache: dict[int, _Buffers] | None = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        if images not in cache:
            cache[images] = _Buffers(images, self.net.sizes, self.dtype)
        return cache[images]

    def _point_sum(self, flat: np.ndarray, first: Callable[[int, _Buffers], None]) -> float:
        """Σ over the images of the cross-entropy at one flat row; ``first(k, buffers)`` fills
        ``buffers.acts[0]`` (images, d_1 + 1) with layer 1's pre-activations of image block ``k``
        (and ones)."""
        total = 0.0
        last = self.net.n_layers - 1
        for k, (lo, hi) in enumerate(self._blocks):
            buf = self._buffers(hi - lo)
            if buf.acts:
                a = buf.acts[0]
                first(k, buf)
                np.maximum(a, buf.zeros[0], out=a)  # (an array operand: NumPy's scalar maximum is ~4x slower)
                for l in range(1, last):
                    nxt = buf.acts[l]
                    np.matmul(a, self._stacked(flat, l), out=nxt[:, :-1])
                    np.maximum(nxt, buf.zeros[l], out=nxt)
                    a = nxt
                np.matmul(a, self._stacked(flat, last), out=buf.logits)
            else:  # no hidden layer: softmax regression
                np.matmul(self.x1[lo:hi], self._stacked(flat, 0), out=buf.logits)
            z, e = buf.logits_t, buf.exp
            np.copyto(z, buf.logits.T)  # (classes, images): the reductions below run over contiguous rows
            z -= z.max(axis=0)
            picked = z.ravel()[self._label_at[k]]
            np.exp(z, out=e)
            total += float(np.sum(np.log(e.sum(axis=0), dtype=np.float64) - picked))
        return total

    def _plane_first(self, u: Sequence[np.ndarray], call: int, a: float, b: float, k: int, buf: _Buffers) -> None:
        """Layer 1 of a plane point for image block ``k``: ``(U₀ + b U₂) + a U₁`` (the bracket kept
        while b stays the same: a grid row)."""
        lo, hi = self._blocks[k]
        dst = buf.acts[0]
        if buf.row_key != (call, b, k):
            np.multiply(u[2][lo:hi], b, out=buf.row)
            buf.row += u[0][lo:hi]
            buf.row_key = (call, b, k)
        np.multiply(u[1][lo:hi], a, out=dst)
        dst += buf.row

    def _row_first(self, row: np.ndarray, k: int, buf: _Buffers) -> None:
        """Layer 1 of a flat row for image block ``k``: ``[X, 1] [W₁; b₁]``."""
        lo, hi = self._blocks[k]
        np.matmul(self.x1[lo:hi], self._stacked(row, 0), out=buf.acts[0][:, :-1])

    def plane_losses(self, plane: Plane, a: np.ndarray, b: np.ndarray, *,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> np.ndarray:
        """Losses at the points ``center + a[m]·d1 + b[m]·d2`` (a, b of one length M): (M,) float64."""
        a = np.asarray(a, dtype=np.float64).ravel()
        b = np.asarray(b, dtype=np.float64).ravel()
        base = np.stack([plane.center, plane.d1, plane.d2]).astype(self.dtype)  # (3, P)
        coefs = np.stack([np.ones_like(a), a, b], axis=1).astype(self.dtype)  # (M, 3)
        # layer 1 of the centre and of each direction, [X, 1] [W₁ₖ; b₁ₖ], with the ones column 1, 0, 0:
        # a point's pre-activations (and ones) are U₀ + a U₁ + b U₂
        u: list[np.ndarray] = []
        call = next(self._calls)
        if self.net.n_layers > 1:
            with blas_threads(1):
                for k in range(3):
                    uk = np.full((self.n, self.net.sizes[1] + 1), 1.0 if k == 0 else 0.0, self.dtype)
                    np.matmul(self.x1, self._stacked(base[k], 0), out=uk[:, :-1])
                    u.append(uk)

        def run(rows: slice) -> np.ndarray:
            c = coefs[rows]
            flat = c @ base
            out = np.empty(len(c))
            for m in range(len(c)):
                out[m] = self._point_sum(flat[m], partial(self._plane_first, u, call, c[m, 1], c[m, 2]))
            return out

        return self._run(len(a), run, progress, cancel)

    def row_losses(self, rows: np.ndarray, *, progress: Callable[[int, int], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> np.ndarray:
        """Losses at flat weight rows (M, P); a row that is not finite gives NaN."""
        w = np.atleast_2d(np.asarray(rows))
        if w.shape[1] != self.size:
            raise ValueError(f"Invalid weights shape: {w.shape} (expected (rows, {self.size}))")
        ok = np.flatnonzero(np.isfinite(w).all(axis=1))
        out = np.full(len(w), np.nan)
        if not len(ok):
            return out

        def run(sel: slice) -> np.ndarray:
            flat = np.ascontiguousarray(w[ok[sel]], dtype=self.dtype)
            sums = np.empty(len(flat))
            for m in range(len(flat)):
                sums[m] = self._point_sum(flat[m], partial(self._row_first, flat[m]))
            return sums

        out[ok] = self._run(len(ok), run, progress, cancel)
        return out

    def _run(self, m: int, run: Callable[[slice], np.ndarray], progress: Callable[[int, int], None] | None,
             cancel: Callable[[], bool] | None) -> np.ndarray:
        """Chunks of ``run`` on the workers, in order; sums → means."""
        chunks = [slice(lo, min(lo + self.chunk, m)) for lo in range(0, m, self.chunk)]
        out = np.empty(m)
        stop = threading.Event()

        def task(sel: slice) -> np.ndarray | None:
            if stop.is_set() or (cancel is not None and cancel()):
                stop.set()
                return None
            return run(sel)

        with blas_threads(1), np.errstate(all="ignore"):
            pool = ThreadPoolExecutor(self.workers, thread_name_prefix="gdstudio-landscape") \
                if self.workers > 1 else None
            futures: list[Future[np.ndarray | None]] = [] if pool is None else [pool.submit(task, s) for s in chunks]
            try:
                for k, sel in enumerate(chunks):
                    sums = task(sel) if pool is None else futures[k].result()
                    if sums is None:
                        raise LandscapeCancelled("cancelled")
                    out[sel] = sums / self.n
                    if progress is not None:
                        progress(sel.stop, m)
            finally:
                stop.set()
                if pool is not None:
                    for f in futures:
                        f.cancel()
                    pool.shutdown(wait=True)
        return out


class _Buffers:
    """One thread's scratch for a block of images: activations (images, d + 1) ending in a ones
    column, zeros for the ReLU, the logits (images, C) and transposed (C, images), the exp."""

    def __init__(self, images: int, sizes: Sequence[int], dtype: np.dtype) -> None:
        self.acts = [np.ones((images, d + 1), dtype) for d in sizes[1:-1]]
        self.zeros = [np.zeros_like(a) for a in self.acts]
        self.logits = np.empty((images, sizes[-1]), dtype)
        self.logits_t = np.empty((sizes[-1], images), dtype)
        self.exp = np.empty_like(self.logits_t)
        self.row = np.empty((images, sizes[1] + 1), dtype) if self.acts else np.zeros(0, dtype)
        self.row_key: tuple[int, float, int] | None = None


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# -- the result -----------------------------------------------------------------------------------
@dataclass
class Landscape:
    """A loss landscape: the grid, every optimizer's projected path and its true losses."""

    plane: str
    explained_variance: tuple[float, float] | None
    axis_a: np.ndarray
    axis_b: np.ndarray
    loss: np.ndarray  # (G, G): loss[j, i] at (axis_a[i], axis_b[j])
    labels: list[str]
    iterations: np.ndarray
    paths: dict[str, np.ndarray]
    path_loss: dict[str, np.ndarray]
    axis_titles: tuple[str, str]
    subset: str
    center_label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON document (NaN and ±inf become null)."""
        doc: dict[str, Any] = {
            "plane": self.plane,
            "explained_variance": None if self.explained_variance is None else list(self.explained_variance),
            "axes": {"a": _list(self.axis_a), "b": _list(self.axis_b)},
            "loss": _list(self.loss),
            "paths": {l: _list(self.paths[l]) for l in self.labels},
            "path_loss": {l: _list(self.path_loss[l]) for l in self.labels},
            "iterations": [int(i) for i in self.iterations],
            "optimizers": list(self.labels),
            "axis_titles": list(self.axis_titles),
            "subset": self.subset,
            "center": self.center_label,
        }
        doc.update({k: v for k, v in self.meta.items() if k not in doc})
        return doc

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Landscape:
        """The inverse of :meth:`to_dict` (null becomes NaN); ValueError for a malformed document."""
        try:
            labels = [str(l) for l in doc["optimizers"]]
            ev = doc.get("explained_variance")
            known = {"plane", "explained_variance", "axes", "loss", "paths", "path_loss", "iterations",
                     "optimizers", "axis_titles", "subset", "center"}
            out = cls(
                plane=str(doc["plane"]),
                explained_variance=None if ev is None else (float(ev[0]), float(ev[1])),
                axis_a=_array(doc["axes"]["a"]),
                axis_b=_array(doc["axes"]["b"]),
                loss=_array(doc["loss"]),
                labels=labels,
                iterations=np.asarray(doc["iterations"], dtype=np.int64),
                paths={l: _array(doc["paths"][l]).reshape(-1, 2) for l in labels},
                path_loss={l: _array(doc["path_loss"][l]) for l in labels},
                axis_titles=(str(doc["axis_titles"][0]), str(doc["axis_titles"][1])),
                subset=str(doc["subset"]),
                center_label=None if doc.get("center") is None else str(doc["center"]),
                meta={k: v for k, v in doc.items() if k not in known},
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"Invalid landscape document: {exc!r}") from None
        out.check()
        return out

    def check(self) -> None:
        """ValueError when the arrays disagree in shape."""
        g_a, g_b = len(self.axis_a), len(self.axis_b)
        if self.loss.shape != (g_b, g_a):
            raise ValueError(f"Invalid landscape: loss shape {self.loss.shape}, axes {g_a} and {g_b}")
        r = len(self.iterations)
        for l in self.labels:
            if self.paths[l].shape != (r, 2) or self.path_loss[l].shape != (r,):
                raise ValueError(f"Invalid landscape: path of {l!r} does not match {r} iterations")

    def to_npz(self, file: str | os.PathLike[str] | IO[bytes]) -> None:
        """Arrays (axis_a, axis_b, loss, iterations, paths (n, R, 2), path_loss (n, R)) and the rest
        as a JSON string ``meta``."""
        arrays = ("axes", "loss", "paths", "path_loss", "iterations")
        meta = {k: v for k, v in self.to_dict().items() if k not in arrays}
        np.savez(file, axis_a=self.axis_a, axis_b=self.axis_b, loss=self.loss, iterations=self.iterations,
                 paths=np.stack([self.paths[l] for l in self.labels]) if self.labels else np.zeros((0, 0, 2)),
                 path_loss=np.stack([self.path_loss[l] for l in self.labels]) if self.labels else np.zeros((0, 0)),
                 meta=np.array(json.dumps(meta, allow_nan=False, ensure_ascii=False)))

    @classmethod
    def from_npz(cls, file: str | os.PathLike[str] | IO[bytes]) -> Landscape:
        with np.load(file, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            labels = [str(l) for l in meta["optimizers"]]
            ev = meta.pop("explained_variance", None)
            out = cls(
                plane=str(meta.pop("plane")),
                explained_variance=None if ev is None else (float(ev[0]), float(ev[1])),
                axis_a=z["axis_a"].astype(np.float64), axis_b=z["axis_b"].astype(np.float64),
                loss=z["loss"].astype(np.float64), labels=labels,
                iterations=z["iterations"].astype(np.int64),
                paths={l: z["paths"][k].astype(np.float64) for k, l in enumerate(labels)},
                path_loss={l: z["path_loss"][k].astype(np.float64) for k, l in enumerate(labels)},
                axis_titles=tuple(meta.pop("axis_titles")),  # type: ignore[arg-type]
                subset=str(meta.pop("subset")),
                center_label=meta.pop("center", None),
                meta={k: v for k, v in meta.items() if k != "optimizers"},
            )
        out.check()
        return out


def _list(a: np.ndarray) -> Any:
    """Nested lists of Python floats; NaN / ±inf → None."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else None
    return [_list(x) for x in arr] if arr.ndim > 1 else [float(v) if math.isfinite(v) else None for v in arr.tolist()]


def _array(values: Any) -> np.ndarray:
    def conv(v: Any) -> Any:
        if isinstance(v, list):
            return [conv(x) for x in v]
        return math.nan if v is None else float(v)

    return np.asarray(conv(values), dtype=np.float64)


# -- putting it together --------------------------------------------------------------------------
def subset_indices(n: int, subset: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of ``subset`` of ``n`` images (all of them when ``subset``
    is None or ≥ n)."""
    if subset is None or subset >= n:
        return np.arange(n)
    rng = np.random.default_rng([int(seed), 1])
    return np.sort(rng.choice(n, size=int(subset), replace=False))


def _subset_text(used: int, n: int, subset: int | None, seed: int) -> str:
    if used >= n:
        return f"loss over all {n:,} training images"
    return f"loss over {used:,} of {n:,} training images (seed {seed})"


def compute_landscape(dataset: Dataset, entries: Sequence[Entry | str], config: TrainConfig | None = None,
                      options: LandscapeOptions | None = None, *, progress: Progress | None = None,
                      cancel: threading.Event | None = None) -> Landscape:
    """Train every entry from the same start with recording (:func:`compare_optimizers`), build
    the plane, evaluate the grid and each path's true loss; :class:`LandscapeCancelled` when
    ``cancel`` is set. ``progress`` is called from the calling thread."""
    config = config or TrainConfig()
    options = options or LandscapeOptions()
    options.validate()
    labels = [e if isinstance(e, str) else e.label for e in entries]
    options.validate(labels)
    every = options.record_every or default_record_every(config.iterations)
    t0 = time.perf_counter()

    def on_train(p: TrainProgress) -> None:
        if progress is not None:
            progress(LandscapeProgress("train", p.iteration, p.total, time.perf_counter() - t0))

    result = compare_optimizers(dataset, entries, config, progress=on_train, cancel=cancel, record_every=every)
    if result.cancelled:
        raise LandscapeCancelled("cancelled while training")
    return landscape_from_result(result, dataset, options, progress=progress, cancel=cancel, _t0=t0)


def landscape_from_result(result: CompareResult, dataset: Dataset, options: LandscapeOptions | None = None,
                          *, progress: Progress | None = None, cancel: threading.Event | None = None,
                          _t0: float | None = None) -> Landscape:
    """The landscape of a race trained with ``record_every`` (``result.weights``)."""
    if result.weights is None or result.weight_iterations is None:
        raise ValueError("Invalid result: no recorded weights (train with record_every ≥ 1)")
    options = options or LandscapeOptions()
    options.validate(result.labels)
    t0 = time.perf_counter() if _t0 is None else _t0
    config = result.config
    net = MLP(dataset.n_features, config.hidden, dataset.n_classes, dtype=config.dtype)
    weights = result.weights

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(LandscapeProgress(stage, done, total, time.perf_counter() - t0))

    def stopped() -> bool:
        return cancel is not None and cancel.is_set()

    report("plane", 0, 1)
    start = weights[result.labels[0]][0]
    # one BLAS thread: these products are small, and several BLAS threads stall on a busy machine
    with blas_threads(1):
        if options.plane == "pca":
            plane = pca_plane(weights, start)
        elif options.plane == "random":
            label = options.center or result.labels[0]
            plane = random_plane(weights[label][-1], net.shapes, options.seed, label)
        else:
            a, b = options.endpoint_labels(result.labels)
            plane = endpoints_plane(start, weights[a][-1], weights[b][-1], (a, b))
        paths = {l: plane.project(weights[l]) for l in result.labels}
    report("plane", 1, 1)
    if stopped():
        raise LandscapeCancelled("cancelled")

    data = dataset.astype(net.dtype)
    n = len(data.y_train)
    idx = subset_indices(n, options.subset, options.seed)
    evaluator = SurfaceEvaluator(net, data.x_train[idx], data.y_train[idx], workers=options.workers)
    g = options.grid
    axis_a, axis_b = grid_axes(plane, np.concatenate(list(paths.values())), g, float(options.span))
    aa, bb = np.meshgrid(axis_a, axis_b)  # row b, column a
    loss = evaluator.plane_losses(plane, aa.ravel(), bb.ravel(),
                                  progress=lambda d, t: report("surface", d, t), cancel=stopped).reshape(g, g)
    stacked = np.concatenate([weights[l] for l in result.labels])
    losses = evaluator.row_losses(stacked, progress=lambda d, t: report("paths", d, t), cancel=stopped)
    r = len(result.weight_iterations)
    path_loss = {l: losses[k * r : (k + 1) * r] for k, l in enumerate(result.labels)}
    meta: dict[str, Any] = {
        "dataset": result.dataset,
        "network": list(net.sizes),
        "hyperparameters": {l: {k: _jsonable(v) for k, v in hp.items()} for l, hp in result.hyperparams.items()},
        "trained_iterations": int(result.completed),
        "batch_size": int(config.batch_size),
        "seed": int(options.seed),
        "grid": g,
        "span": float(options.span),
        "record_every": int(result.weight_iterations[1] - result.weight_iterations[0]) if r > 1 else 0,
        "images": len(idx),
        "training_images": int(n),
        "diverged": {l: result.diverged[l] for l in result.labels},
    }
    if options.plane == "endpoints":
        meta["endpoints"] = list(options.endpoint_labels(result.labels))
    return Landscape(
        plane=options.plane,
        explained_variance=plane.explained_variance,
        axis_a=axis_a, axis_b=axis_b, loss=loss,
        labels=list(result.labels),
        iterations=result.weight_iterations.copy(),
        paths=paths, path_loss=path_loss,
        axis_titles=plane.titles,
        subset=_subset_text(len(idx), n, options.subset, options.seed),
        center_label=plane.center_label,
        meta=meta,
    )


def _jsonable(v: object) -> object:
    """A hyperparameter value for JSON: tuples as lists, ±inf / NaN as the strings "inf" / "-inf" / "nan"."""
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else str(f)
    if isinstance(v, np.integer):
        return int(v)
    return v
