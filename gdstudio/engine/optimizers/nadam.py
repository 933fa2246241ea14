"""NAdam: Adam with a Nesterov look-ahead on the first moment and momentum decay."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, OptState, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, decayed_grad, docs


@dataclass(frozen=True)
class NAdamParams(Params):
    """``torch.optim.NAdam``'s keywords and defaults."""

    lr: Real = common.lr(2e-3)
    betas: tuple[Real, Real] = common.betas()
    eps: Real = common.eps(1e-8)
    weight_decay: Real = common.weight_decay()
    momentum_decay: Real = common.nonneg("ψ", 4e-3, "momentum decay ψ of the μ schedule", 0.1)
    decoupled_weight_decay: bool = common.decoupled_weight_decay("decoupled weight decay (NAdamW)")


class NAdam(Optimizer[NAdamParams]):
    r"""NAdam as in ``torch.optim.NAdam``.

    .. math::
        \mu_t &\leftarrow \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right),\quad
        \Pi_t \leftarrow \Pi_{t-1}\mu_t \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        r_t \leftarrow \sqrt{v_t / (1-\beta_2^t)} + \epsilon \\
        \theta_t &\leftarrow \theta_{t-1}
            - \frac{\eta(1-\mu_t)}{1-\Pi_t}\frac{g_t}{r_t}
            - \frac{\eta\,\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\frac{m_t}{r_t}

    ψ is ``momentum_decay``. Weight decay adds λθ to g (or decays θ by 1 − ηλ when
    ``decoupled_weight_decay``). Effective learning rate: ``η/rₜ``. Π is kept in float64
    (torch keeps it in its default dtype: set float64 there to compare); μ and Π are one value
    for all rows, or (N, 1) columns when β₁ or ψ is per row.
    """

    name = "nadam"
    title = "NAdam"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)", "velocity_new"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
        "mu_product": BufferDoc(r"\Pi_t", "running product of the momentum coefficients μ₁⋯μₜ"),
        "mu": BufferDoc(r"\mu_t", "this step's momentum coefficient β₁(1 − ½·0.96^{tψ})"),
        "mu_next": BufferDoc(r"\mu_{t+1}", "the next step's momentum coefficient (the look-ahead)"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("bias_correction2", r"1-\beta_2^t", "bias correction of the second moment",
                lambda c: 1 - common.power(c.number("betas", 1), float(c.t))),
        Derived("denom", r"r_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon", "the preconditioner's per-axis scale",
                lambda c: np.sqrt(c.buf("exp_avg_sq") / (1 - common.power(c.number("betas", 1), float(c.t))))
                + c.number("eps"), "scale"),
        Derived("velocity_old", r"\beta_1 m_{t-1}", "the old first moment, decayed",
                lambda c: c.number("betas", 0) * c.buf("exp_avg", after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\beta_1) g_t", "the scaled gradient added to the first moment",
                lambda c: (1 - c.number("betas", 0)) * decayed_grad(c), "velocity_add"),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _initial_scalars(self) -> dict[str, float]:
        return {"mu_product": 1.0, "mu": 0.0, "mu_next": 0.0}

    def _advance(self, hp: NAdamParams, t: int, state: OptState) -> None:
        beta1, psi = hp.betas[0], hp.momentum_decay
        step = float(t)
        mu = beta1 * (1.0 - 0.5 * common.power(0.96, step * psi))
        state.put("mu", mu)
        state.put("mu_next", beta1 * (1.0 - 0.5 * common.power(0.96, (step + 1) * psi)))
        state.put("mu_product", state.get("mu_product") * mu)

    def _update(self, hp: NAdamParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr, wd = hp.lr, hp.weight_decay
        beta1, beta2 = hp.betas
        bias_correction2 = 1 - common.power(beta2, float(t))
        if hp.decoupled_weight_decay:
            if common.nonzero(wd):
                p *= 1 - lr * wd  # exactly 1 in rows with λ = 0
        else:
            g = common.decay(g, p, wd)
        mu, mu_next, mu_product = (common.shared(bufs, scalars, k) for k in ("mu", "mu_next", "mu_product"))
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        common.lerp_(m, g, 1 - beta1)
        v *= beta2
        v += ((1 - beta2) * g) * g
        denom = np.sqrt(v / bias_correction2)
        denom += hp.eps
        mu_product_next = mu_product * mu_next
        p += ((-lr * (1.0 - mu) / (1.0 - mu_product)) * g) / denom
        p += (((-lr * mu_next) / (1.0 - mu_product_next)) * m) / denom
        if eff is not None:
            np.divide(lr, denom, out=eff)
