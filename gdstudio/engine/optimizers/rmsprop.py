"""RMSProp: steps scaled by a running average of squared gradients."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, StepContext, decayed_grad, docs


@dataclass(frozen=True)
class RMSpropParams(Params):
    """``torch.optim.RMSprop``'s keywords and defaults."""

    lr: Real = common.lr(1e-2)
    alpha: Real = common.unit("α", 0.99, "smoothing constant of the squared-gradient average")
    eps: Real = common.eps(1e-8)
    weight_decay: Real = common.weight_decay()
    momentum: Real = common.nonneg("γ", 0.0, "momentum applied to the scaled step", 0.999)
    centered: bool = common.flag("C", "centered: divide by the gradient's estimated variance instead")


class RMSprop(Optimizer[RMSpropParams]):
    r"""RMSProp as in ``torch.optim.RMSprop``.

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        v_t &\leftarrow \alpha v_{t-1} + (1-\alpha) g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1-\alpha) g_t,\quad
        r_t \leftarrow \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered)}, \text{ else } \sqrt{v_t} + \epsilon \\
        b_t &\leftarrow \gamma b_{t-1} + g_t / r_t,\quad \theta_t \leftarrow \theta_{t-1} - \eta b_t
              \ \ (\gamma > 0), \text{ else } \theta_t \leftarrow \theta_{t-1} - \eta\, g_t / r_t

    Effective learning rate: ``η / rₜ``. Seed 000 calls α "beta" and puts ε outside the
    division; seed 001 uses α = 0.99 (torch's default) and ε = 1e-7.
    """

    name = "rmsprop"
    title = "RMSProp"
    first_moment_buffer = "momentum_buffer"
    second_moment_buffer = "square_avg"
    buffer_docs = docs({
        "square_avg": BufferDoc(r"v_t", "running average of g² (α)"),
        "grad_avg": BufferDoc(r"\bar g_t", "centered: running average of g (α)"),
        "momentum_buffer": BufferDoc(r"b_t", "momentum buffer of the scaled steps: γ b_{t−1} + g_t/r_t",
                                     "velocity_new"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("avg", r"r_t", "the per-axis scale √v (centered: √(v − ḡ²)) + ε: the step divides by it",
                lambda c: _avg(c), "scale"),
        Derived("velocity_old", r"\gamma b_{t-1}", "the old momentum buffer, decayed",
                lambda c: c.number("momentum") * c.buf("momentum_buffer", after=False)
                if c.number("momentum") > 0 else None, "velocity_old"),
        Derived("velocity_add", r"g_t / r_t", "the scaled gradient added to the momentum buffer",
                lambda c: decayed_grad(c) / _avg(c) if c.number("momentum") > 0 else None, "velocity_add"),
    )

    def _buffers(self) -> dict[str, Real]:
        names: dict[str, Real] = {"square_avg": 0.0}
        if common.nonzero(self.hp.momentum):
            names["momentum_buffer"] = 0.0
        if self.hp.centered:
            names["grad_avg"] = 0.0
        return names

    def update_latex(self) -> str:
        """Centered or not, with momentum or not, weight decay only if non-zero."""
        hp = self.hp
        lines = []
        if common.nonzero(hp.weight_decay):
            lines.append(r"g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}")
        lines.append(r"v_t &\leftarrow \alpha v_{t-1} + (1-\alpha)\, g_t^2")
        if hp.centered:
            lines += [r"\bar g_t &\leftarrow \alpha \bar g_{t-1} + (1-\alpha)\, g_t",
                      r"r_t &= \sqrt{v_t - \bar g_t^2} + \epsilon"]
        else:
            lines.append(r"r_t &= \sqrt{v_t} + \epsilon")
        if common.nonzero(hp.momentum):
            lines += [r"b_t &\leftarrow \gamma b_{t-1} + g_t / r_t", r"\theta_t &\leftarrow \theta_{t-1} - \eta\, b_t"]
        else:
            lines.append(r"\theta_t &\leftarrow \theta_{t-1} - \eta\, g_t / r_t")
        return " \\\\\n".join([*lines, self.values_latex()])

    def _update(self, hp: RMSpropParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr, alpha, momentum = hp.lr, hp.alpha, hp.momentum
        g = common.decay(g, p, hp.weight_decay)
        v = bufs["square_avg"]
        v *= alpha
        v += ((1 - alpha) * g) * g
        if hp.centered:
            gbar = bufs["grad_avg"]
            common.lerp_(gbar, g, 1 - alpha)
            avg = np.sqrt(v + (-1.0 * gbar) * gbar)
        else:
            avg = np.sqrt(v)
        avg += hp.eps
        if common.nonzero(momentum):  # γ ≥ 0, so γ > 0 in some row
            buf = bufs["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            step = -lr * buf
            if isinstance(momentum, np.ndarray):
                step = common.choose(momentum > 0, step, (-lr * g) / avg)
            p += step
        else:
            p += (-lr * g) / avg
        if eff is not None:
            np.divide(lr, avg, out=eff)


def _avg(c: StepContext) -> Array:
    """rₜ as the step computed it."""
    v = c.buf("square_avg")
    if c.flag("centered"):
        gbar = c.buf("grad_avg")
        return np.sqrt(v + (-1.0 * gbar) * gbar) + c.number("eps")
    return np.sqrt(v) + c.number("eps")
