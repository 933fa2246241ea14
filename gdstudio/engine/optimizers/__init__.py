"""Optimizers: vectorized update rules with torch.optim's float64 semantics, and their registry."""

from gdstudio.engine.optimizers.base import Optimizer, OptState, StepInternals
from gdstudio.engine.optimizers.registry import (
    GROUPS,
    OPTIMIZERS,
    Group,
    OptimizerSpec,
    get_spec,
    make_optimizer,
    optimizer_names,
    optimizers_by_group,
)

__all__ = [
    "GROUPS",
    "OPTIMIZERS",
    "Group",
    "OptState",
    "Optimizer",
    "OptimizerSpec",
    "StepInternals",
    "get_spec",
    "make_optimizer",
    "optimizer_names",
    "optimizers_by_group",
]
