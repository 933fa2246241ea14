"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky), with its averaged iterate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, torch_params
from gdstudio.engine.optimizers.base import Array, Optimizer, OptState, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs


@dataclass(frozen=True)
class ASGDParams(Params):
    """``torch.optim.ASGD``'s keywords and defaults."""

    lr: Real = torch_params.lr(1e-2, torch_params.INVALID_LR)
    lambd: Real = common.hyperparam(1e-4, "λ_η", "decay term: η shrinks as 1/(1 + λ η t)^α and θ by 1 − λη each step",
                                    low=0.0, soft_high=1.0)
    alpha: Real = common.hyperparam(0.75, "α", "power of the step-size decay η/(1 + λ η t)^α", low=0.0, soft_high=2.0)
    t0: Real = common.hyperparam(1e6, "t₀", "the step after which the average x̄ starts to move", low=0.0,
                                 soft_high=1000.0)
    weight_decay: Real = torch_params.weight_decay(0.0, "Invalid weight_decay value: {value}")


def _eta(lr: float, lambd: float, alpha: float, step: float) -> float:
    """torch's ``lr / ((1 + lambd * lr * step) ** alpha)`` in Python floats (a power that overflows
    is inf, so η is 0, where Python would raise)."""
    try:
        return float(lr / ((1 + lambd * lr * step) ** alpha))
    except OverflowError:
        return 0.0


def _mu(t0: float, step: float) -> float:
    """torch's ``1 / max(1, step - t0)``."""
    return float(1 / max(1, step - t0))


class ASGD(Optimizer[ASGDParams]):
    r"""ASGD as in ``torch.optim.ASGD`` (Polyak & Juditsky, 1992).

    .. math::
        g_t &\leftarrow \nabla f(\theta_{t-1}) + w\,\theta_{t-1} \\
        \theta_t &\leftarrow \theta_{t-1}(1 - \lambda\eta_t) - \eta_t\, g_t \\
        \bar x_t &\leftarrow \bar x_{t-1} + \mu_t(\theta_t - \bar x_{t-1})
            \quad(\bar x_t \leftarrow \theta_t \text{ while } \mu_t = 1) \\
        \eta_{t+1} &= \frac{\eta}{(1 + \lambda\eta t)^{\alpha}},\quad
        \mu_{t+1} = \frac{1}{\max(1,\ t - t_0)},\quad \eta_1 = \eta,\ \mu_1 = 1

    The iterate θ is plain SGD with a slowly decaying step; the average x̄ is the running mean
    of the iterates from step t₀ on (before that it is the iterate itself), the estimate
    Polyak averaging is about. The views can draw x̄ (the ``ax`` internal). With torch's
    default t₀ = 10⁶ the average never starts in a visible run. As in torch, ηₜ₊₁ and μₜ₊₁ are
    computed at the end of step t with the η of that step (a schedule's new η acts one step
    later). Effective learning rate: ηₜ.
    """

    name = "asgd"
    title = "ASGD"
    internal_buffers = ("ax",)
    buffer_docs = docs({
        "ax": BufferDoc(r"\bar x_t", "the averaged iterate (Polyak average from t₀ on)"),
        "eta": BufferDoc(r"\eta_{t+1}", "the next step's decayed learning rate"),
        "mu": BufferDoc(r"\mu_{t+1}", "the next step's averaging weight 1/max(1, t − t₀)"),
    })

    def _buffers(self) -> dict[str, Real]:
        return {"ax": 0.0}

    def _advance(self, hp: ASGDParams, t: int, state: OptState) -> None:
        if t == 1 or "eta" not in state.buffers:  # torch's state init: η₁ = η, μ₁ = 1, one per row
            n = state.buffers["ax"].shape[0]
            state.buffers["eta"] = np.broadcast_to(np.asarray(hp.lr, dtype=np.float64), (n, 1)).copy()
            state.buffers["mu"] = np.ones((n, 1))

    def _update(self, hp: ASGDParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        eta, mu = bufs["eta"], bufs["mu"]  # computed by the previous step, with its η (as torch)
        g = common.decay(g, p, hp.weight_decay)
        p *= 1 - hp.lambd * eta
        p += -eta * g
        ax = bufs["ax"]
        ax[...] = common.choose(mu != 1, ax + (p - ax) * mu, p)
        if eff is not None:
            eff[...] = eta
        step = float(t)
        eta[...] = common.rowwise(lambda lr, la, al: _eta(lr, la, al, step), hp.lr, hp.lambd, hp.alpha)
        mu[...] = common.rowwise(lambda t0: _mu(t0, step), hp.t0)
