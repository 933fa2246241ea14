"""AdaGrad: per-parameter steps shrinking with the sum of squared gradients."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, docs


@dataclass(frozen=True)
class AdagradParams(Params):
    """``torch.optim.Adagrad``'s keywords and defaults."""

    lr: Real = common.lr(1e-2)
    lr_decay: Real = common.nonneg("δ", 0.0, "learning-rate decay: η / (1 + (t−1)·δ)")
    weight_decay: Real = common.weight_decay()
    initial_accumulator_value: Real = common.nonneg(
        "s₀", 0.0, "starting value of the squared-gradient sum", 10.0)
    eps: Real = common.eps(1e-10)


class Adagrad(Optimizer[AdagradParams]):
    r"""AdaGrad as in ``torch.optim.Adagrad``.

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}, \qquad
        \tilde\eta_t \leftarrow \frac{\eta}{1 + (t-1)\,\delta} \\
        s_t &\leftarrow s_{t-1} + g_t^2 \quad (s_0 = \text{initial\_accumulator\_value}) \\
        \theta_t &\leftarrow \theta_{t-1} - \tilde\eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}

    Effective learning rate: ``η̃ₜ / (√sₜ + ε)``. Seed 000 writes ``(η/√s + ε)·g`` with ε
    outside the division and sums (not averages) the data gradients; seed 001 uses ε = 1e-7.
    """

    name = "adagrad"
    title = "AdaGrad"
    second_moment_buffer = "sum"
    buffer_docs = docs({"sum": BufferDoc(r"s_t", "running sum of squared gradients (from s₀)")})
    derived = (
        DECAYED_GRAD,
        Derived("clr", r"\tilde\eta_t = \eta/(1 + (t-1)\delta)", "the decayed learning rate",
                lambda c: c.number("lr") / (1 + (c.t - 1) * c.number("lr_decay"))),
        Derived("std", r"\sqrt{s_t} + \epsilon", "the preconditioner's per-axis scale: the step divides by it",
                lambda c: np.sqrt(c.buf("sum")) + c.number("eps"), "scale"),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"sum": self.hp.initial_accumulator_value}

    def update_latex(self) -> str:
        """The decayed rate only if δ ≠ 0, weight decay only if λ ≠ 0."""
        hp = self.hp
        lines = []
        if common.nonzero(hp.weight_decay):
            lines.append(r"g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}")
        lines.append(r"s_t &\leftarrow s_{t-1} + g_t^2 \quad (s_0 = \text{initial accumulator value})")
        if common.nonzero(hp.lr_decay):
            lines += [r"\tilde\eta_t &= \frac{\eta}{1 + (t-1)\,\delta}",
                      r"\theta_t &\leftarrow \theta_{t-1} - \tilde\eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}"]
        else:
            lines.append(r"\theta_t &\leftarrow \theta_{t-1} - \eta \frac{g_t}{\sqrt{s_t} + \epsilon}")
        return " \\\\\n".join([*lines, self.values_latex()])

    def _update(self, hp: AdagradParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        g = common.decay(g, p, hp.weight_decay)
        clr = hp.lr / (1 + (t - 1) * hp.lr_decay)
        s = bufs["sum"]
        s += g * g
        std = np.sqrt(s)
        std += hp.eps
        p += (-clr * g) / std
        if eff is not None:
            np.divide(clr, std, out=eff)
