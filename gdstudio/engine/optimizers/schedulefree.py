"""Schedule-free SGD and AdamW (Defazio et al. 2024), as schedulefree 1.4.1's ``SGDScheduleFree`` and
``AdamWScheduleFree``.

The points are the parameters in train mode, y, where the gradient is taken. The averaged
sequence x (what the reference's ``eval()`` puts in the parameters) is the ``x`` internal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, OptState, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs

_HELP_WARMUP = "steps of linear learning-rate warm-up (η·(k+1)/warmup_steps)"
_HELP_R = "power r of the polynomial weighting (k+1)ʳ of the average"
_HELP_POWER = "the average's weights are η_max raised to this power"


def _schedule(hp: ScheduleFreeSGDParams | ScheduleFreeAdamWParams, t: int, state: OptState) -> None:
    """The reference's per-step scalars, stored with ``state.put``: ηₜ (warm-up), η_max,
    the weight sum and cₜ₊₁ = weight / weight sum (per row where a hyperparameter is a column)."""
    k = t - 1
    sched = common.rowwise(lambda w: (k + 1) / w if k < w else 1.0, hp.warmup_steps)
    lr = hp.lr * sched
    lr_max = community.row_max(lr, state.get("lr_max"))
    weight = common.rowwise(lambda r, top, power: _weight(k, r, top, power), hp.r, lr_max, hp.weight_lr_power)
    weight_sum = state.get("weight_sum") + weight
    ckp1: Real
    if isinstance(weight_sum, np.ndarray) or isinstance(weight, np.ndarray):
        nonzero = np.asarray(weight_sum != 0)
        ratio = np.zeros(np.broadcast(weight, weight_sum).shape)
        np.divide(weight, weight_sum, out=ratio, where=nonzero)
        ckp1 = ratio
    else:
        ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
    for name, value in (("scheduled_lr", lr), ("lr_max", lr_max), ("weight_sum", weight_sum), ("ckp1", ckp1)):
        state.put(name, value)


def _weight(k: int, r: float, top: float, power: float) -> float:
    """The reference's ``((k+1)**r) * (lr_max**weight_lr_power)``; ∞ where Python's float power
    overflows (the reference raises OverflowError there: here the run diverges instead)."""
    try:
        return float(((k + 1) ** r) * (top**power))
    except OverflowError:
        return math.inf


def _x(y: Array, z: Array, beta: Real, out: Array) -> None:
    """The reference's ``eval()`` on a copy: x = lerp(y, z, 1 − 1/β)."""
    out[...] = y
    common.lerp_(out, z, 1.0 - 1.0 / beta)


#: The buffers of both schedule-free rules (the SGD one keeps no exp_avg_sq: its doc is not shown).
_BUFFER_DOCS = docs({
    "z": BufferDoc(r"z_t", "the SGD iterate the average follows"),
    "x": BufferDoc(r"x_t", "the weighted average of the iterates (what eval() puts in θ)"),
    "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
    "ckp1": BufferDoc(r"c_{t+1}", "the next average's weight"),
    "weight_sum": BufferDoc(r"\sum w", "the sum of the average's weights"),
    "lr_max": BufferDoc(r"\eta_{\max}", "the largest η so far (after warm-up)"),
    "scheduled_lr": BufferDoc(r"\eta_t", "this step's η after warm-up"),
})


@dataclass(frozen=True)
class ScheduleFreeSGDParams(Params):
    """``schedulefree.SGDScheduleFree``'s keywords and defaults."""

    lr: Real = community.lr(1.0, message="Invalid learning rate: {value}")
    momentum: Real = community.ref_param(
        0.9, "β", "momentum: where the gradient is taken between the average x and the SGD iterate z",
        low=0.0, high=1.0, low_open=True, high_open=True, soft_low=0.01, soft_high=0.9999,
        message="Momentum must be between 0 and 1 exclusive: {value}")
    weight_decay: Real = community.weight_decay(message="Invalid weight_decay value: {value}")
    warmup_steps: Real = community.nonneg("warmup_steps", "T_w", 0.0, _HELP_WARMUP, soft_high=1000.0, checked=False)
    r: Real = community.nonneg("r", "r", 0.0, _HELP_R, soft_high=4.0, checked=False)
    weight_lr_power: Real = community.nonneg("weight_lr_power", "p_w", 2.0, _HELP_POWER, soft_high=4.0, checked=False)


class ScheduleFreeSGD(Optimizer[ScheduleFreeSGDParams]):
    r"""Schedule-free SGD as in ``schedulefree.SGDScheduleFree`` 1.4.1 (train mode).

    .. math::
        \eta_t &= \eta \min\!\big(1, t/T_w\big),\quad
        w_t = t^{\,r}\,(\max_{i\le t}\eta_i)^{p_w},\quad c_t = w_t \Big/ \sum_{i\le t} w_i \\
        \theta_t &\leftarrow (1-c_t)\,\theta_{t-1} + c_t z_{t-1}
            + \eta_t\big(\beta(1-c_t) - 1\big)\, g_t,\quad
            g_t = \nabla f(\theta_{t-1}) + \lambda \theta_{t-1} \\
        z_t &\leftarrow z_{t-1} - \eta_t g_t,\qquad z_0 = \theta_0 \\
        x_t &= \big(\theta_t - (1-\beta) z_t\big)/\beta

    θ is the paper's y, the parameters in train mode. Three sequences: z is plain SGD, x its
    weighted running average (xₜ = (1−cₜ)xₜ₋₁ + cₜzₜ), and the gradient is taken at
    y = (1−β)z + βx, between them. No learning-rate schedule is
    needed: the average plays its part. The points drawn are y; x (the ``x`` internal) is what
    the reference's ``eval()`` returns, computed from y and z as it does.
    Effective learning rate: ηₜ (the warmed-up η; z moves by −ηₜgₜ).
    """

    name = "schedulefree-sgd"
    title = "Schedule-free SGD"
    internal_buffers = ("x",)
    buffer_docs = _BUFFER_DOCS

    def _buffers(self) -> dict[str, Real]:
        return {"z": 0.0, "x": 0.0}

    def _initial_scalars(self) -> dict[str, float]:
        return {"lr_max": -1.0, "weight_sum": 0.0}

    def _advance(self, hp: ScheduleFreeSGDParams, t: int, state: OptState) -> None:
        _schedule(hp, t, state)

    def _update(self, hp: ScheduleFreeSGDParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = common.shared(bufs, scalars, "scheduled_lr")
        ckp1 = common.shared(bufs, scalars, "ckp1")
        momentum = hp.momentum
        z = bufs["z"]
        if t == 1:
            z[...] = p
        g = common.decay(g, p, hp.weight_decay)
        common.lerp_(p, z, ckp1)
        p += (lr * (momentum * (1 - ckp1) - 1)) * g
        z -= lr * g
        _x(p, z, momentum, bufs["x"])
        if eff is not None:
            eff[...] = lr


@dataclass(frozen=True)
class ScheduleFreeAdamWParams(Params):
    """``schedulefree.AdamWScheduleFree``'s keywords and defaults (the reference validates none of
    them; here each has the range its step needs)."""

    lr: Real = common.lr(0.0025)
    betas: tuple[Real, Real] = common.betas()
    eps: Real = common.eps(1e-8)
    weight_decay: Real = common.weight_decay()
    warmup_steps: Real = community.nonneg("warmup_steps", "T_w", 0.0, _HELP_WARMUP, soft_high=1000.0, checked=False)
    r: Real = community.nonneg("r", "r", 0.0, _HELP_R, soft_high=4.0, checked=False)
    weight_lr_power: Real = community.nonneg("weight_lr_power", "p_w", 2.0, _HELP_POWER, soft_high=4.0, checked=False)

    def check(self) -> None:
        where = common.rows_where(self.betas[0] == 0)
        if where is not None:
            raise ValueError(
                f"Invalid betas[0] value: 0.0 (schedule-free needs β₁ > 0: x = (y − (1−β₁)z)/β₁){where}")


class ScheduleFreeAdamW(Optimizer[ScheduleFreeAdamWParams]):
    r"""Schedule-free AdamW as in ``schedulefree.AdamWScheduleFree`` 1.4.1 (train mode).

    .. math::
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        \hat g_t = \frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon} + \lambda \theta_{t-1} \\
        \theta_t &\leftarrow (1-c_t)\,\theta_{t-1} + c_t z_{t-1}
            + \eta_t\big(\beta_1(1-c_t) - 1\big)\,\hat g_t \\
        z_t &\leftarrow z_{t-1} - \eta_t \hat g_t,\qquad
        x_t = \big(\theta_t - (1-\beta_1) z_t\big)/\beta_1

    (θ = y, the train-mode parameters) with ηₜ, cₜ as in schedule-free SGD (warm-up over ``warmup_steps``, weights
    tʳ·(max ηᵢ)^``weight_lr_power``). β₁ plays momentum's part: the gradient is taken at
    y = (1−β₁)z + β₁x. There is no first moment: the averaging replaces it. The points drawn
    are y; x is the ``x`` internal. Effective learning rate: ``ηₜ / (√(vₜ/(1−β₂ᵗ)) + ε)``, the
    factor applied to gₜ in z's step.
    """

    name = "schedulefree-adamw"
    title = "Schedule-free AdamW"
    second_moment_buffer = "exp_avg_sq"
    internal_buffers = ("x",)
    buffer_docs = _BUFFER_DOCS

    def _buffers(self) -> dict[str, Real]:
        return {"z": 0.0, "exp_avg_sq": 0.0, "x": 0.0}

    def _initial_scalars(self) -> dict[str, float]:
        return {"lr_max": -1.0, "weight_sum": 0.0}

    def _advance(self, hp: ScheduleFreeAdamWParams, t: int, state: OptState) -> None:
        _schedule(hp, t, state)

    def _update(self, hp: ScheduleFreeAdamWParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = common.shared(bufs, scalars, "scheduled_lr")
        ckp1 = common.shared(bufs, scalars, "ckp1")
        beta1, beta2 = hp.betas
        z, v = bufs["z"], bufs["exp_avg_sq"]
        if t == 1:
            z[...] = p
        bias_correction2 = 1 - common.power(beta2, t)
        v *= beta2
        v += ((1 - beta2) * g) * g
        denom = np.sqrt(v / bias_correction2) + hp.eps
        normalized = g / denom
        normalized = common.decay(normalized, p, hp.weight_decay)
        common.lerp_(p, z, ckp1)
        p += (lr * (beta1 * (1 - ckp1) - 1)) * normalized
        z -= lr * normalized
        _x(p, z, beta1, bufs["x"])
        if eff is not None:
            np.divide(lr, denom, out=eff)
