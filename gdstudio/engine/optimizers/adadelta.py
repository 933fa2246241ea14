"""Adadelta: unit-consistent steps from running RMS of updates and gradients."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import DECAYED_GRAD, BufferDoc, Derived, decayed_grad, docs


@dataclass(frozen=True)
class AdadeltaParams(Params):
    """``torch.optim.Adadelta``'s keywords and defaults."""

    lr: Real = common.lr(1.0)
    rho: Real = common.unit("ρ", 0.9, "decay rate of the running averages")
    eps: Real = common.eps(1e-6)
    weight_decay: Real = common.weight_decay()


class Adadelta(Optimizer[AdadeltaParams]):
    r"""Adadelta as in ``torch.optim.Adadelta``.

    .. math::
        v_t &\leftarrow \rho v_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &\leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t,\quad
        u_t \leftarrow \rho u_{t-1} + (1-\rho)\Delta_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,\Delta_t

    Weight decay adds λθ to g. Effective learning rate: ``η·√(u_{t−1}+ε)/√(vₜ+ε)``.
    Reported moments: vₜ as the second moment; there is no first moment (uₜ, the running
    average of squared updates, stays in the state as ``acc_delta``).
    """

    name = "adadelta"
    title = "Adadelta"
    second_moment_buffer = "square_avg"
    buffer_docs = docs({
        "square_avg": BufferDoc(r"v_t", "running average of g² (ρ)"),
        "acc_delta": BufferDoc(r"u_t", "running average of the squared updates Δ² (ρ)"),
    })
    derived = (
        DECAYED_GRAD,
        Derived("std", r"\sqrt{v_t + \epsilon}", "the per-axis scale the gradient is divided by",
                lambda c: np.sqrt(c.buf("square_avg") + c.number("eps")), "scale"),
        Derived("rms_delta", r"\sqrt{u_{t-1} + \epsilon}", "RMS of the past updates: the per-axis numerator",
                lambda c: np.sqrt(c.buf("acc_delta", after=False) + c.number("eps"))),
        Derived("delta", r"\Delta_t", "the unit-consistent update before η",
                lambda c: np.sqrt(c.buf("acc_delta", after=False) + c.number("eps"))
                / np.sqrt(c.buf("square_avg") + c.number("eps")) * decayed_grad(c)),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"square_avg": 0.0, "acc_delta": 0.0}

    def _update(self, hp: AdadeltaParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        lr, rho, eps = hp.lr, hp.rho, hp.eps
        g = common.decay(g, p, hp.weight_decay)
        v, u = bufs["square_avg"], bufs["acc_delta"]
        v *= rho
        v += ((1 - rho) * g) * g
        std = np.sqrt(v + eps)
        ratio = np.sqrt(u + eps)
        ratio /= std
        delta = ratio * g
        u *= rho
        u += ((1 - rho) * delta) * delta
        p += -lr * delta
        if eff is not None:
            np.multiply(lr, ratio, out=eff)
