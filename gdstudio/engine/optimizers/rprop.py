"""Rprop: resilient backpropagation, steps of a per-parameter size that only the gradient's sign steers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdstudio.engine.optimizers import common, torch_params
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.quantities import BufferDoc, docs


@dataclass(frozen=True)
class RpropParams(Params):
    """``torch.optim.Rprop``'s keywords and defaults."""

    lr: Real = torch_params.lr(1e-2, torch_params.INVALID_LR)
    etas: tuple[Real, Real] = common.hyperparam(
        (0.5, 1.2), "η±", "(η₋, η₊): step-size factors when the gradient's sign flips / keeps (0 < η₋ < 1 < η₊)",
        kind="pair", low=0.0, low_open=True, soft_low=0.01, soft_high=3.0, symbols=("η₋", "η₊"),
    )
    step_sizes: tuple[Real, Real] = common.hyperparam(
        (1e-6, 50.0), "Δ", "(Δmin, Δmax): the smallest and largest allowed step size",
        kind="pair", low=0.0, soft_low=1e-8, soft_high=100.0, log=True, symbols=("Δmin", "Δmax"),
    )

    def check(self) -> None:
        minus, plus = (np.broadcast_to(np.asarray(v, dtype=np.float64), (self.rows or 1, 1)) for v in self.etas)
        bad = ~((minus > 0.0) & (minus < 1.0) & (plus > 1.0))
        if bad.any():
            row = int(np.argmax(bad[:, 0]))
            where = f" in row {row}" if self.rows is not None else ""
            raise ValueError(f"Invalid eta values: {float(minus[row, 0])}, {float(plus[row, 0])}{where}")


class Rprop(Optimizer[RpropParams]):
    r"""Rprop as in ``torch.optim.Rprop`` (Riedmiller & Braun, 1993).

    .. math::
        s &\leftarrow \operatorname{sign}(g_t\, g_{t-1}) \\
        \Delta_t &\leftarrow \operatorname{clip}\bigl(\Delta_{t-1}\cdot
            \{\eta_+ \text{ if } s>0;\ \eta_- \text{ if } s<0;\ 1 \text{ if } s=0\},
            \Delta_{\min}, \Delta_{\max}\bigr),\quad \Delta_0 = \eta \\
        g_t &\leftarrow 0 \text{ where } s<0 \\
        \theta_t &\leftarrow \theta_{t-1} - \operatorname{sign}(g_t)\,\Delta_t

    Each parameter has its own step size Δ, which grows by η₊ while the gradient keeps its sign
    and shrinks by η₋ when it flips; only the gradient's sign is used, never its size. After a
    flip the stored gradient is zero, so the next step neither grows nor shrinks Δ (torch's
    "for dir<0, dfdx=0"). Effective learning rate: Δₜ (the step each coordinate took, divided by
    the sign of its gradient).
    """

    name = "rprop"
    title = "Rprop"
    buffer_docs = docs({
        "prev": BufferDoc(r"g_{t}", "the gradient kept for the next sign comparison (0 where the sign flipped)"),
        "step_size": BufferDoc(r"\Delta_t", "per-parameter step sizes (grow by η₊, shrink by η₋)"),
    })

    def _buffers(self) -> dict[str, Real]:
        return {"prev": 0.0, "step_size": self.hp.lr}

    def _update(self, hp: RpropParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        etaminus, etaplus = hp.etas
        lo, hi = hp.step_sizes
        prev, step_size = bufs["prev"], bufs["step_size"]
        sign = np.sign(g * prev)
        factor = np.where(sign > 0, etaplus, sign)
        factor = np.where(factor < 0, etaminus, factor)
        factor = np.where(factor == 0, 1.0, factor)
        step_size *= factor
        np.minimum(np.maximum(step_size, lo), hi, out=step_size)  # torch's clamp_(min, max), NaN kept
        g = np.where(factor == etaminus, 0.0, g)
        p -= np.sign(g) * step_size
        prev[...] = g
        if eff is not None:
            eff[...] = step_size
