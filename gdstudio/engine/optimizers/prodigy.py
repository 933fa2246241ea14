"""Prodigy: Adam whose step size D estimates the distance to the solution
(pytorch_optimizer 4.1.0's ``Prodigy``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, OptState, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs

#: Per-row (N, 1) state: D, its running maximum and the numerator of D's estimate.
_ROW_BUFFERS = ("d", "d_max", "d_numerator")


@dataclass(frozen=True)
class ProdigyParams(Params):
    """``pytorch_optimizer.Prodigy``'s keywords and defaults."""

    lr: Real = community.lr(1.0)
    betas: tuple[Real, Real] = community.betas(
        (0.9, 0.999), "decay rates of the running averages of the gradient and its square")
    beta3: Real | None = community.ref_param(
        None, "β₃", "decay rate of D's estimate (none: √β₂)", low=0.0, high=1.0, soft_high=0.9999,
        optional=True, message="beta3 must be in the range [0.0, 1.0]")
    d0: Real = community.ref_param(
        1e-6, "d₀", "initial estimate of the distance to the solution", low=0.0, low_open=True,
        soft_low=1e-8, soft_high=1.0, log=True)
    d_coef: Real = community.ref_param(1.0, "c_d", "coefficient of D's estimate", low=0.0, soft_high=10.0)
    growth_rate: Real = community.ref_param(
        float("inf"), "g_D", "largest factor D may grow by in one step", low=0.0, low_open=True,
        soft_low=1.0, soft_high=10.0, allow_inf=True)
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(True)
    fixed_decay: bool = community.fixed_decay()
    bias_correction: bool = common.flag("BC", "Adam's bias correction of the step")
    safeguard_warmup: bool = common.flag("SW", "leave η out of D's denominator (safer warm-up)")
    eps: Real | None = community.eps(
        1e-8, "added to the denominator (none: use atan2(m, √v) instead of m/(√v + Dε))", optional=True)


class Prodigy(Optimizer[ProdigyParams]):
    r"""Prodigy (Mishchenko & Defazio 2023) as in ``pytorch_optimizer.Prodigy`` 4.1.0.

    .. math::
        \eta'_t &= D_{t-1}\,\eta / b_t,\quad b_t = \tfrac{1-\beta_1^t}{\sqrt{1-\beta_2^t}}
            \ (\text{bias\_correction}),\ 1 \text{ otherwise} \\
        r_t &\leftarrow \beta_3 r_{t-1} + \tfrac{D_{t-1}}{d_0}\,\eta'_t\,\langle g_t, \theta_0 - \theta_{t-1}\rangle \\
        m_t &\leftarrow \beta_1 m_{t-1} + D_{t-1}(1-\beta_1) g_t,\quad
        v_t \leftarrow \beta_2 v_{t-1} + D_{t-1}^2(1-\beta_2) g_t^2 \\
        s_t &\leftarrow \beta_3 s_{t-1} + \tfrac{D_{t-1}}{d_0}\,\eta'_t\, g_t
            \quad(D_{t-1} \text{ for } \eta'_t \text{ with safeguard\_warmup}) \\
        \hat d_t &= c_d\, r_t / \lVert s_t\rVert_1,\quad
        D_t = \min\!\big(\max(\hat d_1, \dots, \hat d_t, d_0),\ D_{t-1}\,g_D\big) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta'_t\, \frac{m_t}{\sqrt{v_t} + D_t\,\epsilon}

    β₃ defaults to √β₂; D starts at d₀ and only grows (by at most g_D per step). ⟨·,·⟩ and
    ‖·‖₁ are over all of a run's coordinates, so D is one number per run: the views can draw it
    (the ``d`` internal, an (N, 1) column). A step with sₜ = 0 (zero gradient, or η = 0) leaves θ
    and D unchanged. With ``eps`` none the step is η'ₜ·atan2(mₜ, √vₜ). Decoupled decay (default)
    shrinks θ by 1 − η'ₜλ (``fixed_decay``: 1 − λ) before the step; coupled decay changes the
    gradient after its last use in the reference, so it has no effect, here too.
    Effective learning rate: ``η'ₜ / (√vₜ + Dₜε)``, the factor applied to mₜ (with ``eps`` none:
    η'ₜ, applied to atan2(mₜ, √vₜ)); 0 on a step that does not move.
    """

    name = "prodigy"
    title = "Prodigy"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    internal_buffers = ("d",)
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment of D·g (β₁)"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment of D·g (β₂)"),
        "s": BufferDoc(r"s_t", "weighted sum of the gradients (the D estimate's denominator)"),
        "p0": BufferDoc(r"\theta_0", "the start point (the distance D estimates)"),
        "d": BufferDoc(r"D_t", "the estimate of the distance to the solution: the step's scale"),
    })

    def _buffers(self) -> dict[str, Real]:
        return {"s": 0.0, "p0": 0.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _advance(self, hp: ProdigyParams, t: int, state: OptState) -> None:
        if "d" not in state.buffers:
            like = state.buffers["exp_avg"]
            n = like.shape[0]
            state.buffers["d"] = community.rows_of(hp.d0, n).astype(like.dtype)
            state.buffers["d_max"] = community.rows_of(hp.d0, n).astype(like.dtype)
            state.buffers["d_numerator"] = np.zeros((n, 1), dtype=like.dtype)

    def _update(self, hp: ProdigyParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        beta3 = np.sqrt(beta2) if hp.beta3 is None else hp.beta3
        bias_correction: Any = 1.0
        if hp.bias_correction:
            bias_correction = (1.0 - common.power(beta1, t)) / np.sqrt(1.0 - common.power(beta2, t))
        d_buf, d_max_buf, numerator = (bufs[name] for name in _ROW_BUFFERS)
        d, d0 = d_buf.copy(), hp.d0
        d_lr = d * hp.lr / bias_correction
        p0, m, v, s = bufs["p0"], bufs["exp_avg"], bufs["exp_avg_sq"], bufs["s"]
        if t == 1:
            p0[...] = p
        numerator *= beta3
        numerator += ((d / d0) * d_lr) * np.einsum("ij,ij->i", g, p0 - p)[:, None]
        m *= beta1
        m += (d * (1.0 - beta1)) * g
        v *= beta2
        v += ((d * d * (1.0 - beta2)) * g) * g
        s *= beta3
        s += ((d / d0) * (d if hp.safeguard_warmup else d_lr)) * g
        denominator = np.abs(s).sum(axis=1, keepdims=True)
        moves = denominator != 0
        d_hat = hp.d_coef * numerator / denominator
        raised = np.where(d == d0, community.row_max(d, d_hat), d)
        new_d_max = community.row_max(d_max_buf, d_hat)
        new_d = community.row_min(new_d_max, raised * hp.growth_rate)
        np.copyto(d_buf, new_d, where=moves)
        np.copyto(d_max_buf, new_d_max, where=moves)
        step = np.broadcast_to(moves, p.shape)
        if hp.weight_decouple and common.nonzero(hp.weight_decay):
            factor = 1.0 - hp.weight_decay * (1.0 if hp.fixed_decay else d_lr)
            np.multiply(p, factor, out=p, where=step)
        scale: Array
        if hp.eps is None:
            direction = np.arctan2(m, np.sqrt(v))
            scale = np.broadcast_to(d_lr, p.shape)
            np.add(p, -d_lr * direction, out=p, where=step)
        else:
            denom = np.sqrt(v) + new_d * hp.eps
            scale = d_lr / denom
            np.add(p, (-d_lr * m) / denom, out=p, where=step)
        if eff is not None:
            eff[...] = np.where(step, scale, 0.0)
