"""AdaGrad: per-parameter steps shrinking with the sum of squared gradients."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer


class Adagrad(Optimizer):
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
    hyperparams = (
        common.lr(1e-2),
        common.nonneg("lr_decay", "δ", 0.0, "learning-rate decay: η / (1 + (t−1)·δ)"),
        common.weight_decay(),
        common.nonneg(
            "initial_accumulator_value", "s₀", 0.0, "starting value of the squared-gradient sum", 10.0
        ),
        common.eps(1e-10),
    )
    second_moment_buffer = "sum"

    def _buffers(self) -> dict[str, float]:
        return {"sum": float(self.hp["initial_accumulator_value"])}  # type: ignore[arg-type]

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        if wd != 0:
            g = g + wd * p
        clr = lr / (1 + (t - 1) * float(self.hp["lr_decay"]))  # type: ignore[arg-type]
        s = bufs["sum"]
        s += g * g
        std = np.sqrt(s)
        std += float(self.hp["eps"])  # type: ignore[arg-type]
        p += (-clr * g) / std
        if eff is not None:
            np.divide(clr, std, out=eff)
