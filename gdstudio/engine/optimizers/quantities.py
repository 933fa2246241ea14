"""What a rule declares so one step can be explained without inspector code.

A rule lists, as class variables of :class:`~gdstudio.engine.optimizers.base.Optimizer`:

- ``buffer_docs``: its state buffers' LaTeX symbol and one-line meaning, by torch's name
  (``{"exp_avg": BufferDoc(r"m_t", "first moment …", role="velocity_new")}``). A buffer without
  a doc still appears in the explanation under its own name;
- ``derived``: :class:`Derived` quantities that are not buffers (bias corrections 1 − β₁ᵗ,
  √v̂ + ε, NAG's direction …), each a function of the step's :class:`StepContext`;
- the update rule in LaTeX for the run's own hyperparameters, :meth:`Optimizer.update_latex`
  (default: the class docstring's ``.. math::`` block).

Roles tag the vectors slow motion draws (:data:`ROLES`). Every vector with a velocity role is in
the unit of the rule's buffer (gradient units: draw ``velocity_old``, ``velocity_add`` and
``velocity_new`` with one common scale, ``velocity_old + velocity_add = velocity_new``);
``step`` is Δθ in parameter units; ``scale`` is the per-axis divisor of the preconditioner;
``gradient_point`` is the point where the step's gradient was taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "DECAYED_GRAD", "ROLES", "BufferDoc", "Derived", "Role", "StepContext", "docstring_math", "latex_number",
]

Array = npt.NDArray[np.float64]

#: Slow motion's stages, in the order they are played.
Role = Literal["gradient", "gradient_point", "velocity_old", "velocity_add", "velocity_new", "scale", "step"]
ROLES: tuple[Role, ...] = (
    "gradient", "gradient_point", "velocity_old", "velocity_add", "velocity_new", "scale", "step",
)


class _State(Protocol):
    """:class:`~gdstudio.engine.optimizers.base.OptState` as read here (this module imports no rule)."""

    t: int
    buffers: dict[str, npt.NDArray[np.float64]]
    scalars: dict[str, float]


@dataclass(frozen=True)
class BufferDoc:
    """A state buffer's LaTeX symbol, one-line meaning and optional slow-motion role (its value
    after the step)."""

    symbol: str
    meaning: str
    role: Role | None = None


@dataclass(frozen=True)
class StepContext:
    """One step of one run (row 0 of the state), as the declarations see it.

    ``hp``: the hyperparameters the step used (a schedule's η included); ``t``: the step's
    number (1 for the first); ``before`` / ``after``: copies of the optimizer state around the
    step; ``grad``: the gradient the step used (batch and noise included), (D,);
    ``param_before`` / ``param_after``: θ around the step; ``effective_lr``: the engine's (D,).
    """

    hp: Mapping[str, Any]
    t: int
    before: _State
    after: _State
    grad: Array
    param_before: Array
    param_after: Array
    effective_lr: Array

    def buf(self, name: str, *, after: bool = True) -> Array:
        """Row 0 of a buffer (zeros of θ's shape before the buffer existed)."""
        state = self.after if after else self.before
        value = state.buffers.get(name)
        if value is None:
            return np.zeros_like(self.param_before)
        row: Array = np.array(value[0], dtype=np.float64)
        return row

    def shared(self, name: str, *, after: bool = True) -> float:
        """A value shared by the rows (a scalar, or row 0 of an (N, 1) column)."""
        state = self.after if after else self.before
        if name in state.buffers:
            return float(state.buffers[name][0, 0])
        return float(state.scalars[name])

    def number(self, name: str, index: int | None = None) -> float:
        """A hyperparameter as a float (row 0 of a column; ``index`` picks a pair's item)."""
        value: Any = self.hp[name]
        if index is not None:
            value = value[index]
        return float(np.ravel(value)[0])

    def flag(self, name: str) -> bool:
        return bool(self.hp[name])


#: A derived quantity's value: a float, a (D,) array, or None when it does not apply to these
#: hyperparameters (the row is left out: e.g. NAG's direction without Nesterov).
Value = float | Array | None


@dataclass(frozen=True)
class Derived:
    """A quantity of the step that is not a state buffer: name (ASCII, a JSON key), LaTeX
    symbol, one-line meaning, ``value(ctx)`` and an optional slow-motion :data:`Role`."""

    name: str
    symbol: str
    meaning: str
    value: Callable[[StepContext], Value]
    role: Role | None = None


_MATH = re.compile(r"^([ \t]*)\.\. math::[ \t]*\n", re.MULTILINE)


def docstring_math(doc: str | None) -> str:
    """The first ``.. math::`` block of a docstring, dedented (an ``aligned`` body), or ''."""
    if not doc:
        return ""
    match = _MATH.search(doc)
    if match is None:
        return ""
    outer = len(match.group(1).expandtabs())
    lines: list[str] = []
    for line in doc[match.end():].splitlines():
        if line.strip() and len(line) - len(line.lstrip()) <= outer:
            break
        lines.append(line)
    body = [line for line in lines if line.strip()]
    if not body:
        return ""
    indent = min(len(line) - len(line.lstrip()) for line in body)
    return "\n".join(line[indent:].rstrip() for line in body)


def latex_number(x: float) -> str:
    """A number for a formula: ``0.9``, ``10^{-8}``, ``1.5 \\cdot 10^{-3}``."""
    if not np.isfinite(x):
        return r"\mathrm{NaN}" if np.isnan(x) else (r"\infty" if x > 0 else r"-\infty")
    if x == 0 or (1e-3 <= abs(x) < 1e4):
        return f"{x:.6g}"
    mantissa, exponent = f"{x:.4e}".split("e")
    m = mantissa.rstrip("0").rstrip(".")
    e = int(exponent)
    if m in ("1", "-1"):
        return f"{m[:-1]}10^{{{e}}}"
    return f"{m} \\cdot 10^{{{e}}}"


def docs(docs: dict[str, BufferDoc]) -> Mapping[str, BufferDoc]:
    """A rule's ``buffer_docs`` (read-only)."""
    return MappingProxyType(docs)


def merge_docs(*docs: Mapping[str, BufferDoc]) -> dict[str, BufferDoc]:
    """Buffer docs of a base and its variants (later ones win)."""
    out: dict[str, BufferDoc] = {}
    for d in docs:
        out.update(d)
    return out


_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon", "η": r"\eta",
    "θ": r"\theta", "λ": r"\lambda", "μ": r"\mu", "ρ": r"\rho", "τ": r"\tau", "ψ": r"\psi", "Δ": r"\Delta",
    "σ": r"\sigma", "ω": r"\omega", "κ": r"\kappa", "φ": r"\phi",
}
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋", "0123456789+-")


def symbol_latex(symbol: str) -> str:
    """A hyperparameter's Unicode symbol in LaTeX: ``β₁`` → ``\\beta_{1}``, ``λ_η`` → ``\\lambda_{\\eta}``."""
    base, sub = symbol, ""
    for i, ch in enumerate(symbol):
        if ch in "₀₁₂₃₄₅₆₇₈₉₊₋" or ch == "_":
            base, sub = symbol[:i], symbol[i:].lstrip("_").translate(_SUB)
            break
    if base.lower() in ("min", "max"):
        base = rf"\mathrm{{{base}}}"

    def conv(text: str) -> str:
        out = "".join(_GREEK.get(ch, ch) + (" " if ch in _GREEK and len(text) > 1 else "") for ch in text).strip()
        return out if len(text) <= 1 or all(ch in _GREEK for ch in text) else rf"\mathrm{{{out}}}"

    head = conv(base) if base else ""
    if symbol.startswith("Δ") and len(symbol) > 1 and not sub:  # Δmin, Δmax
        return rf"\Delta_{{\mathrm{{{symbol[1:]}}}}}"
    return f"{head}_{{{conv(sub)}}}" if sub else head


def values_latex(hp: Mapping[str, Any], specs: tuple[Any, ...]) -> str:
    """The numeric hyperparameters as one LaTeX line: ``\\eta = 0.1,\\ \\beta_{1} = 0.9 …``
    (switches and choices as ``\\text{name}``)."""
    parts: list[str] = []
    for spec in specs:
        value = hp[spec.name]
        if spec.kind == "bool":
            if value:
                parts.append(rf"\text{{{spec.name.replace('_', ' ')}}}")
            continue
        if spec.kind == "choice":
            parts.append(rf"\text{{{spec.name.replace('_', ' ')} = {str(value).replace('_', chr(92) + '_')}}}")
            continue
        items = value if isinstance(value, tuple) else (value,)
        symbols = spec.symbols if isinstance(value, tuple) and spec.symbols else (spec.symbol,) * len(items)
        for sym, item in zip(symbols, items, strict=False):
            if item is None:
                continue
            parts.append(f"{symbol_latex(sym)} = {latex_number(float(np.ravel(item)[0]))}")
    return r",\ ".join(parts)


def decayed_grad(ctx: StepContext) -> Array:
    """g + λθ_{t−1} for coupled weight decay (λ = ``weight_decay`` ≠ 0, not decoupled), else g."""
    if "weight_decay" not in ctx.hp or ctx.hp.get("decoupled_weight_decay", False):
        return ctx.grad
    wd = ctx.number("weight_decay")
    out: Array = ctx.grad + wd * ctx.param_before if wd != 0 else ctx.grad
    return out


def _coupled_decay_row(ctx: StepContext) -> Array | None:
    """g + λθ_{t−1} when coupled weight decay changed the gradient (λ ≠ 0, not decoupled), else None."""
    if ctx.number("weight_decay") == 0 or ctx.hp.get("decoupled_weight_decay", False):
        return None
    return decayed_grad(ctx)


#: The row of the rules with torch's ``weight_decay`` (coupled: added to g; AdamW's decoupled decay
#: shrinks θ instead and shows no row).
DECAYED_GRAD = Derived("decayed_grad", r"g_t + \lambda\theta_{t-1}",
                       "the gradient with (coupled) weight decay added", _coupled_decay_row)


def community_grad(ctx: StepContext) -> Array:
    """The gradient a pytorch_optimizer rule averages: g + λθ_{t−1} when its decay is not
    decoupled (``weight_decouple`` false, λ ≠ 0), else g."""
    wd = ctx.number("weight_decay") if "weight_decay" in ctx.hp else 0.0
    if wd == 0 or ctx.hp.get("weight_decouple", True):
        return ctx.grad
    out: Array = ctx.grad + wd * ctx.param_before
    return out


def moment_addition(buffer: str, beta: Callable[[StepContext], float],
                    grad: Callable[[StepContext], Array]) -> tuple[Derived, Derived]:
    """The two addends of ``buffer ← β·buffer + (1 − β)·g`` as slow motion's velocity_old / velocity_add."""
    return (
        Derived("velocity_old", r"\beta_1 m_{t-1}", "the old first moment, decayed",
                lambda c: beta(c) * c.buf(buffer, after=False), "velocity_old"),
        Derived("velocity_add", r"(1-\beta_1) g_t", "the scaled gradient added to the first moment",
                lambda c: (1 - beta(c)) * grad(c), "velocity_add"),
    )
