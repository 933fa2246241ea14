#!/usr/bin/env python
"""Loss-landscape benchmark: the batched grid evaluation against a per-grid-point loop.

Setting (the issue's): the bundled digits, the default network 64-100-100-100-100-10 (float32),
SGD, Momentum and Adam trained from the same start with recording, the pca plane of their paths,
a 41 × 41 grid over a seeded subset of 1,000 training images.

Contenders, on the same plane, grid and images:

- batched: :class:`gdstudio.train.landscape.SurfaceEvaluator` (what ``gdstudio landscape`` runs):
  layer 1 precomputed (U_c + a U₁ + b U₂), each layer one product with the stacked [W; b], chunks of
  points on one worker thread per core (single-threaded BLAS each); also with one worker;
- loop: the straightforward way: for each grid point build its weights ``c + a·d₁ + b·d₂``, cast to
  the network's dtype, and call :meth:`MLP.loss` on the 1,000 images (one batched forward pass per
  point), with NumPy's own BLAS thread count (every core) and with one BLAS thread.

The numbers are compared first (same losses to float32 rounding). Timings are best-of-K rounds
with ``time.perf_counter``, the contenders interleaved round by round so that load from other
processes hits them alike; the ratios are measured in this one run. Targets: the batched grid in
≤ 5 s and ≥ 3× faster than the loop (both with every core).

Run: ``.venv/bin/python bench/landscape.py [--rounds K] [--grid G] [--images N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gdstudio.train.blas import blas_threads, get_blas_threads
from gdstudio.train.compare import TrainConfig, compare_optimizers
from gdstudio.train.datasets import load_dataset
from gdstudio.train.landscape import Plane, SurfaceEvaluator, grid_axes, pca_plane, subset_indices
from gdstudio.train.mlp import MLP, Params

TARGET_SECONDS = 5.0
TARGET_RATIO = 3.0


def unflatten(flat: np.ndarray, net: MLP) -> Params:
    out: Params = []
    start = 0
    for a, b in net.shapes:
        out.append(flat[start : start + a * b].reshape(a, b).astype(net.dtype))
        start += a * b
    return out


def loop_grid(net: MLP, plane: Plane, aa: np.ndarray, bb: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The straightforward per-grid-point loop of forward passes."""
    return np.array([net.loss(unflatten(plane.point(a, b), net), x, y) for a, b in zip(aa, bb, strict=True)])


def best_of(rounds: int, contenders: dict[str, Callable[[], object]]) -> dict[str, float]:
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, fn in contenders.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="best of K interleaved rounds (default 3)")
    ap.add_argument("--grid", type=int, default=41, help="G x G grid (default 41)")
    ap.add_argument("--images", type=int, default=1000, help="training images (default 1000)")
    ap.add_argument("--iterations", type=int, default=300, help="training iterations for the paths (default 300)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 9x9 grid, 200 images, 1 round")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.grid, args.images, args.iterations = 1, 9, 200, 40

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"# {platform.processor() or platform.machine()}, {cores} cores, NumPy {np.__version__}, "
          f"BLAS threads {get_blas_threads()}, load average {os.getloadavg()[0]:.2f}")
    dataset = load_dataset("digits", seed=0)
    config = TrainConfig(iterations=args.iterations, seed=0)
    t = time.perf_counter()
    result = compare_optimizers(dataset, ["sgd", "momentum", "adam"], config,
                                record_every=max(1, args.iterations // 50))
    assert result.weights is not None
    trained = time.perf_counter() - t
    t = time.perf_counter()
    with blas_threads(1):  # as landscape_from_result does
        plane = pca_plane(result.weights)
        coords = np.concatenate([plane.project(w) for w in result.weights.values()])
    planed = time.perf_counter() - t
    g = args.grid
    axis_a, axis_b = grid_axes(plane, coords, g, 1.25)
    aa, bb = (m.ravel() for m in np.meshgrid(axis_a, axis_b))
    net = MLP(dataset.n_features, config.hidden, dataset.n_classes, dtype=config.dtype)
    idx = subset_indices(len(dataset.y_train), args.images, 0)
    x, y = dataset.x_train[idx].astype(net.dtype), dataset.y_train[idx]
    print(f"digits, network {'-'.join(map(str, net.sizes))} ({sum(a * b for a, b in net.shapes):,} parameters, "
          f"{net.dtype}), {len(idx):,} images, {g}x{g} = {g * g:,} grid points; "
          f"training 3 x {args.iterations} iterations with recording {trained:.2f} s, pca plane {planed:.2f} s")

    batched = SurfaceEvaluator(net, x, y)
    single = SurfaceEvaluator(net, x, y, workers=1)
    # same numbers first
    ref = loop_grid(net, plane, aa[: 3 * g], bb[: 3 * g], x, y)
    got = batched.plane_losses(plane, aa[: 3 * g], bb[: 3 * g])
    worst = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)))
    print(f"check: batched vs loop on {3 * g} points, largest relative difference {worst:.1e}")
    if not worst < 1e-4:
        print("MISMATCH: the contenders do not compute the same losses")
        return 1

    def loop_all() -> None:
        loop_grid(net, plane, aa, bb, x, y)

    def loop_one() -> None:
        with blas_threads(1):
            loop_grid(net, plane, aa, bb, x, y)

    best = best_of(args.rounds, {
        f"batched, {batched.workers} workers": lambda: batched.plane_losses(plane, aa, bb),
        "batched, 1 worker": lambda: single.plane_losses(plane, aa, bb),
        f"loop, NumPy's BLAS threads ({get_blas_threads()})": loop_all,
        "loop, 1 BLAS thread": loop_one,
    })
    names = list(best)
    loop_time = best[names[2]]
    print(f"\n{'contender':<34} {'seconds':>8} {'ms/point':>9} {'vs loop':>8}")
    for name in names:
        s = best[name]
        print(f"{name:<34} {s:8.3f} {1e3 * s / (g * g):9.3f} {loop_time / s:7.2f}x")
    fast = best[names[0]]
    ratio = loop_time / fast
    best_loop = min(best[names[2]], best[names[3]])
    print(f"\nbest of {args.rounds} rounds, load average now {os.getloadavg()[0]:.2f}")
    print(f"target: {g}x{g} grid over {len(idx):,} images in ≤ {TARGET_SECONDS:g} s: {fast:.2f} s "
          f"({'met' if fast <= TARGET_SECONDS else 'NOT met'})")
    print(f"target: ≥ {TARGET_RATIO:g}x the straightforward loop (NumPy's own BLAS threads, every core): {ratio:.2f}x "
          f"({'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    print(f"        against the faster of the two loops (its best thread count): {best_loop / fast:.2f}x "
          f"(multithreaded BLAS on small products collapses when the cores are busy: read both)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
