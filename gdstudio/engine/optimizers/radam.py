"""RAdam: Adam with a rectified adaptive learning rate in the first steps."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.adam import _lerp_
from gdstudio.engine.optimizers.base import Array, Optimizer


class RAdam(Optimizer):
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
    Effective learning rate: ``η·rₜ·√(1−β₂ᵗ)/(√vₜ+ε)`` once rectified, η before.
    """

    name = "radam"
    title = "RAdam"
    hyperparams = (
        common.lr(1e-3),
        common.betas(),
        common.eps(1e-8),
        common.weight_decay(),
        common.flag("decoupled_weight_decay", "W", "decoupled weight decay (RAdamW)"),
    )
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"

    def _buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        beta1, beta2 = self.hp["betas"]  # type: ignore[misc]
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        step = float(t)
        if wd != 0:
            if self.hp["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        _lerp_(m, g, 1 - beta1)
        v *= beta2
        v += ((1 - beta2) * g) * g
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            sqrt_v = np.sqrt(v)
            sqrt_v += float(self.hp["eps"])  # type: ignore[arg-type]
            adaptive = (bias_correction2**0.5) / sqrt_v
            p += -1.0 * (((m_hat * lr) * adaptive) * rect)
            if eff is not None:
                np.multiply(lr * rect, adaptive, out=eff)
        else:
            p += -1.0 * (m_hat * lr)
            if eff is not None:
                eff[...] = lr
