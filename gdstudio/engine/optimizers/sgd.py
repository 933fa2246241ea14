"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from dataclasses import dataclass

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real


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

    def _buffers(self) -> dict[str, Real]:
        return {"momentum_buffer": 0.0} if common.nonzero(self.hp.momentum) else {}

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
