"""Adamax: Adam with the infinity norm of past gradients in place of the second moment."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.adam import _lerp_
from gdstudio.engine.optimizers.base import Array, Optimizer


class Adamax(Optimizer):
    r"""Adamax as in ``torch.optim.Adamax``.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        u_t \leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    Weight decay adds λθ to g. Effective learning rate: ``η/(1−β₁ᵗ)/uₜ``.
    """

    name = "adamax"
    title = "Adamax"
    hyperparams = (
        common.lr(2e-3),
        common.betas(),
        common.eps(1e-8),
        common.weight_decay(),
    )
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_inf"

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        beta1, beta2 = self.hp["betas"]  # type: ignore[misc]
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        if wd != 0:
            g = g + wd * p
        m, u = bufs["exp_avg"], bufs["exp_inf"]
        _lerp_(m, g, 1 - beta1)
        u *= beta2
        norm = np.abs(g)
        norm += float(self.hp["eps"])  # type: ignore[arg-type]
        np.maximum(u, norm, out=u)
        clr = lr / (1 - beta1 ** float(t))
        p += (-clr * m) / u
        if eff is not None:
            np.divide(clr, u, out=eff)
