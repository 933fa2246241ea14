"""Surface grids of data-driven problems: the optimized paths against the generic chunked mean.

Prints ms per 256² grid (best of K) for 1,000 data points and the speed-up of the sigmoid
factorized loop and the linear-regression moments over the generic per-sample chunked mean
(``Problem._grid_values``), after checking that both give the same surface. Not a test.

    .venv/bin/python bench/problem_grids.py [--rounds K] [--points N] [--res R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gdstudio.engine import make_problem
from gdstudio.engine.problems.base import Problem


def best_of(fn, rounds: int) -> float:
    """The fastest of ``rounds`` calls of ``fn``, in seconds (bench/tuning.py uses it too)."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--res", type=int, default=256)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1.5, args.points)
    print(f"{args.res}² grid, {args.points} data points, best of {args.rounds}")
    print(f"{'problem':<22}{'optimized ms':>14}{'generic ms':>12}{'speed-up':>10}{'max |diff|':>12}")
    for name, y in (("sigmoid-neuron", rng.uniform(0, 1, args.points)),
                    ("linear-regression", 2 * x + 3 + rng.normal(0, 1, args.points))):
        p = make_problem(name, data_x=x, data_y=y)
        xs = np.linspace(*p.bounds[0], args.res)
        ys = np.linspace(*p.bounds[1], args.res)
        fast = p._grid_values(xs, ys)
        slow = Problem._grid_values(p, xs, ys)
        t_fast = best_of(lambda p=p, xs=xs, ys=ys: p._grid_values(xs, ys), args.rounds)
        t_slow = best_of(lambda p=p, xs=xs, ys=ys: Problem._grid_values(p, xs, ys), max(1, args.rounds // 2))
        print(f"{name:<22}{1e3 * t_fast:>14.1f}{1e3 * t_slow:>12.1f}{t_slow / t_fast:>9.1f}×"
              f"{float(np.max(np.abs(fast - slow))):>12.1e}")
    print("target: sigmoid-neuron 256² with 1,000 points under 200 ms (on an idle machine)")


if __name__ == "__main__":
    main()
