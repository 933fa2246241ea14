"""Adamax: Adam with the infinity norm of past gradients in place of the second moment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, decayed_grad, docs


@dataclass(frozen=True)
class AdamaxParams(Params):
    """``torch.optim.Adamax``'s keywords and defaults."""

    lr: Real = common.lr(2e-3)
    betas: tuple[Real, Real] = common.betas()
    eps: Real = common.eps(1e-8)
    weight_decay: Real = common.weight_decay()


class Adamax(Optimizer[AdamaxParams]):
    r"""Adamax as in ``torch.optim.Adamax``.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        u_t \leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    Weight decay adds λθ to g. Effective learning rate: ``η/(1−β₁ᵗ)/uₜ``.
    """

    name = "adamax"
    title = "Adamax"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_inf"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)", "velocity_new"),
        "exp_inf": BufferDoc(r"u_t", "infinity norm max(β₂u, |g| + ε): the per-axis scale the step divides by",
                             "scale"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("bias_correction1", r"1-\beta_1^t", "bias correction of the first moment",
                lambda c: 1 - common.power(c.number("betas", 0), float(c.t))),
        Derived("velocity_old", r"\beta_1 m_{t-1}", "the old first moment, decayed",
                lambda c: c.number("betas", 0) * c.buf("exp_avg", after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\beta_1) g_t", "the scaled gradient added to the first moment",
                lambda c: (1 - c.number("betas", 0)) * decayed_grad(c), "velocity_add"),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    def _update(self, hp: AdamaxParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        g = common.decay(g, p, hp.weight_decay)
        m, u = bufs["exp_avg"], bufs["exp_inf"]
        common.lerp_(m, g, 1 - beta1)
        u *= beta2
        norm = np.abs(g)
        norm += hp.eps
        np.maximum(u, norm, out=u)
        clr = hp.lr / (1 - common.power(beta1, float(t)))
        p += (-clr * m) / u
        if eff is not None:
            np.divide(clr, u, out=eff)
