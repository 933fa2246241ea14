#!/usr/bin/env python
"""Tuning benchmark: *Race all*'s learning-rate search, one Run per η against all η as rows.

Run ``.venv/bin/python bench/tuning.py`` (``--rounds K``, ``--steps S``). For every race
optimizer on Rosenbrock from (−1.5, 2), Himmelblau, the book's bowl x²/20 + y², the sigmoid
neuron (full batch) and linear regression with batch 10 and gradient noise it prints

1. ms per :func:`gdstudio.engine.tuning.tune_lr` (11 η × ``steps`` steps) for the reference
   (``_tune_lr_reference``: one full Run per η, what the studio did before) and the vectorized
   tuner, their ratio, and a check that both pick the same η;
2. seconds for ``Session.plan_race`` over all 11 race optimizers (what *Race all* waits for),
   alone and in a worker thread while the main thread runs Python code (the window's UI thread
   competes for the GIL like this), against the 2 s target.

Timings: ``time.perf_counter``, best of K rounds, old and new interleaved per round.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from problem_grids import best_of  # bench/problem_grids.py: the fastest of K rounds

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import RunConfig
from gdstudio.engine.tuning import _tune_lr_reference, tune_lr
from gdstudio.model.session import RACE_OPTIMIZERS, ProblemSettings, Session

#: (label, problem name, problem kwargs, start, batch size, noise σ)
CASES = [
    ("rosenbrock (-1.5, 2)", "rosenbrock", {}, (-1.5, 2.0), None, 0.0),
    ("himmelblau", "himmelblau", {}, None, None, 0.0),
    ("bowl x²/20+y²", "bowl", {}, (-7.0, 2.0), None, 0.0),
    ("sigmoid-neuron", "sigmoid-neuron", {}, None, None, 0.0),
    ("linreg B=10 σ=0.2", "linear-regression", {}, None, 10, 0.2),
]


def tune_table(rounds: int, steps: int) -> None:
    print(f"tune_lr, 11 η × {steps} steps, ms per optimizer (best of {rounds})")
    print(f"{'problem':22s} {'optimizer':9s} {'reference':>10s} {'vectorized':>11s} {'ratio':>7s}  same η")
    ratios = []
    for label, name, kwargs, start, batch, noise in CASES:
        problem = make_problem(name, **kwargs)
        tot_old = tot_new = 0.0
        for opt in RACE_OPTIMIZERS:
            cfg = RunConfig(opt, start or problem.start, {}, batch, True, noise, 0, 1e-8)
            old = new = float("inf")
            for _ in range(rounds):  # interleaved, so load hits both alike
                t0 = time.perf_counter()
                lr_old = _tune_lr_reference(problem, cfg, steps=steps)
                t1 = time.perf_counter()
                lr_new = tune_lr(problem, cfg, steps=steps)
                t2 = time.perf_counter()
                old, new = min(old, t1 - t0), min(new, t2 - t1)
            tot_old += old
            tot_new += new
            ratios.append(old / new)
            print(f"{label:22s} {opt:9s} {old * 1e3:10.1f} {new * 1e3:11.1f} {old / new:6.1f}×  "
                  f"{'yes' if lr_old == lr_new else f'NO ({lr_old} vs {lr_new})'}")
        print(f"{label:22s} {'all 11':9s} {tot_old * 1e3:10.1f} {tot_new * 1e3:11.1f} {tot_old / tot_new:6.1f}×")
    ratios.sort()
    mid = ratios[len(ratios) // 2]
    print(f"speed-up per optimizer: min {ratios[0]:.1f}×, median {mid:.1f}×, max {ratios[-1]:.1f}×")


def _session(name: str, kwargs: dict, start, batch, noise) -> Session:
    s = Session()
    s.set_problem(ProblemSettings(name, **kwargs))
    problem = s.problem
    s.replace_runs([RunConfig("gd", start or problem.start, {}, batch, True, noise, 0, 1e-8)])
    return s


def plan_race_table(rounds: int, steps: int) -> None:
    print(f"\nSession.plan_race, all {len(RACE_OPTIMIZERS)} race optimizers, {steps} steps, s (best of {rounds})")
    print(f"{'problem':22s} {'alone':>8s} {'vs a busy thread':>17s}  target ≤ 2 s")
    for label, name, kwargs, start, batch, noise in CASES:
        s = _session(name, kwargs, start, batch, noise)
        alone = best_of(lambda s=s: s.plan_race(steps=steps), rounds)
        contended = _contended(lambda s=s: s.plan_race(steps=steps))
        ok = "met" if max(alone, contended) <= 2.0 else "MISSED"
        print(f"{label:22s} {alone:8.3f} {contended:17.3f}  {ok}")


def _contended(fn) -> float:
    """Seconds ``fn`` takes in a worker thread while this thread spins Python bytecode."""
    done = threading.Event()
    elapsed: list[float] = []

    def work() -> None:
        t0 = time.perf_counter()
        fn()
        elapsed.append(time.perf_counter() - t0)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    x = 0
    while not done.is_set():
        for i in range(2000):
            x += i * i
    worker.join()
    return elapsed[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} (above ~0.7 on 2 cores: absolute times are noisy; ratios hold better)\n")
    tune_table(args.rounds, args.steps)
    plan_race_table(args.rounds, args.steps)


if __name__ == "__main__":
    main()
