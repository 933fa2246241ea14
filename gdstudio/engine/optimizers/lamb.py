"""LAMB: Adam steps scaled by a per-run trust ratio ‖θ‖/‖step‖ (pytorch_optimizer 4.1.0's ``Lamb``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs

#: ``Lamb.clamp``: the parameter norm in the trust ratio is clamped to at most this.
CLAMP = 10.0


def _norm(x: Array) -> Array:
    """Each row's Euclidean norm, as an (N, 1) column."""
    out: Array = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return out


@dataclass(frozen=True)
class LambParams(Params):
    """``pytorch_optimizer.Lamb``'s keywords and defaults."""

    lr: Real = community.lr(1e-3)
    betas: tuple[Real, Real] = community.betas(
        (0.9, 0.999), "decay rates of the running averages of the gradient and its square")
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(True)
    fixed_decay: bool = community.fixed_decay()
    rectify: bool = common.flag("R", "rectify: RAdam's variance rectification of the step")
    degenerated_to_sgd: bool = common.flag("SGD", "before the rectification threshold, step along m̂ (else stay)")
    n_sma_threshold: Real = community.nonneg(
        "n_sma_threshold", "ρ₀", 5.0, "rectified steps once the moving-average length ρₜ reaches this",
        soft_high=20.0, checked=False)
    grad_averaging: bool = common.flag("GA", "scale the new gradient in m by 1 − β₁ (else by 1)", True)
    max_grad_norm: Real = community.nonneg(
        "max_grad_norm", "G", 1.0, "with pre_norm: rescale the gradient to at most this norm (0: never)",
        soft_high=10.0)
    adam: bool = common.flag("Adam", "trust ratio 1: plain Adam steps")
    pre_norm: bool = common.flag("PN", "rescale the gradient to norm at most max_grad_norm first")
    eps: Real = community.eps(1e-6)


class Lamb(Optimizer[LambParams]):
    r"""LAMB (You et al. 2019) as in ``pytorch_optimizer.Lamb`` 4.1.0.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \quad(\text{or } + g_t
            \text{ without grad\_averaging}),\quad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        u_t &\leftarrow \frac{m_t}{\sqrt{v_t} + \epsilon}\ (+\lambda\theta \text{ coupled}),\quad
        r_t = \frac{\min(\lVert\theta_{t-1}\rVert, 10)}{\lVert u_t\rVert + \epsilon}
            \ (1 \text{ if either norm is } 0) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\, r_t\, u_t

    The norms are over all of a run's coordinates (one parameter tensor), so every coordinate
    of a run shares rₜ. Decoupled decay (the default) shrinks θ by 1 − ηλ before the norms.
    ``pre_norm`` first rescales g by min(1, G/(‖g‖ + ε)) (float32, as the reference);
    ``adam`` sets rₜ = 1. With ``rectify`` the step is RAdam's (η rₜ^{RAdam}/(1−β₁ᵗ) · m/(√v+ε)
    once ρₜ ≥ ``n_sma_threshold``; before it η/(1−β₁ᵗ)·m with ``degenerated_to_sgd``, else no
    step) and, as in the reference, the trust ratio's ‖uₜ‖ is then the norm of the would-be
    new θ. Effective learning rate: ``η rₜ/(1−β₁ᵗ) / (√vₜ + ε)``, the factor applied to mₜ
    (rectified: with RAdam's factor; ``η rₜ/(1−β₁ᵗ)`` on an SGD step; 0 when it does not move).
    """

    name = "lamb"
    title = "LAMB"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_t", "first moment: β₁m + β₃g"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
    })

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _update(self, hp: LambParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2 = hp.betas
        eps, wd = hp.eps, hp.weight_decay
        beta3 = 1.0 - beta1 if hp.grad_averaging else 1.0
        bias_correction1 = 1.0 - common.power(beta1, t)
        n_sma: Real = 0.0
        step_size: Real = hp.lr
        if hp.rectify:
            step_size, n_sma = community.rectified_step_size(
                hp.lr, beta2, t, hp.n_sma_threshold, hp.degenerated_to_sgd)
        step_size = step_size / bias_correction1
        if hp.pre_norm:
            g = g * community.clip_factor(g, hp.max_grad_norm, eps)
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        m *= beta1
        m += beta3 * g
        v *= beta2
        v += ((1.0 - beta2) * g) * g
        if hp.weight_decouple:
            community.shrink(p, hp.lr, wd, hp.fixed_decay)
        adaptive: common.Mask = True
        denom = np.sqrt(v) + eps
        if hp.rectify:
            adaptive = n_sma >= hp.n_sma_threshold
            direction = common.choose(adaptive, (-step_size * m) / denom, -step_size * m)
            update = p + direction
        else:
            update = m / denom
            if not hp.weight_decouple:
                update = common.decay(update, p, wd)
        weight_norm = np.minimum(_norm(p), CLAMP)
        update_norm = _norm(update)
        trust = np.where((weight_norm == 0) | (update_norm == 0), 1.0, weight_norm / (update_norm + eps))
        if hp.adam:
            trust = np.ones_like(trust)
        scale = -step_size * trust
        if hp.rectify:
            delta = common.choose(adaptive, (scale * m) / denom, scale * m)
            moves = np.broadcast_to(np.asarray(step_size > 0), trust.shape)  # the reference returns early at η rₜ ≤ 0
            np.add(p, delta, out=p, where=np.broadcast_to(moves, p.shape))
            factor = common.choose(adaptive, (step_size * trust) / denom, np.broadcast_to(step_size * trust, p.shape))
            factor = np.where(np.broadcast_to(moves, p.shape), factor, 0.0)
        else:
            p += scale * update
            factor = (step_size * trust) / denom
        if eff is not None:
            eff[...] = factor
