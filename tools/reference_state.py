"""Write the optimizer STATE torch (and the community packages) hold after K steps: ``tests/data/reference_state.json``.

``gdstudio explain``'s ``state`` must equal ``optimizer.state[p]`` of the reference after K steps, name
by name (tests/engine/test_explain_reference.py). Each case runs the reference in float64 on its
single-tensor path (``foreach=False``) fed the problem's analytic gradient (L-BFGS: a closure giving
the problem's loss and gradient; Muon: the point as a (1, D) matrix), as ``tools/make_reference.py``
does, and dumps every entry of ``optimizer.state[p]`` after each of the steps in ``STEPS``:

* a tensor: its values as a list (Muon's (1, D) flattened to D); a 0-d tensor or a number: a float;
* a list of tensors (L-BFGS's ``old_dirs``, ``old_stps``, ``ro``, ``al``): a list of lists / floats;
* None: null.

Run with the project's venv (torch 2.13.0, pytorch_optimizer 4.1.0, schedulefree 1.4.1)::

    .venv/bin/python tools/reference_state.py

(``tools/make_reference.py`` calls :func:`main` too.)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from make_reference import EXTRA_OPTIMIZERS, TORCH_OPTIMIZERS, jsonable  # noqa: E402
from reference_community import REFERENCES, _version, reference_class, reference_kwargs  # noqa: E402

from gdstudio.engine.problems import Problem, make_problem  # noqa: E402

DATA = ROOT / "tests" / "data"
STATE_FILE = DATA / "reference_state.json"

#: The steps after which each case's state is dumped.
STEPS = (1, 4, 15)


@dataclass(frozen=True)
class Case:
    """``optimizer`` (registry name) with ``overrides`` in the engine's (= the reference's) keywords."""

    problem: str
    optimizer: str
    overrides: dict[str, Any] = field(default_factory=dict)
    start: tuple[float, ...] = (0.0, 0.0)
    dataset: str | None = None
    note: str = ""


SN = "sigmoid-neuron"
R0, B0, H0, BO0, W0, RB0 = (-1.5, 2.0), (1.0, 1.4), (-0.5, -0.5), (-8.0, -6.0), (-7.0, 2.0), (-4.0, -2.0)

CASES: tuple[Case, ...] = (
    # torch.optim
    Case("booth", "gd", {"lr": 0.01}, BO0, note="no momentum: torch keeps no state"),
    Case("himmelblau", "sgd", {"lr": 0.005, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}, H0),
    Case("rosenbrock", "momentum", {"lr": 2e-4}, R0),
    Case("beale", "nag", {"lr": 0.002, "momentum": 0.8}, B0),
    Case(SN, "nag", {"lr": 1.0}, (-2.0, -2.0), dataset="two-point"),
    Case("rosenbrock", "adagrad", {"lr": 0.5, "lr_decay": 0.01, "initial_accumulator_value": 0.1}, R0),
    Case("booth", "rmsprop", {"lr": 0.05}, BO0),
    Case("rosenbrock", "rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.9, "weight_decay": 0.01}, R0,
         note="centered, with momentum"),
    Case("rosenbrock", "adam", {"lr": 0.02}, R0),
    Case("himmelblau", "adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.05}, H0, note="AMSGrad"),
    Case("booth", "adamw", {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True}, BO0),
    Case("himmelblau", "nadam", {"lr": 0.05}, H0),
    Case("booth", "nadam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}, BO0),
    Case("himmelblau", "radam", {"lr": 0.05}, H0),
    Case("rosenbrock", "adamax", {"lr": 0.02, "weight_decay": 0.01}, R0),
    Case("booth", "adadelta", {"lr": 5.0, "weight_decay": 0.1}, BO0),
    Case("rosenbrock", "rprop", {"lr": 0.01}, R0),
    Case("himmelblau", "asgd", {"lr": 0.01, "t0": 2.0, "lambd": 1e-3}, H0, note="t0 = 2: the average moves"),
    Case("rosenbrock", "adafactor", {"lr": 0.05}, R0),
    Case("beale", "lbfgs", {"lr": 0.05, "history_size": 4}, B0, note="no line search"),
    Case("rosenbrock", "lbfgs", {"line_search_fn": "strong_wolfe", "history_size": 3}, R0, note="strong Wolfe"),
    Case("rotated-bowl", "muon", {"lr": 0.02, "momentum": 0.8}, RB0),
    # pytorch_optimizer 4.1.0 / schedulefree 1.4.1
    Case("rosenbrock", "lion", {"lr": 1e-3}, R0),
    Case("himmelblau", "adabelief", {"lr": 0.05}, H0),
    Case("booth", "yogi", {"lr": 0.1}, BO0),
    Case("himmelblau", "adan", {"lr": 0.02}, H0),
    Case("beale", "lamb", {"lr": 0.01}, B0),
    Case("himmelblau", "ademamix", {"lr": 0.02}, H0),
    Case("booth", "prodigy", {"lr": 1.0}, BO0),
    Case("himmelblau", "laprop", {"lr": 0.02}, H0),
    Case("booth", "madgrad", {"lr": 0.01}, BO0),
    Case("himmelblau", "schedulefree-sgd", {"lr": 0.01}, H0),
    Case("himmelblau", "schedulefree-adamw", {"lr": 0.02}, H0),
)


def _value(value: Any) -> Any:
    """A state entry as JSON (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        arr = value.detach().double().numpy()
        return float(arr) if arr.ndim == 0 else arr.reshape(-1).tolist() if arr.ndim == 2 and arr.shape[0] == 1 \
            else arr.tolist()
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return repr(value)


def _reference(case: Case, p: torch.nn.Parameter) -> tuple[torch.optim.Optimizer, str, dict[str, Any]]:
    """The reference optimizer on ``p``, its class name and keyword arguments."""
    name = case.optimizer
    if name in REFERENCES:
        kwargs = reference_kwargs(name, dict(case.overrides))
        opt = reference_class(name)([p], **kwargs)
        if name.startswith("schedulefree"):
            opt.train()  # type: ignore[attr-defined]
        return opt, REFERENCES[name][1], kwargs
    cls_name, base = {**TORCH_OPTIMIZERS, **EXTRA_OPTIMIZERS}[name]
    kwargs = {**base, **case.overrides}
    for key in ("betas", "etas", "step_sizes", "eps", "ns_coefficients"):
        if isinstance(kwargs.get(key), (list, tuple)):
            kwargs[key] = tuple(float(b) for b in kwargs[key])
    extra = {} if cls_name in ("LBFGS", "Muon") else {"foreach": False}
    return getattr(torch.optim, cls_name)([p], **extra, **kwargs), cls_name, kwargs


def reference_states(case: Case) -> tuple[str, dict[str, Any], dict[int, dict[str, Any]]]:
    """The reference's class, keywords and ``optimizer.state[p]`` after each step of :data:`STEPS`."""
    problem: Problem = make_problem(case.problem, dataset=case.dataset)
    start = np.array(case.start, dtype=np.float64)
    shape = (1, start.size) if case.optimizer == "muon" else (start.size,)
    p = torch.nn.Parameter(torch.tensor(start.reshape(shape), dtype=torch.float64))
    opt, cls_name, kwargs = _reference(case, p)

    def closure() -> torch.Tensor:
        x = p.detach().numpy().reshape(-1).copy()
        p.grad = torch.from_numpy(np.asarray(problem.gradient(x), dtype=np.float64).reshape(shape).copy())
        return torch.tensor(float(problem.loss(x)))

    states: dict[int, dict[str, Any]] = {}
    with torch.no_grad():
        for k in range(1, max(STEPS) + 1):
            if cls_name == "LBFGS":
                opt.step(closure)
            else:
                closure()
                opt.step()
            if k in STEPS:
                states[k] = {key: _value(v) for key, v in opt.state[p].items()}
                states[k]["__point__"] = p.detach().numpy().reshape(-1).tolist()
    return cls_name, kwargs, states


def main() -> None:
    torch.set_default_dtype(torch.float64)
    cases = []
    for i, case in enumerate(CASES):
        cls_name, kwargs, states = reference_states(case)
        cases.append({
            "id": f"{i:03d}",
            "problem": case.problem,
            "dataset": case.dataset,
            "optimizer": case.optimizer,
            "overrides": jsonable(case.overrides),
            "reference_class": cls_name,
            "reference_kwargs": jsonable(kwargs),
            "start": list(case.start),
            "note": case.note,
            "states": {str(k): v for k, v in states.items()},
        })
        names = sorted({n for s in states.values() for n in s if n != "__point__"})
        print(f"{i:03d} {case.optimizer:18s} {case.problem:13s} {cls_name:18s} state: {', '.join(names)}")
    manifest = {
        "torch_version": torch.__version__,
        "pytorch_optimizer_version": _version("pytorch_optimizer"),
        "schedulefree_version": _version("schedulefree"),
        "numpy_version": np.__version__,
        "dtype": "float64",
        "steps": list(STEPS),
        "cases": cases,
    }
    STATE_FILE.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases, {STATE_FILE.stat().st_size / 1024:.0f} KiB in {STATE_FILE}")


if __name__ == "__main__":
    main()
