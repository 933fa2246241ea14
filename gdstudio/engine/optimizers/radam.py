"""RAdam: Adam with a rectified adaptive learning rate in the first steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, StepContext, decayed_grad, docs


@dataclass(frozen=True)
class RAdamParams(Params):
    """``torch.optim.RAdam``'s keywords and defaults."""

    lr: Real = common.lr(1e-3)
    betas: tuple[Real, Real] = common.betas()
    eps: Real = common.eps(1e-8)
    weight_decay: Real = common.weight_decay()
    decoupled_weight_decay: bool = common.decoupled_weight_decay("decoupled weight decay (RAdamW)")


def _rectification(rho_t: float, rho_inf: float) -> float:
    """rₜ, defined once ρₜ > 5 (NaN before: that branch does not use it)."""
    if rho_t > 5.0:
        return float(((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5)
    return math.nan


class RAdam(Optimizer[RAdamParams]):
    r"""RAdam as in ``torch.optim.RAdam``.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        \hat m_t \leftarrow m_t / (1-\beta_1^t) \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1,\quad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,\hat m_t\, r_t\,
            \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}
            \ \ (\rho_t > 5),\quad\text{else } \theta_t \leftarrow \theta_{t-1} - \eta\,\hat m_t \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}

    Weight decay adds λθ to g (or decays θ by 1 − ηλ when ``decoupled_weight_decay``).
    Effective learning rate: ``η·rₜ·√(1−β₂ᵗ)/(√vₜ+ε)`` once rectified, η before. With a
    per-row β₂ each row switches branch at its own step.
    """

    name = "radam"
    title = "RAdam"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)", "velocity_new"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("bias_correction1", r"1-\beta_1^t", "bias correction of the first moment", lambda c: _bc(c, 0)),
        Derived("bias_correction2", r"1-\beta_2^t", "bias correction of the second moment", lambda c: _bc(c, 1)),
        Derived("m_hat", r"\hat m_t", "bias-corrected first moment", lambda c: c.buf("exp_avg") / _bc(c, 0)),
        Derived("rho_inf", r"\rho_\infty", "the largest length of the approximated moving average",
                lambda c: 2 / (1 - c.number("betas", 1)) - 1),
        Derived("rho_t", r"\rho_t", "this step's length; the variance is rectified once ρₜ > 5", lambda c: _rho(c)),
        Derived("rectification", r"r_t", "the variance rectification (only once ρₜ > 5)",
                lambda c: _rectification(_rho(c), 2 / (1 - c.number("betas", 1)) - 1) if _rho(c) > 5 else None),
        Derived("denom", r"(\sqrt{v_t} + \epsilon)/\sqrt{1-\beta_2^t}", "the preconditioner's per-axis scale "
                "(once ρₜ > 5)", lambda c: (np.sqrt(c.buf("exp_avg_sq")) + c.number("eps")) / _bc(c, 1) ** 0.5
                if _rho(c) > 5 else None, "scale"),
        Derived("velocity_old", r"\beta_1 m_{t-1}", "the old first moment, decayed",
                lambda c: c.number("betas", 0) * c.buf("exp_avg", after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\beta_1) g_t", "the scaled gradient added to the first moment",
                lambda c: (1 - c.number("betas", 0)) * decayed_grad(c), "velocity_add"),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _update(self, hp: RAdamParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr, wd = hp.lr, hp.weight_decay
        beta1, beta2 = hp.betas
        step = float(t)
        if hp.decoupled_weight_decay:
            if common.nonzero(wd):
                p *= 1 - lr * wd  # exactly 1 in rows with λ = 0
        else:
            g = common.decay(g, p, wd)
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        common.lerp_(m, g, 1 - beta1)
        v *= beta2
        v += ((1 - beta2) * g) * g
        bias_correction1 = 1 - common.power(beta1, step)
        bias_correction2 = 1 - common.power(beta2, step)
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * common.power(beta2, step) / bias_correction2
        rectified = rho_t > 5.0
        if isinstance(rectified, np.ndarray) and not rectified.all():
            plain = -1.0 * (m_hat * lr)
            if not rectified.any():
                p += plain
                if eff is not None:
                    eff[...] = lr
                return
        elif rectified:
            plain = None
        else:
            p += -1.0 * (m_hat * lr)
            if eff is not None:
                eff[...] = lr
            return
        # Rectified (in every row, or in some: ``plain`` holds the others' step).
        rect = common.rowwise(_rectification, rho_t, rho_inf)
        sqrt_v = np.sqrt(v)
        sqrt_v += hp.eps
        adaptive = common.power(bias_correction2, 0.5) / sqrt_v
        update = -1.0 * (((m_hat * lr) * adaptive) * rect)
        p += update if plain is None else common.choose(rectified, update, plain)
        if eff is not None:
            np.multiply(lr * rect, adaptive, out=eff)
            if plain is not None:
                np.copyto(eff, np.broadcast_to(lr, eff.shape), where=~rectified)


def _bc(c: StepContext, i: int) -> float:
    return float(1 - common.power(c.number("betas", i), float(c.t)))


def _rho(c: StepContext) -> float:
    beta2 = c.number("betas", 1)
    rho_inf = 2 / (1 - beta2) - 1
    return float(rho_inf - 2 * float(c.t) * common.power(beta2, float(c.t)) / _bc(c, 1))
