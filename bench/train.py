#!/usr/bin/env python
"""Training-lab benchmark: one training iteration of the book's MNIST network, ours vs torch.

Network 784-100-100-100-100-10 (ReLU, softmax cross-entropy), batch 128, random data shaped like
MNIST (pixels in [0, 1], labels 0..9). One iteration = forward + backward + an Adam step on the
10 parameter arrays. Contenders:

- ours: :class:`gdstudio.train.mlp.MLP` + the engine's Adam (``Optimizer.step(record=False)``),
  float32 (the Training lab's default dtype) and float64;
- torch: the same network as ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU`` with
  ``F.cross_entropy`` and ``torch.optim.Adam`` (its CPU default, the per-tensor loop), float32
  and float64, started from the same weights.

For each BLAS thread count (default: 1 and NumPy's own count), NumPy's OpenBLAS and torch get
the same count (``gdstudio.train.blas`` / ``torch.set_num_threads``). Timings are best-of-K
rounds of N iterations with ``time.perf_counter``; the contenders run interleaved round by round
so that load from other processes hits them alike, and the ratio ours / torch is measured in
this one run. Before timing, the contenders' losses over a few identical steps are compared (a
check that the work is the same). Without torch the torch columns are omitted.

Run: ``.venv/bin/python bench/train.py [--rounds K] [--iters N] [--threads 1,2] [--quick]``.
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

from gdstudio.engine.optimizers import make_optimizer
from gdstudio.train.blas import get_blas_threads, set_blas_threads
from gdstudio.train.mlp import MLP

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the benchmark runs without torch; its columns are omitted
    torch = None

SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128
LR = 1e-3
TARGET = 1.5  # ours within 1.5x of torch per iteration
N_BATCHES = 8


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((N_BATCHES, BATCH, SIZES[0]))
    y = rng.integers(0, SIZES[-1], (N_BATCHES, BATCH))
    return x, y


class Ours:
    def __init__(self, dtype: type, start: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        self.net = MLP(SIZES[0], SIZES[1:-1], SIZES[-1], dtype=dtype)
        self.params = [p.astype(dtype) for p in start]
        self.grads = self.net.zeros_like_params()
        self.opt = make_optimizer("adam", {"lr": LR})
        self.states = [self.opt.init_state(p) for p in self.params]
        self.x = x.astype(dtype)
        self.y = y
        self.k = 0

    def step(self) -> float:
        i = self.k % N_BATCHES
        self.k += 1
        loss, grads = self.net.loss_and_grad(self.params, self.x[i], self.y[i], self.grads)
        for p, g, s in zip(self.params, grads, self.states, strict=True):
            self.opt.step(p, g, s, record=False)
        return loss


class Torch:
    def __init__(self, dtype: object, start: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        layers: list[torch.nn.Module] = []
        for l in range(len(SIZES) - 1):
            lin = torch.nn.Linear(SIZES[l], SIZES[l + 1]).to(dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(start[2 * l].T.copy()))
                lin.bias.copy_(torch.from_numpy(start[2 * l + 1][0].copy()))
            layers.append(lin)
            if l < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.x = torch.from_numpy(x).to(dtype)
        self.y = torch.from_numpy(y)
        self.k = 0

    def step(self) -> float:
        i = self.k % N_BATCHES
        self.k += 1
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x[i]), self.y[i])
        loss.backward()
        self.opt.step()
        return loss.detach().item()


def check_same_work(contenders: dict[str, Callable[[], float]], steps: int = 5) -> list[str]:
    """Losses over the first steps; float64 pairs must agree to 1e-10, float32 to 1e-4."""
    losses = {name: [f() for _ in range(steps)] for name, f in contenders.items()}
    lines = []
    for dt, tol in (("float64", 1e-10), ("float32", 1e-4)):
        a, b = losses.get(f"ours {dt}"), losses.get(f"torch {dt}")
        if a is None or b is None:
            continue
        err = max(abs(u - v) / abs(v) for u, v in zip(a, b, strict=True))
        lines.append(f"  check {dt}: max relative loss difference over {steps} steps {err:.1e} "
                     f"({'ok' if err < tol else 'MISMATCH'}, tolerance {tol:g})")
    return lines


def time_rounds(contenders: dict[str, Callable[[], float]], iters: int, rounds: int) -> dict[str, float]:
    """Best-of-rounds ms per iteration, contenders interleaved round by round."""
    best = dict.fromkeys(contenders, float("inf"))
    for f in contenders.values():  # warm-up (allocations, caches)
        for _ in range(5):
            f()
    for _ in range(rounds):
        for name, f in contenders.items():
            t = time.perf_counter()
            for _ in range(iters):
                f()
            best[name] = min(best[name], (time.perf_counter() - t) / iters * 1e3)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="best of K rounds (default 7)")
    ap.add_argument("--iters", type=int, default=40, help="iterations per round (default 40)")
    ap.add_argument("--threads", default="", help="comma-separated BLAS thread counts (default: 1 and NumPy's)")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 10 iterations")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.iters = 2, 10
    default_threads = get_blas_threads()
    counts = [int(t) for t in args.threads.split(",") if t.strip()] or sorted({1, default_threads or 1})

    print(f"gdstudio Training-lab benchmark: {'-'.join(map(str, SIZES))} MLP, batch {BATCH}, "
          f"forward + backward + Adam step")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, NumPy BLAS threads by default: {default_threads}")
    print(f"best of {args.rounds} rounds x {args.iters} iterations; ours uses float32 by default "
          f"(TrainConfig.dtype), float64 shown for reference")
    if torch is None:
        print("torch is not installed: its columns are omitted")

    x, y = make_data()
    start = MLP(SIZES[0], SIZES[1:-1], SIZES[-1], dtype=np.float64).init_params(0)
    verdicts = []
    for threads in counts:
        if set_blas_threads(threads) is None:
            print("  (NumPy's BLAS thread count cannot be set here: running with its default)")
        if torch is not None:
            torch.set_num_threads(threads)
        contenders: dict[str, Callable[[], float]] = {
            "ours float32": Ours(np.float32, start, x, y).step,
            "ours float64": Ours(np.float64, start, x, y).step,
        }
        if torch is not None:
            contenders["torch float32"] = Torch(torch.float32, start, x, y).step
            contenders["torch float64"] = Torch(torch.float64, start, x, y).step
        print(f"\nthreads = {threads} (NumPy BLAS {get_blas_threads()}, torch "
              f"{torch.get_num_threads() if torch else '-'})")
        for line in check_same_work(contenders):
            print(line)
        ms = time_rounds(contenders, args.iters, args.rounds)
        for name, v in ms.items():
            print(f"  {name:<14} {v:8.3f} ms/iteration")
        if torch is not None:
            for dt in ("float32", "float64"):
                ratio = ms[f"ours {dt}"] / ms[f"torch {dt}"]
                ok = ratio <= TARGET
                print(f"  ratio ours/torch {dt}: {ratio:5.2f}x  "
                      f"({'meets' if ok else 'misses'} the {TARGET}x target)")
                if dt == "float32":
                    verdicts.append(ok)
    if default_threads is not None:
        set_blas_threads(default_threads)
    if verdicts:
        print(f"\nfloat32 (the default) within {TARGET}x of torch at every thread count: "
              f"{'yes' if all(verdicts) else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
