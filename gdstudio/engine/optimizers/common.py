"""What the rules share: hyperparameter field helpers and per-row arithmetic.

Field helpers (``lr``, ``eps``, ``betas`` …) declare a :class:`~gdstudio.engine.optimizers.base.Params`
field with its default and attach its :class:`HyperParam` (symbol, help, range); the field's name
becomes the spec's name. Names and defaults follow torch.optim's keywords.

Per-row helpers keep a rule's arithmetic row-exact when a hyperparameter is an (N, 1) column:
row i computes exactly what a single run with row i's value computes (see base.py, *Per-row values*).
With plain floats they cost nothing over the direct expression.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import field
from typing import Any

import numpy as np
import numpy.typing as npt

from gdstudio.engine.hyperparams import HyperParam, Real, Value

Array = npt.NDArray[np.float64]
Mask = bool | np.bool_ | npt.NDArray[np.bool_]

INF = math.inf


# -- field helpers --------------------------------------------------------------------------------
def hyperparam(default: Value, symbol: str, help: str, **spec: Any) -> Any:
    """A :class:`Params` field with ``default`` and its spec (keywords as :class:`HyperParam`'s:
    ``low``, ``high``, ``low_open``, ``high_open``, ``soft_low``, ``soft_high``, ``log``, ``kind``,
    ``symbols``, ``label``)."""
    return field(default=default, metadata={"hyperparam": HyperParam("", symbol, default, help, **spec)})


def lr(default: float) -> float:
    """Learning rate η: ``[0, inf)``, log-scale slider."""
    value: float = hyperparam(
        default, "η", "learning rate: the size of each step along the update direction",
        low=0.0, soft_low=1e-4, soft_high=10.0, log=True, label="learning rate",
    )
    return value


def eps(default: float) -> float:
    """ε added to a denominator for numerical stability."""
    value: float = hyperparam(
        default, "ε", "added to the denominator so it is never zero",
        low=0.0, soft_low=1e-12, soft_high=1.0, log=True, label="epsilon",
    )
    return value


def weight_decay(default: float = 0.0) -> float:
    """L2 penalty λ: adds λ·θ to the gradient (or decays θ directly where decoupled)."""
    value: float = hyperparam(
        default, "λ", "weight decay: pulls parameters towards zero by λ·θ",
        low=0.0, soft_high=1.0, label="weight decay",
    )
    return value


def betas(default: tuple[float, float] = (0.9, 0.999)) -> tuple[float, float]:
    """(β₁, β₂): decay rates of the first and second moment averages, each in ``[0, 1)``."""
    value: tuple[float, float] = hyperparam(
        default, "β", "decay rates of the running averages of the gradient and its square",
        kind="pair", low=0.0, high=1.0, high_open=True, soft_high=0.9999, symbols=("β₁", "β₂"), label="betas",
    )
    return value


def flag(symbol: str, help: str, default: bool = False) -> bool:
    """A switch (one value for all rows)."""
    value: bool = hyperparam(default, symbol, help, kind="bool")
    return value


def decoupled_weight_decay(help: str = "decoupled weight decay: shrink θ by 1 − ηλ instead of adding λθ to g",
                           default: bool = False) -> bool:
    """torch's ``decoupled_weight_decay`` switch (Adam's, NAdam's, RAdam's)."""
    return flag("W", help, default)


def nonneg(symbol: str, default: float, help: str, soft_high: float = 1.0) -> float:
    """A number in ``[0, inf)``."""
    value: float = hyperparam(default, symbol, help, low=0.0, soft_high=soft_high)
    return value


def unit(symbol: str, default: float, help: str, *, high_open: bool = False) -> float:
    """A number in ``[0, 1]`` (or ``[0, 1)``)."""
    value: float = hyperparam(
        default, symbol, help, low=0.0, high=1.0, high_open=high_open, soft_high=0.9999 if high_open else 1.0,
    )
    return value


def integer(symbol: str, default: int, help: str, *, low: float = 0, high: float = INF,
            soft_high: float = 100.0) -> int:
    """A whole number in ``[low, high]`` (one value for all rows): L-BFGS's ``max_iter``."""
    value: int = hyperparam(default, symbol, help, kind="int", low=low, high=high, soft_low=low, soft_high=soft_high)
    return value


def choice(default: str, choices: tuple[str, ...], help: str, symbol: str = "") -> str:
    """One of ``choices`` (one value for all rows): L-BFGS's ``line_search_fn``."""
    value: str = hyperparam(default, symbol, help, kind="choice", choices=choices)
    return value


def triple(default: tuple[float, float, float], symbol: str, help: str,
           symbols: tuple[str, str, str]) -> tuple[float, float, float]:
    """Three numbers (one value for all rows): Muon's ``ns_coefficients``."""
    value: tuple[float, float, float] = hyperparam(
        default, symbol, help, kind="triple", symbols=symbols, soft_low=-10.0, soft_high=10.0,
    )
    return value


# -- per-row arithmetic ---------------------------------------------------------------------------
def nonzero(x: Real) -> bool:
    """Whether ``x`` is non-zero in any row (a branch that must run for some row)."""
    return bool(np.any(x != 0)) if isinstance(x, np.ndarray) else x != 0


def rows_where(cond: Mask) -> str | None:
    """None where ``cond`` holds nowhere; else a suffix for an error message: ``""`` for a
    scalar condition, ``" in row i"`` (the first row where it holds) for a column."""
    if isinstance(cond, np.ndarray):
        return f" in row {int(np.argmax(cond.reshape(cond.shape[0], -1).any(axis=1)))}" if cond.any() else None
    return "" if cond else None


def choose(cond: Mask, if_true: Array, if_false: Array) -> Array:
    """``if_true`` in rows where ``cond`` holds, ``if_false`` elsewhere (no copy when one side wins)."""
    if not isinstance(cond, np.ndarray):
        return if_true if cond else if_false
    if cond.all():
        return if_true
    if not cond.any():
        return if_false
    out: Array = np.where(cond, if_true, if_false)
    return out


def rowwise(fn: Callable[..., float], *args: Real) -> Real:
    """``fn(*args)`` in Python floats: directly for floats, row by row for (N, 1) columns.

    For powers and library functions of hyperparameters (NumPy's vector ``pow``/``exp`` may round
    differently from the C library a single run's Python floats use). Rows with equal values share
    one evaluation.
    """
    columns = [a for a in args if isinstance(a, np.ndarray)]
    if not columns:
        return float(fn(*args))
    n = columns[0].shape[0]
    lists = [a[:, 0].tolist() if isinstance(a, np.ndarray) else itertools.repeat(a, n) for a in args]
    seen: dict[tuple[float, ...], float] = {}
    out = []
    for row in zip(*lists, strict=False):
        value = seen.get(row)
        if value is None:
            value = seen[row] = float(fn(*row))
        out.append(value)
    return np.array(out, dtype=np.float64).reshape(n, 1)


def _pow(base: float, exp: float) -> float:
    return float(base**exp)


def power(base: Real, exp: Real) -> Real:
    """``base ** exp`` as Python computes it for floats, row by row for columns."""
    if isinstance(base, np.ndarray) or isinstance(exp, np.ndarray):
        return rowwise(_pow, base, exp)
    return float(base**exp)


def shared(bufs: dict[str, Array], scalars: dict[str, float], name: str) -> Real:
    """In ``_update``: a value :meth:`_advance` stored with ``OptState.put`` (this block's rows
    of a column, or the float shared by all rows)."""
    return bufs[name] if name in bufs else scalars[name]


def decay(g: Array, p: Array, wd: Real) -> Array:
    """torch's coupled weight decay ``g + λ·θ`` where λ ≠ 0, row by row; ``g`` itself where λ = 0
    (a new array when any row decays: the gradient is never modified)."""
    if not isinstance(wd, np.ndarray):
        return g + wd * p if wd != 0 else g
    on = wd != 0
    if not on.any():
        return g
    out: Array = g + wd * p
    if not on.all():
        np.copyto(out, g, where=~on)
    return out


def lerp_(start: Array, end: Array, weight: Real) -> None:
    """In-place ``start ← lerp(start, end, weight)`` with torch's two-branch formula, per row."""
    if isinstance(weight, np.ndarray):
        small = np.abs(weight) < 0.5
        if small.all():
            start += weight * (end - start)
        elif not small.any():
            start[...] = end - (end - start) * (1 - weight)
        else:
            start[...] = np.where(small, start + weight * (end - start), end - (end - start) * (1 - weight))
    elif abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
