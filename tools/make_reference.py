"""Write torch.optim reference trajectories and torch's optimizer defaults into ``tests/data``.

Run with the project's virtual environment (torch 2.13.0 CPU is installed there only for this)::

    .venv/bin/python tools/make_reference.py

Every case feeds torch the problem's own analytic gradient from ``gdstudio.engine.problems``
(``p.grad = problem.gradient(p)`` each step, no autograd), so the only thing that can differ
from the engine is the update rule. Torch runs in float64 (``set_default_dtype``, so NAdam's
running product of μ is float64 too) on its single-tensor CPU path (``foreach=False``).

Outputs:

* ``tests/data/reference_cases.json``: one entry per case (problem, dataset, registry name,
  torch class, torch keyword arguments, start, steps, sensitivity, tight), the torch version.
* ``tests/data/reference_trajectories.npz``: ``case_<id>``, the (steps + 1, D) float64 points.
* ``tests/data/reference_torch_defaults.json``: every torch.optim class's keyword defaults.

Sensitivity is measured with torch alone: each case is re-run from starts nudged by one ulp of
``max(1, |p|)`` (in two directions) and the largest deviation relative to ``max(1, |p|)`` over
the trajectory is recorded. A case whose own 1-ulp nudge grows past ``TIGHT_SENSITIVITY`` is
too chaotic to compare at 1e-12 (rounding differences of one ulp in any step are amplified
the same way); it is stored with ``tight: false`` and ``horizon``, the last step before any
nudged run deviates by more than ``LOOSE_SENSITIVITY``, for a looser check over that horizon.
"""

from __future__ import annotations

import inspect
import io
import json
import math
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gdstudio.engine.problems import Problem, make_problem  # noqa: E402

DATA = ROOT / "tests" / "data"
CASES_FILE = DATA / "reference_cases.json"
TRAJ_FILE = DATA / "reference_trajectories.npz"
DEFAULTS_FILE = DATA / "reference_torch_defaults.json"
EXTRA_CASES_FILE = DATA / "reference_torch_extra.json"
EXTRA_TRAJ_FILE = DATA / "reference_torch_extra.npz"

#: A case is compared tightly only if torch's own 1-ulp start nudge stays below this.
TIGHT_SENSITIVITY = 1e-13
#: Loose cases are compared up to the last step before a 1-ulp nudge exceeds this.
LOOSE_SENSITIVITY = 1e-11

#: Registry name -> (torch class, keyword arguments that make torch's class this optimizer).
TORCH_OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "gd": ("SGD", {}),
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nag": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "nadam": ("NAdam", {}),
    "radam": ("RAdam", {}),
    "adamax": ("Adamax", {}),
    "adadelta": ("Adadelta", {}),
}

#: The torch.optim 2.13 rules issue 10 added (``reference_torch_extra.*``). L-BFGS: one gdstudio step
#: is one ``step(closure)`` call, so gdstudio's defaults are ``max_iter=1, max_eval=25`` (torch's
#: own ``max_eval = max_iter * 5 // 4 = 1`` leaves the strong-Wolfe search no evaluation to move
#: with: see :func:`lbfgs_default_max_eval`). Muon takes each run's parameters as a 1 x D matrix.
EXTRA_OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "rprop": ("Rprop", {}),
    "asgd": ("ASGD", {}),
    "adafactor": ("Adafactor", {"eps": (2.0**-52, 1e-3)}),  # None: float64's ε, written out
    "lbfgs": ("LBFGS", {"max_iter": 1, "max_eval": 25}),
    "muon": ("Muon", {"adjust_lr_fn": "original"}),  # None means "original"
}

#: torch.optim classes whose defaults are dumped (all those the registry maps to).
TORCH_CLASSES = sorted({cls for cls, _ in (*TORCH_OPTIMIZERS.values(), *EXTRA_OPTIMIZERS.values())})


@dataclass(frozen=True)
class Case:
    """One reference trajectory: ``optimizer`` (registry name) with torch keyword ``overrides``."""

    problem: str
    optimizer: str
    overrides: dict[str, Any] = field(default_factory=dict)
    start: tuple[float, ...] | None = None
    steps: int = 300
    dataset: str | None = None
    note: str = ""


SN = "sigmoid-neuron"

CASES: tuple[Case, ...] = (
    # -- gd / sgd / momentum / nag: torch.optim.SGD -------------------------------------------
    Case("bowl", "gd", {"lr": 0.95}, (-7.0, 2.0), note="zig-zag in y, crawl in x (seed 001)"),
    Case("rosenbrock", "gd", {"lr": 1e-3}, (-1.5, 2.0)),
    Case(SN, "gd", {"lr": 4.0}, (-2.0, -2.0), dataset="two-point"),
    Case("booth", "sgd", {"lr": 0.01}, (-8.0, -6.0)),
    Case("himmelblau", "sgd", {"lr": 0.005, "momentum": 0.9, "dampening": 0.5}, (-0.5, -0.5)),
    Case("beale", "sgd", {"lr": 0.002, "momentum": 0.8, "nesterov": True}, (1.0, 1.4)),
    Case("rotated-bowl", "sgd", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}, (-4.0, -2.0)),
    Case("booth", "sgd", {"lr": 0.01, "weight_decay": 0.2}, (5.0, -7.0)),
    Case(SN, "sgd", {"lr": 2.0, "momentum": 0.7, "dampening": 0.3, "weight_decay": 0.01}, (3.0, 4.0),
         dataset="six-point"),
    Case("bowl", "momentum", {"lr": 0.1}, (-7.0, 2.0)),
    Case("rosenbrock", "momentum", {"lr": 2e-4}, (-1.5, 2.0)),
    Case(SN, "momentum", {"lr": 1.0}, (-2.0, -2.0), dataset="two-point"),
    Case("rosenbrock", "nag", {"lr": 2e-4}, (-1.5, 2.0)),
    Case("rotated-bowl", "nag", {"lr": 0.05, "weight_decay": 0.05}, (-4.0, -2.0)),
    Case(SN, "nag", {"lr": 1.0}, (-2.0, -2.0), dataset="two-point"),
    # -- adagrad ------------------------------------------------------------------------------
    Case("himmelblau", "adagrad", {"lr": 0.5}, (-0.5, -0.5)),
    Case("rosenbrock", "adagrad", {"lr": 0.5, "lr_decay": 0.01}, (-1.5, 2.0)),
    Case("beale", "adagrad", {"lr": 0.2, "initial_accumulator_value": 0.1, "eps": 1e-7}, (1.0, 1.4)),
    Case("booth", "adagrad", {"lr": 1.0, "weight_decay": 0.05}, (-8.0, -6.0)),
    Case(SN, "adagrad", {"lr": 2.0}, (-2.0, -2.0), dataset="two-point"),
    # -- rmsprop ------------------------------------------------------------------------------
    Case("booth", "rmsprop", {"lr": 0.05}, (-8.0, -6.0)),
    Case("himmelblau", "rmsprop", {"lr": 0.01, "centered": True}, (-0.5, -0.5)),
    Case("bowl", "rmsprop", {"lr": 0.01, "momentum": 0.5}, (-7.0, 2.0)),
    Case("beale", "rmsprop", {"lr": 0.005, "weight_decay": 0.1, "eps": 1e-6}, (1.0, 1.4)),
    Case("rosenbrock", "rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.9, "weight_decay": 0.01},
         (-1.5, 2.0)),
    Case("bowl", "rmsprop", {"lr": 0.02, "alpha": 0.9}, (-7.0, 2.0)),
    Case(SN, "rmsprop", {"lr": 0.05}, (-2.0, -2.0), dataset="two-point"),
    Case("rosenbrock", "rmsprop", {"lr": 0.01, "alpha": 0.9}, (-1.5, 2.0),
         note="DESIGN.md: amplifies 1-ulp differences"),
    Case("rotated-bowl", "rmsprop", {"lr": 0.1, "alpha": 0.9}, (-4.0, -2.0),
         note="DESIGN.md: amplifies 1-ulp differences"),
    # -- adam / adamw ---------------------------------------------------------------------------
    Case("rosenbrock", "adam", {"lr": 0.02}, (-1.5, 2.0)),
    Case("himmelblau", "adam", {"lr": 0.05, "amsgrad": True}, (-0.5, -0.5)),
    Case("beale", "adam", {"lr": 0.01, "weight_decay": 0.01}, (1.0, 1.4)),
    Case("rotated-bowl", "adam", {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}, (-4.0, -2.0)),
    Case("booth", "adam", {"lr": 0.2, "amsgrad": True, "weight_decay": 0.05, "betas": (0.5, 0.9)},
         (-8.0, -6.0)),
    Case(SN, "adam", {"lr": 0.1}, (-2.0, -2.0), dataset="two-point"),
    Case("rosenbrock", "adamw", {"lr": 0.02}, (-1.5, 2.0)),
    Case("booth", "adamw", {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True}, (-8.0, -6.0)),
    Case("bowl", "adamw", {"lr": 0.05, "weight_decay": 0.0, "betas": (0.95, 0.9), "eps": 1e-3}, (-7.0, 2.0)),
    Case(SN, "adamw", {"lr": 0.1, "weight_decay": 0.05}, (3.0, 4.0), dataset="six-point"),
    # -- nadam ----------------------------------------------------------------------------------
    Case("himmelblau", "nadam", {"lr": 0.05}, (-0.5, -0.5)),
    Case("rosenbrock", "nadam", {"lr": 0.01, "momentum_decay": 0.01}, (-1.5, 2.0)),
    Case("beale", "nadam", {"lr": 0.01, "weight_decay": 0.01, "eps": 1e-4}, (1.0, 1.4)),
    Case("booth", "nadam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, (-8.0, -6.0)),
    Case("rotated-bowl", "nadam", {"lr": 0.05, "betas": (0.8, 0.99), "momentum_decay": 0.0}, (-4.0, -2.0)),
    Case(SN, "nadam", {"lr": 0.1}, (-2.0, -2.0), dataset="two-point"),
    # -- radam (rectified once ρ_t > 5: from step 6 with β₂ = 0.999) ------------------------------
    Case("himmelblau", "radam", {"lr": 0.05}, (-0.5, -0.5), steps=400),
    Case("rosenbrock", "radam", {"lr": 0.003, "weight_decay": 0.01}, (-1.5, 2.0), steps=400),
    Case("booth", "radam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, (-8.0, -6.0),
         steps=400),
    Case("bowl", "radam", {"lr": 0.05, "betas": (0.9, 0.9), "eps": 1e-6}, (-7.0, 2.0), steps=400,
         note="β₂ = 0.9: ρ∞ = 19, rectified from step 6"),
    Case(SN, "radam", {"lr": 0.1}, (-2.0, -2.0), steps=400, dataset="two-point"),
    # -- adamax ---------------------------------------------------------------------------------
    Case("rosenbrock", "adamax", {"lr": 0.02}, (-1.5, 2.0)),
    Case("himmelblau", "adamax", {"lr": 0.05, "weight_decay": 0.05}, (-0.5, -0.5)),
    Case("beale", "adamax", {"lr": 0.005, "betas": (0.8, 0.95), "eps": 1e-4}, (1.0, 1.4)),
    Case("beale", "adamax", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-4}, (1.0, 1.4),
         note="the max in u switches branch: a 1-ulp tie decides which"),
    Case(SN, "adamax", {"lr": 0.2}, (-2.0, -2.0), dataset="two-point"),
    # -- adadelta -------------------------------------------------------------------------------
    Case("booth", "adadelta", {"lr": 5.0}, (-8.0, -6.0)),
    Case("rosenbrock", "adadelta", {"lr": 5.0}, (-1.5, 2.0)),
    Case("beale", "adadelta", {"lr": 2.0, "weight_decay": 0.1}, (1.0, 1.4)),
    Case("bowl", "adadelta", {"lr": 10.0, "rho": 0.95, "eps": 1e-4}, (-7.0, 2.0)),
    Case(SN, "adadelta", {"lr": 20.0}, (-2.0, -2.0), dataset="two-point"),
    Case("himmelblau", "adadelta", {"lr": 10.0}, (-0.5, -0.5)),
    Case("himmelblau", "adadelta", {}, (4.0, -4.0), note="DESIGN.md: amplifies 1-ulp differences"),
)


def build_problem(case: Case) -> Problem:
    return make_problem(case.problem, dataset=case.dataset)


def torch_kwargs(case: Case) -> dict[str, Any]:
    """The keyword arguments torch gets: the registry name's torch form, then the overrides."""
    kwargs = dict({**TORCH_OPTIMIZERS, **EXTRA_OPTIMIZERS}[case.optimizer][1])
    kwargs.update(case.overrides)
    for key in ("betas", "etas", "step_sizes", "eps", "ns_coefficients"):
        if isinstance(kwargs.get(key), (list, tuple)):
            kwargs[key] = tuple(None if b is None else float(b) for b in kwargs[key])
    return kwargs


def torch_trajectory(problem: Problem, cls_name: str, kwargs: dict[str, Any], start: np.ndarray,
                     steps: int) -> np.ndarray:
    """Points[0..steps] of torch.optim.<cls_name> fed the problem's analytic gradient."""
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = getattr(torch.optim, cls_name)([p], foreach=False, **kwargs)
    out = np.empty((steps + 1, start.size))
    out[0] = start
    with torch.no_grad():
        for k in range(1, steps + 1):
            g = problem.gradient(p.detach().numpy().copy())
            p.grad = torch.from_numpy(np.asarray(g, dtype=np.float64).copy())
            opt.step()
            out[k] = p.detach().numpy()
    return out


def relative_deviation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-step max over coordinates of |a − b| / max(1, |b|) (inf where either is not finite)."""
    with np.errstate(all="ignore"):
        dev = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    dev[~(np.isfinite(a) & np.isfinite(b))] = np.inf
    return dev.max(axis=1)


def sensitivity(problem: Problem, cls_name: str, kwargs: dict[str, Any], start: np.ndarray,
                points: np.ndarray) -> np.ndarray:
    """Per-step largest deviation of runs started one ulp of ``max(1, |p|)`` away (two directions)."""
    dev = np.zeros(points.shape[0])
    ulp = np.spacing(np.maximum(1.0, np.abs(start)))
    for sign in (np.array([1.0, 1.0]), np.array([1.0, -1.0])):
        nudged = start + sign[: start.size] * ulp
        other = torch_trajectory(problem, cls_name, kwargs, nudged, points.shape[0] - 1)
        dev = np.maximum(dev, relative_deviation(other, points))
    return dev


def torch_defaults() -> dict[str, dict[str, Any]]:
    """Every keyword default of the torch.optim classes the registry maps to."""
    out: dict[str, dict[str, Any]] = {}
    for name in TORCH_CLASSES:
        sig = inspect.signature(getattr(torch.optim, name).__init__)
        defaults: dict[str, Any] = {}
        for param in sig.parameters.values():
            if param.name in ("self", "params") or param.default is inspect.Parameter.empty:
                continue
            value = param.default
            defaults[param.name] = list(value) if isinstance(value, tuple) else value
        out[name] = defaults
    return out


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` with fixed timestamps, so regenerating gives identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(info, buf.getvalue())


def jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite value in a case: {value}")
    return value


# -- the torch.optim rules of issue 10 (reference_torch_extra.*) -----------------------------------
EXTRA_CASES: tuple[Case, ...] = (
    # -- rprop: the step sizes grow by η₊ while the gradient keeps its sign, shrink by η₋ when it flips
    Case("rosenbrock", "rprop", {}, (-1.5, 2.0)),
    Case("himmelblau", "rprop", {"lr": 0.05, "etas": (0.3, 1.5)}, (-0.5, -0.5)),
    Case("beale", "rprop", {"lr": 0.001, "step_sizes": (1e-4, 0.05)}, (1.0, 1.4)),
    Case("booth", "rprop", {"lr": 0.1, "etas": (0.6, 1.1), "step_sizes": (1e-3, 1.0)}, (-8.0, -6.0)),
    Case(SN, "rprop", {"lr": 0.05}, (-2.0, -2.0), dataset="two-point"),
    # -- asgd: t0 small enough for the average to start inside the run -----------------------------
    Case("rosenbrock", "asgd", {"lr": 1e-3, "t0": 100.0}, (-1.5, 2.0)),
    Case("himmelblau", "asgd", {"lr": 0.01, "lambd": 0.01, "alpha": 0.5, "t0": 20.0}, (-0.5, -0.5)),
    Case("booth", "asgd", {"lr": 0.02, "weight_decay": 0.1, "t0": 0.0}, (-8.0, -6.0)),
    Case("bowl", "asgd", {"lr": 0.5, "lambd": 0.1, "alpha": 1.0, "t0": 150.0}, (-7.0, 2.0)),
    Case(SN, "asgd", {"lr": 2.0, "t0": 50.0}, (-2.0, -2.0), dataset="two-point"),
    Case("beale", "asgd", {}, (1.0, 1.4), note="torch's defaults: t0 = 1e6, the average is the last iterate"),
    # -- adafactor (vector parameters: the unfactored second moment) ---------------------------------
    Case("himmelblau", "adafactor", {"lr": 0.05}, (-0.5, -0.5)),
    Case("rotated-bowl", "adafactor", {"lr": 0.02, "beta2_decay": -0.5, "d": 2.0}, (-4.0, -2.0)),
    Case("beale", "adafactor", {"lr": 0.01, "beta2_decay": -0.5, "d": 2.0}, (1.0, 1.4),
         note="near the minimum the RMS clip d switches on and off: a 1-ulp nudge decides when"),
    Case("booth", "adafactor", {"lr": 0.1, "weight_decay": 0.05, "eps": (1e-10, 1e-2)}, (-8.0, -6.0)),
    Case("bowl", "adafactor", {"lr": 0.05, "eps": (1e-30, 0.1)}, (-7.0, 2.0)),
    Case(SN, "adafactor", {"lr": 0.5}, (-2.0, -2.0), dataset="two-point"),
    Case("rosenbrock", "adafactor", {"lr": 0.01}, (-1.5, 2.0), note="DESIGN.md: amplifies rounding"),
    # -- lbfgs (max_iter=1, max_eval=25 unless given) -------------------------------------------------
    Case("rosenbrock", "lbfgs", {"line_search_fn": "strong_wolfe"}, (-1.5, 2.0), steps=200,
         note="the preset: a 1-ulp nudge grows to 1.3e-11 by step 26 (curvature pairs), then stays"),
    Case("himmelblau", "lbfgs", {"line_search_fn": "strong_wolfe", "history_size": 3}, (-0.5, -0.5), steps=200),
    Case("beale", "lbfgs", {"line_search_fn": "strong_wolfe", "lr": 0.5}, (1.0, 1.4), steps=200),
    Case("booth", "lbfgs", {"lr": 0.1}, (-8.0, -6.0), steps=200),
    Case("booth", "lbfgs", {"lr": 0.3, "history_size": 4, "tolerance_change": 1e-6}, (-8.0, -6.0), steps=200),
    Case("bowl", "lbfgs", {"line_search_fn": "strong_wolfe"}, (-7.0, 2.0), steps=200),
    Case("rotated-bowl", "lbfgs", {"line_search_fn": "strong_wolfe", "history_size": 1}, (-4.0, -2.0), steps=200),
    Case(SN, "lbfgs", {"line_search_fn": "strong_wolfe"}, (1.0, -1.0), steps=200, dataset="two-point"),
    Case("himmelblau", "lbfgs", {"line_search_fn": "strong_wolfe", "max_iter": 3, "max_eval": 10,
                                 "tolerance_grad": 1e-4}, (-0.5, -0.5), steps=200),
    Case("beale", "lbfgs", {"lr": 0.05, "max_iter": 3, "history_size": 4}, (1.0, 1.4), steps=200),
    Case("himmelblau", "lbfgs", {"lr": 0.05, "max_iter": 3}, (-0.5, -0.5), steps=200),
    Case(SN, "lbfgs", {"line_search_fn": "strong_wolfe"}, (-2.0, -2.0), steps=200, dataset="two-point",
         note="the line search amplifies a 1-ulp nudge to 1.7e-13 by step 3, then it stays there"),
    Case("bowl", "lbfgs", {"lr": 0.2, "history_size": 2, "tolerance_change": 1e-12}, (-7.0, 2.0), steps=200,
         note="converges to 1e-6, where ys ~ 1e-12 and its ratio amplifies rounding"),
    Case("rosenbrock", "lbfgs", {"lr": 1e-3}, (-1.5, 2.0), steps=200,
         note="DESIGN.md: L-BFGS without line search on Rosenbrock amplifies rounding"),
    # -- muon (each run's parameters as a 1 x D matrix) -------------------------------------------------
    Case("booth", "muon", {"lr": 0.05}, (-8.0, -6.0)),
    Case("himmelblau", "muon", {"lr": 0.02, "nesterov": False, "weight_decay": 0.0}, (-0.5, -0.5)),
    Case("bowl", "muon", {"lr": 0.02, "momentum": 0.5, "ns_steps": 3, "eps": 1e-5}, (-7.0, 2.0)),
    Case("rotated-bowl", "muon", {"lr": 0.02, "momentum": 0.8}, (-4.0, -2.0)),
    Case("bowl", "muon", {"lr": 0.05, "momentum": 0.5, "ns_steps": 3, "eps": 1e-5}, (-7.0, 2.0),
         note="bfloat16 Newton-Schulz: a 1-ulp nudge moves an element across a bfloat16 rounding boundary"),
    Case("rosenbrock", "muon", {"lr": 0.01, "ns_coefficients": (2.0, -1.5, 0.5),
                                "adjust_lr_fn": "match_rms_adamw"}, (-1.5, 2.0)),
    Case(SN, "muon", {"lr": 0.05, "weight_decay": 0.01}, (-2.0, -2.0), dataset="two-point"),
)


def extra_run(problem: Problem, cls_name: str, kwargs: dict[str, Any], start: np.ndarray,
              steps: int) -> dict[str, np.ndarray]:
    """torch's trajectory (``points``) and the internals the engine records for these rules.

    ``ax`` (ASGD): ``state["ax"]`` after each step, (steps, D). ``evals`` (L-BFGS): the closure
    calls each ``step(closure)`` made, (steps,). The closure returns the problem's loss and sets
    ``p.grad`` from its analytic gradient. Muon's parameter is the (1, D) matrix of the point.
    """
    shape = (1, start.size) if cls_name == "Muon" else (start.size,)
    p = torch.nn.Parameter(torch.tensor(start.reshape(shape), dtype=torch.float64))
    extra = {} if cls_name in ("LBFGS", "Muon") else {"foreach": False}
    opt = getattr(torch.optim, cls_name)([p], **extra, **kwargs)
    out = np.empty((steps + 1, start.size))
    out[0] = start
    ax = np.empty((steps, start.size))
    evals = np.zeros(steps, dtype=np.int64)
    calls = [0]

    def closure() -> torch.Tensor:
        calls[0] += 1
        x = p.detach().numpy().reshape(-1).copy()
        p.grad = torch.from_numpy(np.asarray(problem.gradient(x), dtype=np.float64).reshape(shape).copy())
        return torch.tensor(float(problem.loss(x)))

    with torch.no_grad():
        for k in range(1, steps + 1):
            calls[0] = 0
            if cls_name == "LBFGS":
                opt.step(closure)
            else:
                g = problem.gradient(p.detach().numpy().reshape(-1).copy())
                p.grad = torch.from_numpy(np.asarray(g, dtype=np.float64).reshape(shape).copy())
                opt.step()
            out[k] = p.detach().numpy().reshape(-1)
            evals[k - 1] = calls[0]
            if cls_name == "ASGD":
                ax[k - 1] = opt.state[p]["ax"].numpy()
    arrays = {"points": out}
    if cls_name == "ASGD":
        arrays["ax"] = ax
    if cls_name == "LBFGS":
        arrays["evals"] = evals
    return arrays


def lbfgs_default_max_eval(steps: int = 100) -> dict[str, Any]:
    """torch's LBFGS(line_search_fn="strong_wolfe", max_iter=1) with its own max_eval default on
    Rosenbrock from (−1.5, 2): the point after ``steps`` steps (it never moves) and the closure
    calls per step."""
    problem = make_problem("rosenbrock")
    start = np.array([-1.5, 2.0])
    kwargs = {"line_search_fn": "strong_wolfe", "max_iter": 1}
    run = extra_run(problem, "LBFGS", kwargs, start, steps)
    probe = torch.optim.LBFGS([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    return {
        "torch_kwargs": kwargs,
        "torch_max_eval": probe.param_groups[0]["max_eval"],
        "start": [float(v) for v in start],
        "steps": steps,
        "end": [float(v) for v in run["points"][-1]],
        "moved": bool(np.any(run["points"] != start)),
        "evals_per_step": sorted({int(v) for v in run["evals"]}),
    }


def write_extra() -> None:
    """``reference_torch_extra.json`` / ``.npz``: the issue-10 torch.optim rules."""
    missing = set(EXTRA_OPTIMIZERS) - {c.optimizer for c in EXTRA_CASES}
    if missing:
        raise SystemExit(f"no reference case for: {', '.join(sorted(missing))}")
    entries: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, case in enumerate(EXTRA_CASES):
        problem = build_problem(case)
        start = np.array(case.start if case.start is not None else problem.start, dtype=np.float64)
        cls_name = EXTRA_OPTIMIZERS[case.optimizer][0]
        kwargs = torch_kwargs(case)
        run = extra_run(problem, cls_name, kwargs, start, case.steps)
        points = run["points"]
        if not np.isfinite(points).all():
            raise SystemExit(f"extra case {i} ({case.problem}, {case.optimizer}) diverged: pick another lr")
        dev = np.zeros(points.shape[0])
        ulp = np.spacing(np.maximum(1.0, np.abs(start)))
        for sign in (np.array([1.0, 1.0]), np.array([1.0, -1.0])):
            other = extra_run(problem, cls_name, kwargs, start + sign[: start.size] * ulp, case.steps)["points"]
            dev = np.maximum(dev, relative_deviation(other, points))
        worst = float(dev.max())
        tight = worst <= TIGHT_SENSITIVITY
        over = np.nonzero(dev > LOOSE_SENSITIVITY)[0]
        horizon = case.steps if over.size == 0 else int(over[0]) - 1
        case_id = f"{i:03d}"
        for name, array in run.items():
            arrays[f"case_{case_id}" if name == "points" else f"case_{case_id}_{name}"] = array
        loss0, loss1 = float(problem.loss(points[0])), float(problem.loss(points[-1]))
        entries.append({
            "id": case_id,
            "problem": case.problem,
            "dataset": case.dataset,
            "optimizer": case.optimizer,
            "overrides": jsonable(case.overrides),
            "torch_class": cls_name,
            "torch_kwargs": jsonable(kwargs),
            "start": [float(v) for v in start],
            "steps": case.steps,
            "sensitivity": worst,
            "tight": tight,
            "horizon": horizon,
            "loss_start": loss0,
            "loss_end": loss1,
            "internals": sorted(k for k in run if k != "points"),
            "note": case.note,
        })
        flag = "tight" if tight else f"LOOSE (horizon {horizon})"
        evals = f" evals {int(run['evals'].sum())}" if "evals" in run else ""
        print(f"x{case_id} {case.optimizer:9s} {case.problem:15s} {json.dumps(jsonable(case.overrides)):70s} "
              f"loss {loss0:.3g} -> {loss1:.3g}  1-ulp nudge {worst:.1e}  {flag}{evals}")
    crippled = lbfgs_default_max_eval()
    print(f"LBFGS with torch's max_eval default ({crippled['torch_max_eval']}) on Rosenbrock: "
          f"{crippled['start']} -> {crippled['end']} after {crippled['steps']} steps "
          f"(moved: {crippled['moved']}, evaluations per step {crippled['evals_per_step']})")
    manifest = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "dtype": "float64",
        "foreach": False,
        "tight_sensitivity": TIGHT_SENSITIVITY,
        "loose_sensitivity": LOOSE_SENSITIVITY,
        "torch_optimizers": {k: {"class": c, "kwargs": kw} for k, (c, kw) in EXTRA_OPTIMIZERS.items()},
        "lbfgs_torch_max_eval_default": crippled,
        "cases": entries,
    }
    EXTRA_CASES_FILE.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_npz(EXTRA_TRAJ_FILE, arrays)
    print(f"{len(entries)} extra cases ({sum(e['tight'] for e in entries)} tight)")


def main() -> None:
    torch.set_default_dtype(torch.float64)
    DATA.mkdir(parents=True, exist_ok=True)
    missing = set(TORCH_OPTIMIZERS) - {c.optimizer for c in CASES}
    if missing:
        raise SystemExit(f"no reference case for: {', '.join(sorted(missing))}")
    entries: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, case in enumerate(CASES):
        problem = build_problem(case)
        start = np.array(case.start if case.start is not None else problem.start, dtype=np.float64)
        cls_name = TORCH_OPTIMIZERS[case.optimizer][0]
        kwargs = torch_kwargs(case)
        points = torch_trajectory(problem, cls_name, kwargs, start, case.steps)
        if not np.isfinite(points).all():
            raise SystemExit(f"case {i} ({case.problem}, {case.optimizer}) diverged: pick another lr")
        dev = sensitivity(problem, cls_name, kwargs, start, points)
        worst = float(dev.max())
        tight = worst <= TIGHT_SENSITIVITY
        over = np.nonzero(dev > LOOSE_SENSITIVITY)[0]
        horizon = case.steps if over.size == 0 else int(over[0]) - 1
        case_id = f"{i:03d}"
        arrays[f"case_{case_id}"] = points
        loss0, loss1 = float(problem.loss(points[0])), float(problem.loss(points[-1]))
        entries.append({
            "id": case_id,
            "problem": case.problem,
            "dataset": case.dataset,
            "optimizer": case.optimizer,
            "overrides": jsonable(case.overrides),
            "torch_class": cls_name,
            "torch_kwargs": jsonable(kwargs),
            "start": [float(v) for v in start],
            "steps": case.steps,
            "sensitivity": worst,
            "tight": tight,
            "horizon": horizon,
            "loss_start": loss0,
            "loss_end": loss1,
            "note": case.note,
        })
        flag = "tight" if tight else f"LOOSE (horizon {horizon})"
        print(f"{case_id} {case.optimizer:9s} {case.problem:15s} {json.dumps(jsonable(case.overrides)):70s} "
              f"loss {loss0:.3g} -> {loss1:.3g}  1-ulp nudge {worst:.1e}  {flag}")
    manifest = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "dtype": "float64",
        "foreach": False,
        "tight_sensitivity": TIGHT_SENSITIVITY,
        "loose_sensitivity": LOOSE_SENSITIVITY,
        "torch_optimizers": {k: {"class": c, "kwargs": kw} for k, (c, kw) in TORCH_OPTIMIZERS.items()},
        "cases": entries,
    }
    CASES_FILE.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_npz(TRAJ_FILE, arrays)
    DEFAULTS_FILE.write_text(
        json.dumps({"torch_version": torch.__version__, "classes": torch_defaults()}, indent=1) + "\n",
        encoding="utf-8",
    )
    write_extra()
    size = sum(f.stat().st_size for f in (CASES_FILE, TRAJ_FILE, DEFAULTS_FILE, EXTRA_CASES_FILE, EXTRA_TRAJ_FILE))
    print(f"{len(entries)} cases ({sum(e['tight'] for e in entries)} tight), {size / 1024:.0f} KiB in {DATA}")
    # The community optimizers (pytorch_optimizer, schedulefree): their own script and data files.
    import reference_community

    reference_community.main()
    # Newton's closed form against torch's autograd Hessians (tools/reference_newton.py).
    import reference_newton

    reference_newton.main()
    # The Training lab's Muon entry (Muon on weight matrices + AdamW on biases): tools/reference_muon_lab.py.
    import reference_muon_lab

    reference_muon_lab.main()
    # The learning-rate schedules (torch.optim.lr_scheduler sequences and whole runs): tools/reference_schedules.py.
    import reference_schedules

    reference_schedules.main()
    # The optimizer state after K steps, for `gdstudio explain` (tools/reference_state.py).
    import reference_state

    reference_state.main()


if __name__ == "__main__":
    main()
