"""The one registry of optimizers: every panel, CLI command, preset and test reads it.

Adding an optimizer is one entry in :data:`_ENTRIES`: a new rule class, or a rule with other
defaults (the articles' ``momentum`` and ``nag``; ``adamw``, which is Adam with torch's
``decoupled_weight_decay`` on and λ = 0.01). An entry is ``_spec(Rule, summary, adaptive=…,
name=…, title=…, **defaults)``; its hyperparameters are the rule's
:class:`~gdstudio.engine.optimizers.base.Params` fields with these defaults.

:meth:`OptimizerSpec.validate_overrides` is the one override boundary (CLI, train CLI, panels,
presets, persistence); :meth:`OptimizerSpec.params` / :meth:`create` / :meth:`resolve` all go
through the rule's ``Params`` construction, which validates every value, per-row columns
included, and runs the joint checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from gdstudio.engine.hyperparams import HyperParam, Value
from gdstudio.engine.optimizers.adabelief import AdaBelief
from gdstudio.engine.optimizers.adadelta import Adadelta
from gdstudio.engine.optimizers.adafactor import Adafactor
from gdstudio.engine.optimizers.adagrad import Adagrad
from gdstudio.engine.optimizers.adam import Adam
from gdstudio.engine.optimizers.adamax import Adamax
from gdstudio.engine.optimizers.adan import Adan
from gdstudio.engine.optimizers.ademamix import AdEMAMix
from gdstudio.engine.optimizers.asgd import ASGD
from gdstudio.engine.optimizers.base import Optimizer, Params
from gdstudio.engine.optimizers.lamb import Lamb
from gdstudio.engine.optimizers.laprop import LaProp
from gdstudio.engine.optimizers.lbfgs import LBFGS
from gdstudio.engine.optimizers.lion import Lion
from gdstudio.engine.optimizers.madgrad import MADGRAD
from gdstudio.engine.optimizers.muon import Muon
from gdstudio.engine.optimizers.nadam import NAdam
from gdstudio.engine.optimizers.newton import Newton
from gdstudio.engine.optimizers.prodigy import Prodigy
from gdstudio.engine.optimizers.radam import RAdam
from gdstudio.engine.optimizers.rmsprop import RMSprop
from gdstudio.engine.optimizers.rprop import Rprop
from gdstudio.engine.optimizers.schedulefree import ScheduleFreeAdamW, ScheduleFreeSGD
from gdstudio.engine.optimizers.sgd import SGD
from gdstudio.engine.optimizers.yogi import Yogi

__all__ = [
    "GROUPS",
    "OPTIMIZERS",
    "Group",
    "OptimizerSpec",
    "get_spec",
    "make_optimizer",
    "optimizer_names",
    "optimizers_by_group",
]

#: The families the window groups optimizers by (:attr:`OptimizerSpec.group`):
#: ``classic`` — a step along the (momentum-averaged) gradient with one η for every coordinate
#: (gd, sgd, momentum, nag; asgd, which only adds a decaying η and an average of the iterates);
#: ``adaptive`` — a per-coordinate scale from gradient statistics (Adagrad … Adafactor, the
#: pytorch_optimizer Adam family, MADGRAD);
#: ``sign-based`` — the step's size ignores the gradient's magnitude (lion, rprop, muon);
#: ``second-order`` — curvature: l-bfgs (quasi-Newton), newton (exact Hessian);
#: ``schedule-free`` — the schedulefree package's interpolation/averaging in place of a schedule.
Group = Literal["classic", "adaptive", "sign-based", "second-order", "schedule-free"]

#: Every :data:`Group`, in display order.
GROUPS: tuple[Group, ...] = get_args(Group)


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer: a rule class plus the defaults that make it this optimizer."""

    name: str
    title: str
    rule: type[Optimizer[Any]]
    defaults: Mapping[str, Value]
    summary: str
    adaptive: bool
    #: The family the window lists it under: one of :data:`GROUPS`.
    group: Group

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"Invalid group value: {self.group!r} (must be one of {', '.join(GROUPS)})")

    @property
    def hyperparams(self) -> tuple[HyperParam, ...]:
        """The rule's hyperparameters with this optimizer's defaults."""
        return tuple(
            replace(spec, default=self.defaults[spec.name]) if spec.name in self.defaults else spec
            for spec in self.rule.hyperparams
        )

    def validate_overrides(
        self, overrides: Mapping[str, object] | None, *, from_text: bool = False
    ) -> dict[str, Value]:
        """The one override boundary: ``overrides`` checked against this optimizer's hyperparameters.

        Returns the validated values of the keys given (not the defaults). ``from_text`` parses
        command-line text (``0.01``, ``true``, ``0.9,0.999``); otherwise values are converted as
        :meth:`HyperParam.validate` does (which also parses strings; a number may also be an
        (N, 1) column of per-row values). Raises ``ValueError`` with ``Unknown hyperparameter
        for adam: foo (known: lr, betas, …)`` or the parameter's own ``Invalid … value``
        message. Cross-parameter checks (e.g. Nesterov needs momentum) run on the full set with
        these defaults.
        """
        if overrides is None:
            return {}
        if not isinstance(overrides, Mapping):
            raise ValueError(f"Invalid hyperparameters value: {overrides!r} (must be a mapping of names to values)")
        values: dict[str, object] = dict(overrides)
        if from_text:
            specs = {h.name: h for h in self.hyperparams}
            self.rule.params_type.check_names(values, owner=self.name)
            for key, value in overrides.items():
                if not isinstance(value, str):
                    raise ValueError(f"Invalid {key} value: {value!r} (must be text)")
                values[key] = specs[key].validate(value)  # parses the text (also a rule's own kinds of value)
        params = self.params(values)
        return {key: params[key] for key in overrides}

    def params(self, overrides: Mapping[str, object] | None = None) -> Params:
        """The rule's typed hyperparameters: these defaults, then ``overrides`` (validated)."""
        return self.rule.params_type.from_mapping({**self.defaults, **(overrides or {})}, owner=self.name)

    def resolve(self, overrides: Mapping[str, object] | None = None) -> dict[str, Value]:
        """Every hyperparameter's validated value by name: these defaults, then ``overrides``."""
        return self.params(overrides).as_dict()

    def create(self, overrides: Mapping[str, object] | None = None) -> Optimizer[Any]:
        """A rule instance with this optimizer's defaults and ``overrides`` (validated).

        A number may be an (N, 1) column (one value per row: the state must then have N rows),
        e.g. ``get_spec("adam").create({"lr": lrs[:, None], "betas": (b1[:, None], 0.999)})``.
        """
        return self.rule(self.params(overrides))

    @property
    def docstring(self) -> str:
        """The update rule, as stated in the rule class's docstring."""
        return self.rule.__doc__ or ""


def _spec(rule: type[Optimizer[Any]], summary: str, *, adaptive: bool, group: Group, name: str = "",
          title: str = "", **defaults: Value) -> OptimizerSpec:
    return OptimizerSpec(name or rule.name, title or rule.title, rule, defaults, summary, adaptive, group)


#: Every entry in display order: the articles' names first, then torch's; :attr:`OptimizerSpec.group` sorts
#: them for the window's grouped list (:data:`GROUPS`).
_ENTRIES = (
    _spec(SGD, "plain gradient descent θ ← θ − η∇f (the articles' GD)", adaptive=False, group="classic",
          name="gd", title="GD"),
    _spec(SGD, "θ ← θ − η·d, d the gradient or its momentum buffer", adaptive=False, group="classic"),
    _spec(SGD, "SGD with momentum γ = 0.9", adaptive=False, group="classic",
          name="momentum", title="Momentum", momentum=0.9),
    _spec(SGD, "Nesterov accelerated gradient, γ = 0.9", adaptive=False, group="classic",
          name="nag", title="NAG", momentum=0.9, nesterov=True),
    _spec(Adagrad, "steps shrink with the running sum of squared gradients", adaptive=True, group="adaptive"),
    _spec(RMSprop, "steps scaled by a moving average of squared gradients", adaptive=True, group="adaptive"),
    _spec(Adam, "momentum plus RMSProp scaling, with bias correction", adaptive=True, group="adaptive"),
    _spec(Adam, "Adam with weight decay applied to θ directly", adaptive=True, group="adaptive",
          name="adamw", title="AdamW", decoupled_weight_decay=True, weight_decay=1e-2),
    _spec(NAdam, "Adam with a Nesterov look-ahead on the first moment", adaptive=True, group="adaptive"),
    _spec(RAdam, "Adam with a variance rectification in the first steps", adaptive=True, group="adaptive"),
    _spec(Adamax, "Adam with the infinity norm in place of the second moment", adaptive=True, group="adaptive"),
    _spec(Adadelta, "steps scaled by the ratio of running RMS of updates and gradients", adaptive=True,
          group="adaptive"),
    # Rprop reads only the gradient's sign (its step sizes adapt to sign changes, not to magnitudes)
    _spec(Rprop, "per-parameter step sizes steered by the gradient's sign only", adaptive=True, group="sign-based"),
    # ASGD is SGD with a decaying step plus an average of the iterates: nothing is scaled per coordinate
    _spec(ASGD, "SGD with a decaying step and a Polyak average x̄ of the iterates", adaptive=False, group="classic"),
    _spec(Adafactor, "steps relative to |θ|, scaled by the second moment, RMS-clipped", adaptive=True,
          group="adaptive", eps=(2.0**-52, 1e-3)),  # torch's eps[0] None: float64's ε
    _spec(LBFGS, "quasi-Newton direction from recent curvature pairs, optional strong-Wolfe search",
          adaptive=False, group="second-order", max_iter=1, max_eval=25),  # one gdstudio step is one step(closure)
    # Muon's Newton-Schulz iteration approximates the matrix sign UVᵀ of the momentum (sign(m) for a
    # scalar; m/‖m‖ up to the iteration's spread for a 1 x D row): the step length ignores |g|, as Lion's
    _spec(Muon, "momentum orthogonalised by Newton-Schulz (normalised for a 1 x D matrix)", adaptive=False,
          group="sign-based", adjust_lr_fn="original"),  # torch's None
    # pytorch_optimizer 4.1.0 and schedulefree 1.4.1 (docs/optimizers.md, "Community optimizers")
    _spec(Lion, "sign of an interpolated momentum: every coordinate moves ±η", adaptive=False, group="sign-based"),
    _spec(AdaBelief, "Adam dividing by the gradient's spread around its average", adaptive=True, group="adaptive"),
    _spec(Yogi, "Adam with an additive, sign-controlled second moment", adaptive=True, group="adaptive"),
    _spec(Adan, "adaptive Nesterov momentum from gradient differences", adaptive=True, group="adaptive"),
    _spec(Lamb, "Adam steps scaled by the trust ratio ‖θ‖/‖step‖", adaptive=True, group="adaptive"),
    _spec(AdEMAMix, "Adam plus a slow momentum mixed in with weight α", adaptive=True, group="adaptive"),
    _spec(Prodigy, "Adam with step size D, an estimate of the distance to the solution", adaptive=True,
          group="adaptive"),
    _spec(LaProp, "momentum of RMSProp-normalised gradients", adaptive=True, group="adaptive"),
    _spec(MADGRAD, "dual averaging with a cube-root adaptive scale and momentum", adaptive=True, group="adaptive"),
    _spec(ScheduleFreeSGD, "SGD whose gradient is taken between its iterate and their average", adaptive=False,
          group="schedule-free"),
    _spec(ScheduleFreeAdamW, "schedule-free averaging around an RMS-normalised step", adaptive=True,
          group="schedule-free"),
    # second-order, no reference package (docs/optimizers.md: the closed form; tests/engine/test_newton.py)
    _spec(Newton, "θ ← θ − η(H + λI)⁻¹∇f with the problem's exact Hessian H (damping λ)", adaptive=False,
          group="second-order"),
)

#: Every optimizer by name, in display order.
OPTIMIZERS: dict[str, OptimizerSpec] = {spec.name: spec for spec in _ENTRIES}


def optimizer_names() -> list[str]:
    return list(OPTIMIZERS)


def optimizers_by_group() -> dict[Group, list[str]]:
    """Every optimizer name by group: :data:`GROUPS` order, registry order within a group."""
    return {group: [spec.name for spec in _ENTRIES if spec.group == group] for group in GROUPS}


def get_spec(name: str) -> OptimizerSpec:
    """The spec for ``name`` (case-insensitive), or ValueError listing the known names."""
    key = name.strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer: {name!r} (known: {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[key]


def make_optimizer(name: str, overrides: Mapping[str, object] | None = None) -> Optimizer[Any]:
    """A validated optimizer instance by registry name."""
    return get_spec(name).create(overrides)
