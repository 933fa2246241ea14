"""Hyperparameter specs shared by several rules (torch.optim keyword names and defaults)."""

from __future__ import annotations

import math

from gdstudio.engine.hyperparams import HyperParam


def lr(default: float) -> HyperParam:
    """Learning rate η: ``[0, inf)``, log-scale slider."""
    return HyperParam(
        "lr", "η", default, "learning rate: the size of each step along the update direction",
        low=0.0, soft_low=1e-4, soft_high=10.0, log=True, label="learning rate",
    )


def eps(default: float) -> HyperParam:
    """ε added to a denominator for numerical stability."""
    return HyperParam(
        "eps", "ε", default, "added to the denominator so it is never zero",
        low=0.0, soft_low=1e-12, soft_high=1.0, log=True, label="epsilon",
    )


def weight_decay(default: float = 0.0) -> HyperParam:
    """L2 penalty λ: adds λ·θ to the gradient (or decays θ directly where decoupled)."""
    return HyperParam(
        "weight_decay", "λ", default, "weight decay: pulls parameters towards zero by λ·θ",
        low=0.0, soft_high=1.0, label="weight decay",
    )


def betas(default: tuple[float, float] = (0.9, 0.999)) -> HyperParam:
    """(β₁, β₂): decay rates of the first and second moment averages, each in ``[0, 1)``."""
    return HyperParam(
        "betas", "β", default, "decay rates of the running averages of the gradient and its square",
        kind="pair", low=0.0, high=1.0, high_open=True, soft_high=0.9999,
        symbols=("β₁", "β₂"), label="betas",
    )


def flag(name: str, symbol: str, help: str, default: bool = False) -> HyperParam:
    """A boolean switch."""
    return HyperParam(name, symbol, default, help, kind="bool", label=name.replace("_", " "))


def nonneg(name: str, symbol: str, default: float, help: str, soft_high: float = 1.0) -> HyperParam:
    """A number in ``[0, inf)``."""
    return HyperParam(name, symbol, default, help, low=0.0, soft_high=soft_high, label=name.replace("_", " "))


def unit(name: str, symbol: str, default: float, help: str, *, high_open: bool = False) -> HyperParam:
    """A number in ``[0, 1]`` (or ``[0, 1)``)."""
    return HyperParam(
        name, symbol, default, help, low=0.0, high=1.0, high_open=high_open,
        soft_high=0.9999 if high_open else 1.0, label=name.replace("_", " "),
    )


INF = math.inf
