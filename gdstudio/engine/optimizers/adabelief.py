"""AdaBelief: Adam whose denominator tracks the gradient's deviation from its average
(pytorch_optimizer 4.1.0's ``AdaBelief``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, community_grad, docs, moment_addition


@dataclass(frozen=True)
class AdaBeliefParams(Params):
    """``pytorch_optimizer.AdaBelief``'s keywords and defaults."""

    lr: Real = community.lr(1e-3)
    betas: tuple[Real, Real] = community.betas(
        (0.9, 0.999), "decay rates of the gradient average and of the squared prediction error")
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(True)
    fixed_decay: bool = community.fixed_decay()
    rectify: bool = common.flag("R", "rectify: RAdam's variance rectification of the step")
    n_sma_threshold: Real = community.nonneg(
        "n_sma_threshold", "ρ₀", 5.0, "rectified steps once the moving-average length ρₜ reaches this",
        soft_high=20.0, checked=False)
    degenerated_to_sgd: bool = common.flag("SGD", "before the threshold, step along m̂ (else do not move)", True)
    ams_bound: bool = common.flag("AMS", "divide by the largest second moment seen so far")
    eps: Real = community.eps(1e-16)


class AdaBelief(Optimizer[AdaBeliefParams]):
    r"""AdaBelief (Zhuang et al. 2020) as in ``pytorch_optimizer.AdaBelief`` 4.1.0.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        s_t &\leftarrow \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2 + \epsilon
            \quad(s_t^{\max} \leftarrow \max(s_{t-1}^{\max}, s_t) \text{ with ams\_bound}) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{s_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The denominator is the spread of g around its average (the "belief" in the gradient), not
    its size: a large but steady gradient gets a large step. With ``rectify`` the step is
    RAdam's: ``θ − η rₜ/(1−β₁ᵗ) · m/(√s + ε)`` once ρₜ ≥ ``n_sma_threshold``, before that
    ``θ − η/(1−β₁ᵗ) · m`` (``degenerated_to_sgd``) or no move. Weight decay is decoupled by
    default (``θ ← θ(1 − ηλ)``, ``fixed_decay``: 1 − λ), else ``g + λθ``.
    Effective learning rate: ``η/(1−β₁ᵗ) / (√sₜ/√(1−β₂ᵗ) + ε)`` (rectified: ``η rₜ/(1−β₁ᵗ)/(√sₜ+ε)``,
    or ``η/(1−β₁ᵗ)`` on an SGD step, 0 when it does not move), the factor applied to mₜ.
    """

    name = "adabelief"
    title = "AdaBelief"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_var"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)", "velocity_new"),
        "exp_avg_var": BufferDoc(r"s_t", "the belief: running average of (g − m)² (β₂)"),
        "max_exp_avg_var": BufferDoc(r"s^{\max}_t", "AMSGrad: the largest s seen so far"),
    })
    derived = moment_addition("exp_avg", lambda c: c.number("betas", 0), community_grad)

    def _buffers(self) -> dict[str, Real]:
        names: dict[str, Real] = {"exp_avg": 0.0, "exp_avg_var": 0.0}
        if self.hp.ams_bound:
            names["max_exp_avg_var"] = 0.0
        return names

    def _update(self, hp: AdaBeliefParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        bias_correction1 = 1.0 - common.power(beta1, t)
        n_sma: Real = 0.0
        step_size: Real = hp.lr
        if hp.rectify:
            step_size, n_sma = community.rectified_step_size(
                hp.lr, beta2, t, hp.n_sma_threshold, hp.degenerated_to_sgd)
        step_size = step_size / bias_correction1
        bc2_sqrt = np.sqrt(1.0 - common.power(beta2, t))
        g = community.apply_weight_decay(p, g, hp.lr, hp.weight_decay, hp.weight_decouple, hp.fixed_decay)
        m, s = bufs["exp_avg"], bufs["exp_avg_var"]
        common.lerp_(m, g, 1.0 - beta1)
        residual = g - m
        s *= beta2
        s += ((1.0 - beta2) * residual) * residual
        s += hp.eps
        if hp.ams_bound:
            smax = bufs["max_exp_avg_var"]
            np.maximum(smax, s, out=smax)
            denom = np.sqrt(smax)
        else:
            denom = np.sqrt(s)
        if not hp.rectify:
            denom /= bc2_sqrt
            denom += hp.eps
            p += (-step_size * m) / denom
            if eff is not None:
                np.divide(step_size, denom, out=eff)
            return
        denom += hp.eps
        adaptive = n_sma >= hp.n_sma_threshold
        moves = step_size > 0
        delta = common.choose(adaptive, (-step_size * m) / denom, -step_size * m)
        factor = common.choose(adaptive, step_size / denom, np.broadcast_to(step_size, p.shape))
        if isinstance(adaptive, np.ndarray) or isinstance(moves, np.ndarray):
            where = np.broadcast_to(np.logical_or(adaptive, moves), p.shape)
            np.add(p, delta, out=p, where=where)
            factor = np.where(where, factor, 0.0)
        elif adaptive or moves:
            p += delta
        else:
            factor = np.zeros_like(p)
        if eff is not None:
            eff[...] = factor
