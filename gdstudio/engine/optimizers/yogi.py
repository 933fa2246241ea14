"""Yogi: Adam with an additive, sign-controlled second moment (pytorch_optimizer 4.1.0's ``Yogi``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, community_grad, docs, moment_addition


@dataclass(frozen=True)
class YogiParams(Params):
    """``pytorch_optimizer.Yogi``'s keywords and defaults."""

    lr: Real = community.lr(1e-2)
    betas: tuple[Real, Real] = community.betas(
        (0.9, 0.999), "decay rates of the gradient average and of the second-moment correction")
    initial_accumulator: Real = community.nonneg(
        "initial_accumulator", "v₀", 1e-6, "starting value of both moments", checked=False)
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(True)
    fixed_decay: bool = community.fixed_decay()
    eps: Real = community.eps(1e-3)


class Yogi(Optimizer[YogiParams]):
    r"""Yogi (Zaheer et al. 2018) as in ``pytorch_optimizer.Yogi`` 4.1.0.

    .. math::
        m_0 &= v_0 = v_{\text{init}} \ (\texttt{initial\_accumulator}) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &\leftarrow v_{t-1} - (1-\beta_2)\,\operatorname{sign}(v_{t-1} - g_t^2)\, g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Where Adam's v moves multiplicatively towards g², Yogi's moves by at most (1−β₂)g² per
    step, so a sudden large gradient does not blow the denominator up. Weight decay as Lion's
    (decoupled by default). Effective learning rate: ``η/(1−β₁ᵗ) / (√vₜ/√(1−β₂ᵗ) + ε)``, the
    factor applied to mₜ.
    """

    name = "yogi"
    title = "Yogi"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)", "velocity_new"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment, moved additively: v − (1−β₂)·sign(v − g²)·g²"),
    })
    derived = moment_addition("exp_avg", lambda c: c.number("betas", 0), community_grad)

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": self.hp.initial_accumulator, "exp_avg_sq": self.hp.initial_accumulator}

    def _update(self, hp: YogiParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        step_size = hp.lr / (1.0 - common.power(beta1, t))
        bc2_sqrt = np.sqrt(1.0 - common.power(beta2, t))
        g = community.apply_weight_decay(p, g, hp.lr, hp.weight_decay, hp.weight_decouple, hp.fixed_decay)
        g2 = g * g
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        common.lerp_(m, g, 1.0 - beta1)
        v += (-(1.0 - beta2) * np.sign(v - g2)) * g2
        denom = np.sqrt(v) / bc2_sqrt + hp.eps
        p += (-step_size * m) / denom
        if eff is not None:
            np.divide(step_size, denom, out=eff)
