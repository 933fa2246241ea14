"""torch.optim.lr_scheduler (2.13), ported operation by operation onto one parameter group.

Each class keeps torch's state (``last_epoch``, ``_step_count``, ``_is_initial``, ``base_lrs``)
and torch's arithmetic, including the recursive (chainable) forms that scale the current
``group["lr"]`` rather than recompute it, so the float64 learning rates equal torch's bit for bit.
:class:`SequentialLR` repeats torch's construction dance (reset to ``initial_lr``, undo the
sub-schedulers' first step, closed form at a milestone).

The group is a dict like a torch param group: ``lr`` and ``initial_lr`` are a float or an (N, 1)
float64 column (one learning rate per row; each row is then exactly a torch param group of its
own, since every operation on the learning rate is elementwise ``+ − × ÷`` with Python-float
factors); ``momentum`` holds the cycled momentum / β₁ of :class:`CyclicLR` and :class:`OneCycleLR`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "Group",
    "LRScheduler",
    "LinearLR",
    "Lr",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]

#: A learning rate: one float, or an (N, 1) column of per-row rates.
Lr = Any
Group = dict[str, Any]


class LRScheduler:
    """torch's ``LRScheduler`` base: construction performs the first step (``last_epoch`` 0)."""

    def __init__(self, group: Group) -> None:
        self.group = group
        group.setdefault("initial_lr", group["lr"])
        self.base_lr: Lr = group["initial_lr"]
        self.last_epoch = -1
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> Lr:
        raise NotImplementedError

    def closed_form_lr(self) -> Lr | None:
        """torch's ``_get_closed_form_lr`` where the class has one, else None."""
        return None

    def step(self) -> None:
        self._step_count += 1
        self._update_lr(None)

    def _update_lr(self, epoch: int | None) -> None:
        if epoch is None:
            self.last_epoch += 1
            value = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = self.closed_form_lr()
            value = self.get_lr() if closed is None else closed
        self.group["lr"] = value


class StepLR(LRScheduler):
    def __init__(self, group: Group, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(group)

    def get_lr(self) -> Lr:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self.group["lr"]
        return self.group["lr"] * self.gamma

    def closed_form_lr(self) -> Lr:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class MultiStepLR(LRScheduler):
    def __init__(self, group: Group, milestones: Sequence[int], gamma: float = 0.1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(group)

    def get_lr(self) -> Lr:
        if self.last_epoch not in self.milestones:
            return self.group["lr"]
        return self.group["lr"] * self.gamma ** self.milestones[self.last_epoch]

    def closed_form_lr(self) -> Lr:
        milestones = sorted(self.milestones.elements())
        return self.base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)


class ConstantLR(LRScheduler):
    def __init__(self, group: Group, factor: float = 1.0 / 3, total_iters: int = 5) -> None:
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(group)

    def get_lr(self) -> Lr:
        if self.last_epoch == 0:
            return self.group["lr"] * self.factor
        if self.last_epoch != self.total_iters:
            return self.group["lr"]
        return self.group["lr"] * (1.0 / self.factor)

    def closed_form_lr(self) -> Lr:
        return self.base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))


class LinearLR(LRScheduler):
    def __init__(self, group: Group, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5) -> None:
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(group)

    def get_lr(self) -> Lr:
        if self.last_epoch == 0:
            return self.group["lr"] * self.start_factor
        if self._is_initial or self.last_epoch > self.total_iters:
            return self.group["lr"]
        return self.group["lr"] * (
            1.0
            + (self.end_factor - self.start_factor)
            / (self.total_iters * self.start_factor + (self.last_epoch - 1) * (self.end_factor - self.start_factor))
        )

    def closed_form_lr(self) -> Lr:
        return self.base_lr * (
            self.start_factor
            + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch) / self.total_iters
        )


class ExponentialLR(LRScheduler):
    def __init__(self, group: Group, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(group)

    def get_lr(self) -> Lr:
        if self._is_initial:
            return self.group["lr"]
        return self.group["lr"] * self.gamma

    def closed_form_lr(self) -> Lr:
        return self.base_lr * self.gamma**self.last_epoch


class PolynomialLR(LRScheduler):
    def __init__(self, group: Group, total_iters: int = 5, power: float = 1.0) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(group)

    def get_lr(self) -> Lr:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self.group["lr"]
        decay_factor = (
            (1.0 - self.last_epoch / self.total_iters) / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return self.group["lr"] * decay_factor

    def closed_form_lr(self) -> Lr:
        return self.base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power


class CosineAnnealingLR(LRScheduler):
    def __init__(self, group: Group, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(group)

    def get_lr(self) -> Lr:
        lr, eta_min, t_max = self.group["lr"], self.eta_min, self.T_max
        if self._is_initial:
            return lr
        if self._step_count == 1 and self.last_epoch > 0:
            return eta_min + (self.base_lr - eta_min) * (1 + math.cos(self.last_epoch * math.pi / t_max)) / 2
        if (self.last_epoch - 1 - t_max) % (2 * t_max) == 0:
            return lr + (self.base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
        return (
            (1 + math.cos(math.pi * self.last_epoch / t_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / t_max))
            * (lr - eta_min)
            + eta_min
        )

    def closed_form_lr(self) -> Lr:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2


class CosineAnnealingWarmRestarts(LRScheduler):
    def __init__(self, group: Group, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> None:
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = -1
        super().__init__(group)

    def get_lr(self) -> Lr:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2

    def step(self) -> None:
        # torch's step(epoch=None): the first call (last_epoch −1) takes epoch 0 through the
        # explicit-epoch branch, which for epoch 0 < T_0 sets T_i = T_0 and T_cur = 0.
        if self.last_epoch < 0:
            self.T_i = self.T_0
            self.T_cur = 0
            self.last_epoch = 0
        else:
            self.last_epoch += 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        self.group["lr"] = self.get_lr()


class CyclicLR(LRScheduler):
    """torch's CyclicLR with its three built-in modes (no custom ``scale_fn``)."""

    def __init__(self, group: Group, base_lr: Lr, max_lr: Lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 cycle_momentum: bool = True, base_momentum: float = 0.8, max_momentum: float = 0.9) -> None:
        group["lr"] = base_lr
        self.max_lr = max_lr
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"Invalid mode value: {mode!r} (must be one of triangular, triangular2, exp_range)")
        self.mode = mode
        self.gamma = gamma
        self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.base_momentum = base_momentum
            self.max_momentum = max_momentum
            group["momentum"] = max_momentum
        super().__init__(group)
        self.base_lr = base_lr

    def scale_fn(self, x: int) -> float:
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return float(self.gamma**x)

    def get_lr(self) -> Lr:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle) if self.scale_mode == "cycle" else self.scale_fn(self.last_epoch)
        base_height = (self.max_lr - self.base_lr) * scale_factor
        lr = self.base_lr + base_height * scale
        if self.cycle_momentum:
            height = (self.max_momentum - self.base_momentum) * scale_factor
            self.group["momentum"] = self.max_momentum - height * scale
        return lr


class OneCycleLR(LRScheduler):
    """torch's OneCycleLR given ``total_steps``, for the cycle's ``total_steps`` steps; after them
    the rates of the last step stay (torch extrapolates the last phase for one more step, which
    can make η negative, then raises)."""

    def __init__(self, group: Group, max_lr: Lr, total_steps: int, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False) -> None:
        self.total_steps = total_steps
        if three_phase:
            self._phases: list[tuple[float, str, str, str, str]] = [
                (float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"Invalid anneal_strategy value: {anneal_strategy!r} (must be one of cos, linear)")
        self.anneal_strategy = anneal_strategy
        group["initial_lr"] = max_lr / div_factor
        group["max_lr"] = max_lr
        group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            group["momentum"] = max_momentum
            group["max_momentum"] = max_momentum
            group["base_momentum"] = base_momentum
        super().__init__(group)

    def _anneal(self, start: Lr, end: Lr, pct: float) -> Lr:
        if self.anneal_strategy == "cos":
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def step(self) -> None:
        """torch's step within the cycle; from step ``total_steps`` on the last rates are kept."""
        if self.last_epoch + 1 >= self.total_steps:
            self.last_epoch += 1
            self._step_count += 1
            return
        super().step()

    def get_lr(self) -> Lr:
        step_num = self.last_epoch
        group = self.group
        start_step = 0.0
        for i, (end_step, start_lr, end_lr, start_m, end_m) in enumerate(self._phases):
            if step_num <= end_step or i == len(self._phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                lr = self._anneal(group[start_lr], group[end_lr], pct)
                if self.cycle_momentum:
                    group["momentum"] = self._anneal(group[start_m], group[end_m], pct)
                return lr
            start_step = end_step
        raise AssertionError("unreachable: the last phase always matches")


class SequentialLR:
    """torch's SequentialLR over non-nested schedulers."""

    def __init__(self, group: Group, schedulers: Sequence[LRScheduler], milestones: Sequence[int]) -> None:
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("SequentialLR needs one milestone fewer than schedulers")
        self.group = group
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = 0
        group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:  # torch's recursive_undo
            scheduler.last_epoch -= 1
        self._schedulers[bisect_right(self._milestones, 0)]._initial_step()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()


class ReduceLROnPlateau:
    """torch's ReduceLROnPlateau, vectorized: with a column of rates and one loss per row, each
    row keeps its own best, bad-step count and cooldown, exactly as N separate schedulers."""

    def __init__(self, group: Group, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError(f"Invalid factor value: {factor!r} (must be in [0, 1))")
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode value: {mode!r} (must be one of min, max)")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"Invalid threshold_mode value: {threshold_mode!r} (must be one of rel, abs)")
        self.group = group
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best: Any = self.mode_worse
        self.cooldown_counter: Any = 0
        self.num_bad_epochs: Any = 0

    def _is_better(self, a: Any, best: Any) -> Any:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any) -> None:
        lr = self.group["lr"]
        current = np.asarray(metrics, dtype=np.float64)
        if current.ndim == 0 and not isinstance(lr, np.ndarray):
            self._step_scalar(float(current))
            return
        if not isinstance(lr, np.ndarray):  # one rate shared by rows with their own losses: split it
            lr = np.full((current.size, 1), lr)
        current = current.reshape(-1, 1) if current.ndim else np.full(lr.shape, float(current))
        self.last_epoch += 1
        better = self._is_better(current, self.best)
        self.best = np.where(better, current, self.best)
        bad = np.where(better, 0, self.num_bad_epochs + 1)
        cooling = np.asarray(self.cooldown_counter) > 0
        self.cooldown_counter = np.where(cooling, np.asarray(self.cooldown_counter) - 1, self.cooldown_counter)
        bad = np.where(cooling, 0, bad)
        reduce = bad > self.patience
        new = np.maximum(lr * self.factor, self.min_lr)
        self.group["lr"] = np.where(reduce & (lr - new > self.eps), new, lr)
        self.cooldown_counter = np.where(reduce, self.cooldown, self.cooldown_counter)
        self.num_bad_epochs = np.where(reduce, 0, bad)

    def _step_scalar(self, current: float) -> None:
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old_lr = float(self.group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
