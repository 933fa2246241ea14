"""LaProp: momentum of RMSProp-normalised gradients (pytorch_optimizer 4.1.0's ``LaProp``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, OptState, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs

#: ``BaseOptimizer.apply_ams_bound``'s default ``exp_avg_sq_eps``, added under the square root.
SQ_EPS = 1e-15


@dataclass(frozen=True)
class LaPropParams(Params):
    """``pytorch_optimizer.LaProp``'s keywords and defaults."""

    lr: Real = community.lr(4e-4)
    betas: tuple[Real, Real] = community.betas(
        (0.9, 0.999), "decay rates of the momentum and of the squared-gradient average")
    centered: bool = common.flag("C", "centered: subtract the squared gradient mean from the second moment")
    steps_before_using_centered: Real = community.nonneg(
        "steps_before_using_centered", "t_c", 10.0, "steps of gradient mean gathered before centering",
        soft_high=100.0, checked=False)
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(True)
    fixed_decay: bool = community.fixed_decay()
    ams_bound: bool = common.flag("AMS", "divide by the largest second moment seen so far")
    eps: Real = community.eps(1e-15)


class LaProp(Optimizer[LaPropParams]):
    r"""LaProp (Ziyin et al. 2020) as in ``pytorch_optimizer.LaProp`` 4.1.0.

    .. math::
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        d_t = \frac{\sqrt{v_t + 10^{-15}} + \epsilon}{\sqrt{1-\beta_2^t}} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\,\eta\, \frac{g_t}{d_t},\quad
        c_t \leftarrow \beta_1 c_{t-1} + (1-\beta_1)\eta \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{c_t}\, m_t

    Adam averages g and then normalises; LaProp normalises each g first and averages the
    results, so the momentum is decoupled from the adaptive scale. cₜ is η's running average
    (the bias correction, cₜ/η = 1 − β₁ᵗ at constant η). ``centered`` uses vₜ − ḡₜ² (ḡ the
    β₂-average of g) from step ``steps_before_using_centered`` + 1 on; ``ams_bound`` the largest
    second moment so far. Decoupled decay (default) shrinks θ by 1 − ηλ after the step
    (``fixed_decay``: 1 − λ); coupled decay changes the gradient after its last use in the
    reference, so it has no effect, here too. Effective learning rate: ``η / dₜ``, the factor
    applied to this step's gₜ inside the momentum.
    """

    name = "laprop"
    title = "LaProp"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "momentum of the RMS-normalised gradients g/√v̂ (β₁)"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
        "exp_avg_lr_1": BufferDoc(r"c_t", "bias correction of the momentum, with η folded in"),
    })

    def _buffers(self) -> dict[str, Real]:
        names: dict[str, Real] = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self.hp.centered:
            names["exp_mean_avg_beta2"] = 0.0
        if self.hp.ams_bound:
            names["max_exp_avg_sq"] = 0.0
        return names

    def _initial_scalars(self) -> dict[str, float]:
        return {"exp_avg_lr_1": 0.0}

    def _advance(self, hp: LaPropParams, t: int, state: OptState) -> None:
        beta1 = hp.betas[0]
        state.put("exp_avg_lr_1", state.get("exp_avg_lr_1") * beta1 + (1.0 - beta1) * hp.lr)

    def _update(self, hp: LaPropParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        lr = hp.lr
        bc2_sqrt = np.sqrt(1.0 - common.power(beta2, t))
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        v *= beta2
        v += ((1.0 - beta2) * g) * g
        avg_lr = common.shared(bufs, scalars, "exp_avg_lr_1")
        bias_correction1: Real
        if isinstance(lr, np.ndarray):
            bias_correction1 = np.where(lr != 0.0, avg_lr / lr, 1.0)
        else:
            bias_correction1 = avg_lr / lr if lr != 0.0 else 1.0
        step_size = 1.0 / bias_correction1
        second = v
        if hp.centered:
            mean = bufs["exp_mean_avg_beta2"]
            common.lerp_(mean, g, 1.0 - beta2)
            centered = t > hp.steps_before_using_centered
            if np.any(centered):
                second = common.choose(centered, v - mean * mean, v)
        if hp.ams_bound:
            vmax = bufs["max_exp_avg_sq"]
            np.maximum(vmax, second, out=vmax)
            second = vmax
        denom = np.sqrt(second + SQ_EPS) + hp.eps
        denom /= bc2_sqrt
        m *= beta1
        m += (((1.0 - beta1) * lr) * g) / denom
        p += -step_size * m
        if hp.weight_decouple:
            community.shrink(p, lr, hp.weight_decay, hp.fixed_decay)
        if eff is not None:
            np.divide(lr, denom, out=eff)
