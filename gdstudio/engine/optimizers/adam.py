"""Adam and AdamW (decoupled weight decay)."""

from __future__ import annotations

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer


class Adam(Optimizer):
    r"""Adam as in ``torch.optim.Adam``.

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2
              \quad (\hat v_t^{\max} \leftarrow \max(\hat v_{t-1}^{\max}, v_t) \text{ with AMSGrad}) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Effective learning rate: ``η/(1−β₁ᵗ) / (√vₜ/√(1−β₂ᵗ) + ε)``, the factor applied to mₜ.
    Seed 000 writes ``(η/√v̂ + ε)·m̂``, with ε outside the division (0/0 at a zero gradient);
    seed 001 adds ε to the uncorrected √v; both equal this rule at ε = 0.
    """

    name = "adam"
    title = "Adam"
    decoupled = False
    hyperparams = (
        common.lr(1e-3),
        common.betas(),
        common.eps(1e-8),
        common.weight_decay(),
        common.flag("amsgrad", "AMS", "AMSGrad: divide by the largest second moment seen so far"),
    )
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"

    def _buffers(self) -> dict[str, float]:
        names = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self.hp["amsgrad"]:
            names["max_exp_avg_sq"] = 0.0
        return names

    def _update(self, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr = self._lr(bufs)
        beta1, beta2 = self.hp["betas"]  # type: ignore[misc]
        eps = float(self.hp["eps"])  # type: ignore[arg-type]
        wd = float(self.hp["weight_decay"])  # type: ignore[arg-type]
        if wd != 0:
            if self.decoupled:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        # Two scratch arrays reused in place (fewer passes over memory at large N); the
        # arithmetic and its order are torch's: lerp, v·β₂ + ((1−β₂)·g)·g, √v/√bc₂ + ε.
        d = g - m
        if 1 - beta1 < 0.5:
            d *= 1 - beta1
            m += d  # lerp, weight < 0.5: m + w·(g − m)
        else:
            _lerp_(m, g, 1 - beta1)
        s = g * (1 - beta2)
        s *= g
        v *= beta2
        v += s
        step_size = lr / (1 - beta1**t)
        bc2_sqrt = (1 - beta2**t) ** 0.5  # torch's float pow, not math.sqrt: they differ by an ulp at times
        if self.hp["amsgrad"]:
            vmax = bufs["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax, out=s)
        else:
            denom = np.sqrt(v, out=s)
        denom /= bc2_sqrt
        denom += eps
        np.multiply(m, -step_size, out=d)
        d /= denom
        p += d
        if eff is not None:
            np.divide(step_size, denom, out=eff)


class AdamW(Adam):
    r"""AdamW as in ``torch.optim.AdamW``: Adam with decoupled weight decay.

    .. math::
        \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \eta\lambda) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The gradient gₜ = ∇f(θ) gets no λθ: the decay shrinks θ itself, so it is not rescaled by
    the adaptive denominator (Loshchilov & Hutter). λ defaults to 0.01.
    Effective learning rate: as Adam's, ``η/(1−β₁ᵗ) / (√vₜ/√(1−β₂ᵗ) + ε)``.
    """

    name = "adamw"
    title = "AdamW"
    decoupled = True
    hyperparams = (
        common.lr(1e-3),
        common.betas(),
        common.eps(1e-8),
        common.weight_decay(1e-2),
        common.flag("amsgrad", "AMS", "AMSGrad: divide by the largest second moment seen so far"),
    )


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """In-place ``start ← lerp(start, end, weight)`` with torch's two-branch formula."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
