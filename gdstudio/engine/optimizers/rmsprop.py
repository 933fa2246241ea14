"""RMSProp: steps scaled by a running average of squared gradients."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.adam import _lerp_
from gdstudio.engine.optimizers.base import Array, Optimizer


class RMSprop(Optimizer):
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
    hyperparams = (
        common.lr(1e-2),
        common.unit("alpha", "α", 0.99, "smoothing constant of the squared-gradient average"),
        common.eps(1e-8),
        common.weight_decay(),
        common.nonneg("momentum", "γ", 0.0, "momentum applied to the scaled step", 0.999),
        common.flag("centered", "C", "centered: divide by the gradient's estimated variance instead"),
    )
    first_moment_buffer = "momentum_buffer"
    second_moment_buffer = "square_avg"

    def _buffers(self) -> dict[str, float]:
        names = {"square_avg": 0.0}
        if self.hp["momentum"] > 0:  # type: ignore[operator]
            names["momentum_buffer"] = 0.0
        if self.hp["centered"]:
            names["grad_avg"] = 0.0
        return names

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        alpha = float(self.hp["alpha"])  # type: ignore[arg-type]
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        momentum = float(self.hp["momentum"])  # type: ignore[arg-type]
        if wd != 0:
            g = g + wd * p
        v = bufs["square_avg"]
        v *= alpha
        v += ((1 - alpha) * g) * g
        if self.hp["centered"]:
            gbar = bufs["grad_avg"]
            _lerp_(gbar, g, 1 - alpha)
            avg = np.sqrt(v + (-1.0 * gbar) * gbar)
        else:
            avg = np.sqrt(v)
        avg += float(self.hp["eps"])  # type: ignore[arg-type]
        if momentum > 0:
            buf = bufs["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p += -lr * buf
        else:
            p += (-lr * g) / avg
        if eff is not None:
            np.divide(lr, avg, out=eff)
