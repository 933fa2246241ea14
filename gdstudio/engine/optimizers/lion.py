"""Lion: sign updates from an interpolated momentum (pytorch_optimizer 4.1.0's ``Lion``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, Derived, docs


@dataclass(frozen=True)
class LionParams(Params):
    """``pytorch_optimizer.Lion``'s keywords and defaults."""

    lr: Real = community.lr(1e-4)
    betas: tuple[Real, Real] = community.betas(
        (0.9, 0.99), "β₁ interpolates the update direction, β₂ the momentum kept between steps")
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(True)
    fixed_decay: bool = community.fixed_decay()


class Lion(Optimizer[LionParams]):
    r"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") as in
    ``pytorch_optimizer.Lion`` 4.1.0.

    .. math::
        \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \eta\lambda)
            \quad(\text{coupled: } g_t \leftarrow g_t + \lambda\theta_{t-1}) \\
        u_t &\leftarrow \operatorname{sign}\big(\beta_1 m_{t-1} + (1-\beta_1) g_t\big) \\
        m_t &\leftarrow \beta_2 m_{t-1} + (1-\beta_2) g_t \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, u_t

    Every coordinate moves by exactly ±η (or 0), whatever the gradient's size: a sign method.
    ``fixed_decay`` shrinks θ by 1 − λ instead of 1 − ηλ. Effective learning rate: η.
    """

    name = "lion"
    title = "Lion"
    first_moment_buffer = "exp_avg"
    buffer_docs = docs({"exp_avg": BufferDoc(r"m_t", "momentum: lerp(m, g, 1 − β₂)", "velocity_new")})
    derived = (
        Derived("interpolation", r"\beta_1 m_{t-1} + (1-\beta_1) g_t", "the interpolated direction whose sign is taken",
                lambda c: c.number("betas", 0) * c.buf("exp_avg", after=False) + (1 - c.number("betas", 0)) * c.grad),
        Derived("velocity_old", r"\beta_2 m_{t-1}", "the old momentum, decayed",
                lambda c: c.number("betas", 1) * c.buf("exp_avg", after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\beta_2) g_t", "the scaled gradient added to the momentum",
                lambda c: (1 - c.number("betas", 1)) * c.grad, "velocity_add"),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0}

    def _update(self, hp: LionParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        g = community.apply_weight_decay(p, g, hp.lr, hp.weight_decay, hp.weight_decouple, hp.fixed_decay)
        m = bufs["exp_avg"]
        u = m.copy()
        common.lerp_(u, g, 1.0 - beta1)
        np.sign(u, out=u)
        common.lerp_(m, g, 1.0 - beta2)
        p += -hp.lr * u
        if eff is not None:
            eff[...] = hp.lr
