"""Step inspector benchmark: the cost of explaining a step of a long live run while scrubbing.

Usage (from the repository root)::

    .venv/bin/python bench/explain.py            # 10,000-step Adam run on Rosenbrock, 200 random steps
    .venv/bin/python bench/explain.py --steps 2000 --requests 50 --optimizer lbfgs

Contenders, on the same random sequence of steps K of one run:

* ``replay from 0``: a fresh twin replayed to K every time (what ``explain_step`` costs);
* ``cached``: :func:`gdstudio.engine.explain.explain_run`, replaying from the nearest checkpoint
  (every ``CHECKPOINT_EVERY`` steps, kept as the replay passes them); the first request, which
  lays the checkpoints up to K, is timed apart;
* ``neighbour``: scrubbing by one step (K, K+1, K+2 …), the slider's common case.

Before timing, both paths are checked to give the same explanation. Prints ms per request and the
ratios. Not a test: never asserts a duration.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gdstudio.engine.explain import CHECKPOINT_EVERY, Explainer, explain_run, to_json
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig


def _ms(fn, ks: list[int]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for k in ks:
        t0 = time.perf_counter()
        fn(k)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--problem", default="rosenbrock")
    args = ap.parse_args()

    problem = make_problem(args.problem)
    config = RunConfig(args.optimizer, (-1.5, 2.0), {"lr": 1e-3}, tol=0.0)
    run = Run(problem, config).run(args.steps)
    steps = run.steps
    rng = np.random.default_rng(0)
    ks = [int(k) for k in rng.integers(1, steps + 1, size=args.requests)]

    # the same answers first
    fresh = Explainer(run, every=10**12)  # one checkpoint at 0: every request replays from step 0
    for k in ks[:5]:
        assert to_json(fresh.explain(k)) == to_json(explain_run(run, k)), k

    cold_run = Run(problem, config).run(steps)
    t0 = time.perf_counter()
    explain_run(cold_run, steps)
    first = (time.perf_counter() - t0) * 1e3

    def from_zero(k: int) -> None:
        Explainer(run, every=10**12).explain(k)

    def cached(k: int) -> None:
        explain_run(cold_run, k)

    zero = _ms(from_zero, ks[: max(5, args.requests // 10)])
    warm = _ms(cached, ks)
    start = ks[0]
    neighbour = _ms(cached, [min(steps, start + i) for i in range(1, args.requests + 1)])

    med0, medc, medn = statistics.median(zero), statistics.median(warm), statistics.median(neighbour)
    print(f"{args.optimizer} on {args.problem}: a {steps}-step run, checkpoints every {CHECKPOINT_EVERY} steps, "
          f"{args.requests} random steps")
    print(f"  first request (lays checkpoints up to K = {steps}): {first:8.2f} ms")
    print(f"  replay from 0 per request        median {med0:8.2f} ms   p95 {np.percentile(zero, 95):8.2f} ms")
    print(f"  cached (random K)                median {medc:8.3f} ms   p95 {np.percentile(warm, 95):8.3f} ms")
    print(f"  cached (K, K+1, K+2 …)           median {medn:8.3f} ms   p95 {np.percentile(neighbour, 95):8.3f} ms")
    print(f"  ratio replay-from-0 / cached: {med0 / medc:6.1f}x (random K), {med0 / medn:6.1f}x (neighbours)")


if __name__ == "__main__":
    main()
