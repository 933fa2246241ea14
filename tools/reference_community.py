"""Write reference trajectories of the community optimizers into ``tests/data``.

The references are pytorch_optimizer 4.1.0 (Lion, AdaBelief, Yogi, Adan, Lamb, AdEMAMix, Prodigy,
LaProp, MADGRAD) and schedulefree 1.4.1 (SGDScheduleFree, AdamWScheduleFree), installed beside
torch 2.13.0 in the project's virtual environment for this script only::

    .venv/bin/python tools/reference_community.py

(``tools/make_reference.py`` calls :func:`main` too.) As in ``tools/make_reference.py``, every
case feeds the reference the problem's own analytic gradient (``p.grad = problem.gradient(p)``,
no autograd), in float64 (``torch.set_default_dtype``), on the reference's single-tensor path
(``foreach=False``), so only the update rule can differ from the engine.

Outputs:

* ``tests/data/reference_community_cases.json``: the package versions, one entry per case
  (problem, dataset, registry name, reference class, keyword arguments, start, steps,
  sensitivity, tight, horizon), every reference class's keyword defaults, and the exact messages
  the references raise for invalid values.
* ``tests/data/reference_community_trajectories.npz``: ``case_<id>`` the (steps + 1, D) points;
  for Prodigy ``d_<id>`` the (steps + 1,) estimate D after each step (d0 first); for the
  schedule-free rules ``x_<id>``, the (steps + 1, D) averaged sequence x (the parameters the
  reference's ``eval()`` would give) after each step.

Schedule-free rules: the points are the parameters in train mode (y, where the gradient is
taken); x is computed from y and z as ``eval()`` does (``y.lerp(z, 1 − 1/β₁)``) on a copy, so
the trajectory itself is never disturbed.

Sensitivity is measured with the reference alone, as in ``tools/make_reference.py``: starts
nudged by one ulp of ``max(1, |p|)`` in two directions; a case whose nudge grows past
``TIGHT_SENSITIVITY`` is stored with ``tight: false`` and a ``horizon``.
"""

from __future__ import annotations

import inspect
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import pytorch_optimizer  # noqa: E402
import schedulefree  # type: ignore[import-untyped]  # noqa: E402
from make_reference import jsonable, relative_deviation, write_npz  # noqa: E402

from gdstudio.engine.problems import Problem, make_problem  # noqa: E402

DATA = ROOT / "tests" / "data"
CASES_FILE = DATA / "reference_community_cases.json"
TRAJ_FILE = DATA / "reference_community_trajectories.npz"

TIGHT_SENSITIVITY = 1e-13
LOOSE_SENSITIVITY = 1e-11

#: Registry name -> (package, class name).
REFERENCES: dict[str, tuple[str, str]] = {
    "lion": ("pytorch_optimizer", "Lion"),
    "adabelief": ("pytorch_optimizer", "AdaBelief"),
    "yogi": ("pytorch_optimizer", "Yogi"),
    "adan": ("pytorch_optimizer", "Adan"),
    "lamb": ("pytorch_optimizer", "Lamb"),
    "ademamix": ("pytorch_optimizer", "AdEMAMix"),
    "prodigy": ("pytorch_optimizer", "Prodigy"),
    "laprop": ("pytorch_optimizer", "LaProp"),
    "madgrad": ("pytorch_optimizer", "MADGRAD"),
    "schedulefree-sgd": ("schedulefree", "SGDScheduleFree"),
    "schedulefree-adamw": ("schedulefree", "AdamWScheduleFree"),
}

#: Keywords that select an implementation path or a sign convention, not a rule: never in the engine.
NOT_HYPERPARAMETERS = ("params", "self", "foreach", "maximize", "kwargs")


def reference_class(name: str) -> type[torch.optim.Optimizer]:
    package, cls = REFERENCES[name]
    module = pytorch_optimizer if package == "pytorch_optimizer" else schedulefree
    return getattr(module, cls)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Case:
    problem: str
    optimizer: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    start: tuple[float, ...] = (0.0, 0.0)
    steps: int = 300
    dataset: str | None = None
    note: str = ""


SN = "sigmoid-neuron"
R0, B0, H0, BO0, W0, RB0 = (-1.5, 2.0), (1.0, 1.4), (-0.5, -0.5), (-8.0, -6.0), (-7.0, 2.0), (-4.0, -2.0)

CASES: tuple[Case, ...] = (
    # -- Lion ----------------------------------------------------------------------------------
    Case("rosenbrock", "lion", {"lr": 1e-3}, R0),
    Case("booth", "lion", {"lr": 0.02, "betas": (0.8, 0.95)}, BO0),
    Case("himmelblau", "lion", {"lr": 0.01, "weight_decay": 0.5}, H0),
    Case("beale", "lion", {"lr": 2e-3, "weight_decay": 0.1, "weight_decouple": False}, B0),
    Case("rotated-bowl", "lion", {"lr": 0.02, "weight_decay": 0.01, "fixed_decay": True}, RB0),
    Case(SN, "lion", {"lr": 0.02}, (-2.0, -2.0), dataset="two-point"),
    # -- AdaBelief ------------------------------------------------------------------------------
    Case("rosenbrock", "adabelief", {"lr": 0.01}, R0),
    Case("himmelblau", "adabelief", {"lr": 0.05, "ams_bound": True, "eps": 1e-12}, H0),
    Case("beale", "adabelief", {"lr": 0.01, "rectify": True}, B0, steps=400),
    Case("booth", "adabelief", {"lr": 0.1, "rectify": True, "degenerated_to_sgd": False, "n_sma_threshold": 4},
         BO0, steps=400),
    Case("bowl", "adabelief", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.05, "weight_decouple": False},
         W0),
    Case("rotated-bowl", "adabelief", {"lr": 0.05, "weight_decay": 0.1, "fixed_decay": True}, RB0),
    Case(SN, "adabelief", {"lr": 0.1, "weight_decay": 0.01}, (-2.0, -2.0), dataset="two-point"),
    # -- Yogi ------------------------------------------------------------------------------------
    Case("rosenbrock", "yogi", {"lr": 0.01}, R0),
    Case("himmelblau", "yogi", {"lr": 0.05, "initial_accumulator": 0.1, "eps": 1e-6}, H0),
    Case("beale", "yogi", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.01, "weight_decouple": False}, B0),
    Case("booth", "yogi", {"lr": 0.1, "weight_decay": 0.1, "fixed_decay": True}, BO0),
    Case("bowl", "yogi", {"lr": 0.1, "weight_decay": 0.05}, W0),
    Case(SN, "yogi", {"lr": 0.1}, (-2.0, -2.0), dataset="two-point"),
    # -- Adan ------------------------------------------------------------------------------------
    Case("rosenbrock", "adan", {"lr": 0.01}, R0),
    Case("himmelblau", "adan", {"lr": 0.05, "betas": (0.9, 0.9, 0.999), "eps": 1e-6}, H0),
    Case("beale", "adan", {"lr": 0.01, "weight_decay": 0.02}, B0),
    Case("booth", "adan", {"lr": 0.1, "weight_decay": 0.05, "weight_decouple": True}, BO0),
    Case("bowl", "adan", {"lr": 0.05, "max_grad_norm": 1.0}, W0),
    Case("rotated-bowl", "adan", {"lr": 0.05, "max_grad_norm": 0.5, "weight_decay": 0.01}, RB0),
    Case(SN, "adan", {"lr": 0.1}, (-2.0, -2.0), dataset="two-point"),
    # -- Lamb ------------------------------------------------------------------------------------
    Case("rosenbrock", "lamb", {"lr": 0.01}, R0),
    Case("bowl", "lamb", {"lr": 0.05, "weight_decay": 0.05}, W0),
    Case("bowl", "lamb", {"lr": 0.05, "weight_decay": 0.1, "weight_decouple": False, "betas": (0.8, 0.99)}, W0),
    Case("rotated-bowl", "lamb", {"lr": 0.05, "weight_decay": 0.01, "fixed_decay": True, "eps": 1e-8}, RB0),
    Case("booth", "lamb", {"lr": 0.05, "rectify": True}, BO0, steps=400),
    Case("bowl", "lamb", {"lr": 0.05, "rectify": True, "degenerated_to_sgd": True, "n_sma_threshold": 4}, W0,
         steps=400),
    Case("rotated-bowl", "lamb", {"lr": 0.05, "grad_averaging": False, "adam": True}, RB0),
    Case("bowl", "lamb", {"lr": 0.05, "pre_norm": True, "max_grad_norm": 2.0}, W0),
    Case("rotated-bowl", "lamb", {"lr": 0.05, "pre_norm": True, "max_grad_norm": 0.5}, RB0),
    Case(SN, "lamb", {"lr": 0.02}, (-2.0, -2.0), dataset="two-point"),
    Case("booth", "lamb", {"lr": 0.05, "weight_decay": 0.05}, BO0,
         note="|θ₀| = 10 is the trust ratio's clamp: rounding decides which side of it the norm falls"),
    Case("beale", "lamb", {"lr": 0.01}, B0, note="DESIGN.md: Lamb on Beale amplifies rounding"),
    Case("himmelblau", "lamb", {"lr": 0.05}, H0, note="DESIGN.md: Lamb on Himmelblau amplifies rounding"),
    # -- AdEMAMix --------------------------------------------------------------------------------
    Case("rosenbrock", "ademamix", {"lr": 0.005}, R0),
    Case("himmelblau", "ademamix", {"lr": 0.02, "alpha": 2.0, "betas": (0.8, 0.99, 0.999)}, H0),
    Case("beale", "ademamix", {"lr": 0.005, "t_alpha_beta3": 100.0}, B0),
    Case("booth", "ademamix", {"lr": 0.05, "weight_decay": 0.05, "weight_decouple": True, "eps": 1e-6}, BO0),
    Case("bowl", "ademamix", {"lr": 0.05, "weight_decay": 0.05}, W0),
    Case("rotated-bowl", "ademamix", {"lr": 0.05, "weight_decay": 0.05, "weight_decouple": True,
                                      "fixed_decay": True, "t_alpha_beta3": 50.0}, RB0),
    Case(SN, "ademamix", {"lr": 0.05}, (-2.0, -2.0), dataset="two-point"),
    # -- Prodigy ---------------------------------------------------------------------------------
    Case("rosenbrock", "prodigy", {}, R0, note="D grows with the distance travelled: a positive feedback"),
    Case("himmelblau", "prodigy", {"lr": 0.5, "d0": 1e-4}, H0),
    Case("bowl", "prodigy", {"bias_correction": True, "beta3": 0.95}, W0),
    Case("booth", "prodigy", {"safeguard_warmup": True, "d_coef": 0.5, "growth_rate": 1.05}, BO0),
    Case("bowl", "prodigy", {"weight_decay": 0.1, "betas": (0.8, 0.99)}, W0),
    Case("rotated-bowl", "prodigy", {"weight_decay": 0.05, "fixed_decay": True, "eps": None}, RB0),
    Case("booth", "prodigy", {"weight_decay": 0.05, "weight_decouple": False}, BO0,
         note="coupled decay changes p.grad after its last use: no effect on the trajectory"),
    Case(SN, "prodigy", {}, (-2.0, -2.0), dataset="two-point"),
    # -- LaProp ----------------------------------------------------------------------------------
    Case("rosenbrock", "laprop", {"lr": 0.005}, R0),
    Case("himmelblau", "laprop", {"lr": 0.05, "centered": True}, H0),
    Case("beale", "laprop", {"lr": 0.005, "centered": True, "steps_before_using_centered": 3, "ams_bound": True},
         B0),
    Case("booth", "laprop", {"lr": 0.1, "weight_decay": 0.05, "betas": (0.8, 0.99), "eps": 1e-8}, BO0),
    Case("bowl", "laprop", {"lr": 0.05, "weight_decay": 0.05, "fixed_decay": True}, W0),
    Case("rotated-bowl", "laprop", {"lr": 0.05, "weight_decay": 0.05, "weight_decouple": False}, RB0,
         note="coupled decay changes p.grad after its last use: no effect on the trajectory"),
    Case(SN, "laprop", {"lr": 0.05}, (-2.0, -2.0), dataset="two-point"),
    # -- MADGRAD ---------------------------------------------------------------------------------
    Case("rosenbrock", "madgrad", {"lr": 0.01}, R0),
    Case("himmelblau", "madgrad", {"lr": 0.05, "momentum": 0.0}, H0,
         note="without momentum θ jumps to the dual-averaging point each step: 1-ulp changes grow"),
    Case("beale", "madgrad", {"lr": 0.01, "weight_decay": 0.01, "eps": 1e-4}, B0),
    Case("booth", "madgrad", {"lr": 0.1, "weight_decay": 0.05, "weight_decouple": True, "momentum": 0.5}, BO0),
    Case("bowl", "madgrad", {"lr": 0.1, "momentum": 0.0, "eps": 0.0}, W0),
    Case(SN, "madgrad", {"lr": 0.1}, (-2.0, -2.0), dataset="two-point"),
    # -- schedule-free SGD -----------------------------------------------------------------------
    Case("rosenbrock", "schedulefree-sgd", {"lr": 1e-3}, R0),
    Case("himmelblau", "schedulefree-sgd", {"lr": 0.01, "momentum": 0.5, "warmup_steps": 20}, H0),
    Case("beale", "schedulefree-sgd", {"lr": 0.01, "r": 1.0, "weight_lr_power": 1.0}, B0),
    Case("booth", "schedulefree-sgd", {"lr": 0.02, "weight_decay": 0.1, "warmup_steps": 50, "r": 0.5}, BO0),
    Case("bowl", "schedulefree-sgd", {"lr": 0.1, "weight_lr_power": 0.0}, W0),
    Case(SN, "schedulefree-sgd", {"lr": 1.0}, (-2.0, -2.0), dataset="two-point"),
    # -- schedule-free AdamW ---------------------------------------------------------------------
    Case("rosenbrock", "schedulefree-adamw", {"lr": 0.01}, R0),
    Case("himmelblau", "schedulefree-adamw", {"lr": 0.05, "warmup_steps": 30, "betas": (0.8, 0.99)}, H0),
    Case("beale", "schedulefree-adamw", {"lr": 0.01, "r": 1.0, "weight_lr_power": 1.0, "eps": 1e-6}, B0),
    Case("booth", "schedulefree-adamw", {"lr": 0.1, "weight_decay": 0.05, "warmup_steps": 10}, BO0),
    Case("rotated-bowl", "schedulefree-adamw", {"lr": 0.05, "weight_lr_power": 0.0}, RB0),
    Case(SN, "schedulefree-adamw", {"lr": 0.1}, (-2.0, -2.0), dataset="two-point"),
)

#: Invalid keyword arguments whose reference messages the engine must reproduce.
INVALID: tuple[tuple[str, dict[str, Any]], ...] = (
    *((name, {"lr": -0.5}) for name in REFERENCES if name != "schedulefree-adamw"),
    *((name, {"weight_decay": -0.5}) for name in REFERENCES if name != "schedulefree-adamw"),
    *((name, {"betas": (1.0, 0.999)}) for name in ("lion", "adabelief", "yogi", "lamb", "prodigy", "laprop")),
    *((name, {"betas": (0.9, -0.1)}) for name in ("lion", "adabelief", "yogi", "lamb", "prodigy", "laprop")),
    ("adan", {"betas": (0.98, 0.92, 1.5)}),
    ("adan", {"betas": (0.98, 1.0, 0.99)}),
    ("ademamix", {"betas": (0.9, 0.999, 1.5)}),
    ("ademamix", {"betas": (-0.1, 0.999, 0.9999)}),
    ("prodigy", {"beta3": 1.5}),
    *((name, {"eps": -1e-8}) for name in ("adabelief", "yogi", "adan", "lamb", "ademamix", "prodigy", "laprop",
                                           "madgrad")),
    ("adan", {"max_grad_norm": -1.0}),
    ("lamb", {"max_grad_norm": -1.0}),
    ("ademamix", {"alpha": -1.0}),
    ("ademamix", {"t_alpha_beta3": -1.0}),
    ("madgrad", {"momentum": 1.0}),
    ("madgrad", {"momentum": -0.5}),
    ("schedulefree-sgd", {"momentum": 0.0}),
    ("schedulefree-sgd", {"momentum": 1.0}),
)


def build_problem(case: Case) -> Problem:
    return make_problem(case.problem, dataset=case.dataset)


def reference_kwargs(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments the reference gets (``foreach=False`` where the class has it)."""
    out = {k: tuple(float(b) for b in v) if k == "betas" else v for k, v in kwargs.items()}
    if "foreach" in inspect.signature(reference_class(name).__init__).parameters:
        out["foreach"] = False
    return out


@dataclass
class Trajectory:
    points: np.ndarray
    internals: dict[str, np.ndarray]


def _internal_reader(name: str, opt: torch.optim.Optimizer, p: torch.Tensor) -> Callable[[], dict[str, Any]]:
    """A function returning the case's internals after a step (empty for most rules)."""
    if name == "prodigy":
        return lambda: {"d": float(opt.param_groups[0]["d"])}
    if name.startswith("schedulefree"):
        group = opt.param_groups[0]
        beta1 = group["momentum"] if name == "schedulefree-sgd" else group["betas"][0]

        def read_x() -> dict[str, Any]:
            z = opt.state[p].get("z")
            x = p.detach().clone() if z is None else p.detach().clone().lerp_(end=z, weight=1 - 1 / beta1)
            return {"x": x.numpy().copy()}

        return read_x
    return dict


def reference_trajectory(problem: Problem, name: str, kwargs: dict[str, Any], start: np.ndarray,
                         steps: int) -> Trajectory:
    """Points[0..steps] of the reference fed the problem's analytic gradient, and its internals."""
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = reference_class(name)([p], **reference_kwargs(name, kwargs))
    if name.startswith("schedulefree"):
        opt.train()  # type: ignore[attr-defined]
    read = _internal_reader(name, opt, p)
    out = np.empty((steps + 1, start.size))
    out[0] = start
    first = read()
    if name == "prodigy":
        first = {"d": float(opt.param_groups[0]["d0"])}
    internals: dict[str, list[Any]] = {k: [v] for k, v in first.items()}
    with torch.no_grad():
        for k in range(1, steps + 1):
            g = problem.gradient(p.detach().numpy().copy())
            p.grad = torch.from_numpy(np.asarray(g, dtype=np.float64).copy())
            opt.step()
            out[k] = p.detach().numpy()
            for key, value in read().items():
                internals[key].append(value)
    return Trajectory(out, {k: np.asarray(v, dtype=np.float64) for k, v in internals.items()})


def sensitivity(problem: Problem, name: str, kwargs: dict[str, Any], start: np.ndarray,
                points: np.ndarray) -> np.ndarray:
    """Per-step largest deviation of runs started one ulp of ``max(1, |p|)`` away (two directions)."""
    dev = np.zeros(points.shape[0])
    ulp = np.spacing(np.maximum(1.0, np.abs(start)))
    for sign in (np.array([1.0, 1.0]), np.array([1.0, -1.0])):
        nudged = start + sign[: start.size] * ulp
        other = reference_trajectory(problem, name, kwargs, nudged, points.shape[0] - 1).points
        dev = np.maximum(dev, relative_deviation(other, points))
    return dev


def reference_defaults() -> dict[str, dict[str, Any]]:
    """Every keyword default of each reference class (implementation switches left out)."""
    out: dict[str, dict[str, Any]] = {}
    for name in REFERENCES:
        sig = inspect.signature(reference_class(name).__init__)
        defaults: dict[str, Any] = {}
        for param in sig.parameters.values():
            if param.name in NOT_HYPERPARAMETERS or param.default is inspect.Parameter.empty:
                continue
            value = param.default
            if isinstance(value, float) and math.isinf(value):
                value = "inf"
            defaults[param.name] = list(value) if isinstance(value, tuple) else value
        out[name] = defaults
    return out


def reference_messages() -> list[dict[str, Any]]:
    """The message each reference raises for each entry of :data:`INVALID`."""
    out = []
    for name, kwargs in INVALID:
        p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        try:
            reference_class(name)([p], **reference_kwargs(name, kwargs))
        except Exception as exc:  # the references raise several exception types
            out.append({"optimizer": name, "kwargs": jsonable(kwargs), "message": str(exc)})
        else:
            raise SystemExit(f"{name} accepted {kwargs}: not an invalid case")
    return out


def _jsonable_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: ("inf" if isinstance(v, float) and math.isinf(v) else jsonable(v)) for k, v in kwargs.items()}


def main() -> None:
    torch.set_default_dtype(torch.float64)
    DATA.mkdir(parents=True, exist_ok=True)
    missing = set(REFERENCES) - {c.optimizer for c in CASES}
    if missing:
        raise SystemExit(f"no reference case for: {', '.join(sorted(missing))}")
    entries: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, case in enumerate(CASES):
        problem = build_problem(case)
        start = np.array(case.start, dtype=np.float64)
        traj = reference_trajectory(problem, case.optimizer, case.kwargs, start, case.steps)
        points = traj.points
        if not np.isfinite(points).all():
            raise SystemExit(f"case {i} ({case.problem}, {case.optimizer}) diverged: pick another lr")
        dev = sensitivity(problem, case.optimizer, case.kwargs, start, points)
        worst = float(dev.max())
        tight = worst <= TIGHT_SENSITIVITY
        over = np.nonzero(dev > LOOSE_SENSITIVITY)[0]
        horizon = case.steps if over.size == 0 else int(over[0]) - 1
        case_id = f"{i:03d}"
        arrays[f"case_{case_id}"] = points
        for key, values in traj.internals.items():
            arrays[f"{key}_{case_id}"] = values
        loss0, loss1 = float(problem.loss(points[0])), float(problem.loss(points[-1]))
        package, cls = REFERENCES[case.optimizer]
        entries.append({
            "id": case_id,
            "problem": case.problem,
            "dataset": case.dataset,
            "optimizer": case.optimizer,
            "overrides": _jsonable_kwargs(case.kwargs),
            "package": package,
            "class": cls,
            "start": [float(v) for v in start],
            "steps": case.steps,
            "internals": sorted(traj.internals),
            "sensitivity": worst,
            "tight": tight,
            "horizon": horizon,
            "loss_start": loss0,
            "loss_end": loss1,
            "note": case.note,
        })
        flag = "tight" if tight else f"LOOSE (horizon {horizon})"
        print(f"{case_id} {case.optimizer:18s} {case.problem:14s} {json.dumps(_jsonable_kwargs(case.kwargs)):80s} "
              f"loss {loss0:.3g} -> {loss1:.3g}  moved {np.abs(points[-1] - points[0]).max():.2g}  "
              f"1-ulp {worst:.1e}  {flag}")
    manifest = {
        "versions": {
            "torch": torch.__version__,
            "pytorch_optimizer": _version("pytorch_optimizer"),
            "schedulefree": _version("schedulefree"),
            "numpy": np.__version__,
        },
        "dtype": "float64",
        "foreach": False,
        "tight_sensitivity": TIGHT_SENSITIVITY,
        "loose_sensitivity": LOOSE_SENSITIVITY,
        "references": {k: {"package": p, "class": c} for k, (p, c) in REFERENCES.items()},
        "defaults": reference_defaults(),
        "messages": reference_messages(),
        "cases": entries,
    }
    CASES_FILE.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_npz(TRAJ_FILE, arrays)
    size = sum(f.stat().st_size for f in (CASES_FILE, TRAJ_FILE))
    print(f"{len(entries)} cases ({sum(e['tight'] for e in entries)} tight), {size / 1024:.0f} KiB in {DATA}")


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist.replace("_", "-"))


if __name__ == "__main__":
    main()
