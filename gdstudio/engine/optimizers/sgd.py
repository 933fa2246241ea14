"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Mapping

from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer


class SGD(Optimizer):
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
    hyperparams = (
        common.lr(1e-3),
        common.nonneg("momentum", "γ", 0.0, "momentum: fraction of the previous velocity kept each step", 0.999),
        common.unit("dampening", "τ", 0.0, "dampening: scales down the new gradient added to the velocity"),
        common.weight_decay(),
        common.flag("nesterov", "NAG", "Nesterov momentum: look ahead along the velocity"),
    )
    first_moment_buffer = "momentum_buffer"

    def _check(self, hp: Mapping[str, Value]) -> None:
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):  # type: ignore[operator]
            raise ValueError(
                "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening)"
            )

    def _buffers(self) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if self.hp["momentum"] != 0 else {}

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        momentum = float(self.hp["momentum"])  # type: ignore[arg-type]
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        if wd != 0:
            g = g + wd * p
        if momentum != 0:
            buf = bufs["momentum_buffer"]
            if t == 1:
                buf[...] = g
            else:
                buf *= momentum
                buf += (1 - float(self.hp["dampening"])) * g  # type: ignore[arg-type]
            d = g + momentum * buf if self.hp["nesterov"] else buf
        else:
            d = g
        p += -lr * d
        if eff is not None:
            eff[...] = lr
