"""Write torch reference data for Newton's method into ``tests/data/reference_newton.json``.

The problems are written again in torch (not read from gdstudio), their Hessians taken by
``torch.autograd.functional.hessian`` and their gradients by ``torch.autograd.grad``, in float64;
the Newton step is ``torch.linalg.solve(H + λI, ∇f)``. The tests compare gdstudio's hand-derived
(and SymPy) Hessians and its Newton trajectories with these (no torch needed to run them)::

    .venv/bin/python tools/reference_newton.py
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference_newton.json"
TAU = 2 * math.pi

Fn = Callable[[torch.Tensor], torch.Tensor]


def _sig(z: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + torch.exp(-z))


SIX_X = torch.tensor([3.5, 0.35, 3.2, -2.0, 1.5, -0.5])
SIX_Y = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.1, 0.3])

#: name -> (f(θ) in torch, gdstudio problem kwargs).
PROBLEMS: dict[str, tuple[Fn, dict[str, str]]] = {
    "rosenbrock": (lambda t: (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2, {}),
    "beale": (lambda t: (1.5 - t[0] + t[0] * t[1]) ** 2 + (2.25 - t[0] + t[0] * t[1] ** 2) ** 2
              + (2.625 - t[0] + t[0] * t[1] ** 3) ** 2, {}),
    "himmelblau": (lambda t: (t[0] ** 2 + t[1] - 11) ** 2 + (t[0] + t[1] ** 2 - 7) ** 2, {}),
    "rastrigin": (lambda t: 20 + t[0] ** 2 - 10 * torch.cos(TAU * t[0]) + t[1] ** 2 - 10 * torch.cos(TAU * t[1]), {}),
    "ackley": (lambda t: -20 * torch.exp(-0.2 * torch.sqrt(0.5 * (t[0] ** 2 + t[1] ** 2)))
               - torch.exp(0.5 * (torch.cos(TAU * t[0]) + torch.cos(TAU * t[1]))) + math.e + 20, {}),
    "six-hump-camel": (lambda t: (4 - 2.1 * t[0] ** 2 + t[0] ** 4 / 3) * t[0] ** 2 + t[0] * t[1]
                       + (-4 + 4 * t[1] ** 2) * t[1] ** 2, {}),
    "styblinski-tang": (lambda t: 0.5 * (t[0] ** 4 - 16 * t[0] ** 2 + 5 * t[0] + t[1] ** 4 - 16 * t[1] ** 2 + 5 * t[1]),
                        {}),
    "ravine": (lambda t: 0.02 * t[0] ** 2 + 5 * (t[1] - 0.5 * torch.sin(t[0])) ** 2, {}),
    "sigmoid-neuron": (lambda t: torch.mean(0.5 * (_sig(t[0] * SIX_X + t[1]) - SIX_Y) ** 2), {"dataset": "six-point"}),
    "custom": (lambda t: torch.sin(t[0]) * torch.cos(t[1]) + torch.exp(t[0] * t[1] / 5) + t[0] ** 2,
               {"expr": "sin(x)*cos(y) + exp(x*y/5) + x**2"}),
}

POINTS = [(-1.5, 2.0), (0.3, -0.4), (1.0, 1.4), (2.2, -1.7), (-0.8, 0.6)]

#: (problem, start, lr, damping, steps)
TRAJECTORIES = [
    ("rosenbrock", (-1.5, 2.0), 1.0, 0.0, 8),
    ("rosenbrock", (-1.5, 2.0), 0.5, 1.0, 20),
    ("beale", (1.0, 1.4), 1.0, 0.5, 15),
    ("himmelblau", (-0.5, -0.5), 1.0, 0.0, 10),
    ("six-hump-camel", (-1.5, -0.9), 0.8, 0.1, 15),
    ("ravine", (-9.0, 2.0), 1.0, 0.0, 15),
    ("sigmoid-neuron", (-2.0, -2.0), 1.0, 0.01, 15),
    ("custom", (1.0, 1.0), 1.0, 1.0, 15),
]


def _hessian(f: Fn, p: tuple[float, ...]) -> list[list[float]]:
    h = torch.autograd.functional.hessian(f, torch.tensor(p))
    return [[float(v) for v in row] for row in h]


def _newton(f: Fn, start: tuple[float, ...], lr: float, damping: float, steps: int) -> list[list[float]]:
    theta = torch.tensor(start)
    out = [[float(v) for v in theta]]
    for _ in range(steps):
        x = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x)
        h = torch.autograd.functional.hessian(f, theta)
        theta = theta - lr * torch.linalg.solve(h + damping * torch.eye(theta.numel()), g)
        out.append([float(v) for v in theta])
    return out


def main() -> None:
    data = {
        "torch_version": torch.__version__,
        "hessians": [
            {"problem": name, "kwargs": kwargs, "point": list(p), "hessian": _hessian(f, p)}
            for name, (f, kwargs) in PROBLEMS.items() for p in POINTS
        ],
        "trajectories": [
            {"problem": name, "kwargs": PROBLEMS[name][1], "start": list(start), "lr": lr, "damping": lam,
             "points": _newton(PROBLEMS[name][0], start, lr, lam, steps)}
            for name, start, lr, lam, steps in TRAJECTORIES
        ],
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(data['hessians'])} Hessians, {len(data['trajectories'])} trajectories")


if __name__ == "__main__":
    main()
