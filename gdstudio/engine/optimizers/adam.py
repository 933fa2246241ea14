"""Adam, with torch's ``decoupled_weight_decay`` switch (AdamW is the registry's ``adamw`` entry)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, StepContext, decayed_grad, docs


@dataclass(frozen=True)
class AdamParams(Params):
    """``torch.optim.Adam``'s keywords and defaults (AdamW: decoupled, λ = 0.01)."""

    lr: Real = common.lr(1e-3)
    betas: tuple[Real, Real] = common.betas()
    eps: Real = common.eps(1e-8)
    weight_decay: Real = common.weight_decay()
    amsgrad: bool = common.flag("AMS", "AMSGrad: divide by the largest second moment seen so far")
    decoupled_weight_decay: bool = common.decoupled_weight_decay(
        "decoupled weight decay (AdamW): shrink θ by 1 − ηλ instead of adding λθ to g")


class Adam(Optimizer[AdamParams]):
    r"""Adam as in ``torch.optim.Adam``; with ``decoupled_weight_decay``, ``torch.optim.AdamW``.

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}
              \quad (\text{decoupled: } \theta_{t-1} \leftarrow \theta_{t-1}(1 - \eta\lambda),\ g_t = \nabla f) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2
              \quad (\hat v_t^{\max} \leftarrow \max(\hat v_{t-1}^{\max}, v_t) \text{ with AMSGrad}) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Decoupled weight decay (AdamW, Loshchilov & Hutter) shrinks θ itself, so the decay is not
    rescaled by the adaptive denominator; the registry's ``adamw`` is this rule with it on and
    λ = 0.01, torch's AdamW defaults.
    Effective learning rate: ``η/(1−β₁ᵗ) / (√vₜ/√(1−β₂ᵗ) + ε)``, the factor applied to mₜ.
    Seed 000 writes ``(η/√v̂ + ε)·m̂``, with ε outside the division (0/0 at a zero gradient);
    seed 001 adds ε to the uncorrected √v; both equal this rule at ε = 0.
    """

    name = "adam"
    title = "Adam"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: running average of g (β₁)", "velocity_new"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
        "max_exp_avg_sq": BufferDoc(r"v^{\max}_t", "AMSGrad: the largest v seen so far (divides instead of v)"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("bias_correction1", r"1-\beta_1^t", "bias correction of the first moment",
                lambda c: _bc(c, 0)),
        Derived("bias_correction2", r"1-\beta_2^t", "bias correction of the second moment",
                lambda c: _bc(c, 1)),
        Derived("m_hat", r"\hat m_t = m_t/(1-\beta_1^t)", "bias-corrected first moment",
                lambda c: c.buf("exp_avg") / _bc(c, 0)),
        Derived("v_hat", r"\hat v_t = v_t/(1-\beta_2^t)", "bias-corrected second moment (AMSGrad: of the max)",
                lambda c: _v(c) / _bc(c, 1)),
        Derived("denom", r"\sqrt{\hat v_t} + \epsilon", "the preconditioner's per-axis scale: the step divides by it",
                lambda c: np.sqrt(_v(c)) / common.power(_bc(c, 1), 0.5) + c.number("eps"), "scale"),
        Derived("velocity_old", r"\beta_1 m_{t-1}", "the old first moment, decayed",
                lambda c: c.number("betas", 0) * c.buf("exp_avg", after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\beta_1) g_t", "the scaled gradient added to the first moment",
                lambda c: (1 - c.number("betas", 0)) * decayed_grad(c), "velocity_add"),
    )

    def update_latex(self) -> str:
        hp = self.hp
        lines = []
        if common.nonzero(hp.weight_decay):
            if hp.decoupled_weight_decay:
                lines.append(r"\theta_{t-1} &\leftarrow \theta_{t-1}(1 - \eta\lambda) \quad \text{(decoupled, AdamW)}")
            else:
                lines.append(r"g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}")
        lines += [r"m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t",
                  r"v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2"]
        v = "v_t"
        if hp.amsgrad:
            lines.append(r"v^{\max}_t &\leftarrow \max(v^{\max}_{t-1},\ v_t)")
            v = r"v^{\max}_t"
        lines += [rf"\hat m_t &= \frac{{m_t}}{{1-\beta_1^t}},\quad \hat v_t = \frac{{{v}}}{{1-\beta_2^t}}",
                  r"\theta_t &\leftarrow \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}",
                  self.values_latex()]
        return " \\\\\n".join(lines)

    def _buffers(self) -> dict[str, Real]:
        names: dict[str, Real] = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self.hp.amsgrad:
            names["max_exp_avg_sq"] = 0.0
        return names

    def _update(self, hp: AdamParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = hp.lr
        beta1, beta2 = hp.betas
        wd = hp.weight_decay
        if hp.decoupled_weight_decay:
            if common.nonzero(wd):
                p *= 1 - lr * wd  # exactly 1 in rows with λ = 0
        else:
            g = common.decay(g, p, wd)
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        # Two scratch arrays reused in place (fewer passes over memory at large N); the
        # arithmetic and its order are torch's: lerp, v·β₂ + ((1−β₂)·g)·g, √v/√bc₂ + ε.
        d = g - m
        if isinstance(beta1, float) and 1 - beta1 < 0.5:
            d *= 1 - beta1
            m += d  # lerp, weight < 0.5: m + w·(g − m)
        else:
            common.lerp_(m, g, 1 - beta1)
        s = g * (1 - beta2)
        s *= g
        v *= beta2
        v += s
        step_size = lr / (1 - common.power(beta1, t))
        # torch's float pow, not math.sqrt: they differ by an ulp at times
        bc2_sqrt = common.power(1 - common.power(beta2, t), 0.5)
        if hp.amsgrad:
            vmax = bufs["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax, out=s)
        else:
            denom = np.sqrt(v, out=s)
        denom /= bc2_sqrt
        denom += hp.eps
        np.multiply(m, -step_size, out=d)
        d /= denom
        p += d
        if eff is not None:
            np.divide(step_size, denom, out=eff)


def _bc(c: StepContext, i: int) -> float:
    """1 − βᵢᵗ as the step computed it."""
    return float(1 - common.power(c.number("betas", i), float(c.t)))


def _v(c: StepContext) -> Array:
    return c.buf("max_exp_avg_sq") if c.flag("amsgrad") else c.buf("exp_avg_sq")
