"""Muon: momentum orthogonalised by a Newton-Schulz iteration, each run's parameters a 1 x D matrix.

:func:`muon_matrix_step` is torch's step for one 2-D parameter taken as a matrix (the Training
lab's weight matrices); :func:`newton_schulz_matrix` its orthogonalisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gdstudio.engine.hyperparams import HyperParam, Value
from gdstudio.engine.optimizers import common, torch_params
from gdstudio.engine.optimizers.base import Array, Optimizer, Params, Real
from gdstudio.engine.optimizers.bfloat16 import F32, round_bf16, to_bf16
from gdstudio.engine.optimizers.community import ref_param
from gdstudio.engine.optimizers.quantities import BufferDoc, Derived, docs

#: torch's defaults (Keller Jordan's constants).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


@dataclass(frozen=True)
class _AdjustLrFn(HyperParam):
    """torch's ``adjust_lr_fn``: None is "original"; another name raises torch's own message."""

    def validate(self, value: object) -> Value:
        if isinstance(value, str) and value.strip().lower() not in self.choices:
            raise ValueError(f"Adjust learning rate function {value} is not supported")
        return super().validate(value)


@dataclass(frozen=True)
class MuonParams(Params):
    """``torch.optim.Muon``'s keywords and defaults."""

    lr: Real = torch_params.lr(1e-3, torch_params.LR_SHOULD_BE)
    weight_decay: Real = torch_params.weight_decay(0.1, "weight decay should be >= 0 but is: {value}")
    momentum: Real = ref_param(0.95, "μ", "momentum: fraction of the previous buffer kept each step", low=0.0,
                               soft_high=0.999, message="momentum should be >= 0 but is: {value}")
    nesterov: bool = common.flag(
        "NAG", "Nesterov momentum: orthogonalise lerp(g, buffer, μ) instead of the buffer", True,
    )
    ns_coefficients: tuple[Real, Real, Real] = common.triple(
        NS_COEFFICIENTS, "abc", "(a, b, c): the Newton-Schulz polynomial X ← aX + (b·XXᵀ + c·(XXᵀ)²)X",
        symbols=("a", "b", "c"),
    )
    eps: Real = common.eps(1e-7)
    ns_steps: int = common.integer("k", 5, "Newton-Schulz iterations per step", low=0, high=99, soft_high=10)
    adjust_lr_fn: str = field(default="original", metadata={"hyperparam": _AdjustLrFn(
        "", "adj", "original",
        "learning-rate adjustment for the matrix shape: original √max(1, A/B) = 1 for a 1 x D matrix; "
        "match_rms_adamw 0.2·√max(A, B) = 0.2·√D", kind="choice", choices=("original", "match_rms_adamw"),
    )})


class Muon(Optimizer[MuonParams]):
    r"""Muon as in ``torch.optim.Muon``, each run's D parameters taken as a 1 x D matrix.

    .. math::
        B_t &\leftarrow \operatorname{lerp}(B_{t-1}, g_t, 1-\mu) \\
        \tilde B_t &\leftarrow \operatorname{lerp}(g_t, B_t, \mu) \ \text{(Nesterov)},
            \quad \tilde B_t \leftarrow B_t \ \text{(classical)} \\
        O_t &\leftarrow \mathrm{NS}^{(a,b,c)}_k(\tilde B_t):
            \ X \leftarrow \tilde B/\max(\lVert\tilde B\rVert_F, \epsilon), \\
            &\quad k\times\ X \leftarrow aX + (b\,XX^\top + c\,(XX^\top)^2)X \ \text{(in bfloat16)} \\
        \theta_t &\leftarrow \theta_{t-1}(1-\eta\lambda) - \eta'\,O_t,\quad
            \eta' = \eta\sqrt{\max(1, A/B)} = \eta \ \text{(original)},\ 0.2\,\eta\sqrt{\max(A, B)}
            \ \text{(match\_rms\_adamw)}

    For a 1 x D matrix XXᵀ is the squared norm, so the iteration rescales the normalised
    momentum: Oₜ ≈ B̃ₜ/‖B̃ₜ‖ (within the iteration's ~±30 % band), and Muon is normalised
    momentum descent whose steps have length ≈ η whatever the gradient's size. torch computes
    the iteration in bfloat16 on every device (:mod:`~gdstudio.engine.optimizers.bfloat16`
    emulates it bit for bit), so the direction carries 8 bits of mantissa. The Training lab uses
    Muon for weight matrices (:func:`muon_matrix_step`) and AdamW for biases, as torch's
    documentation recommends.
    Effective learning rate: ``η'·|Oₜ|/|g̃ₜ|`` per parameter (the step over the orthogonalised
    direction's input).
    """

    name = "muon"
    title = "Muon"
    first_moment_buffer = "momentum_buffer"
    buffer_docs = docs({"momentum_buffer": BufferDoc(r"B_t", "momentum buffer: lerp(B, g, 1 − μ)", "velocity_new")})
    derived = (
        Derived("velocity_old", r"\mu B_{t-1}", "the old momentum buffer, decayed",
                lambda c: c.number("momentum") * c.buf("momentum_buffer", after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\mu) g_t", "the scaled gradient added to the buffer",
                lambda c: (1 - c.number("momentum")) * c.grad, "velocity_add"),
        Derived("direction", r"\tilde B_t", "the matrix orthogonalised: lerp(g, B, μ) with Nesterov, else B",
                lambda c: c.grad + c.number("momentum") * (c.buf("momentum_buffer") - c.grad)
                if c.flag("nesterov") else c.buf("momentum_buffer")),
    )

    def _buffers(self) -> dict[str, Real]:
        return {"momentum_buffer": 0.0}

    def _update(self, hp: MuonParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        buf = bufs["momentum_buffer"]
        common.lerp_(buf, g, 1 - hp.momentum)
        if hp.nesterov:
            direction = g.copy()
            common.lerp_(direction, buf, hp.momentum)
        else:
            direction = buf
        ortho = newton_schulz(direction, hp.ns_coefficients, hp.ns_steps, hp.eps).astype(np.float64)
        adjusted = hp.lr * _lr_ratio(hp.adjust_lr_fn, p.shape[1])
        p *= 1 - hp.lr * hp.weight_decay
        p += -adjusted * ortho
        if eff is not None:
            with np.errstate(all="ignore"):
                np.divide(adjusted * np.abs(ortho), np.abs(direction), out=eff)


def _lr_ratio(adjust_lr_fn: str, dim: int) -> float:
    """torch's ``_adjust_lr`` factor for a (1, dim) matrix."""
    a, b = 1, dim
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(a, b))
    return math.sqrt(max(1, a / b))


def newton_schulz(grad: Array, coefficients: tuple[Real, Real, Real], steps: int, eps: Real) -> F32:
    """torch's ``_zeropower_via_newtonschulz`` for each row of ``grad`` (N, D) as a 1 x D matrix.

    Returns bfloat16 values as float32. ``eps`` and each coefficient may be an (N, 1) column
    (float32 products either way, so a column row equals a run with that scalar bit for bit).
    """
    a, b, c = (np.asarray(v, dtype=np.float32) for v in coefficients)
    with np.errstate(all="ignore"):
        x = to_bf16(grad)
        norm = round_bf16(np.sqrt(np.sum(x * x, axis=1, keepdims=True, dtype=np.float32)))
        norm = np.maximum(norm, to_bf16(np.asarray(eps, dtype=np.float64)))  # clamp(min=eps) in bfloat16
        x = round_bf16(x / norm)
        for _ in range(steps):
            gram = round_bf16(np.sum(x * x, axis=1, keepdims=True, dtype=np.float32))
            update = round_bf16(b * gram + c * (gram * gram))
            x = round_bf16(a * x + update * x)
    return x


def muon_matrix_step(hp: MuonParams, param: Array, grad: Array, buf: Array,
                     shape: tuple[int, int] | None = None) -> None:
    r"""``torch.optim.Muon``'s step for one 2-D parameter as a matrix, in place (``param``, ``buf``).

    The update of :class:`Muon` with :func:`newton_schulz_matrix` on the whole momentum matrix and
    η' from torch's ``_adjust_lr`` for the matrix ``shape`` (A, B) (default ``param.shape``; the
    Training lab passes torch's ``nn.Linear`` layout (out, in) for its (in, out) weights — the
    orthogonalisation is the same for a matrix and its transpose, bit for bit, as torch
    orthogonalises the wide orientation of either). ``hp`` holds single values (no row columns);
    ``param``, ``grad`` and ``buf`` share a dtype (float32 or float64), as torch's tensors do.
    """
    a, b = param.shape if shape is None else shape
    common.lerp_(buf, grad, 1 - hp.momentum)
    if hp.nesterov:
        direction = grad.copy()
        common.lerp_(direction, buf, hp.momentum)
    else:
        direction = buf
    a_, b_, c_ = (float(v) for v in hp.ns_coefficients)  # one matrix: the run's scalar values
    ortho = newton_schulz_matrix(direction, (a_, b_, c_), hp.ns_steps, float(hp.eps)).astype(param.dtype)
    ratio = 0.2 * math.sqrt(max(a, b)) if hp.adjust_lr_fn == "match_rms_adamw" else math.sqrt(max(1, a / b))
    lr = float(hp.lr)
    param *= 1 - lr * float(hp.weight_decay)
    param += -(lr * ratio) * ortho


def newton_schulz_matrix(grad: Array, coefficients: tuple[float, float, float], steps: int, eps: float) -> F32:
    r"""torch's ``_zeropower_via_newtonschulz`` of the matrix ``grad`` (A, B), in bfloat16 (as float32).

    X = bf16(G) (its transpose when A > B), X ← X/max(‖X‖_F, ε), then ``steps`` times
    S = XXᵀ, U = bS + cS², X ← aX + UX, every result rounded to bfloat16. Products of bfloat16
    numbers are exact, so each matrix product is summed in float64, rounded to float32 (torch
    accumulates in float32) and combined in float32 as ``torch.addmm`` does (β·C + α·AB, one
    rounding to bfloat16). Measured against torch 2.13 on this machine (oneDNN, AVX-512 BF16):
    every operation alone agrees bit for bit; chained, a float32 sum torch orders differently
    now and then rounds to the neighbouring bfloat16 and the iteration amplifies it: matrices of
    the lab's small sizes mostly agree bit for bit, a 64 x 100 one differed in up to 16 % of its
    elements (relative Frobenius difference ≤ 1.2·10⁻³) — as torch's own result differs between
    CPUs that sum in another order.
    """
    ca, cb, cc = (np.float32(v) for v in coefficients)
    x = to_bf16(np.asarray(grad))
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    with np.errstate(all="ignore"):
        norm = round_bf16(np.asarray(np.sqrt(np.sum(np.square(x, dtype=np.float64))), dtype=np.float32))
        norm = np.maximum(norm, to_bf16(np.asarray(eps, dtype=np.float64)))
        x = round_bf16(x / norm)
        for _ in range(steps):
            x64 = x.astype(np.float64)
            gram = round_bf16((x64 @ x64.T).astype(np.float32))
            g64 = gram.astype(np.float64)
            update = round_bf16(cb * gram + cc * (g64 @ g64).astype(np.float32))
            x = round_bf16(ca * x + (update.astype(np.float64) @ x64).astype(np.float32))
    out: F32 = np.ascontiguousarray(x.T if tall else x)
    return out
