"""Adafactor (Shazeer & Stern, 2018) as torch 2.13 implements it for vector parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gdstudio.engine.hyperparams import RowValue, Value
from gdstudio.engine.optimizers import common, torch_params
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.community import RefParam, ref_param
from gdstudio.engine.optimizers.quantities import BufferDoc, Derived, docs

#: torch's ``eps[0] = None``: the machine epsilon of the parameters' dtype, 2⁻⁵² in float64.
FLOAT64_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class _EpsParam(RefParam):
    """Adafactor's (ε₁, ε₂): torch's ``None`` for ε₁ (also ``none`` in text) is float64's ε."""

    def _none_first(self, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.strip().strip("()[]").split(",")]
            if len(parts) == 2:
                try:
                    first = FLOAT64_EPS if parts[0].lower() == "none" else float(parts[0])
                    return (first, float(parts[1]))
                except ValueError:
                    pass
            raise ValueError(f"Invalid {self.name} value: {value!r} (must be two numbers, e.g. none,0.001)")
        if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] is None:
            return (FLOAT64_EPS, value[1])
        return value

    def validate(self, value: object) -> Value:
        return super().validate(self._none_first(value))

    def validate_rows(self, value: object) -> RowValue:
        return super().validate_rows(self._none_first(value))


@dataclass(frozen=True)
class AdafactorParams(Params):
    """``torch.optim.Adafactor``'s keywords and defaults (``eps[0] = None`` is float64's ε, 2⁻⁵²)."""

    lr: Real = torch_params.lr(1e-2, torch_params.LR_SHOULD_BE)
    beta2_decay: Real = ref_param(
        -0.8, "c", "decay of the second-moment weight: v is averaged with weight t^c (c ≤ 0)",
        high=0.0, soft_low=-1.0, soft_high=0.0, message="beta2_decay should be <= 0 but is: {value}",
    )
    eps: tuple[Real, Real] = field(default=(FLOAT64_EPS, 1e-3), metadata={"hyperparam": _EpsParam(
        "", "ε", (FLOAT64_EPS, 1e-3), "(ε₁, ε₂): floor of the second moment (squared) and of the RMS of θ in the step",
        kind="pair", low=0.0, soft_low=1e-30, soft_high=1.0, log=True, symbols=("ε₁", "ε₂"),
        message="epsilon{index} should be >= 0 but is: {value}",
    )})
    d: Real = ref_param(1.0, "d", "clipping threshold: the update's RMS is capped at d", low=1.0,
                        soft_low=1.0, soft_high=10.0, message="Clipping threshold d should be >= 1 but is: {value}")
    weight_decay: Real = torch_params.weight_decay(0.0, "weight_decay should be >= 0 but is: {value}")


def _rms_clip(rms: Array, floor: Real) -> Array:
    """Python's ``max(floor, rms)`` per row: ``rms`` where it is greater, else ``floor`` (NaN gives ``floor``)."""
    out: Array = np.where(rms > floor, rms, floor)
    return out


class Adafactor(Optimizer[AdafactorParams]):
    r"""Adafactor as in ``torch.optim.Adafactor`` on a vector (the unfactored second moment).

    .. math::
        \hat\beta_{2,t} &= t^{c},\quad \rho_t = \min(\eta, 1/\sqrt t),\quad
            \alpha_t = \max\bigl(\epsilon_2, \operatorname{RMS}(\theta_{t-1})\bigr)\,\rho_t \\
        \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \eta\lambda) \\
        v_t &\leftarrow \operatorname{lerp}(v_{t-1}, g_t^2, \hat\beta_{2,t}) \\
        u_t &= g_t / \sqrt{\max(v_t, \epsilon_1^2)} \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\alpha_t}{\max\bigl(1, \operatorname{RMS}(u_t)/d\bigr)}\, u_t

    RMS(x) = ‖x‖₂/√D over the run's D parameters. The step is relative to the size of θ (never
    below ε₂), its RMS is clipped at d, and the second moment's weight tᶜ is 1 at the first step.
    A gdstudio run's parameters are one vector, so the factored (row × column) second moment of
    torch's matrix case does not apply. ε₁ = None in torch is float64's ε (2⁻⁵²) here.
    Effective learning rate: ``αₜ / max(1, RMS(uₜ)/d) / √max(vₜ, ε₁²)`` per parameter.
    """

    name = "adafactor"
    title = "Adafactor"
    second_moment_buffer = "variance"
    buffer_docs = docs({"variance": BufferDoc(r"v_t", "second moment: average of g² with weight t^c")})
    derived = (
        Derived("beta2_t", r"\hat\beta_{2,t} = t^c", "this step's weight of g² in v",
                lambda c: common.power(float(c.t), c.number("beta2_decay"))),
        Derived("rho", r"\rho_t = \min(\eta, 1/\sqrt t)", "the relative step size",
                lambda c: min(c.number("lr"), 1 / (float(c.t) ** 0.5))),
        Derived("scale", r"\sqrt{\max(v_t, \epsilon_1^2)}", "the per-axis scale the gradient is divided by",
                lambda c: np.sqrt(np.maximum(c.buf("variance"), c.number("eps", 0) ** 2)), "scale"),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"variance": 0.0}

    def _update(self, hp: AdafactorParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        eps1, eps2 = hp.eps
        step = float(t)
        weight = common.power(step, hp.beta2_decay)  # one_minus_beta2_t
        rho = common.rowwise(lambda lr: min(lr, 1 / (step**0.5)), hp.lr)
        root_d = p.shape[1] ** 0.5
        alpha = _rms_clip(_norm(p) / root_d, eps2) * rho
        if common.nonzero(hp.weight_decay):
            p *= 1 - hp.lr * hp.weight_decay
        v = bufs["variance"]
        common.lerp_(v, g * g, weight)
        scale = 1 / np.sqrt(np.maximum(v, eps1 * eps1))  # torch: clamp_(min=ε₁²).rsqrt_()
        update = scale * g
        denom = _rms_clip(_norm(update) / (root_d * hp.d), 1.0)
        step_size = alpha / denom
        p += -step_size * update
        if eff is not None:
            np.multiply(step_size, scale, out=eff)


def _norm(x: Array) -> Array:
    """Each row's Euclidean norm, as an (N, 1) column (the squares summed left to right)."""
    total = x[:, :1] * x[:, :1]
    for j in range(1, x.shape[1]):
        total = total + x[:, j : j + 1] * x[:, j : j + 1]
    out: Array = np.sqrt(total)
    return out
