"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from dataclasses import dataclass

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import (
    DECAYED_GRAD,
    BufferDoc,
    Derived,
    StepContext,
    Value,
    decayed_grad,
    docs,
)


@dataclass(frozen=True)
class SGDParams(Params):
    """``torch.optim.SGD``'s keywords and defaults."""

    lr: Real = common.lr(1e-3)
    momentum: Real = common.nonneg("γ", 0.0, "momentum: fraction of the previous velocity kept each step", 0.999)
    dampening: Real = common.unit("τ", 0.0, "dampening: scales down the new gradient added to the velocity")
    weight_decay: Real = common.weight_decay()
    nesterov: bool = common.flag("NAG", "Nesterov momentum: look ahead along the velocity")

    def check(self) -> None:
        where = common.rows_where((self.momentum <= 0) | (self.dampening != 0)) if self.nesterov else None
        if where is not None:
            raise ValueError(
                f"Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening){where}"
            )


class SGD(Optimizer[SGDParams]):
    r"""SGD as in ``torch.optim.SGD``.

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        b_t &\leftarrow g_t \ (t=1), \quad b_t \leftarrow \gamma b_{t-1} + (1-\tau) g_t \ (t>1) \\
        d_t &\leftarrow g_t + \gamma b_t \ \text{(Nesterov)}, \quad d_t \leftarrow b_t \ \text{(classical)} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, d_t

    With γ = 0 this is plain gradient descent ``θ ← θ − η g``. The article form
    ``v ← γv − ηg; θ ← θ + v`` (seeds 001, 004) is the same trajectory with ``v = −η b``;
    seed 000's NAG (gradient at the look-ahead θ − γv) is Nesterov's θ after the change of
    variable θ_torch = θ − γv. Effective learning rate: η.
    """

    name = "sgd"
    title = "SGD"
    first_moment_buffer = "momentum_buffer"
    buffer_docs = docs({
        "momentum_buffer": BufferDoc(r"b_t", "momentum buffer (velocity, in gradient units): γ b_{t−1} + (1−τ) g_t",
                                     "velocity_new"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("velocity_old", r"\gamma b_{t-1}", "the old velocity, decayed (0 at the first step)",
                lambda c: _velocity_old(c), "velocity_old"),
        Derived("velocity_add", r"(1-\tau) g_t", "the scaled gradient added to the velocity (g_t at the first step)",
                lambda c: _velocity_add(c), "velocity_add"),
        Derived("lookahead", r"\theta_{t-1} = \vartheta_{t-1} + \gamma v_{t-1}",
                "Nesterov: torch takes g at its iterate θ, which is the look-ahead point of the classical form "
                "(ϑ the classical iterate, v = −ηb its velocity)",
                lambda c: c.param_before if c.flag("nesterov") else None, "gradient_point"),
        Derived("classical_theta", r"\vartheta_{t-1} = \theta_{t-1} + \eta\gamma b_{t-1}",
                "Nesterov: the classical NAG iterate (the look-ahead point minus γv)",
                lambda c: c.param_before + c.number("lr") * c.number("momentum") * c.buf("momentum_buffer", after=False)
                if c.flag("nesterov") else None),
        Derived("direction", r"d_t = g_t + \gamma b_t", "Nesterov: the direction the step moves against",
                lambda c: decayed_grad(c) + c.number("momentum") * c.buf("momentum_buffer")
                if c.flag("nesterov") else None),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"momentum_buffer": 0.0} if common.nonzero(self.hp.momentum) else {}

    def update_latex(self) -> str:
        """The plain, classical-momentum or Nesterov form, with weight decay and dampening only if non-zero."""
        hp = self.hp
        lines = []
        if common.nonzero(hp.weight_decay):
            lines.append(r"g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}")
        if not common.nonzero(hp.momentum):
            lines.append(r"\theta_t &\leftarrow \theta_{t-1} - \eta\, g_t")
        else:
            damp = r"(1-\tau)\," if common.nonzero(hp.dampening) else ""
            lines.append(rf"b_t &\leftarrow \gamma b_{{t-1}} + {damp}g_t \quad (b_1 = g_1)")
            if hp.nesterov:
                lines.append(r"\theta_t &\leftarrow \theta_{t-1} - \eta\,(g_t + \gamma b_t)"
                             r"\quad \text{(Nesterov: } g_t \text{ at the look-ahead } \vartheta + \gamma v)")
            else:
                lines.append(r"\theta_t &\leftarrow \theta_{t-1} - \eta\, b_t")
        return " \\\\\n".join([*lines, self.values_latex()])

    def _update(self, hp: SGDParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr, momentum = hp.lr, hp.momentum
        g = common.decay(g, p, hp.weight_decay)
        d = g
        if common.nonzero(momentum):
            buf = bufs["momentum_buffer"]
            if t == 1:
                buf[...] = g
            else:
                buf *= momentum
                buf += (1 - hp.dampening) * g
            d = common.choose(momentum != 0, g + momentum * buf if hp.nesterov else buf, g)
        p += -lr * d
        if eff is not None:
            eff[...] = lr


def _velocity_old(c: StepContext) -> Value:
    if c.number("momentum") == 0:
        return None
    if c.t == 1:
        return c.buf("momentum_buffer") * 0.0
    return c.buf("momentum_buffer", after=False) * c.number("momentum")


def _velocity_add(c: StepContext) -> Value:
    if c.number("momentum") == 0:
        return None
    g = decayed_grad(c)
    return g if c.t == 1 else (1 - c.number("dampening")) * g
