"""What the community rules share: reference-style hyperparameters and pytorch_optimizer's helpers.

The rules in ``lion.py`` … ``madgrad.py`` follow pytorch_optimizer 4.1.0, the schedule-free ones
schedulefree 1.4.1. Their keywords differ from torch.optim's in three ways a plain
:class:`~gdstudio.engine.hyperparams.HyperParam` does not cover, so :class:`RefParam` adds them:

* the reference's own validation messages (``learning rate must be positive. (-0.5 > 0)``,
  ``beta2 must be in the range [0.0, 1.0)``), where it has one: ``message`` is the template;
* ``betas`` of three decay rates (Adan, AdEMAMix): a ``pair`` whose default has three items;
* ``None`` as a value (Prodigy's ``beta3`` and ``eps``, AdEMAMix's ``t_alpha_beta3``): ``optional``;
* ``inf`` as a value (Prodigy's ``growth_rate``): ``allow_inf``.

Helpers mirror pytorch_optimizer's ``BaseOptimizer`` (weight decay, RAdam rectification, the
float32 global gradient norm), row-exact for per-row columns like :mod:`.common`'s.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from gdstudio.engine.hyperparams import Column, HyperParam, Real, RowValue, Value
from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array

__all__ = [
    "RefParam", "apply_weight_decay", "betas", "clip_factor", "eps", "lr", "nonneg", "rectified_step_size",
    "ref_param", "row_max", "row_min", "rows_of", "shrink", "weight_decay",
]

_WORDS = {2: "two", 3: "three"}


@dataclass(frozen=True)
class RefParam(HyperParam):
    """A hyperparameter validated as its reference package validates it.

    ``message``: the reference's text for a value outside ``[low, high]``, a template with
    ``{value}`` (the value as Python prints it) and ``{index}`` (a tuple item's 1-based position);
    a per-row column adds `` in row i``. Values the reference lets through but no step can use
    (NaN, text that is not a number) get the generic ``Invalid … value`` message.
    ``optional``: ``None`` is a value (written ``none`` on the command line).
    ``allow_inf``: ``+inf`` is a value when ``high`` is infinite.
    ``bound_message``: see the field.
    """

    message: str = ""
    optional: bool = False
    allow_inf: bool = False
    #: Whether ``message`` also covers an open bound itself (schedule-free's momentum of 0 or 1);
    #: else a bound the reference accepts but cannot step with gets the generic message.
    bound_message: bool = True

    # -- scalars ---------------------------------------------------------------------------------
    def _inside(self, value: float) -> bool:
        if math.isnan(value) or (math.isinf(value) and not (self.allow_inf and value > 0 and self.high == math.inf)):
            return False
        return (value > self.low if self.low_open else value >= self.low) and (
            value < self.high if self.high_open else value <= self.high or math.isinf(value)
        )

    def _check_scalar(self, value: float, what: str) -> None:
        if self._inside(value):
            return
        if self.message and not math.isnan(value) and (self.bound_message or not self.low <= value <= self.high):
            raise ValueError(self._text(value, what))
        super()._check_scalar(value, what)

    def _text(self, value: float, what: str) -> str:
        index = int(what.rsplit("[", 1)[1].rstrip("]")) + 1 if what.endswith("]") else 1
        return self.message.format(value=value, index=index)

    def range_text(self) -> str:
        if self.allow_inf and self.kind == "float":
            lo = "(" if self.low_open else "["
            return f"{lo}{self.low!r}, inf]"
        return super().range_text()

    # -- values ----------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Items of a tuple value (2 or 3), 1 for a number."""
        return len(self.default) if isinstance(self.default, tuple) else 1

    def validate(self, value: object) -> Value:
        if self.optional and _is_none(value):
            return None
        if isinstance(value, str):
            return self._parse(value)
        if self.kind in ("pair", "triple"):
            return self._tuple(value, rows=False)  # type: ignore[return-value]
        if self.kind == "float" and isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            number = float(value)
            self._check_scalar(number, self.name)
            return number
        return super().validate(value)

    def validate_rows(self, value: object) -> RowValue:
        if self.optional and _is_none(value):
            return None
        if self.kind in ("pair", "triple") and not isinstance(value, str):
            return self._tuple(value, rows=True)  # type: ignore[return-value]
        if self.kind == "float" and isinstance(value, np.ndarray) and value.ndim > 0:
            return self._column(value, self.name)
        return self.validate(value)

    def _example(self) -> str:
        return ",".join(repr(float(v)) for v in cast(tuple[float, ...], self.default))

    def _tuple(self, value: object, *, rows: bool) -> tuple[Real, ...]:
        n = self.size
        example = self._example()
        shown = repr(value)
        if isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value):
            shown = f"{len(value)} items"  # one line, not the arrays' repr
        bad = f"Invalid {self.name} value: {shown} (must be {_WORDS.get(n, n)} numbers, e.g. {example})"
        if isinstance(value, np.ndarray) and value.ndim == 1:
            value = tuple(value.tolist())
        if not isinstance(value, (tuple, list)) or len(value) != n:
            raise ValueError(bad)
        out: list[Real] = []
        for i, item in enumerate(value):
            what = f"{self.name}[{i}]"
            if rows and isinstance(item, np.ndarray) and item.ndim > 0:
                out.append(self._column(item, what))
                continue
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
                raise ValueError(bad)
            number = float(item)
            self._check_scalar(number, what)
            out.append(number)
        return tuple(out)

    def _column(self, value: Any, what: str) -> Column:
        if value.ndim != 2 or value.shape[1] != 1 or value.shape[0] < 1 or value.dtype.kind not in "fiu":
            return super()._column(value, what)  # the shape / dtype message
        col: Column = value.astype(np.float64)
        with np.errstate(invalid="ignore"):
            ok = ~np.isnan(col)
            if not (self.allow_inf and self.high == math.inf):
                ok &= np.isfinite(col)
            ok &= col > self.low if self.low_open else col >= self.low
            ok &= col < self.high if self.high_open else (col <= self.high) | np.isinf(col)
        if not ok.all():
            row = int(np.argmin(ok[:, 0]))
            item = float(col[row, 0])
            try:
                self._check_scalar(item, what)
            except ValueError as exc:
                raise ValueError(f"{exc} in row {row}") from None
            raise ValueError(f"Invalid {what} value: {item!r} (must be in {self.range_text()}) in row {row}")
        col.flags.writeable = False
        return col

    def _parse(self, text: str) -> Value:
        raw = text.strip()
        if self.optional and raw.lower() in ("none", "auto"):
            return None
        if self.kind in ("pair", "triple"):
            parts = [p.strip() for p in raw.strip("()[]").split(",")]
            try:
                return self._tuple([float(p) for p in parts], rows=False)  # type: ignore[return-value]
            except ValueError as exc:
                if "must be" in str(exc) and "numbers" in str(exc):
                    n = self.size
                    example = self._example()
                    raise ValueError(
                        f"Invalid {self.name} value: {text!r} (must be {_WORDS.get(n, n)} numbers, e.g. {example})"
                    ) from None
                raise
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"Invalid {self.name} value: {text!r} (must be a number)") from None
        self._check_scalar(number, self.name)
        return number


def _is_none(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("none", "auto"))


# -- field helpers ---------------------------------------------------------------------------------
def ref_param(default: Any, symbol: str, help: str, **spec: Any) -> Any:
    """A :class:`~gdstudio.engine.optimizers.base.Params` field carrying a :class:`RefParam`."""
    return field(default=default, metadata={"hyperparam": RefParam("", symbol, default, help, **spec)})


#: pytorch_optimizer's messages (``BaseOptimizer.validate_*`` and ``NegativeLRError``).
LR_MESSAGE = "learning rate must be positive. ({value} > 0)"
NONNEG_MESSAGE = "{name} must be non-negative"


def lr(default: float, message: str = LR_MESSAGE) -> Any:
    """Learning rate η in ``[0, inf)``, with the reference's message."""
    return ref_param(default, "η", "learning rate: the size of each step along the update direction",
                     low=0.0, soft_low=1e-4, soft_high=10.0, log=True, label="learning rate", message=message)


def betas(default: tuple[float, ...], help: str, symbols: tuple[str, ...] | None = None,
          last_closed: bool = False) -> Any:
    """Decay rates, each in ``[0, 1)`` (a third one in ``[0, 1]`` with ``last_closed``, as
    pytorch_optimizer's ``validate_betas``): ``beta<i> must be in the range [0.0, 1.0)``."""
    n = len(default)
    syms = symbols or tuple(f"β{'₁₂₃'[i]}" for i in range(n))
    message = "beta{index} must be in the range [0.0, 1.0)"
    if last_closed:
        # One template for all items: the third may be 1.0, so only values above 1 or below 0
        # reach it; those two messages differ by the bracket, chosen in BetasParam.
        spec = BetasParam("", "β", cast(Value, default), help, kind="triple", low=0.0, high=1.0, high_open=True,
                          soft_high=0.9999,
                          symbols=syms, label="betas", message=message)
        return field(default=default, metadata={"hyperparam": spec})
    return ref_param(default, "β", help, kind="pair", low=0.0, high=1.0, high_open=True, soft_high=0.9999,
                     symbols=syms, label="betas", message=message)


@dataclass(frozen=True)
class BetasParam(RefParam):
    """Three decay rates validated as pytorch_optimizer's ``validate_betas``: β₁, β₂ in ``[0, 1)``
    and β₃ in ``[0, 1]``."""

    def _check_scalar(self, value: float, what: str) -> None:
        index = int(what.rsplit("[", 1)[1].rstrip("]")) if what.endswith("]") else 0
        closed = index == 2
        inside = math.isfinite(value) and value >= 0.0 and (value <= 1.0 if closed else value < 1.0)
        if inside:
            return
        if math.isnan(value):
            super()._check_scalar(value, what)
        bracket = "]" if closed else ")"
        raise ValueError(f"beta{index + 1} must be in the range [0.0, 1.0{bracket}")

    def range_text(self) -> str:
        return "[0.0, 1.0) (β₃: [0.0, 1.0])"

    def _column(self, value: Any, what: str) -> Column:
        if value.ndim != 2 or value.shape[1] != 1 or value.shape[0] < 1 or value.dtype.kind not in "fiu":
            return HyperParam._column(self, value, what)  # the shape / dtype message
        col: Column = value.astype(np.float64)
        for row, item in enumerate(col[:, 0].tolist()):
            try:
                self._check_scalar(item, what)
            except ValueError as exc:
                raise ValueError(f"{exc} in row {row}") from None
        col.flags.writeable = False
        return col


def eps(default: float, help: str = "added to the denominator so it is never zero", **spec: Any) -> Any:
    """ε ≥ 0: ``eps must be non-negative``."""
    return ref_param(default, "ε", help, low=0.0, soft_low=1e-16, soft_high=1.0, log=True, label="epsilon",
                     message=NONNEG_MESSAGE.format(name="eps"), **spec)


def weight_decay(default: float = 0.0, message: str = NONNEG_MESSAGE.format(name="weight_decay")) -> Any:
    """λ ≥ 0: ``weight_decay must be non-negative``."""
    return ref_param(default, "λ", "weight decay: pulls parameters towards zero by λ·θ",
                     low=0.0, soft_high=1.0, label="weight decay", message=message)


def nonneg(name: str, symbol: str, default: float | None, help: str, soft_high: float = 1.0, *,
           checked: bool = True, **spec: Any) -> Any:
    """A number ≥ 0; ``checked``: the reference says ``<name> must be non-negative``."""
    message = NONNEG_MESSAGE.format(name=name) if checked else ""
    return ref_param(default, symbol, help, low=0.0, soft_high=soft_high, message=message, **spec)


def decouple(default: bool) -> bool:
    """pytorch_optimizer's ``weight_decouple`` switch."""
    return common.flag("W", "decoupled weight decay: shrink θ by 1 − ηλ instead of adding λθ to g", default)


def fixed_decay() -> bool:
    """pytorch_optimizer's ``fixed_decay`` switch."""
    return common.flag("F", "fixed decay: decoupled decay shrinks θ by 1 − λ, not scaled by η")


# -- pytorch_optimizer's helpers, row-exact ----------------------------------------------------------
def rows_of(x: Real, n: int) -> Array:
    """``x`` as an (n, 1) column (a float repeated)."""
    return np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(-1, 1), (n, 1)).copy()


def row_max(a: Real, b: Real) -> Real:
    """Python's ``max(a, b)`` row by row: ``b`` where ``b > a``, else ``a``."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        out: Array = np.where(np.greater(b, a), b, a)
        return out
    return max(a, b)


def row_min(a: Real, b: Real) -> Real:
    """Python's ``min(a, b)`` row by row: ``b`` where ``b < a``, else ``a``."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        out: Array = np.where(np.less(b, a), b, a)
        return out
    return min(a, b)


def apply_weight_decay(p: Array, g: Array, lr: Real, weight_decay: Real, decouple: bool, fixed: bool) -> Array:
    """``BaseOptimizer.apply_weight_decay``: decoupled, ``θ ← θ(1 − λ·(1 if fixed else η))`` and
    ``g`` is returned; coupled, ``g + λθ`` (``g`` itself where λ = 0; ``g`` is never modified)."""
    if decouple:
        shrink(p, lr, weight_decay, fixed)
        return g
    return common.decay(g, p, weight_decay)


def shrink(p: Array, lr: Real, weight_decay: Real, fixed: bool) -> None:
    """Decoupled weight decay in place: ``θ ← θ(1 − λ·(1 if fixed else η))`` (rows with λ = 0 untouched)."""
    if common.nonzero(weight_decay):
        p *= 1.0 - weight_decay * (1.0 if fixed else lr)  # exactly 1 in rows with λ = 0


def _n_sma(beta2: float, step: int) -> tuple[float, float, float]:
    """(ρ∞, β₂ᵗ, ρₜ) as ``get_rectify_step_size`` computes them."""
    n_sma_max = 2.0 / (1.0 - beta2) - 1.0
    beta2_t = beta2**step
    return n_sma_max, beta2_t, n_sma_max - 2 * step * beta2_t / (1.0 - beta2_t)


def _rectified(lr: float, beta2: float, step: int, threshold: float, degenerated: bool) -> float:
    n_sma_max, beta2_t, n_sma = _n_sma(beta2, step)
    if n_sma >= threshold:
        try:
            rt = math.sqrt((1.0 - beta2_t) * (n_sma - 4) / (n_sma_max - 4) * (n_sma - 2) / n_sma * n_sma_max
                           / (n_sma_max - 2))
        except (ValueError, ZeroDivisionError):  # the reference raises (threshold below 4): a NaN step here
            rt = math.nan
    elif degenerated:
        rt = 1.0
    else:
        rt = -1.0
    return lr * rt


def rectified_step_size(lr: Real, beta2: Real, step: int, threshold: Real, degenerated: bool) -> tuple[Real, Real]:
    """``BaseOptimizer.get_rectify_step_size`` with ``is_rectify``: (η·rₜ, ρₜ), row by row."""
    size = common.rowwise(lambda a, b, c: _rectified(a, b, step, c, degenerated), lr, beta2, threshold)
    n_sma = common.rowwise(lambda b: _n_sma(b, step)[2], beta2)
    return size, n_sma


def clip_factor(g: Array, max_norm: Real, eps: Real) -> Real:
    """pytorch_optimizer's ``clamp(max_norm / (‖g‖ + ε), max=1)`` in float32, per row (1.0 where
    ``max_norm`` is 0): ``get_global_gradient_norm`` squares the norm in float32, so the factor is
    a float32 number. Returns an (N, 1) column, or the float 1.0 when no row clips."""
    if not common.nonzero(max_norm):
        return 1.0
    norm32 = np.sqrt(np.einsum("ij,ij->i", g, g))[:, None].astype(np.float32)
    with np.errstate(all="ignore"):
        total = np.sqrt(norm32 * norm32) + np.asarray(eps, dtype=np.float32)
        factor = np.minimum(np.asarray(max_norm, dtype=np.float32) / total, np.float32(1.0))
    out: Array = np.where(np.asarray(max_norm) != 0, factor.astype(np.float64), 1.0)
    return out
