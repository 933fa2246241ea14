"""The definition every explore row is checked against: one single Run, what `gdstudio trace` runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import Run, RunConfig, Status

STATUS = {Status.RUNNING: "ok", Status.CONVERGED: "converged", Status.DIVERGED: "diverged",
          Status.STOPPED: "stopped"}


def single(problem: Problem, config: RunConfig, steps: int) -> dict[str, Any]:
    """The final point, loss, best loss, steps (a diverged run: its divergence step) and status of one Run."""
    run = Run(problem, config).run(steps)
    h = run.history
    status = STATUS[run.status]
    finite = h.loss[np.isfinite(h.loss)]
    return {
        "point": np.array(h.points[-1]) if len(h) else np.array(config.start, dtype=float),
        "loss": float(h.loss[-1]) if len(h) else math.nan,
        "best": float(finite.min()) if finite.size else math.nan,
        "steps": run.diverged_at if status == "diverged" else h.steps,
        "status": status,
        "history": np.array(h.points),
    }


def close(a: float, b: float, tol: float = 1e-12) -> bool:
    """Equal to ``tol`` (absolute and relative), NaN equal to NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(b))
