"""The `gdstudio trace` output format (JSON and CSV), shared by the CLI and the window's export.

JSON keys: ``problem``, ``optimizer``, ``hyperparameters`` (every resolved value), ``start``,
``steps``, ``params`` (parameter names), ``points`` (points[k]: the parameters after k steps,
finite values only), ``loss`` (full loss at points[k]), ``status`` ("ok", "converged",
"diverged" or "stopped": the rule could not take a step), ``stop_reason`` (why the rule ended the
run: "stopped", or "converged" by the rule's own test such as L-BFGS's tolerance_grad; else null)
and ``diverged_at`` (first k whose point or loss is not finite, else null; when set,
``len(points) == diverged_at``); ``lr`` (lr[k]: the learning rate step k+1 used, one per step
taken); plus the settings that reproduce the run (``batch_size``, ``shuffle``, ``noise``, ``seed``,
``tol``, ``schedule`` (null or its name), ``schedule_settings`` (every keyword of the schedule),
``warmup``, and ``dataset``/``data``/``expr`` where they apply).
CSV: header ``step,<param names>,loss`` and one row per point.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from gdstudio.engine.problems import DataProblem
from gdstudio.engine.runs import Run, Status

__all__ = ["trace_csv", "trace_dict", "trace_json", "traces_csv", "traces_json"]


def _status(run: Run, steps: int) -> str:
    if run.status is Status.DIVERGED:
        return "diverged"
    if run.status is Status.CONVERGED:
        return "converged"
    if run.status is Status.STOPPED:
        return "stopped"
    return "ok"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):  # strict JSON has no ∞ (Prodigy's growth_rate)
        return "inf" if value > 0 else "-inf"
    return value


def trace_dict(run: Run, steps: int | None = None) -> dict[str, Any]:
    """The trace of ``run`` as a JSON-ready dict (``steps``: the number requested)."""
    problem = run.problem
    cfg = run.config
    schedule = run.schedule
    out: dict[str, Any] = {
        "problem": problem.name,
        "optimizer": run.spec.name,
        "hyperparameters": {k: _jsonable(v) for k, v in run.hyperparameters.items()},
        "start": [float(v) for v in cfg.start],
        "steps": int(steps if steps is not None else run.steps),
        "params": list(problem.params),
        "points": run.history.points.tolist(),
        "loss": run.history.loss.tolist(),
        "lr": run.history.lr.tolist(),
        "status": _status(run, run.steps),
        "diverged_at": run.diverged_at,
        "stop_reason": run.stop_reason,
        "batch_size": cfg.batch_size,
        "shuffle": cfg.shuffle,
        "noise": cfg.noise,
        "seed": cfg.seed,
        "tol": cfg.tol,
        "schedule": None if schedule is None else schedule.name,
        "schedule_settings": {} if schedule is None else {k: _jsonable(v) for k, v in schedule.settings.items()},
        "warmup": cfg.warmup,
    }
    if isinstance(problem, DataProblem):
        out["dataset"] = problem.dataset
        out["data"] = {"x": problem.x.tolist(), "y": problem.y.tolist()}
    if problem.name == "custom":
        out["expr"] = problem.text  # type: ignore[attr-defined]  # ExpressionProblem: the text as typed
    return out


def trace_json(run: Run, steps: int | None = None) -> str:
    return json.dumps(trace_dict(run, steps), indent=1, ensure_ascii=False) + "\n"


def traces_json(runs: list[Run], steps: int | None = None) -> str:
    """Several runs in one JSON document: ``{"runs": [trace, ...]}``."""
    return json.dumps({"runs": [trace_dict(r, steps) for r in runs]}, indent=1, ensure_ascii=False) + "\n"


def _rows(run: Run) -> list[list[Any]]:
    pts, loss = run.history.points, run.history.loss
    return [[k, *(repr(float(v)) for v in pts[k]), repr(float(loss[k]))] for k in range(len(pts))]


def trace_csv(run: Run) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", *run.problem.params, "loss"])
    w.writerows(_rows(run))
    return buf.getvalue()


def traces_csv(runs: list[Run], labels: list[str] | None = None) -> str:
    """Several runs in one CSV: a leading ``run`` column names each row's run."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    dim = max(r.problem.dim for r in runs) if runs else 0
    names = list(runs[0].problem.params) if runs else []
    w.writerow(["run", "step", *names[:dim], "loss"])
    for i, run in enumerate(runs):
        label = labels[i] if labels else f"{i + 1}:{run.spec.name}"
        for row in _rows(run):
            w.writerow([label, *row])
    return buf.getvalue()
