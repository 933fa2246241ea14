"""Slow-motion steps: one step of the selected run played as labelled stages on the contour.

The stages come from the roles of the quantities the rule declares (see
:mod:`gdstudio.engine.explain`), never from the rule's name:

1. ``gradient`` — −g at θ (NAG: at the look-ahead point where the rule evaluates it);
2. ``velocity`` (rules with ``velocity_old`` / ``velocity_new``) — the old velocity's share plus
   the scaled gradient, drawn tip to tail, make the new velocity;
3. ``precondition`` (rules with a per-axis ``scale``: Adagrad, RMSProp, Adam …) — an ellipse whose
   half-axes are 1/scale shows how each axis is rescaled, the direction morphs into the step's;
4. ``step`` — Δθ from θ;
5. ``move`` — θ moves to θ + Δθ.

:class:`StepPlan` holds the step's vectors; :func:`scene_at` turns (plan, time) into a
:class:`~gdstudio.ui.views.step_overlay.SceneFrame` (pure NumPy, so tests check the geometry
exactly); :class:`SlowMotion` plays it on a timer (speed = seconds per stage, optional loop) and
:class:`SlowMotionSource` renders it into an export (``frames_per_stage`` sub-frames per stage).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from gdstudio.ui.views.step_overlay import DrawnArrow, SceneFrame, StepOverlay

__all__ = [
    "COLORS",
    "STAGE_TITLES",
    "SlowMotion",
    "SlowMotionSource",
    "StepPlan",
    "scene_at",
    "stages_of",
]

COLORS = {"gradient": "#FFFFFF", "old": "#FFB3E6", "scaled_grad": "#FFB000", "velocity": "#FF3DBE",
          "direction": "#7FDBFF", "step": "#7CFF5C"}
STAGE_TITLES = {"gradient": "gradient", "velocity": "velocity", "precondition": "preconditioner",
                "step": "step", "move": "θ moves"}
#: The longest slow-motion arrow, as a multiple of the highlight's longest (about half the view's
#: smaller side; then shortened to stay inside the view).
SLOW_FRACTION = 1.5
#: Frames per second of the on-screen animation.
TICK_HZ = 30


@dataclass(frozen=True)
class StepPlan:
    """The vectors of one step (each (2,), data units), as the rule's roles define them.

    ``old_term`` + ``grad_term`` = ``velocity`` (the new velocity; the two terms as they enter
    its sum, e.g. γ·b and (1−τ)·g). ``scale``: the per-axis divisor of the preconditioner
    (√v̂ + ε for Adam). ``update`` = θ_next − θ.
    """

    step: int
    theta: np.ndarray
    theta_next: np.ndarray
    grad: np.ndarray
    grad_at: np.ndarray
    update: np.ndarray
    old_term: np.ndarray | None = None
    grad_term: np.ndarray | None = None
    velocity: np.ndarray | None = None
    scale: np.ndarray | None = None
    grad_label: str = "−∇f(θ)"
    #: Where the gradient was taken, in words (a rule's declared point: NAG's look-ahead).
    grad_at_label: str = "θ"
    old_label: str = "old velocity"
    grad_term_label: str = "scaled gradient"
    velocity_label: str = "new velocity"
    scale_label: str = "scale"

    @property
    def direction(self) -> np.ndarray:
        """What the preconditioner divides: the new velocity, else the gradient."""
        return self.velocity if self.velocity is not None else self.grad


def stages_of(plan: StepPlan) -> tuple[str, ...]:
    """The stages this step has, in order."""
    out = ["gradient"]
    if plan.velocity is not None and plan.old_term is not None and plan.grad_term is not None:
        out.append("velocity")
    if plan.scale is not None:
        out.append("precondition")
    out += ["step", "move"]
    return tuple(out)


def _fmt(v: np.ndarray) -> str:
    return f"({v[0]:.3g}, {v[1]:.3g})"


def _ease(p: float) -> float:
    p = min(1.0, max(0.0, p))
    return p * p * (3 - 2 * p)


def _part(p: float, i: int, n: int) -> float:
    """Progress of sub-phase i of n within a stage at progress p."""
    return min(1.0, max(0.0, p * n - i))


@dataclass(frozen=True)
class Scales:
    """Display factors: gradient-space vectors (g, velocities) × ``grad``, the preconditioned
    direction × ``direction``, the step × ``step`` (1: true length), and the ellipse's radius in
    data units per axis (``radius``)."""

    grad: float = 1.0
    direction: float = 1.0
    step: float = 1.0
    radius: tuple[float, float] = (1.0, 1.0)


def scales_for(plan: StepPlan, overlay: StepOverlay) -> Scales:
    """Factors that make each family of arrows visible in ``overlay``'s view."""
    grads = [plan.grad] + [v for v in (plan.old_term, plan.grad_term, plan.velocity) if v is not None]
    g = overlay.display_scale(grads, fraction=SLOW_FRACTION)
    # Every arrow's tip inside the view: −g from its point, −old then −addend tip to tail, −new.
    origins, vectors = [plan.grad_at], [-plan.grad]
    if plan.old_term is not None and plan.grad_term is not None and plan.velocity is not None:
        origins += [plan.theta, plan.theta]  # (the addend joins the two tips: inside when they are)
        vectors += [-plan.velocity, -plan.old_term]
    g = overlay.fit_inside(origins, vectors, g)
    d = overlay.display_scale([plan.direction / plan.scale], fraction=SLOW_FRACTION) if plan.scale is not None else 1.0
    if plan.scale is not None:
        d = overlay.fit_inside([plan.theta], [-(plan.direction / plan.scale)], d)
    step = overlay.display_scale([plan.update], fraction=1.0)
    pixel = overlay._pixel()
    step_px = overlay._px_length(plan.update, pixel) if pixel is not None else 0.0
    step_scale = 1.0 if 18.0 <= step_px <= overlay._max_px() else overlay.fit_inside([plan.theta], [plan.update], step)
    r = 0.45 * overlay._max_px()
    radius = (r * pixel[0], r * pixel[1]) if pixel is not None else (1.0, 1.0)
    return Scales(g, d, step_scale, radius)


def scene_at(plan: StepPlan, t: float, scales: Scales = Scales()) -> SceneFrame:
    """The picture at time ``t`` (stages: 0 … len(stages_of(plan)); stage i plays over [i, i+1])."""
    stages = stages_of(plan)
    n = len(stages)
    t = min(max(0.0, float(t)), float(n))
    current = min(math.floor(t), n - 1)
    arrows: list[DrawnArrow] = []
    ellipse = None
    ellipse_label = ""
    point = plan.theta
    caption = ""
    theta = plan.theta
    for i, stage in enumerate(stages[: current + 1]):
        p = 1.0 if i < current else _ease(t - current)
        past = i < current
        if stage == "gradient":
            v = -plan.grad * scales.grad
            arrows.append(DrawnArrow("gradient", plan.grad_at.copy(), v * p, COLORS["gradient"], plan.grad_label,
                                     dim=past))
            if not past:
                caption = f"the gradient at {plan.grad_at_label}\ng = {_fmt(plan.grad)}"
        elif stage == "velocity":
            assert plan.old_term is not None and plan.grad_term is not None and plan.velocity is not None
            old = -plan.old_term * scales.grad
            add = -plan.grad_term * scales.grad
            new = -plan.velocity * scales.grad
            a, b, c = (_ease(_part(p, j, 3)) if not past else 1.0 for j in range(3))
            arrows.append(DrawnArrow("old", theta.copy(), old * a, COLORS["old"], plan.old_label, width=2.2,
                                     dim=past, label_at=0.35))
            if b > 0:
                arrows.append(DrawnArrow("scaled_grad", theta + old, add * b, COLORS["scaled_grad"],
                                         plan.grad_term_label, dim=past))
            if c > 0:
                arrows.append(DrawnArrow("velocity", theta.copy(), new * c, COLORS["velocity"], plan.velocity_label,
                                         width=3.6, dim=past, label_at=1.0))
            if not past:
                caption = (f"velocity: old + scaled gradient = new (arrows: −v)\n"
                           f"{plan.old_label} + {plan.grad_term_label} = {plan.velocity_label}\n"
                           f"{_fmt(plan.old_term)} + {_fmt(plan.grad_term)} = {_fmt(plan.velocity)}")
        elif stage == "precondition":
            assert plan.scale is not None
            before = -plan.direction * scales.grad
            after = -(plan.direction / plan.scale) * scales.direction
            if not past:
                inv = 1.0 / plan.scale
                rel = inv / np.max(inv) if np.all(np.isfinite(inv)) and np.max(inv) > 0 else np.ones(2)
                half = np.array(scales.radius) * ((1 - p) * np.ones(2) + p * rel)
                ellipse = (theta.copy(), half)
                ellipse_label = f"axes × 1/({plan.scale_label}): x ÷ {plan.scale[0]:.3g}, y ÷ {plan.scale[1]:.3g}"
                caption = (f"preconditioner: each axis × 1 / {plan.scale_label}\n"
                           f"x ÷ {plan.scale[0]:.3g}, y ÷ {plan.scale[1]:.3g}")
            arrows.append(DrawnArrow("direction", theta.copy(), (1 - p) * before + p * after, COLORS["direction"],
                                     f"÷ {plan.scale_label}", dim=past))
        elif stage == "step":
            v = plan.update * scales.step
            label = "Δθ" if scales.step == 1.0 else f"Δθ (drawn ×{scales.step:.3g})"
            arrows.append(DrawnArrow("step", theta.copy(), v * p, COLORS["step"], label, width=3.4, dim=past))
            if not past:
                caption = f"the step\nΔθ = {_fmt(plan.update)}"
        elif stage == "move":
            point = theta + plan.update * p
            caption = f"θ moves\n{_fmt(theta)} → {_fmt(plan.theta_next)}"
    title = STAGE_TITLES[stages[current]]
    head = f"Slow motion · step {plan.step} · stage {current + 1}/{n}\n"
    return SceneFrame(tuple(arrows), ellipse, ellipse_label, point, head + caption,
                      {"stage": title, "stage_index": current, "stages": stages})


class SlowMotion(QObject):
    """Plays :func:`scene_at` of a plan on ``overlay`` (``seconds_per_stage``, ``loop``).

    ``plan_fn()`` gives the step to play (a :class:`StepPlan`) or a one-line reason why there is
    none. :meth:`restart` re-reads it (the inspector calls it when the selection or the position
    changes). :attr:`changed` is emitted when it is switched on or off, :attr:`message` with
    the reason when it cannot play.
    """

    changed = Signal(bool)
    message = Signal(str)

    def __init__(self, overlay: StepOverlay, plan_fn: Callable[[], StepPlan | str],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.overlay = overlay
        self.plan_fn = plan_fn
        self.seconds_per_stage = 1.5
        self.loop = True
        self.active = False
        self.plan: StepPlan | None = None
        self.t = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(round(1000 / TICK_HZ))
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def duration(self) -> float:
        """Stages of the plan (its length in stage units)."""
        return float(len(stages_of(self.plan))) if self.plan is not None else 0.0

    def set_active(self, on: bool) -> None:
        on = bool(on)
        if on == self.active:
            return
        self.active = on
        if on:
            self.restart()
        else:
            self._timer.stop()
            self.plan = None
            self.overlay.show_frame(None)
        self.changed.emit(on)

    def restart(self) -> None:
        """Read the plan again and play it from its first stage."""
        if not self.active:
            return
        plan = self.plan_fn()
        if isinstance(plan, str):
            self.plan = None
            self._timer.stop()
            self.overlay.show_frame(None)
            self.message.emit(plan)
            return
        self.plan = plan
        self.t = 0.0
        self.show(0.0)
        self._timer.start()

    def show(self, t: float) -> SceneFrame | None:
        """Draw time ``t`` of the plan (stage units)."""
        if self.plan is None:
            return None
        self.t = t
        frame = scene_at(self.plan, t, scales_for(self.plan, self.overlay))
        self.overlay.show_frame(frame)
        return frame

    def _tick(self) -> None:
        if self.plan is None or not self._timer.isActive():
            self._timer.stop()
            return
        t = self.t + 1.0 / (TICK_HZ * max(0.05, self.seconds_per_stage))
        end = self.duration
        if t > end + 0.5:  # after a short rest on the last picture
            if self.loop:
                t = 0.0
            else:
                self._timer.stop()
                t = end
        self.show(min(t, end))
        self.t = t

    def close(self) -> None:
        self._timer.stop()
        self.overlay.show_frame(None)


class SlowMotionSource:
    """An export frame source that plays one slow-motion step: frame i of
    ``frames_per_stage × stages`` draws :func:`scene_at` at i / frames_per_stage on the
    renderer's own contour, then renders the step shown (the caption keeps the step)."""

    def __init__(self, renderer: Any, plan: StepPlan, frames_per_stage: int = 24) -> None:
        if frames_per_stage < 1:
            raise ValueError(f"Invalid frames_per_stage value: {frames_per_stage} (must be ≥ 1)")
        self.renderer = renderer
        self.plan = plan
        self.frames_per_stage = int(frames_per_stage)
        self.overlay = StepOverlay(renderer.contour)

    @property
    def frame_count(self) -> int:
        """Frames of the whole step: every stage, then its last picture (the end)."""
        return self.frames_per_stage * len(stages_of(self.plan)) + 1

    def steps(self) -> list[int]:
        """Frame indices to ask :func:`~gdstudio.export.frames.export_frames` for (all distinct)."""
        return list(range(self.frame_count))

    def frame(self, i: int, out: np.ndarray | None = None) -> np.ndarray:
        t = i / self.frames_per_stage
        self.overlay.show_frame(scene_at(self.plan, t, scales_for(self.plan, self.overlay)))
        return self.renderer.frame(self.plan.step, out)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.renderer.close()


def axis_vector(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """A (2,) float vector from a quantity's value (a 1-parameter value gets y = 0)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return v[:2] if v.size >= 2 else np.array([float(v[0]) if v.size else math.nan, 0.0])
