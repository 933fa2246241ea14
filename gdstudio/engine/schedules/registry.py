"""The one registry of learning-rate schedules: the CLI, the window's picker and the tests read it.

Each entry names a torch.optim.lr_scheduler class, its keywords with torch's names and defaults
(:class:`ScheduleParam`), and how to build it on a parameter group. Where torch has no default,
the default is documented here and in docs/schedules.md:

* ``T_max`` (cosine) and ``total_steps`` (onecycle): ``auto``, the run's steps after the warm-up
  (:func:`validate_schedule`'s ``horizon``), else :data:`DEFAULT_HORIZON`;
* ``max_lr`` (cyclic, onecycle): ``auto``, the optimizer's η (per row with a per-row η column);
  ``base_lr`` (cyclic): ``auto``, ``max_lr / 10``;
* ``step_size`` 30 and ``milestones`` 30,80 (torch's own examples), ``gamma`` of exponential
  0.99, ``T_0`` 50.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gdstudio.engine.schedules import lr_scheduler as torch_lr
from gdstudio.engine.schedules.params import ParamValue, ScheduleParam

__all__ = [
    "DEFAULT_HORIZON",
    "SCHEDULES",
    "ScheduleSpec",
    "get_schedule_spec",
    "schedule_names",
]

#: Steps assumed for ``T_max`` / ``total_steps`` when the run's length is not known.
DEFAULT_HORIZON = 100

Settings = Mapping[str, ParamValue]
Built = torch_lr.LRScheduler | torch_lr.ReduceLROnPlateau
Builder = Callable[[torch_lr.Group, Settings], Built]


@dataclass(frozen=True)
class ScheduleSpec:
    """A named schedule: torch's class, its keywords and how to build it.

    ``cycles_momentum``: the schedule sets momentum / β₁ too (when ``cycle_momentum`` is true);
    ``watches_loss``: it is stepped with the full loss after each step (plateau);
    ``horizon_keys``: keywords whose ``auto`` default is the run's steps after the warm-up.
    """

    name: str
    title: str
    torch_class: str
    summary: str
    params: tuple[ScheduleParam, ...]
    build: Builder
    cycles_momentum: bool = False
    watches_loss: bool = False
    horizon_keys: tuple[str, ...] = ()

    def param(self, name: str) -> ScheduleParam:
        """The keyword ``name``, or ValueError listing the known ones."""
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"Unknown keyword for {self.name}: {name} (known: {', '.join(self.keywords)})")

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def docstring(self) -> str:
        """The schedule's rule, as documented in this registry (see :data:`RULES`)."""
        return RULES[self.name]


# -- keyword builders (torch's names, defaults and valid ranges) --------------------------
def _f(name: str, symbol: str, default: float | None, help: str, *, low: float = 0.0, high: float = math.inf,
       low_open: bool = False, high_open: bool = False, soft_high: float = 1.0, log: bool = False,
       auto: str = "") -> ScheduleParam:
    return ScheduleParam(name, symbol, default, help, low=low, high=high, low_open=low_open, high_open=high_open,
                         soft_high=soft_high, log=log, auto=auto)


def _i(name: str, symbol: str, default: int | None, help: str, *, low: int = 1, soft_high: float = 1000.0,
       auto: str = "") -> ScheduleParam:
    return ScheduleParam(name, symbol, default, help, kind="int", low=low, soft_low=low, soft_high=soft_high,
                         auto=auto)


def _choice(name: str, default: str, choices: tuple[str, ...], help: str) -> ScheduleParam:
    return ScheduleParam(name, name, default, help, kind="choice", choices=choices)


def _flag(name: str, default: bool, help: str) -> ScheduleParam:
    return ScheduleParam(name, name, default, help, kind="bool")


def _gamma(default: float, help: str) -> ScheduleParam:
    return _f("gamma", "γ", default, help, low_open=True, soft_high=1.0)


def _momentum(name: str, default: float, help: str) -> ScheduleParam:
    return _f(name, "m₁" if name.startswith("max") else "m₀", default, help, high=1.0, high_open=True,
              soft_high=0.999)


_HORIZON = "the run's steps after the warm-up"
_CYCLE = _flag("cycle_momentum", True, "cycle momentum / β₁ inversely to the learning rate")


def _num(settings: Settings, key: str) -> float:
    value = settings[key]
    assert isinstance(value, (int, float)), key
    return float(value)


def _int(settings: Settings, key: str) -> int:
    value = settings[key]
    assert isinstance(value, int), key
    return value


def _horizon(settings: Settings, key: str) -> int:
    value = settings[key]
    return DEFAULT_HORIZON if value is None else int(value)  # type: ignore[arg-type]


def _lr_setting(settings: Settings, key: str, group: torch_lr.Group) -> torch_lr.Lr:
    """A learning-rate keyword: its value, or for ``auto`` the optimizer's η (``group["eta"]``: the lr
    the optimizer was given, a float or a column; with a warm-up, ``group["lr"]`` has moved already)."""
    value = settings[key]
    return group.get("eta", group["lr"]) if value is None else float(value)  # type: ignore[arg-type]


def _build_cyclic(group: torch_lr.Group, s: Settings) -> Built:
    max_lr = _lr_setting(s, "max_lr", group)
    base_lr = max_lr / 10 if s["base_lr"] is None else _num(s, "base_lr")
    down = s["step_size_down"]
    return torch_lr.CyclicLR(
        group, base_lr, max_lr, step_size_up=_int(s, "step_size_up"),
        step_size_down=None if down is None else int(down),  # type: ignore[arg-type]
        mode=str(s["mode"]), gamma=_num(s, "gamma"), cycle_momentum=bool(s["cycle_momentum"]),
        base_momentum=_num(s, "base_momentum"), max_momentum=_num(s, "max_momentum"),
    )


def _build_onecycle(group: torch_lr.Group, s: Settings) -> Built:
    return torch_lr.OneCycleLR(
        group, _lr_setting(s, "max_lr", group), _horizon(s, "total_steps"), pct_start=_num(s, "pct_start"),
        anneal_strategy=str(s["anneal_strategy"]), cycle_momentum=bool(s["cycle_momentum"]),
        base_momentum=_num(s, "base_momentum"), max_momentum=_num(s, "max_momentum"),
        div_factor=_num(s, "div_factor"), final_div_factor=_num(s, "final_div_factor"),
        three_phase=bool(s["three_phase"]),
    )


_SPECS = (
    ScheduleSpec(
        "step", "Step", "StepLR", "η × γ every step_size steps",
        (_i("step_size", "s", 30, "period of the decay, in steps (torch has no default; 30 as in its example)"),
         _gamma(0.1, "multiplicative factor of the decay")),
        lambda g, s: torch_lr.StepLR(g, _int(s, "step_size"), _num(s, "gamma")),
    ),
    ScheduleSpec(
        "multistep", "Multi-step", "MultiStepLR", "η × γ at each milestone",
        (ScheduleParam("milestones", "m", (30, 80), "steps at which η is multiplied by γ "
                       "(torch has no default; 30,80 as in its example)", kind="ints", low=0.0, soft_high=1000.0),
         _gamma(0.1, "multiplicative factor of the decay")),
        lambda g, s: torch_lr.MultiStepLR(g, s["milestones"], _num(s, "gamma")),  # type: ignore[arg-type]
    ),
    ScheduleSpec(
        "constant", "Constant factor", "ConstantLR", "η × factor for the first total_iters steps, then η",
        (_f("factor", "f", 1.0 / 3, "factor applied until total_iters", low_open=True, high=1.0),
         _i("total_iters", "n", 5, "steps during which the factor applies")),
        lambda g, s: torch_lr.ConstantLR(g, _num(s, "factor"), _int(s, "total_iters")),
    ),
    ScheduleSpec(
        "linear", "Linear", "LinearLR", "factor from start_factor to end_factor over total_iters steps",
        (_f("start_factor", "f₀", 1.0 / 3, "factor of the first step", low_open=True, high=1.0),
         _f("end_factor", "f₁", 1.0, "factor reached after total_iters steps", high=1.0),
         _i("total_iters", "n", 5, "steps of the linear change")),
        lambda g, s: torch_lr.LinearLR(g, _num(s, "start_factor"), _num(s, "end_factor"), _int(s, "total_iters")),
    ),
    ScheduleSpec(
        "exponential", "Exponential", "ExponentialLR", "η × γ every step",
        (_gamma(0.99, "factor applied every step (torch has no default; 0.99 halves η in ~69 steps)"),),
        lambda g, s: torch_lr.ExponentialLR(g, _num(s, "gamma")),
    ),
    ScheduleSpec(
        "polynomial", "Polynomial", "PolynomialLR", "η (1 − t/total_iters)^power, then 0",
        (_i("total_iters", "n", 5, "steps until η reaches 0"),
         _f("power", "p", 1.0, "power of the polynomial", soft_high=5.0)),
        lambda g, s: torch_lr.PolynomialLR(g, _int(s, "total_iters"), _num(s, "power")),
    ),
    ScheduleSpec(
        "cosine", "Cosine", "CosineAnnealingLR", "η_min + (η − η_min)(1 + cos(π t/T_max))/2",
        (_i("T_max", "T", None, "steps of the half cosine (torch has no default)", auto=_HORIZON),
         _f("eta_min", "η_min", 0.0, "lowest learning rate", soft_high=0.1, log=True)),
        lambda g, s: torch_lr.CosineAnnealingLR(g, _horizon(s, "T_max"), _num(s, "eta_min")),
        horizon_keys=("T_max",),
    ),
    ScheduleSpec(
        "cosine-restarts", "Cosine with restarts", "CosineAnnealingWarmRestarts",
        "cosine from η to η_min over T_i steps, restarting; T_i = T_0 · T_mult^i",
        (_i("T_0", "T₀", 50, "steps until the first restart (torch has no default)"),
         _i("T_mult", "T×", 1, "factor by which the period grows after each restart", soft_high=4.0),
         _f("eta_min", "η_min", 0.0, "lowest learning rate", soft_high=0.1, log=True)),
        lambda g, s: torch_lr.CosineAnnealingWarmRestarts(g, _int(s, "T_0"), _int(s, "T_mult"), _num(s, "eta_min")),
    ),
    ScheduleSpec(
        "cyclic", "Cyclic", "CyclicLR", "triangular cycles between base_lr and max_lr; momentum the other way",
        (_f("base_lr", "η₀", None, "lower learning rate of the cycle", soft_high=1.0, log=True,
            auto="max_lr / 10"),
         _f("max_lr", "η₁", None, "upper learning rate of the cycle", soft_high=10.0, log=True,
            auto="the optimizer's lr"),
         _i("step_size_up", "up", 2000, "steps of the rising half of a cycle", soft_high=5000.0),
         _i("step_size_down", "down", None, "steps of the falling half of a cycle", soft_high=5000.0,
            auto="step_size_up"),
         _choice("mode", "triangular", ("triangular", "triangular2", "exp_range"),
                 "amplitude policy: constant, halved every cycle, or × γ^step"),
         _f("gamma", "γ", 1.0, "factor of exp_range: amplitude × γ^step", low_open=True),
         _CYCLE,
         _momentum("base_momentum", 0.8, "momentum / β₁ at the peak learning rate"),
         _momentum("max_momentum", 0.9, "momentum / β₁ at the lowest learning rate")),
        _build_cyclic, cycles_momentum=True,
    ),
    ScheduleSpec(
        "onecycle", "One cycle", "OneCycleLR",
        "η from max_lr/div_factor up to max_lr, then down to max_lr/(div_factor·final_div_factor)",
        (_f("max_lr", "η₁", None, "peak learning rate", soft_high=10.0, log=True, auto="the optimizer's lr"),
         _i("total_steps", "T", None, "steps of the cycle (torch has no default)", auto=_HORIZON),
         _f("pct_start", "p", 0.3, "fraction of the cycle spent raising η", high=1.0),
         _choice("anneal_strategy", "cos", ("cos", "linear"), "shape of the annealing: cosine or linear"),
         _CYCLE,
         _momentum("base_momentum", 0.85, "momentum / β₁ at the peak learning rate"),
         _momentum("max_momentum", 0.95, "momentum / β₁ at the lowest learning rate"),
         _f("div_factor", "d", 25.0, "initial η = max_lr / div_factor", low_open=True, soft_high=100.0),
         _f("final_div_factor", "d_f", 1e4, "final η = initial η / final_div_factor", low_open=True,
            soft_high=1e5, log=True),
         _flag("three_phase", False, "three phases (Smith's original) instead of fastai's two")),
        _build_onecycle, cycles_momentum=True, horizon_keys=("total_steps",),
    ),
    ScheduleSpec(
        "plateau", "Reduce on plateau", "ReduceLROnPlateau",
        "η × factor when the full loss has not improved for patience steps",
        (_choice("mode", "min", ("min", "max"), "min: the loss should fall; max: it should rise"),
         _f("factor", "f", 0.1, "factor applied to η on a plateau", high=1.0, high_open=True),
         _i("patience", "p", 10, "steps without improvement tolerated", low=0, soft_high=100.0),
         _f("threshold", "τ", 1e-4, "least change that counts as an improvement", soft_high=0.1, log=True),
         _choice("threshold_mode", "rel", ("rel", "abs"), "threshold relative to the best loss, or absolute"),
         _i("cooldown", "c", 0, "steps ignored after each reduction", low=0, soft_high=100.0),
         _f("min_lr", "η_min", 0.0, "lowest learning rate", soft_high=0.1, log=True),
         _f("eps", "ε", 1e-8, "reductions smaller than this are skipped", soft_high=1e-4, log=True)),
        lambda g, s: torch_lr.ReduceLROnPlateau(
            g, mode=str(s["mode"]), factor=_num(s, "factor"), patience=_int(s, "patience"),
            threshold=_num(s, "threshold"), threshold_mode=str(s["threshold_mode"]), cooldown=_int(s, "cooldown"),
            min_lr=_num(s, "min_lr"), eps=_num(s, "eps"),
        ),
        watches_loss=True,
    ),
)

#: Every schedule by name, in display order.
SCHEDULES: dict[str, ScheduleSpec] = {spec.name: spec for spec in _SPECS}

#: Each schedule's rule in maths (t: the scheduler's step count, η: the optimizer's lr).
RULES: dict[str, str] = {
    "step": "η_t = η · γ^⌊t / step_size⌋ (computed recursively: η_t = η_{t−1} · γ when t is a multiple of step_size)",
    "multistep": "η_t = η · γ^(number of milestones ≤ t) (recursively: × γ^count at a milestone)",
    "constant": "η_t = η · factor for t < total_iters, η after (recursively: × factor at 0, × 1/factor at total_iters)",
    "linear": "η_t = η · (f₀ + (f₁ − f₀) · min(t, n)/n) (recursively, as torch: × (1 + (f₁−f₀)/(n f₀ + (t−1)(f₁−f₀))))",
    "exponential": "η_t = η · γ^t (recursively: η_t = η_{t−1} · γ)",
    "polynomial": "η_t = η · (1 − min(t, n)/n)^p (recursively: × ((1 − t/n)/(1 − (t−1)/n))^p)",
    "cosine": "η_t = η_min + (η − η_min)(1 + cos(π t/T_max))/2, computed with torch's recursive form",
    "cosine-restarts": "η_t = η_min + (η − η_min)(1 + cos(π T_cur/T_i))/2, T_cur the steps since the last restart",
    "cyclic": "η_t = base_lr + (max_lr − base_lr) · max(0, 1 − |x|) · scale, momentum = max_m − (max_m − base_m)·(…)",
    "onecycle": "η anneals initial→max_lr over pct_start·T steps, then max_lr→min (cos or linear); momentum inversely",
    "plateau": "η ← max(η · factor, min_lr) after more than patience steps without improving the best loss",
}


def schedule_names() -> list[str]:
    """Every schedule's name, in display order."""
    return list(SCHEDULES)


def get_schedule_spec(name: str) -> ScheduleSpec:
    """The spec for ``name`` (case-insensitive), or ValueError listing the known names."""
    key = name.strip().lower() if isinstance(name, str) else name
    if not isinstance(key, str) or key not in SCHEDULES:
        raise ValueError(f"Unknown schedule: {name!r} (known: {', '.join(SCHEDULES)})")
    return SCHEDULES[key]
