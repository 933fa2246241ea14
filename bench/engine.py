#!/usr/bin/env python
"""Engine benchmark: Adam on Rosenbrock, gdstudio against the articles' loops and torch.optim.

Run ``.venv/bin/python bench/engine.py`` (``--quick`` for a smoke run). It prints

1. µs per step for one trajectory through :class:`gdstudio.engine.runs.Run` (10,000 steps,
   ``tol=0``, history recorded), beside a seed-style Python-float loop and torch.optim.Adam;
2. ns per point-step for N = 1, 100, 10⁴, 10⁶ start points: the Adam update alone
   (``Optimizer.step(record=False)``) and update + Rosenbrock gradient, beside the same work in a
   per-sample pure-Python loop (seed 001's ``class Adam`` style: dicts of Python floats,
   ``params[key] -= ...``) and in torch.optim.Adam (float64, ``foreach=False``, the analytic
   gradient assigned to ``p.grad``);
3. a memory-bandwidth floor for the 10⁶-point update: one streaming pass over the bytes the
   update must move (read p, g, m, v; write p, m, v), and the update's ratio to it;
4. per-row hyperparameters: 4,096 rows with 4,096 different learning rates (an (N, 1) ``lr``
   column), 300 Adam steps on Rosenbrock in one vectorized call per step, against a loop over
   4,096 single-row runs (each its own optimizer and state, the same gradient function); the
   final points must agree bit for bit.

Every contender runs the same arithmetic (torch's operation order), so the final points are
compared as a check that the work is the same. Timings are best-of-k with
``time.perf_counter``, and the contenders of a table row run interleaved, round by round, so
that load from other processes hits them alike; ratios are measured in this one run. Without
torch the torch columns are omitted (and the output says so).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gdstudio.engine.optimizers import OptState, make_optimizer
from gdstudio.engine.optimizers import base as optimizer_base
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig

try:
    import torch
except ImportError:  # the benchmark runs without torch; its columns are omitted
    torch = None

LR = 0.01
BETAS = (0.9, 0.999)
EPS = 1e-8
PROBLEM = make_problem("rosenbrock")
START = tuple(float(v) for v in PROBLEM.start)

# Targets (DESIGN.md and the engine brief).
TRAJECTORY_TARGET = 5.0  # one trajectory at least this many times faster per step than torch.optim
FLOOR_TARGET = 3.0  # the 10⁶-point update within this factor of the memory-bandwidth floor
PER_ROW_TARGET = 50.0  # N rows with N learning rates in one call, against N single-row runs (issue 10)

Timer = Callable[[], float]  # runs a measured piece of work, returns the seconds it took


# -- the articles' style: Python floats in dicts -------------------------------------------------
class SeedAdam:
    """Seed 001's ``class Adam`` (dicts of parameters, ``params[key] -= ...``) in Python floats.

    The arithmetic is torch.optim.Adam's, in its order, so it does exactly the work the NumPy
    rule does: ``m += (1-β₁)(g-m)``, ``v = v·β₂ + ((1-β₂)·g)·g``,
    ``p -= step_size·m / (√v/√(1-β₂ᵗ) + ε)`` with ``step_size = lr/(1-β₁ᵗ)``.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.iter = 0
        self.m: dict[str, float] | None = None
        self.v: dict[str, float] = {}

    def update(self, params: dict[str, float], grads: dict[str, float]) -> None:
        if self.m is None:
            self.m = dict.fromkeys(params, 0.0)
            self.v = dict.fromkeys(params, 0.0)
        self.iter += 1
        step_size = self.lr / (1.0 - self.beta1**self.iter)
        bc2_sqrt = (1.0 - self.beta2**self.iter) ** 0.5  # torch's float pow, as the engine
        for key in params:
            g = grads[key]
            self.m[key] += (1 - self.beta1) * (g - self.m[key])
            self.v[key] = self.v[key] * self.beta2 + (1 - self.beta2) * g * g
            params[key] -= step_size * self.m[key] / (math.sqrt(self.v[key]) / bc2_sqrt + self.eps)


def seed_gradient(params: dict[str, float]) -> dict[str, float]:
    """∇ of (1-x)² + 100(y-x²)² in Python floats (the same expression as the engine's)."""
    x, y = params["x"], params["y"]
    r = y - x * x
    return {"x": -2 * (1 - x) - 400 * x * r, "y": 200 * r}


def torch_gradient(p: torch.Tensor) -> torch.Tensor:
    """∇ of Rosenbrock at the rows of ``p`` (N, 2), the engine's expression in torch ops."""
    x, y = p[:, 0], p[:, 1]
    r = y - x * x
    return torch.stack((-2 * (1 - x) - 400 * x * r, 200 * r), dim=1)


# -- timing ----------------------------------------------------------------------------------------
def race(timers: dict[str, Timer], rounds: int) -> dict[str, float]:
    """Best time of each timer over ``rounds`` interleaved rounds (one call of each per round)."""
    best = dict.fromkeys(timers, math.inf)
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer())
    return best


def calibrate(step: Callable[[int], None], target: float, max_steps: int) -> int:
    """Steps per timed call so that one call lasts about ``target`` seconds."""
    step(1)  # warm up
    t0 = time.perf_counter()
    step(1)
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, min(max_steps, round(target / one)))


def timed(step: Callable[[int], None], steps: int) -> Timer:
    def run() -> float:
        t0 = time.perf_counter()
        step(steps)
        return (time.perf_counter() - t0) / steps

    return run


def fmt(x: float | None, width: int = 10) -> str:
    if x is None:
        return f"{'—':>{width}}"
    return f"{x:>{width}.3g}" if x < 1000 else f"{x:>{width},.0f}"


def ratio(x: float | None, width: int = 9) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:>{width - 1}.3g}×"


# -- 1. one trajectory -----------------------------------------------------------------------------
def bench_trajectory(steps: int, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """µs per step of each implementation, and max |Δ| of their final points against Run's."""
    config = RunConfig("adam", START, {"lr": LR, "betas": BETAS, "eps": EPS}, tol=0.0)
    finals: dict[str, np.ndarray] = {}

    def run_advance() -> float:
        run = Run(PROBLEM, config)
        t0 = time.perf_counter()
        run.advance(steps)
        dt = time.perf_counter() - t0
        assert run.steps == steps and run.running, (run.steps, run.status)
        finals["run"] = run.params[0].copy()
        return dt

    def run_ticks() -> float:
        run = Run(PROBLEM, config)
        advance = run.advance
        t0 = time.perf_counter()
        for _ in range(steps):
            advance(1)
        dt = time.perf_counter() - t0
        finals["ticks"] = run.params[0].copy()
        return dt

    def seed_loop() -> float:
        params = {"x": START[0], "y": START[1]}
        opt = SeedAdam(LR, *BETAS, EPS)
        path = [(params["x"], params["y"])]
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.update(params, seed_gradient(params))
            path.append((params["x"], params["y"]))
        dt = time.perf_counter() - t0
        finals["python"] = np.array(path[-1])
        return dt

    timers: dict[str, Timer] = {"run": run_advance, "ticks": run_ticks, "python": seed_loop}
    if torch is not None:

        def torch_loop() -> float:
            p = torch.nn.Parameter(torch.tensor([START], dtype=torch.float64))
            opt = torch.optim.Adam([p], lr=LR, betas=BETAS, eps=EPS, foreach=False)
            t0 = time.perf_counter()
            with torch.no_grad():
                for _ in range(steps):
                    p.grad = torch_gradient(p)
                    opt.step()
            dt = time.perf_counter() - t0
            finals["torch"] = p.detach().numpy()[0].copy()
            return dt

        def torch_floats() -> float:
            # The gradient in Python floats, handed to torch as a new tensor: torch's step cost
            # with the cheapest way to get a gradient into p.grad.
            p = torch.nn.Parameter(torch.tensor([START], dtype=torch.float64))
            opt = torch.optim.Adam([p], lr=LR, betas=BETAS, eps=EPS, foreach=False)
            tensor, f64 = torch.tensor, torch.float64
            t0 = time.perf_counter()
            with torch.no_grad():
                for _ in range(steps):
                    ((x, y),) = p.tolist()
                    g = seed_gradient({"x": x, "y": y})
                    p.grad = tensor([[g["x"], g["y"]]], dtype=f64)
                    opt.step()
            dt = time.perf_counter() - t0
            finals["torch-floats"] = p.detach().numpy()[0].copy()
            return dt

        timers["torch"] = torch_loop
        timers["torch-floats"] = torch_floats
    best = race(timers, rounds)
    us = {name: t / steps * 1e6 for name, t in best.items()}
    diffs = {name: float(np.max(np.abs(finals[name] - finals["run"]))) for name in finals if name != "run"}
    return us, diffs


# -- 2. N start points -----------------------------------------------------------------------------
def start_points(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    (x0, x1), (y0, y1) = PROBLEM.bounds
    return np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])


def bench_points(n: int, rounds: int, target: float, py_cap: int) -> tuple[dict[str, float], dict[str, float]]:
    """ns per point-step for N = ``n`` points, and max |Δ| of the final points vs gdstudio's.

    The per-sample Python loop runs on the first ``min(n, py_cap)`` points (its cost is linear in
    the number of points, so the per-point figure holds for all of them).
    """
    p0 = start_points(n)
    g0 = PROBLEM.gradient(p0)
    opt = make_optimizer("adam", {"lr": LR, "betas": BETAS, "eps": EPS})

    def ours(with_grad: bool) -> tuple[Callable[[int], None], int]:
        p = p0.copy()
        state: OptState = opt.init_state(p)
        gradient, step = PROBLEM.gradient, opt.step

        def go(k: int) -> None:
            for _ in range(k):
                step(p, gradient(p) if with_grad else g0, state, record=False)

        return go, n

    m = min(n, py_cap)

    def python(with_grad: bool) -> tuple[Callable[[int], None], int]:
        samples = [({"x": float(x), "y": float(y)}, SeedAdam(LR, *BETAS, EPS)) for x, y in p0[:m]]
        fixed = [{"x": float(gx), "y": float(gy)} for gx, gy in g0[:m]]

        def go(k: int) -> None:
            for _ in range(k):
                if with_grad:
                    for params, o in samples:
                        o.update(params, seed_gradient(params))
                else:
                    for (params, o), grads in zip(samples, fixed, strict=True):
                        o.update(params, grads)

        return go, m

    def torch_(with_grad: bool) -> tuple[Callable[[int], None], int]:
        p = torch.nn.Parameter(torch.tensor(p0))
        o = torch.optim.Adam([p], lr=LR, betas=BETAS, eps=EPS, foreach=False)
        g_fixed = torch.tensor(g0)

        def go(k: int) -> None:
            with torch.no_grad():
                for _ in range(k):
                    p.grad = torch_gradient(p) if with_grad else g_fixed
                    o.step()

        return go, n

    makers = {"ours": ours, "python": python}
    if torch is not None:
        makers["torch"] = torch_
    timers: dict[str, Timer] = {}
    for name, make in makers.items():
        for with_grad in (False, True):
            go, points = make(with_grad)
            k = calibrate(go, target, 20_000)
            timers[f"{name}+grad" if with_grad else name] = _per_point(timed(go, k), points)
    best = race(timers, rounds)
    ns = {name: t * 1e9 for name, t in best.items()}
    diffs = _agreement(min(n, py_cap), p0, opt)
    return ns, diffs


def _per_point(timer: Timer, points: int) -> Timer:
    return lambda: timer() / points


def _agreement(m: int, p0: np.ndarray, opt: object) -> dict[str, float]:
    """Max |Δ| after 20 update+gradient steps from the same points: Python and torch vs ours."""
    steps = 20
    p = p0[:m].copy()
    state = opt.init_state(p)  # type: ignore[attr-defined]
    for _ in range(steps):
        opt.step(p, PROBLEM.gradient(p), state, record=False)  # type: ignore[attr-defined]
    samples = [({"x": float(x), "y": float(y)}, SeedAdam(LR, *BETAS, EPS)) for x, y in p0[:m]]
    for _ in range(steps):
        for params, o in samples:
            o.update(params, seed_gradient(params))
    py = np.array([[s["x"], s["y"]] for s, _ in samples])
    out = {"python": float(np.max(np.abs(py - p)))}
    if torch is not None:
        tp = torch.nn.Parameter(torch.tensor(p0[:m]))
        o = torch.optim.Adam([tp], lr=LR, betas=BETAS, eps=EPS, foreach=False)
        with torch.no_grad():
            for _ in range(steps):
                tp.grad = torch_gradient(tp)
                o.step()
        out["torch"] = float(np.max(np.abs(tp.detach().numpy() - p)))
    return out


# -- 3. memory floor -------------------------------------------------------------------------------
def floor_timers(n: int) -> dict[str, Timer]:
    """Streaming passes that read p, g, m, v and write p, m, v (7 arrays of n x 2 float64).

    Blocked so that the second touch of v (read by one call, written by the next) hits cache:
    main-memory traffic is exactly the update's. One timer per block size, single-threaded and
    with one row range per core (as the update itself runs at this size); the floor is the best.
    """
    from gdstudio.engine.optimizers import base

    rng = np.random.default_rng(1)
    P, G, M, V = (rng.uniform(0.5, 1.0, (n, 2)) for _ in range(4))
    add, mul = np.add, np.multiply

    def stream(block: int, start: int, stop: int) -> None:
        for lo in range(start, stop, block):
            s = slice(lo, min(lo + block, stop))
            p, m, v = P[s], M[s], V[s]
            add(p, G[s], out=p)  # read p, g; write p
            add(m, v, out=m)  # read m, v; write m
            mul(v, 1.0, out=v)  # v again (in cache); write v

    def make(block: int, workers: int) -> Timer:
        edges = [round(n * i / workers) for i in range(workers + 1)]
        ranges = list(itertools.pairwise(edges))

        def run() -> float:
            t0 = time.perf_counter()
            futures = [base._pool().submit(stream, block, lo, hi) for lo, hi in ranges[1:]]
            stream(block, *ranges[0])
            for f in futures:
                f.result()
            return (time.perf_counter() - t0) / n

        return run

    cores = base._workers()
    timers = {f"floor/{b}": make(b, 1) for b in (8192, 32768, 131072)}
    if cores > 1:
        timers.update({f"floor/{b}x{cores}": make(b, cores) for b in (8192, 32768, 131072)})
    return timers


def bench_floor(n: int, rounds: int) -> tuple[float, float, dict[str, float]]:
    """(update ns/point, floor ns/point, each floor variant's ns/point), raced together."""
    p = start_points(n)
    g = PROBLEM.gradient(p)
    opt = make_optimizer("adam", {"lr": LR, "betas": BETAS, "eps": EPS})
    state = opt.init_state(p)
    opt.step(p, g, state, record=False)  # warm up (first-touch of the state buffers)

    def update() -> float:
        t0 = time.perf_counter()
        opt.step(p, g, state, record=False)
        return (time.perf_counter() - t0) / n

    timers = {"update": update, **floor_timers(n)}
    best = race(timers, rounds)
    floors = {k: v * 1e9 for k, v in best.items() if k.startswith("floor/")}
    return best["update"] * 1e9, min(floors.values()), floors


def sweep_blocks(n: int, rounds: int, sizes: tuple[int, ...]) -> dict[int, float]:
    """ns per point-step of the n-point Adam update for each BLOCK_ROWS value (restored after)."""
    p = start_points(n)
    g = PROBLEM.gradient(p)
    opt = make_optimizer("adam", {"lr": LR, "betas": BETAS, "eps": EPS})
    state = opt.init_state(p)
    saved = optimizer_base.BLOCK_ROWS

    def make(size: int) -> Timer:
        def run() -> float:
            optimizer_base.BLOCK_ROWS = size
            t0 = time.perf_counter()
            opt.step(p, g, state, record=False)
            return (time.perf_counter() - t0) / n

        return run

    try:
        best = race({str(s): make(s) for s in sizes}, rounds)
    finally:
        optimizer_base.BLOCK_ROWS = saved
    return {s: best[str(s)] * 1e9 for s in sizes}


# -- report ----------------------------------------------------------------------------------------
# -- 4. per-row hyperparameters --------------------------------------------------------------------
def bench_per_row(rows: int, steps: int, rounds: int) -> tuple[float, float, bool]:
    """Seconds for ``rows`` learning rates × ``steps`` Adam steps: one vectorized run (an (N, 1)
    lr column, best of ``rounds``) and a loop over single-row runs (once: it lasts long enough to
    average the noise out), and whether their final points are bit-identical. Both include making
    the optimizers and states."""
    lrs = np.geomspace(1e-4, 1.0, rows).reshape(rows, 1)
    start = np.array([START])
    gradient = PROBLEM.gradient
    finals: dict[str, np.ndarray] = {}

    def vectorized() -> float:
        t0 = time.perf_counter()
        opt = make_optimizer("adam", {"lr": lrs, "betas": BETAS, "eps": EPS})
        p = np.repeat(start, rows, axis=0)
        state = opt.init_state(p)
        update = opt.update
        with np.errstate(all="ignore"):
            for _ in range(steps):
                update(p, gradient(p), state)
        elapsed = time.perf_counter() - t0
        finals["vectorized"] = p
        return elapsed

    def loop() -> float:
        out = np.empty((rows, 2))
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            for i in range(rows):
                opt = make_optimizer("adam", {"lr": float(lrs[i, 0]), "betas": BETAS, "eps": EPS})
                p = start.copy()
                state = opt.init_state(p)
                update = opt.update
                for _ in range(steps):
                    update(p, gradient(p), state)
                out[i] = p[0]
        elapsed = time.perf_counter() - t0
        finals["loop"] = out
        return elapsed

    vec = race({"vectorized": vectorized}, rounds)["vectorized"]
    once = loop()
    same = finals["vectorized"].tobytes() == finals["loop"].tobytes()
    return vec, once, same


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run (fewer steps and rounds)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per table row (best of k); default 5, quick 2")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch intra-op threads (default 1: NumPy's update is single-threaded too)")
    ap.add_argument("--sweep-blocks", action="store_true", help="also time the 10⁶-point update per BLOCK_ROWS")
    args = ap.parse_args(argv)
    quick = args.quick
    rounds = args.rounds or (2 if quick else 5)
    traj_steps = 1_000 if quick else 10_000
    target = 0.01 if quick else 0.08  # seconds per timed call in the N-point table
    py_cap = 1_000 if quick else 10_000
    ns_list = (1, 100, 10_000, 1_000_000)

    if torch is not None:
        torch.set_num_threads(args.torch_threads)
        torch_note = f"torch {torch.__version__} ({torch.get_num_threads()} thread(s))"
    else:
        torch_note = "torch not installed: torch columns omitted"
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("gdstudio engine benchmark" + ("  [--quick: smoke run, numbers are rough]" if quick else ""))
    print(f"  Python {platform.python_version()}, NumPy {np.__version__}, {torch_note}")
    print(f"  CPU {cpu_name()}, {os.cpu_count()} logical cores, load average {load0:.2f}; "
          f"BLOCK_ROWS = {optimizer_base.BLOCK_ROWS}")
    print(f"  Adam lr={LR}, betas={BETAS}, eps={EPS} on Rosenbrock; best of {rounds} interleaved rounds "
          "(time.perf_counter); ratios = other / ours, from this run")
    t_start = time.perf_counter()

    # 1.
    print(f"\n1. One trajectory from {START}, {traj_steps:,} steps (tol=0), µs per step")
    us, diffs = bench_trajectory(traj_steps, rounds)
    rows = [
        ("run", "gdstudio Run.advance(k) (gradient, update, history)"),
        ("ticks", "gdstudio Run.advance(1) per step (one UI tick each)"),
        ("python", "seed-style Python floats + dicts (no history)"),
        ("torch", "torch.optim.Adam, gradient in torch ops (no history)"),
        ("torch-floats", "torch.optim.Adam, gradient in Python floats (no history)"),
    ]
    print(f"   {'implementation':<58}{'µs/step':>10}{'vs Run':>10}")
    for key, label in rows:
        if key in us:
            print(f"   {label:<58}{fmt(us[key])}{ratio(us[key] / us['run'], 10)}")
        else:
            print(f"   {label:<58}{'(omitted: torch not installed)':>20}")
    agree = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
    print(f"   same work: max |Δ| of the final point vs Run: {agree}")
    if "torch" in diffs:
        print("   (torch rounds a few operations differently by an ulp, and the Rosenbrock valley amplifies"
              " that over thousands of steps;\n    after 20 steps they agree to ~1e-16, see table 2)")
    traj_ratio = us["torch"] / us["run"] if "torch" in us else None

    # 2.
    print("\n2. N start points, ns per point-step (update: Optimizer.step(record=False); +grad: with "
          "the Rosenbrock gradient)")
    print(f"   Python loop: per sample, on the first min(N, {py_cap:,}) points (its cost is linear in N)")
    head = f"   {'N':>9}  {'work':<12}{'gdstudio':>10}{'python':>10}{'torch':>10}{'python/ours':>13}{'torch/ours':>12}"
    print(head)
    table: dict[int, dict[str, float]] = {}
    for n in ns_list:
        ns, agree_n = bench_points(n, rounds, target, py_cap)
        table[n] = ns
        for work, suffix in (("update", ""), ("update+grad", "+grad")):
            ours = ns["ours" + suffix]
            py = ns["python" + suffix]
            tt = ns.get("torch" + suffix)
            print(f"   {n:>9,}  {work:<12}{fmt(ours)}{fmt(py)}{fmt(tt)}"
                  f"{ratio(py / ours, 13)}{ratio(None if tt is None else tt / ours, 12)}")
        print(f"   {'':>9}  same work: max |Δ| after 20 steps vs gdstudio: "
              + ", ".join(f"{k} {v:.1e}" for k, v in agree_n.items()))

    # 3.
    n_floor = ns_list[-1]
    print(f"\n3. Memory floor, N = {n_floor:,}: a streaming pass reading p, g, m, v and writing p, m, v "
          f"(7 arrays x {n_floor * 16 / 1e6:.0f} MB)")
    upd, floor, variants = bench_floor(n_floor, max(rounds, 5))
    print("   streaming pass, ns per point, by block rows: "
          + ", ".join(f"{k.split('/')[1]}: {v:.3g}" for k, v in variants.items()))
    bandwidth = 7 * 16 / floor  # bytes per ns = GB/s
    print(f"   floor {floor:.3g} ns per point (~{bandwidth:.3g} GB/s); gdstudio Adam update {upd:.3g} ns per "
          f"point = {upd / floor:.3g}× the floor")

    # 4.
    pr_rows, pr_steps = (256, 50) if quick else (4_096, 300)
    print(f"\n4. Per-row hyperparameters: {pr_rows:,} rows with {pr_rows:,} learning rates (geometric 1e-4 … 1), "
          f"{pr_steps} Adam steps; vectorized best of {rounds}, the loop once")
    vec, loop_s, same = bench_per_row(pr_rows, pr_steps, rounds)
    per_row_ratio = loop_s / vec
    print(f"   one vectorized run (lr an ({pr_rows:,}, 1) column)      {vec * 1e3:10.1f} ms")
    print(f"   loop over {pr_rows:,} single-row runs                  {loop_s * 1e3:10.1f} ms   "
          f"ratio {per_row_ratio:.3g}×")
    print(f"   same final points, bit for bit: {'yes' if same else 'NO'}")

    if args.sweep_blocks:
        sizes = (2048, 4096, 8192, 16384, 32768, 65536, 131072, n_floor)
        print(f"\n   BLOCK_ROWS sweep (Adam update, N = {n_floor:,}, ns per point-step):")
        for size, t in sweep_blocks(n_floor, max(rounds, 5), sizes).items():
            print(f"   {size:>9,} rows {t:8.3g}")

    # targets
    print("\nTargets")
    if traj_ratio is None:
        print(f"   one trajectory ≥{TRAJECTORY_TARGET:g}× faster per step than torch.optim: not measured "
              "(torch not installed)")
    else:
        verdict = "MET" if traj_ratio >= TRAJECTORY_TARGET else "MISSED"
        print(f"   one trajectory ≥{TRAJECTORY_TARGET:g}× faster per step than torch.optim: {verdict} "
              f"({us['torch']:.3g} / {us['run']:.3g} µs = {traj_ratio:.3g}×, gradient in torch ops as DESIGN.md)")
        alt = us["torch-floats"] / us["run"]
        verdict = "met" if alt >= TRAJECTORY_TARGET else "missed"
        print(f"      against torch fed a Python-float gradient: {verdict} ({us['torch-floats']:.3g} / "
              f"{us['run']:.3g} µs = {alt:.3g}×)")
    fr = upd / floor
    verdict = "MET" if fr <= FLOOR_TARGET else "MISSED"
    print(f"   {n_floor:,}-point update within {FLOOR_TARGET:g}× of the memory floor: {verdict} ({fr:.3g}×)")
    verdict = "MET" if per_row_ratio >= PER_ROW_TARGET else "MISSED"
    print(f"   {pr_rows:,} learning rates in one call ≥{PER_ROW_TARGET:g}× faster than {pr_rows:,} single-row runs: "
          f"{verdict} ({per_row_ratio:.3g}×{', quick sizes' if quick else ''})")
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    busy = "  (machine busy: other processes share the cores, timings are noisy)" if max(load0, load1) > 0.7 else ""
    print(f"\n   total {time.perf_counter() - t_start:.1f} s; load average at end {load1:.2f}{busy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
