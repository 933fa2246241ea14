"""Adan: adaptive Nesterov momentum from gradient differences (pytorch_optimizer 4.1.0's ``Adan``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs


@dataclass(frozen=True)
class AdanParams(Params):
    """``pytorch_optimizer.Adan``'s keywords and defaults."""

    lr: Real = community.lr(1e-3)
    betas: tuple[Real, Real, Real] = community.betas(
        (0.98, 0.92, 0.99), "decay rates of the gradient, gradient-difference and squared-step averages",
        last_closed=True)
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(False)
    max_grad_norm: Real = community.nonneg(
        "max_grad_norm", "G", 0.0, "rescale the gradient to at most this norm (0: never)", soft_high=10.0)
    eps: Real = community.eps(1e-8)


class Adan(Optimizer[AdanParams]):
    r"""Adan (Xie et al. 2022) as in ``pytorch_optimizer.Adan`` 4.1.0.

    .. math::
        g_t &\leftarrow c_t\,\nabla f(\theta_{t-1}),\quad
            c_t = \min\!\Big(1, \frac{G}{\lVert\nabla f\rVert + \epsilon}\Big) \ (G > 0),\ 1 \ (G = 0) \\
        \Delta_t &\leftarrow g_t - g_{t-1} \quad(\Delta_1 = 0) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        n_t \leftarrow \beta_2 n_{t-1} + (1-\beta_2)\Delta_t \\
        v_t &\leftarrow \beta_3 v_{t-1} + (1-\beta_3)(g_t + \beta_2\Delta_t)^2,\quad
        d_t = \sqrt{v_t}/\sqrt{1-\beta_3^t} + \epsilon \\
        \theta_t &\leftarrow \Big(\theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{d_t}
            - \frac{\eta\beta_2}{1-\beta_2^t}\frac{n_t}{d_t}\Big) \Big/ (1 + \eta\lambda)

    With ``weight_decouple`` the decay is θ ← θ(1 − ηλ) before the step instead of the division
    after it (Adan's proximal form). The gradient norm ‖∇f‖ is the run's (all its coordinates),
    computed as the reference does: squared in float32, so cₜ is a float32 number.
    Effective learning rate: ``η/(1−β₁ᵗ) / dₜ``, the factor applied to mₜ (nₜ gets β₂(1−β₁ᵗ)/(1−β₂ᵗ) times it).
    """

    name = "adan"
    title = "Adan"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)"),
        "exp_avg_diff": BufferDoc(r"n_t", "running average of the gradient differences g − g_{t−1} (β₂)"),
        "exp_avg_sq": BufferDoc(r"v_t", "running average of (g + β₂(g − g_{t−1}))² (β₃)"),
        "previous_grad": BufferDoc(r"g_{t}", "the (clipped) gradient kept for the next difference"),
    })

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0, "exp_avg_diff": 0.0, "previous_grad": 0.0}

    def _update(self, hp: AdanParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2, beta3 = hp.betas
        lr, wd = hp.lr, hp.weight_decay
        bias_correction1 = 1.0 - common.power(beta1, t)
        bias_correction2 = 1.0 - common.power(beta2, t)
        bc3_sqrt = np.sqrt(1.0 - common.power(beta3, t))
        clip = community.clip_factor(g, hp.max_grad_norm, hp.eps)
        prev = bufs["previous_grad"]
        if t == 1:
            np.multiply(g, -clip, out=prev)  # the reference's first "previous gradient": −c·g
        g = g * clip
        diff = prev + g
        m, v, n = bufs["exp_avg"], bufs["exp_avg_sq"], bufs["exp_avg_diff"]
        common.lerp_(m, g, 1.0 - beta1)
        common.lerp_(n, diff, 1.0 - beta2)
        diff *= beta2
        diff += g
        v *= beta3
        v += ((1.0 - beta3) * diff) * diff
        denom = np.sqrt(v) / bc3_sqrt + hp.eps
        if hp.weight_decouple:
            community.shrink(p, lr, wd, fixed=False)
        p += ((-lr / bias_correction1) * m) / denom
        p += ((-lr * beta2 / bias_correction2) * n) / denom
        if not hp.weight_decouple and common.nonzero(wd):
            p /= 1.0 + lr * wd  # exactly 1 in rows with λ = 0
        np.negative(g, out=prev)
        if eff is not None:
            np.divide(lr / bias_correction1, denom, out=eff)
