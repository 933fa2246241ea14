"""NAdam: Adam with a Nesterov look-ahead on the first moment and momentum decay."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.adam import _lerp_
from gdstudio.engine.optimizers.base import Array, Optimizer


class NAdam(Optimizer):
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
    (torch keeps it in its default dtype: set float64 there to compare).
    """

    name = "nadam"
    title = "NAdam"
    hyperparams = (
        common.lr(2e-3),
        common.betas(),
        common.eps(1e-8),
        common.weight_decay(),
        common.nonneg("momentum_decay", "ψ", 4e-3, "momentum decay ψ of the μ schedule", 0.1),
        common.flag("decoupled_weight_decay", "W", "decoupled weight decay (NAdamW)"),
    )
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _initial_scalars(self) -> dict[str, float]:
        return {"mu_product": 1.0, "mu": 0.0, "mu_next": 0.0}

    def _advance_scalars(self, t: int, scalars: dict[str, float]) -> None:
        beta1 = self.hp["betas"][0]  # type: ignore[index]
        psi = float(self.hp["momentum_decay"])  # type: ignore[arg-type]
        step = float(t)
        scalars["mu"] = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        scalars["mu_next"] = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        scalars["mu_product"] *= scalars["mu"]

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        beta1, beta2 = self.hp["betas"]  # type: ignore[misc]
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        bias_correction2 = 1 - beta2 ** float(t)
        if wd != 0:
            if self.hp["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        mu, mu_next, mu_product = scalars["mu"], scalars["mu_next"], scalars["mu_product"]
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        _lerp_(m, g, 1 - beta1)
        v *= beta2
        v += ((1 - beta2) * g) * g
        denom = np.sqrt(v / bias_correction2)
        denom += float(self.hp["eps"])  # type: ignore[arg-type]
        mu_product_next = mu_product * mu_next
        p += ((-lr * (1.0 - mu) / (1.0 - mu_product)) * g) / denom
        p += (((-lr * mu_next) / (1.0 - mu_product_next)) * m) / denom
        if eff is not None:
            np.divide(lr, denom, out=eff)
