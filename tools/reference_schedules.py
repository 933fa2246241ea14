"""Write torch.optim.lr_scheduler reference data into ``tests/data/reference_schedules.json``.

Run with the project's virtual environment (torch 2.13.0 CPU is installed there only for this)::

    .venv/bin/python tools/reference_schedules.py

Two kinds of entries:

* ``sequences``: for one configuration of a schedule (gdstudio keyword names, which are torch's),
  the learning rate every param group used at steps 1…S (``lr[row][k]``: the rate of step k+1,
  read before ``optimizer.step()``; ``scheduler.step()`` after it), and the momentum / β₁ of
  cyclic and onecycle. Several param groups with different initial lrs stand for the per-row η
  column. ``plateau`` is driven by a recorded loss sequence (stored), one per row (each row its
  own optimizer and scheduler, as separate runs). Warm-ups are
  ``SequentialLR([LinearLR(start_factor=1/N, total_iters=N), MAIN], milestones=[N])``.
* ``trajectories``: a whole torch run on a 2-D problem of ``gdstudio.engine.problems`` fed its
  analytic gradient (``p.grad = problem.gradient(p)``), with a scheduler stepped after each
  step: the points, the lr and momentum / β₁ used per step, and the largest deviation of runs
  started one ulp of ``max(1, |p|)`` away (``sensitivity``; ``tight`` when ≤ 1e-13).

gdstudio's documented defaults where torch has none are spelled out here: ``auto`` max_lr is the
group's lr, ``auto`` base_lr is ``max_lr / 10`` (computed per group the same way).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler as sched

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gdstudio.engine.problems import make_problem  # noqa: E402

OUT = ROOT / "tests" / "data" / "reference_schedules.json"
TIGHT_SENSITIVITY = 1e-13

TORCH_CLASSES = {
    "step": "StepLR", "multistep": "MultiStepLR", "constant": "ConstantLR", "linear": "LinearLR",
    "exponential": "ExponentialLR", "polynomial": "PolynomialLR", "cosine": "CosineAnnealingLR",
    "cosine-restarts": "CosineAnnealingWarmRestarts", "cyclic": "CyclicLR", "onecycle": "OneCycleLR",
    "plateau": "ReduceLROnPlateau",
}


@dataclass(frozen=True)
class Seq:
    """A schedule configuration: ``settings`` in gdstudio/torch keyword names (``max_lr``/``base_lr``
    None: gdstudio's ``auto``), the initial lr of each row, the optimizer (``sgd``: SGD with
    momentum 0.9, ``adam``: Adam), the number of steps, the warm-up."""

    schedule: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    lrs: tuple[float, ...] = (0.1,)
    optimizer: str = "sgd"
    steps: int = 300
    warmup: int = 0
    note: str = ""


def plateau_losses(seed: int, steps: int) -> list[float]:
    """A loss that falls, stalls, falls again (noisy), so plateaus are found and left."""
    rng = np.random.default_rng(seed)
    out, level = [], 10.0
    for k in range(steps):
        phase = (k // 40) % 2
        level *= 0.97 if phase == 0 else 1.0
        out.append(float(level * (1 + 0.002 * rng.standard_normal()) + (0.01 * (k % 7) if phase else 0.0)))
    return out


R3 = (0.1, 0.03, 0.5)  # three rows with different η

SEQUENCES: tuple[Seq, ...] = (
    # -- step ---------------------------------------------------------------------------------------
    Seq("step", {"step_size": 30, "gamma": 0.1}),
    Seq("step", {"step_size": 7, "gamma": 0.5}, R3),
    Seq("step", {"step_size": 1, "gamma": 0.97}, (0.3,), note="every step"),
    # -- multistep ------------------------------------------------------------------------------------
    Seq("multistep", {"milestones": (30, 80), "gamma": 0.1}),
    Seq("multistep", {"milestones": (10, 10, 50, 120, 299), "gamma": 0.7}, R3, note="a repeated milestone"),
    Seq("multistep", {"milestones": (0, 5), "gamma": 0.5}, note="milestone 0 applies at construction"),
    # -- constant -------------------------------------------------------------------------------------
    Seq("constant", {"factor": 1.0 / 3, "total_iters": 5}),
    Seq("constant", {"factor": 0.3, "total_iters": 40}, R3),
    # -- linear ---------------------------------------------------------------------------------------
    Seq("linear", {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_iters": 5}),
    Seq("linear", {"start_factor": 0.05, "end_factor": 1.0, "total_iters": 40}, R3),
    Seq("linear", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 150}),
    Seq("linear", {"start_factor": 0.7, "end_factor": 0.0, "total_iters": 250}),
    # -- exponential ----------------------------------------------------------------------------------
    Seq("exponential", {"gamma": 0.99}),
    Seq("exponential", {"gamma": 0.9}, R3),
    Seq("exponential", {"gamma": 1.01}, note="growing"),
    # -- polynomial -----------------------------------------------------------------------------------
    Seq("polynomial", {"total_iters": 5, "power": 1.0}),
    Seq("polynomial", {"total_iters": 150, "power": 0.9}, R3),
    Seq("polynomial", {"total_iters": 250, "power": 2.0}),
    # -- cosine ---------------------------------------------------------------------------------------
    Seq("cosine", {"T_max": 300, "eta_min": 0.0}),
    Seq("cosine", {"T_max": 50, "eta_min": 1e-3}, R3, note="past T_max the cosine rises again (torch)"),
    Seq("cosine", {"T_max": 7, "eta_min": 0.0}),
    Seq("cosine", {"T_max": 200, "eta_min": 0.05}),
    # -- cosine-restarts ------------------------------------------------------------------------------
    Seq("cosine-restarts", {"T_0": 50, "T_mult": 1, "eta_min": 0.0}),
    Seq("cosine-restarts", {"T_0": 10, "T_mult": 2, "eta_min": 1e-3}, R3),
    Seq("cosine-restarts", {"T_0": 1, "T_mult": 3, "eta_min": 0.0}),
    # -- cyclic (momentum cycled unless cycle_momentum is false) --------------------------------------
    Seq("cyclic", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 20}),
    Seq("cyclic", {"base_lr": None, "max_lr": None, "step_size_up": 15, "step_size_down": 25,
                   "mode": "triangular2"}, R3),
    Seq("cyclic", {"base_lr": 0.001, "max_lr": 0.05, "step_size_up": 10, "mode": "exp_range", "gamma": 0.99},
        optimizer="adam"),
    Seq("cyclic", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 30, "cycle_momentum": False}),
    Seq("cyclic", {"base_lr": None, "max_lr": None}, (0.2,), note="torch's step_size_up 2000: rising only"),
    Seq("cyclic", {"base_lr": 0.02, "max_lr": 0.2, "step_size_up": 7, "step_size_down": 3,
                   "base_momentum": 0.5, "max_momentum": 0.99}, optimizer="adam"),
    # -- onecycle -------------------------------------------------------------------------------------
    Seq("onecycle", {"max_lr": None, "total_steps": 300}, R3),
    Seq("onecycle", {"max_lr": 0.5, "total_steps": 300, "anneal_strategy": "linear", "three_phase": True},
        optimizer="adam"),
    Seq("onecycle", {"max_lr": None, "total_steps": 250, "pct_start": 0.25, "div_factor": 10.0,
                     "final_div_factor": 100.0, "base_momentum": 0.8, "max_momentum": 0.9}, optimizer="adam",
        steps=251, note="251 steps: the last uses torch's extrapolation at step_num = total_steps"),
    Seq("onecycle", {"max_lr": 0.1, "total_steps": 299, "cycle_momentum": False, "pct_start": 0.5}),
    Seq("onecycle", {"max_lr": 1.0, "total_steps": 300, "three_phase": True, "pct_start": 0.2}),
    # -- plateau (losses recorded; one scheduler per row) ---------------------------------------------
    Seq("plateau", {}),
    Seq("plateau", {"patience": 2, "cooldown": 3, "factor": 0.5, "min_lr": 0.004}, R3),
    Seq("plateau", {"mode": "max", "patience": 5, "threshold": 0.01, "threshold_mode": "abs"}),
    Seq("plateau", {"patience": 0, "factor": 0.9, "eps": 0.005, "threshold": 0.0}),
    Seq("plateau", {"patience": 4, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 10}, R3),
    # -- warm-up (torch's SequentialLR) --------------------------------------------------------------
    Seq(None, {}, warmup=20, note="warm-up alone: LinearLR(1/N, N)"),
    Seq(None, {}, R3, warmup=1),
    Seq("cosine", {"T_max": 280, "eta_min": 0.0}, R3, warmup=20),
    Seq("step", {"step_size": 30, "gamma": 0.5}, warmup=10),
    Seq("multistep", {"milestones": (0, 30, 80), "gamma": 0.5}, warmup=10),
    Seq("constant", {"factor": 0.5, "total_iters": 40}, warmup=10),
    Seq("linear", {"start_factor": 0.5, "end_factor": 0.1, "total_iters": 100}, warmup=10),
    Seq("exponential", {"gamma": 0.98}, R3, warmup=5),
    Seq("polynomial", {"total_iters": 200, "power": 2.0}, warmup=30),
    Seq("cosine-restarts", {"T_0": 40, "T_mult": 2, "eta_min": 0.001}, warmup=25),
    Seq("cyclic", {"base_lr": None, "max_lr": None, "step_size_up": 20}, R3, warmup=10,
        note="torch: the warm-up ramps to the optimizer's lr (initial_lr), then the cycle starts at base_lr"),
    Seq("onecycle", {"max_lr": None, "total_steps": 285}, R3, optimizer="adam", warmup=15,
        note="torch: OneCycleLR sets initial_lr = max_lr/div_factor, so the warm-up ramps to that"),
    Seq("cosine", {"T_max": 100, "eta_min": 0.0}, warmup=1),
)


def torch_kwargs(name: str, settings: dict[str, Any], lrs: tuple[float, ...]) -> dict[str, Any]:
    """The torch keyword arguments: ``auto`` max_lr → each group's lr, base_lr → max_lr / 10."""
    kwargs = dict(settings)
    if name in ("cyclic", "onecycle") and kwargs.get("max_lr") is None:
        kwargs["max_lr"] = list(lrs)
    if name == "cyclic" and kwargs.get("base_lr") is None:
        max_lr = kwargs["max_lr"]
        kwargs["base_lr"] = [m / 10 for m in max_lr] if isinstance(max_lr, list) else max_lr / 10
    if "milestones" in kwargs:
        kwargs["milestones"] = list(kwargs["milestones"])
    if name == "onecycle" and isinstance(kwargs.get("pct_start"), int):
        kwargs["pct_start"] = float(kwargs["pct_start"])
    return kwargs


def make_optimizer(params: list[dict[str, Any]], kind: str) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9, foreach=False)
    return torch.optim.Adam(params, lr=0.1, foreach=False)


def build(opt: torch.optim.Optimizer, name: str | None, settings: dict[str, Any], lrs: tuple[float, ...],
          warmup: int) -> Any:
    """torch's scheduler for this configuration (constructed in the order a user writes it)."""
    if name is None:
        return sched.LinearLR(opt, start_factor=1 / warmup, total_iters=warmup)
    cls = getattr(sched, TORCH_CLASSES[name])
    if warmup:
        warm = sched.LinearLR(opt, start_factor=1 / warmup, total_iters=warmup)
        main = cls(opt, **torch_kwargs(name, settings, lrs))
        return sched.SequentialLR(opt, [warm, main], milestones=[warmup])
    return cls(opt, **torch_kwargs(name, settings, lrs))


def momentum_of(group: dict[str, Any]) -> float:
    return float(group["betas"][0]) if "betas" in group else float(group["momentum"])


def sequence(case: Seq) -> dict[str, Any]:
    """Run torch's scheduler for ``case.steps`` steps; the rates each step used."""
    rows = len(case.lrs)
    cycles = case.schedule in ("cyclic", "onecycle") and case.settings.get("cycle_momentum", True)
    losses = None
    if case.schedule == "plateau":
        losses = [plateau_losses(i, case.steps) for i in range(rows)]
        if case.settings.get("mode") == "max":
            losses = [[-v for v in row] for row in losses]
    lr_out: list[list[float]] = [[] for _ in range(rows)]
    mom_out: list[float] = []
    if case.schedule == "plateau":  # one optimizer and scheduler per row: separate runs
        for i in range(rows):
            p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
            opt = make_optimizer([{"params": [p], "lr": case.lrs[i]}], case.optimizer)
            s = sched.ReduceLROnPlateau(opt, **case.settings)
            for k in range(case.steps):
                lr_out[i].append(float(opt.param_groups[0]["lr"]))
                p.grad = torch.zeros_like(p)
                opt.step()
                s.step(losses[i][k])  # type: ignore[index]
    else:
        params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in range(rows)]
        opt = make_optimizer([{"params": [p], "lr": lr} for p, lr in zip(params, case.lrs, strict=True)],
                             case.optimizer)
        s = build(opt, case.schedule, case.settings, case.lrs, case.warmup)
        for k in range(case.steps):
            for i, g in enumerate(opt.param_groups):
                lr_out[i].append(float(g["lr"]))
            moms = {momentum_of(g) for g in opt.param_groups}
            assert len(moms) == 1, "momentum is one value for every row"
            mom_out.append(moms.pop())
            for p in params:
                p.grad = torch.zeros_like(p)
            opt.step()
            if k + 1 < case.steps:
                s.step()
    return {
        "schedule": case.schedule,
        "torch_class": None if case.schedule is None else TORCH_CLASSES[case.schedule],
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in case.settings.items()},
        "warmup": case.warmup,
        "optimizer": case.optimizer,
        "lrs": list(case.lrs),
        "steps": case.steps,
        "losses": losses,
        "lr": lr_out,
        "momentum": mom_out if cycles else None,
        "note": case.note,
    }


# -- whole runs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Traj:
    """A torch run: ``optimizer`` is a gdstudio registry name, ``hyperparameters`` its torch keywords."""

    problem: str
    optimizer: str
    hyperparameters: dict[str, Any]
    schedule: str | None
    settings: dict[str, Any]
    start: tuple[float, float]
    steps: int = 300
    warmup: int = 0
    note: str = ""


TORCH_RULES = {"sgd": ("SGD", {}), "momentum": ("SGD", {"momentum": 0.9}), "adam": ("Adam", {}),
               "adamw": ("AdamW", {}), "rmsprop": ("RMSprop", {}), "nag": ("SGD", {"momentum": 0.9, "nesterov": True})}

TRAJECTORIES: tuple[Traj, ...] = (
    Traj("booth", "momentum", {"lr": 0.01}, "cyclic",
         {"base_lr": 0.002, "max_lr": 0.02, "step_size_up": 25}, (-8.0, -6.0),
         note="SGD + momentum 0.9, momentum cycled 0.9 → 0.8 → 0.9"),
    Traj("himmelblau", "adam", {"lr": 0.1}, "onecycle", {"max_lr": None, "total_steps": 300}, (-0.5, -0.5),
         note="Adam, β₁ cycled 0.95 → 0.85 → 0.95"),
    Traj("beale", "adam", {"lr": 0.05}, "onecycle",
         {"max_lr": None, "total_steps": 300, "three_phase": True, "anneal_strategy": "linear"}, (1.0, 1.4)),
    Traj("rotated-bowl", "nag", {"lr": 0.05}, "cyclic",
         {"base_lr": None, "max_lr": None, "step_size_up": 10, "mode": "triangular2"}, (-4.0, -2.0)),
    Traj("bowl", "adamw", {"lr": 0.3, "weight_decay": 0.01}, "cosine", {"T_max": 280, "eta_min": 0.0},
         (-7.0, 2.0), warmup=20, note="warm-up + cosine"),
    Traj("himmelblau", "sgd", {"lr": 0.01}, "plateau", {"patience": 3, "factor": 0.5, "threshold": 1e-3},
         (-0.5, -0.5), note="plateau on the full loss after each step"),
    Traj("booth", "rmsprop", {"lr": 0.05, "momentum": 0.5}, "cyclic",
         {"base_lr": 0.005, "max_lr": 0.05, "step_size_up": 20}, (-8.0, -6.0), note="RMSprop's momentum cycled"),
    Traj("rosenbrock", "adam", {"lr": 0.02}, "step", {"step_size": 50, "gamma": 0.5}, (-1.5, 2.0)),
)


def torch_run(case: Traj, start: np.ndarray) -> dict[str, np.ndarray]:
    problem = make_problem(case.problem)
    cls, base = TORCH_RULES[case.optimizer]
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = getattr(torch.optim, cls)([p], foreach=False, **{**base, **case.hyperparameters})
    lr0 = (float(case.hyperparameters["lr"]),)
    if case.schedule == "plateau":
        s: Any = sched.ReduceLROnPlateau(opt, **case.settings)
    else:
        s = build(opt, case.schedule, case.settings, lr0, case.warmup)
    points = np.empty((case.steps + 1, 2))
    points[0] = start
    lrs, moms = np.empty(case.steps), np.empty(case.steps)
    with torch.no_grad():
        for k in range(case.steps):
            g = problem.gradient(p.detach().numpy().copy())
            p.grad = torch.from_numpy(np.asarray(g, dtype=np.float64).copy())
            group = opt.param_groups[0]
            lrs[k] = float(group["lr"])
            moms[k] = momentum_of(group) if ("betas" in group or "momentum" in group) else math.nan
            opt.step()
            points[k + 1] = p.detach().numpy()
            if case.schedule == "plateau":
                s.step(float(problem.loss(points[k + 1])))
            elif k + 1 < case.steps:
                s.step()
    return {"points": points, "lr": lrs, "momentum": moms}


def trajectory(case: Traj) -> dict[str, Any]:
    start = np.array(case.start, dtype=np.float64)
    ref = torch_run(case, start)
    dev = 0.0
    ulp = np.spacing(np.maximum(1.0, np.abs(start)))
    for sign in (np.array([1.0, 1.0]), np.array([1.0, -1.0])):
        other = torch_run(case, start + sign * ulp)["points"]
        with np.errstate(all="ignore"):
            d = np.abs(other - ref["points"]) / np.maximum(1.0, np.abs(ref["points"]))
        dev = max(dev, float(np.nanmax(d)))
    return {
        "problem": case.problem,
        "optimizer": case.optimizer,
        "hyperparameters": case.hyperparameters,
        "schedule": case.schedule,
        "settings": case.settings,
        "warmup": case.warmup,
        "start": list(case.start),
        "steps": case.steps,
        "points": ref["points"].tolist(),
        "lr": ref["lr"].tolist(),
        "momentum": None if np.isnan(ref["momentum"]).all() else ref["momentum"].tolist(),
        "sensitivity": dev,
        "tight": dev <= TIGHT_SENSITIVITY,
        "note": case.note,
    }


def main() -> None:
    torch.set_default_dtype(torch.float64)
    data: dict[str, Any] = {
        "torch": torch.__version__,
        "generator": "tools/reference_schedules.py",
        "sequences": [sequence(c) for c in SEQUENCES],
        "trajectories": [trajectory(c) for c in TRAJECTORIES],
    }
    OUT.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(data['sequences'])} sequences, {len(data['trajectories'])} trajectories")
    for t in data["trajectories"]:
        print(f"  {t['problem']:<14} {t['optimizer']:<8} {t['schedule']!s:<10} sensitivity {t['sensitivity']:.1e}"
              f" {'tight' if t['tight'] else 'LOOSE'}")


if __name__ == "__main__":
    main()
