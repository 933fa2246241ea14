"""Which steps become frames, and the caption of each frame. Qt-free.

Frames of an animation of the steps ``first … last`` (span S = last − first):

* every step (the default): S + 1 frames, frame i shows step first + i;
* ``frames=K``, mode ``"even"`` (the default): frame i shows step
  ``first + round(i · S / (K − 1))`` (halves round up), i = 0 … K − 1, so the first frame is the
  start and the last frame is the final step; consecutive frames are ⌊S/(K−1)⌋ or ⌈S/(K−1)⌉
  steps apart. K = 1 shows the final step. With K > S + 1 steps repeat (slow motion).
* ``frames=K``, mode ``"article"``: frame i shows step ``first + int(i · (S / K))`` — the
  articles' ``i = int(i*(epochs/animation_frames))`` (seed 000), reproduced exactly, float
  division included. Its last frame is step first + ⌊(K−1)·S/K⌋: it never shows the final step
  (in the article ``epochs`` counts the recorded points, so its last frame is one epoch short of
  the end too). Offered to reproduce the articles; "even" is the default because it ends on the
  result.

The caption (the articles' title ``"Epoch: i, Error: …"``) names the problem, the step, and
each visible run's optimizer with its loss at that step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["FRAME_MODES", "Caption", "RunCaption", "caption", "format_loss", "frame_steps", "span_steps"]

FRAME_MODES = ("even", "article")


def _whole(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):  # ints and NumPy integers
        raise ValueError(f"Invalid {name} value: {value!r} (must be a whole number ≥ {minimum})")
    value = int(value)
    if value < minimum:
        raise ValueError(f"Invalid {name} value: {value} (must be a whole number ≥ {minimum})")
    return value


def frame_steps(last: int, frames: int | None = None, *, first: int = 0, mode: str = "even") -> list[int]:
    """The step shown by each frame (see the module docstring); ValueError for bad input."""
    last = _whole(last, "last step", 0)
    first = _whole(first, "first step", 0)
    if first > last:
        raise ValueError(f"Invalid step range: {first} to {last} (the first step must not exceed the last)")
    if mode not in FRAME_MODES:
        raise ValueError(f"Invalid frame mode value: {mode!r} (must be one of {', '.join(FRAME_MODES)})")
    span = last - first
    if frames is None:
        return list(range(first, last + 1))
    k = _whole(frames, "frames", 1)
    if mode == "article":
        return [first + int(i * (span / k)) for i in range(k)]
    if k == 1:
        return [last]
    # round(i·S/(K−1)) with halves up, in exact integer arithmetic
    return [first + (2 * i * span + (k - 1)) // (2 * (k - 1)) for i in range(k)]


def span_steps(first: int | None, last: int | None, available: int) -> tuple[int, int]:
    """A step range clamped to the computed steps ``0 … available`` (None: the whole range)."""
    available = _whole(available, "available steps", 0)
    lo = 0 if first is None else _whole(first, "first step", 0)
    hi = available if last is None else _whole(last, "last step", 0)
    hi = min(hi, available)
    if lo > hi:
        raise ValueError(f"Invalid step range: {lo} to {hi} (only steps 0 to {available} are computed)")
    return lo, hi


def format_loss(loss: float) -> str:
    """A loss with 4 significant digits (scientific outside [1e-3, 1e5))."""
    if not math.isfinite(loss):
        return str(loss)
    return f"{loss:.4g}" if 1e-3 <= abs(loss) < 1e5 or loss == 0 else f"{loss:.3e}"


@dataclass(frozen=True)
class RunCaption:
    """One run in the caption: ``label`` (optimizer and η), its colour and its state at the step."""

    label: str
    color: str
    value: str  # "loss 0.01234", "diverged at step 17"
    stopped: bool = False


@dataclass(frozen=True)
class Caption:
    """A frame's caption: a title line and one entry per visible run."""

    title: str
    runs: tuple[RunCaption, ...]

    def text(self) -> str:
        """Plain text: ``"Himmelblau · step 12 / 300\\nAdam η=0.1: loss 0.25 | ..."``."""
        return self.title + ("\n" + " | ".join(f"{r.label}: {r.value}" for r in self.runs) if self.runs else "")


def caption(problem_title: str, runs: Iterable[Any], step: int, last: int | None = None) -> Caption:
    """The caption at ``step`` of runs given as session entries (``label``, ``color``,
    ``visible``, ``run`` with ``history.loss``, ``steps``, ``diverged_at``).

    A run is shown at min(step, its last step): its loss there, or "diverged at step k" from
    that step on; ``stopped`` marks a run that has ended (converged or diverged) by ``step``. Recorded
    training paths (a network landscape's runs, with ``run.path.iterations``) add the training
    iteration of the step to the title.
    """
    step = _whole(step, "step", 0)
    title = f"{problem_title} · step {step}" + (f" / {last}" if last is not None else "")
    runs = list(runs)
    # A network landscape's paths are recorded training iterates: say which iteration a step is.
    paths = [e.run.path for e in runs if e.run is not None and hasattr(getattr(e.run, "path", None), "iterations")]
    if paths:
        iterations = paths[0].iterations
        title += f" (training iteration {int(iterations[min(step, len(iterations) - 1)]):,})"
    items = []
    for e in runs:
        if not getattr(e, "visible", True) or e.run is None:
            continue
        run = e.run
        loss = run.history.loss
        k = min(step, len(loss) - 1)
        diverged_at = getattr(run, "diverged_at", None)
        stopped = k < step or (k == len(loss) - 1 and not getattr(run, "running", True))
        if diverged_at is not None and step >= diverged_at:
            value = f"diverged at step {diverged_at}"
        else:
            value = f"loss {format_loss(float(loss[k]))}"
        items.append(RunCaption(str(e.label), str(e.color), value, stopped))
    return Caption(title, tuple(items))
