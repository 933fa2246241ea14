"""A learning-rate schedule running beside an optimizer, and the checks that build one.

Protocol (torch's): build the schedule once the optimizer's η is known; ``schedule.lr`` (and
``schedule.momentum`` for cyclic/onecycle) is what the next optimizer step uses; after each
optimizer step call ``schedule.step(loss)`` (the loss is needed by ``plateau`` only: the full
loss at the new point). A warm-up of N steps is torch's
``SequentialLR([LinearLR(start_factor=1/N, total_iters=N), MAIN], milestones=[N])``; a warm-up
with no schedule is that LinearLR alone (η ramps up to η and stays).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from gdstudio.engine.schedules import lr_scheduler as torch_lr
from gdstudio.engine.schedules.params import ParamValue
from gdstudio.engine.schedules.registry import DEFAULT_HORIZON, ScheduleSpec, get_schedule_spec

__all__ = [
    "Schedule",
    "check_warmup",
    "make_schedule",
    "momentum_target",
    "preview_schedule",
    "validate_schedule",
]


def check_warmup(warmup: object) -> int:
    """``warmup`` as a whole number ≥ 0, or ValueError."""
    if isinstance(warmup, str):
        try:
            number = float(warmup.strip())
        except ValueError:
            raise ValueError(f"Invalid warmup value: {warmup!r} (must be a whole number ≥ 0)") from None
        warmup = int(number) if math.isfinite(number) and number == int(number) else warmup
    if isinstance(warmup, (bool, np.bool_)) or not isinstance(warmup, numbers.Integral) or int(warmup) < 0:
        raise ValueError(f"Invalid warmup value: {warmup!r} (must be a whole number ≥ 0)")
    return int(warmup)


def validate_schedule(
    name: str | None,
    settings: Mapping[str, object] | None = None,
    *,
    from_text: bool = False,
    warmup: object = 0,
    horizon: int | None = None,
) -> dict[str, ParamValue]:
    """The one boundary for schedule settings: every keyword of ``name``, validated.

    Returns all keywords (defaults filled in). ``from_text`` parses command-line text
    (``0.1``, ``30,80``, ``true``, ``cos``, ``auto``); otherwise values are checked as given (text
    is parsed too). ``horizon`` (the run's steps) resolves the ``auto`` keywords that follow the
    run's length (``T_max``, ``total_steps``) to ``max(1, horizon − warmup)``; without it they stay
    ``None`` (then :data:`DEFAULT_HORIZON`). ``name`` None (no schedule) accepts no settings.
    Raises ValueError with one line: ``Unknown schedule: 'foo' (known: …)``, ``Unknown keyword for
    cosine: foo (known: T_max, eta_min)``, ``Invalid gamma value: -1.0 (must be in (0, inf))``.
    """
    steps = check_warmup(warmup)
    if settings is not None and not isinstance(settings, Mapping):
        raise ValueError(f"Invalid schedule settings: {settings!r} (must be a mapping of keywords to values)")
    if name is None:
        if settings:
            key = next(iter(settings))
            raise ValueError(f"Invalid schedule setting {key}: no schedule is chosen")
        return {}
    spec = get_schedule_spec(name)
    values: dict[str, ParamValue] = {p.name: p.default for p in spec.params}
    for key, value in (settings or {}).items():
        param = spec.param(str(key))
        if from_text:
            if not isinstance(value, str):
                raise ValueError(f"Invalid {key} value: {value!r} (must be text)")
            values[param.name] = param.parse(value)
        else:
            values[param.name] = param.validate(value)
    if horizon is not None:
        if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 0:
            raise ValueError(f"Invalid horizon value: {horizon!r} (must be a whole number ≥ 0)")
        for key in spec.horizon_keys:
            if values[key] is None:
                values[key] = max(1, int(horizon) - steps)
    if steps and spec.watches_loss:
        raise ValueError(
            f"Invalid warmup value: {steps} (plateau cannot follow a warm-up: "
            "torch's SequentialLR does not accept ReduceLROnPlateau)"
        )
    if spec.name == "onecycle":
        _check_onecycle(values)
    return values


def _check_onecycle(values: Mapping[str, ParamValue]) -> None:
    """Refuse ``pct_start × total_steps = 1``: torch's OneCycleLR then divides 0 by 0 at its very
    first step (its first phase has no length). A zero-length last phase would be reached only at
    step ``total_steps``, past the cycle, where the schedule keeps its last rates."""
    total = DEFAULT_HORIZON if values["total_steps"] is None else int(values["total_steps"])  # type: ignore[arg-type]
    pct = float(values["pct_start"])  # type: ignore[arg-type]
    if float(pct * total) - 1 == 0.0:
        raise ValueError(
            f"Invalid pct_start value: {pct!r} (pct_start × total_steps = 1 with total_steps={total}: "
            "the cycle's first phase has no length, and torch's OneCycleLR divides by zero)"
        )


def momentum_target(name: str | None, settings: Mapping[str, ParamValue], optimizer: str,
                    hyperparameters: Collection[str]) -> str | None:
    """The optimizer hyperparameter the schedule cycles: ``"betas"`` (β₁), ``"momentum"``, or None.

    As torch: β₁ when the optimizer has ``betas``, else ``momentum``; a schedule that cycles
    momentum on an optimizer with neither is refused (set ``cycle_momentum=false``).
    """
    if name is None:
        return None
    spec = get_schedule_spec(name)
    if not spec.cycles_momentum or not settings.get("cycle_momentum", True):
        return None
    if "betas" in hyperparameters:
        return "betas"
    if "momentum" in hyperparameters:
        return "momentum"
    raise ValueError(
        f"Invalid cycle_momentum value: true ({optimizer} has no momentum or betas to cycle; "
        "set cycle_momentum=false)"
    )


class Schedule:
    """A running schedule on one parameter group whose η is ``lr`` (a float or an (N, 1) column).

    ``lr``: the learning rate the next optimizer step uses (same type as the η given, except that
    cyclic/onecycle with explicit ``max_lr`` give a float); ``momentum``: the momentum / β₁ it
    uses (cyclic, onecycle) or None; ``steps``: how many times :meth:`step` was called.
    """

    def __init__(self, name: str | None, settings: Mapping[str, object] | None, lr: Any, *,
                 warmup: object = 0) -> None:
        values = validate_schedule(name, settings, warmup=warmup)
        self.warmup = check_warmup(warmup)
        self.spec: ScheduleSpec | None = None if name is None else get_schedule_spec(name)
        self.settings = values
        lr = np.array(lr, dtype=np.float64) if isinstance(lr, np.ndarray) else float(lr)
        self.group: torch_lr.Group = {"lr": lr, "eta": lr}
        self.steps = 0
        n = self.warmup
        scheduler: torch_lr.LRScheduler | torch_lr.ReduceLROnPlateau | torch_lr.SequentialLR | _Constant
        if self.spec is None:
            scheduler = torch_lr.LinearLR(self.group, start_factor=1 / n, total_iters=n) if n else _Constant()
        elif n:
            warm = torch_lr.LinearLR(self.group, start_factor=1 / n, total_iters=n)
            main = self.spec.build(self.group, values)
            scheduler = torch_lr.SequentialLR(self.group, [warm, main], milestones=[n])  # type: ignore[list-item]
        else:
            scheduler = self.spec.build(self.group, values)
        self._scheduler = scheduler
        self._cycles = self.spec is not None and self.spec.cycles_momentum and bool(values["cycle_momentum"])

    @property
    def name(self) -> str | None:
        return None if self.spec is None else self.spec.name

    @property
    def watches_loss(self) -> bool:
        return self.spec is not None and self.spec.watches_loss

    @property
    def lr(self) -> Any:
        return self.group["lr"]

    @property
    def momentum(self) -> float | None:
        return float(self.group["momentum"]) if self._cycles else None

    def step(self, loss: object = None) -> None:
        """Advance one step; ``loss``: the full loss after the optimizer step (plateau only;
        one value, or one per row with a column of rates)."""
        self.steps += 1
        scheduler = self._scheduler
        if isinstance(scheduler, torch_lr.ReduceLROnPlateau):
            if loss is None:
                raise ValueError("Invalid loss value: None (plateau needs the loss after every step)")
            scheduler.step(loss)
        else:
            scheduler.step()


class _Constant:
    """No schedule: η stays."""

    def step(self) -> None:
        pass


def make_schedule(name: str | None, settings: Mapping[str, object] | None, lr: Any, *,
                  warmup: object = 0) -> Schedule | None:
    """A :class:`Schedule`, or None when there is neither a schedule nor a warm-up."""
    if name is None and not check_warmup(warmup):
        validate_schedule(None, settings)
        return None
    return Schedule(name, settings, lr, warmup=warmup)


def preview_schedule(name: str | None, settings: Mapping[str, object] | None, lr: float, steps: int, *,
                     warmup: object = 0, losses: Sequence[float] | None = None) -> dict[str, np.ndarray | None]:
    """The rates steps 1…``steps`` would use: ``{"lr": (steps,), "momentum": (steps,) or None}``.

    For the window's preview of η over a run. ``plateau`` needs the loss after each step
    (``losses``, at least ``steps − 1`` values); without it η stays (no plateau is seen).
    """
    schedule = make_schedule(name, settings, lr, warmup=warmup)
    lrs = np.empty(steps)
    moms = np.empty(steps) if schedule is not None and schedule.momentum is not None else None
    for k in range(steps):
        if schedule is None:
            lrs[k] = lr
            continue
        lrs[k] = schedule.lr
        if moms is not None:
            moms[k] = schedule.momentum
        if k + 1 < steps:
            if not schedule.watches_loss:
                schedule.step()
            elif losses is not None and k < len(losses):
                schedule.step(losses[k])
    return {"lr": lrs, "momentum": moms}
