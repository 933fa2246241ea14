"""MADGRAD: momentumized, adaptive, dual-averaged gradient descent (pytorch_optimizer 4.1.0's ``MADGRAD``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs


def _cube_root(total: Array, eps: Real) -> Array:
    """``MADGRAD.compute_rms``: ∛(Σλg²) + ε, with ∞ where that is 0 and ε = 0 (inactive coordinates)."""
    rms: Array = np.power(total, 1.0 / 3.0) + eps
    if isinstance(eps, np.ndarray):
        rms[(rms == 0) & (eps == 0)] = np.inf
    elif eps == 0.0:
        rms[rms == 0] = np.inf
    return rms


@dataclass(frozen=True)
class MADGRADParams(Params):
    """``pytorch_optimizer.MADGRAD``'s keywords and defaults."""

    lr: Real = community.lr(1e-3)
    momentum: Real = community.ref_param(
        0.9, "γ", "momentum: interpolation towards the dual-averaging point (0: jump to it)", low=0.0, high=1.0,
        high_open=True, soft_high=0.9999, message="momentum must be in the range [0.0, 1.0)")
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(False)
    eps: Real = community.eps(1e-6)


class MADGRAD(Optimizer[MADGRADParams]):
    r"""MADGRAD (Defazio & Jelassi 2021) as in ``pytorch_optimizer.MADGRAD`` 4.1.0.

    .. math::
        \lambda_t &= (\eta + \epsilon)\sqrt{t} \ (0 \text{ at } \eta = 0),\quad
        s_t \leftarrow s_{t-1} + \lambda_t g_t,\quad
        \nu_t \leftarrow \nu_{t-1} + \lambda_t g_t^2 \\
        z_t &= \theta_0 - \frac{s_t}{\sqrt[3]{\nu_t} + \epsilon},\quad
        \theta_t \leftarrow \gamma\,\theta_{t-1} + (1-\gamma)\, z_t

    A dual-averaging method: θ is pulled towards z, the start minus the weighted sum of all
    gradients scaled by the cube root of their weighted squares. With γ = 0, θ₀ is replaced each
    step by θₜ₋₁ + sₜ₋₁/(∛νₜ₋₁ + ε) and θₜ = z. Weight decay coupled by default (``g + λθ``),
    else θ ← θ − (η+ε)λ θₜ₋₁ after the step. Effective learning rate: ``λₜ / (∛νₜ + ε)``, the
    factor applied to this step's gₜ (through sₜ).
    """

    name = "madgrad"
    title = "MADGRAD"
    first_moment_buffer = "s"
    second_moment_buffer = "grad_sum_sq"
    buffer_docs = docs({
        "grad_sum_sq": BufferDoc(r"\nu_t", "weighted sum of the squared gradients (the cube-root scale)"),
        "s": BufferDoc(r"s_t", "weighted sum of the gradients (dual averaging)"),
        "x0": BufferDoc(r"\theta_0", "the start point the dual average is taken from"),
    })

    def _buffers(self) -> dict[str, Real]:
        names: dict[str, Real] = {"grad_sum_sq": 0.0, "s": 0.0}
        if bool(np.any(np.asarray(self.hp.momentum) > 0.0)):
            names["x0"] = 0.0
        return names

    def _update(self, hp: MADGRADParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        momentum, eps, wd = hp.momentum, hp.eps, hp.weight_decay
        lr: Real = np.where(hp.lr != 0.0, hp.lr + eps, 0.0) if isinstance(hp.lr, np.ndarray) or isinstance(
            eps, np.ndarray) else (hp.lr + eps if hp.lr != 0.0 else 0.0)
        lam = lr * common.power(float(t), 0.5)
        if not hp.weight_decouple:
            g = common.decay(g, p, wd)
        total, s = bufs["grad_sum_sq"], bufs["s"]
        still = momentum == 0.0
        if "x0" in bufs:
            if t == 1:
                bufs["x0"][...] = p
            x0 = bufs["x0"]
            if common.nonzero(np.asarray(still)):
                x0 = common.choose(still, p + s / _cube_root(total, eps), x0)
        else:
            x0 = p + s / _cube_root(total, eps)
        total += (lam * g) * g
        rms = _cube_root(total, eps)
        s += lam * g
        old = p.copy() if hp.weight_decouple and common.nonzero(wd) else None
        z = x0 + (-1.0 * s) / rms
        if isinstance(momentum, np.ndarray):
            moved = p.copy()
            common.lerp_(moved, z, 1.0 - momentum)
            p[...] = np.where(still, z, moved)
        elif momentum == 0.0:
            p[...] = z
        else:
            common.lerp_(p, z, 1.0 - momentum)
        if old is not None:
            p += (-lr * wd) * old
        if eff is not None:
            np.divide(lam, rms, out=eff)
