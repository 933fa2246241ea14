"""AdEMAMix: Adam with a second, slow momentum mixed in (pytorch_optimizer 4.1.0's ``AdEMAMix``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, community
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, community_grad, docs, moment_addition


def _beta3_t(beta1: float, beta3: float, step: int, horizon: float) -> float:
    """``AdEMAMix.schedule_beta3``: β₃ warmed up from β₁ along a half-life-linear schedule."""
    log_beta1, log_beta3 = math.log(beta1), math.log(beta3)
    try:
        value = math.exp(
            log_beta1 * log_beta3 / ((1.0 - step / horizon) * log_beta3 + (step / horizon) * log_beta1))
    except (ZeroDivisionError, OverflowError):
        return math.nan
    return min(value, beta3)


@dataclass(frozen=True)
class AdEMAMixParams(Params):
    """``pytorch_optimizer.AdEMAMix``'s keywords and defaults."""

    lr: Real = community.lr(1e-3)
    betas: tuple[Real, Real, Real] = community.betas(
        (0.9, 0.999, 0.9999), "decay rates of the fast momentum, the squared gradient and the slow momentum",
        last_closed=True)
    weight_decay: Real = community.weight_decay()
    weight_decouple: bool = community.decouple(False)
    fixed_decay: bool = community.fixed_decay()
    alpha: Real = community.nonneg("alpha", "α", 5.0, "weight of the slow momentum in the step", soft_high=20.0)
    t_alpha_beta3: Real | None = community.nonneg(
        "t_alpha_beta3", "T", None, "steps over which α and β₃ warm up (none: no warm-up)", soft_high=10000.0,
        optional=True, low_open=True, soft_low=1.0, bound_message=False)
    eps: Real = community.eps(1e-8)

    def check(self) -> None:
        if self.t_alpha_beta3 is None:
            return
        beta1, _, beta3 = self.betas
        for i, beta in ((0, beta1), (2, beta3)):
            where = common.rows_where(beta == 0)
            if where is not None:
                raise ValueError(
                    f"Invalid betas[{i}] value: 0.0 (the β₃ warm-up takes its logarithm: must be > 0 "
                    f"with t_alpha_beta3){where}")


class AdEMAMix(Optimizer[AdEMAMixParams]):
    r"""AdEMAMix (Pagliardini et al. 2024) as in ``pytorch_optimizer.AdEMAMix`` 4.1.0.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        s_t \leftarrow \beta_{3,t} s_{t-1} + (1-\beta_{3,t}) g_t \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,
            \frac{m_t/(1-\beta_1^t) + \alpha_t s_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The slow average s (β₃ ≈ 0.9999, not bias-corrected) remembers gradients from thousands of
    steps back. With ``t_alpha_beta3`` = T, αₜ = min(tα/T, α) and βₜ₃ rises from β₁ to β₃ as
    exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)) (capped at β₃); without it αₜ = α,
    β₃,ₜ = β₃. Weight decay coupled by default (``g + λθ``), else θ ← θ(1 − ηλ).
    Effective learning rate: ``η / (√vₜ/√(1−β₂ᵗ) + ε)``, the factor applied to m̂ₜ + αₜsₜ.
    """

    name = "ademamix"
    title = "AdEMAMix"
    first_moment_buffer = "exp_avg"
    second_moment_buffer = "exp_avg_sq"
    buffer_docs = docs({
        "exp_avg": BufferDoc(r"m_1", "fast first moment: running average of g (β₁)", "velocity_new"),
        "exp_avg_sq": BufferDoc(r"v_t", "second moment: running average of g² (β₂)"),
        "exp_avg_slow": BufferDoc(r"m_2", "slow first moment (β₃, warmed up), mixed in with weight α"),
    })
    derived = moment_addition("exp_avg", lambda c: c.number("betas", 0), community_grad)

    def _buffers(self) -> dict[str, Real]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0, "exp_avg_slow": 0.0}

    def _update(self, hp: AdEMAMixParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        beta1, beta2, beta3 = hp.betas
        bias_correction1 = 1.0 - common.power(beta1, t)
        bc2_sqrt = np.sqrt(1.0 - common.power(beta2, t))
        horizon = hp.t_alpha_beta3
        if horizon is None:
            alpha_t: Real = hp.alpha
            beta3_t: Real = beta3
        else:
            alpha_t = community.row_min(t * hp.alpha / horizon, hp.alpha)
            beta3_t = common.rowwise(lambda b1, b3, h: _beta3_t(b1, b3, t, h), beta1, beta3, horizon)
        g = community.apply_weight_decay(p, g, hp.lr, hp.weight_decay, hp.weight_decouple, hp.fixed_decay)
        m, v, slow = bufs["exp_avg"], bufs["exp_avg_sq"], bufs["exp_avg_slow"]
        common.lerp_(m, g, 1.0 - beta1)
        v *= beta2
        v += ((1.0 - beta2) * g) * g
        common.lerp_(slow, g, 1.0 - beta3_t)
        denom = np.sqrt(v) / bc2_sqrt + hp.eps
        update = m / bias_correction1
        update += alpha_t * slow
        p += (-hp.lr * update) / denom
        if eff is not None:
            np.divide(hp.lr, denom, out=eff)
