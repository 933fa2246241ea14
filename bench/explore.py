#!/usr/bin/env python
"""Explore benchmark: basin maps and sweeps, thousands of runs in one vectorized call.

Run ``.venv/bin/python bench/explore.py`` (``--rounds K``, ``--quick``). It prints

1. a G² basin map (default 256²) of 500 Adam steps on Himmelblau end to end through the CLI
   (``gdstudio basins … --format png`` in-process via :func:`gdstudio.cli.main`), against a plain
   vectorized NumPy loop of the same work: the same map (each start's final point and loss, steps,
   status and minimum, checked equal to the engine's) written the straightforward way, the
   problem's gradient and loss and torch's Adam update over the whole (G², 2) array every step,
   finished rows held with ``np.where``; for η = 10⁻³ (Adam's default: nothing converges in 500
   steps) and η = 0.05 (most starts converge). Also the engine alone on one core and on all, and a
   *bare* loop (gradient + Adam only, no loss, no stop tests: it does not produce the map, a floor
   for the arithmetic). Targets: CLI ≤ 3 s and ≥ 1.5× the plain loop;
2. 64 × 64 sweeps of 300 steps on Himmelblau (:func:`gdstudio.engine.explore.sweep`): RMSProp
   η × γ (α), SGD η × momentum, Adam η × β₁ (a β₁ column costs Adam a row-by-row βᵗ in Python floats,
   the rule's exactness rule), target ≤ 0.5 s;
3. the time to the first coarse maps the window shows (32² and 64², 500 steps), target ≤ 100 ms.

Timings: ``time.perf_counter``, best of K rounds, contenders interleaved per round (load from
other processes hits them alike); the load average is printed: above ~0.7 on this 2-core machine
expect noisy absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gdstudio.engine.explore.rows as rows_module
from gdstudio.cli import main
from gdstudio.engine.explore import basin_map, sweep
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import RunConfig


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def plain_basins(grid: int, steps: int, lr: float, tol: float = 1e-8) -> tuple[np.ndarray, ...]:
    """The basin map the straightforward way: every row every step, finished rows held by ``np.where``.

    Returns (final points, final loss, steps, status, minimum) in the engine's row order; a diverged
    row keeps its last finite point and its divergence step, a row converges when ‖∇L‖ < tol."""
    problem = make_problem("himmelblau")
    (x0, x1), (y0, y1) = problem.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    p = np.column_stack([gx.ravel(), gy.ravel()])
    n = len(p)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    b1, b2, eps = 0.9, 0.999, 1e-8
    status = np.zeros(n, np.int8)
    taken = np.full(n, steps, np.int64)
    active = np.ones(n, bool)
    with np.errstate(all="ignore"):
        loss = problem.loss(p)
        g = problem.gradient(p)
        conv = np.sqrt((g * g).sum(axis=1)) < tol
        status[conv], taken[conv] = 1, 0
        active &= ~conv
        for t in range(1, steps + 1):
            m += (g - m) * (1 - b1)
            v = v * b2 + (g * (1 - b2)) * g
            denom = np.sqrt(v) / (1 - b2**t) ** 0.5 + eps
            new = p - (lr / (1 - b1**t)) * m / denom
            new_loss = problem.loss(new)
            bad = active & ~(np.isfinite(new).all(axis=1) & np.isfinite(new_loss))
            status[bad], taken[bad] = 2, t
            active &= ~bad
            p = np.where(active[:, None], new, p)
            loss = np.where(active, new_loss, loss)
            g = problem.gradient(p)
            conv = active & (np.sqrt((g * g).sum(axis=1)) < tol)
            status[conv], taken[conv] = 1, t
            active &= ~conv
        d = np.stack([((p - mm) ** 2).sum(axis=1) for mm in problem.minima])
        minimum = np.where(d.min(axis=0) < 1e-4, d.argmin(axis=0), -1)
    return p, loss, taken, status, minimum


def check_same(grid: int, steps: int, lr: float) -> None:
    """The plain loop computes the engine's map (the comparison is of the same work)."""
    problem = make_problem("himmelblau")
    r = basin_map(problem, RunConfig("adam", (0.0, 0.0), {"lr": lr}), None, grid, steps, detail=False)
    p, loss, taken, status, minimum = plain_basins(grid, steps, lr)
    assert (r.status.ravel() == status).all() and (r.steps.ravel() == taken).all()
    assert (r.minimum.ravel() == minimum).all()
    np.testing.assert_array_equal(r.final_points.reshape(-1, 2), p)
    np.testing.assert_array_equal(r.final_loss.ravel(), loss)


def plain_adam(grid: int, steps: int, lr: float) -> np.ndarray:
    """The bare arithmetic: gradient + Adam (torch's) over (G², 2), no loss, no stop tests (a floor)."""
    problem = make_problem("himmelblau")
    xs = np.linspace(-5, 5, grid)
    gx, gy = np.meshgrid(xs, xs)
    p = np.column_stack([gx.ravel(), gy.ravel()])
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    b1, b2, eps = 0.9, 0.999, 1e-8
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = problem.gradient(p)
            m += (g - m) * (1 - b1)
            v = v * b2 + (g * (1 - b2)) * g
            denom = np.sqrt(v) / (1 - b2**t) ** 0.5 + eps
            p = p - (lr / (1 - b1**t)) * m / denom
    return p


def cli_basins(grid: int, steps: int, lr: float, out: str) -> None:
    code = main(["basins", "--problem", "himmelblau", "--optimizer", "adam", "--set", f"lr={lr}", "--steps",
                 str(steps), "--grid", str(grid), "--format", "png", "--out", out])
    assert code == 0


def basins_table(grid: int, steps: int, rounds: int) -> None:
    print(f"(1) {grid}² basin map, {steps} Adam steps on Himmelblau, s (best of {rounds})")
    print(f"{'lr':>6s} {'CLI (png)':>10s} {'engine 1 core':>14s} {'engine all':>11s} {'plain loop':>11s} "
          f"{'plain/CLI':>10s} {'bare loop':>10s} {'bare/CLI':>9s}  targets: CLI ≤ 3 s, plain/CLI ≥ 1.5×")
    problem = make_problem("himmelblau")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "basins.png")
        for lr in (1e-3, 0.05):
            config = RunConfig("adam", (0.0, 0.0), {"lr": lr})

            def engine(config: RunConfig = config) -> None:
                basin_map(problem, config, None, grid, steps, detail=False)

            check_same(grid, steps, lr)
            t_cli = t_plain = t_bare = t_one = t_all = float("inf")
            for _ in range(rounds):
                t_cli = min(t_cli, best(partial(cli_basins, grid, steps, lr, out), 1))
                t_plain = min(t_plain, best(partial(plain_basins, grid, steps, lr), 1))
                t_bare = min(t_bare, best(partial(plain_adam, grid, steps, lr), 1))
                rows_module.WORKERS = 1
                try:
                    t_one = min(t_one, best(engine, 1))
                finally:
                    rows_module.WORKERS = None
                t_all = min(t_all, best(engine, 1))
            ok = "met" if t_cli <= 3 and t_plain / t_cli >= 1.5 else "NOT met"
            print(f"{lr:6g} {t_cli:10.3f} {t_one:14.3f} {t_all:11.3f} {t_plain:11.3f} {t_plain / t_cli:9.2f}× "
                  f"{t_bare:10.3f} {t_bare / t_cli:8.2f}×  {ok}")


def sweep_table(side: int, steps: int, rounds: int) -> None:
    problem = make_problem("himmelblau")
    print(f"(2) {side}×{side} sweeps from Himmelblau's start, {steps} steps, s (best of {rounds}); target ≤ 0.5 s")
    cases = [("rmsprop", "alpha", np.linspace(0.5, 0.999, side)), ("sgd", "momentum", np.linspace(0, 0.99, side)),
             ("adam", "betas[0]", np.linspace(0, 0.99, side))]
    for name, key, values in cases:
        config = RunConfig(name, problem.start)
        vary = [("lr", np.geomspace(1e-4, 1, side)), (key, values)]
        t = best(partial(sweep, problem, config, vary, steps), rounds)
        ok = "met" if t <= 0.5 else "NOT met"
        print(f"    {name:8s} lr × {key:9s} {t:6.3f} s  ({0.5 / t:.2f}× the budget, {ok})")


def coarse_table(steps: int, rounds: int) -> None:
    problem = make_problem("himmelblau")
    config = RunConfig("adam", (0.0, 0.0), {"lr": 0.05})
    for grid in (32, 64):
        t = best(partial(basin_map, problem, config, None, grid, steps), rounds)
        ok = "met" if t <= 0.1 else "NOT met"
        print(f"(3) first coarse map {grid}², {steps} steps: {t * 1000:.0f} ms  (target ≤ 100 ms: "
              f"{0.1 / t:.2f}× the budget, {ok})")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (a smoke run)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {len(os.sched_getaffinity(0))} cores")
    if args.quick:
        basins_table(32, 50, 1)
        sweep_table(8, 30, 1)
        coarse_table(50, 1)
        return
    basins_table(256, 500, args.rounds)
    sweep_table(64, 300, args.rounds)
    coarse_table(500, args.rounds)


if __name__ == "__main__":
    main_bench()
