"""The one registry of optimizers: every panel, CLI command, preset and test reads it.

Adding an optimizer is one entry in :data:`_RULES` (a new rule class) or :data:`_ALIASES` (a
rule with other defaults, such as the articles' ``momentum`` and ``nag``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from gdstudio.engine.hyperparams import HyperParam, Value, parse_value
from gdstudio.engine.optimizers.adadelta import Adadelta
from gdstudio.engine.optimizers.adagrad import Adagrad
from gdstudio.engine.optimizers.adam import Adam, AdamW
from gdstudio.engine.optimizers.adamax import Adamax
from gdstudio.engine.optimizers.base import Optimizer
from gdstudio.engine.optimizers.nadam import NAdam
from gdstudio.engine.optimizers.radam import RAdam
from gdstudio.engine.optimizers.rmsprop import RMSprop
from gdstudio.engine.optimizers.sgd import SGD

__all__ = ["OPTIMIZERS", "OptimizerSpec", "get_spec", "make_optimizer", "optimizer_names"]


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer: a rule class plus the defaults that make it this optimizer."""

    name: str
    title: str
    rule: type[Optimizer]
    defaults: Mapping[str, Value]
    summary: str
    adaptive: bool

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
        :meth:`HyperParam.validate` does (which also parses strings). Raises ``ValueError`` with
        ``Unknown hyperparameter for adam: foo (known: lr, betas, …)`` or the parameter's own
        ``Invalid … value`` message. Cross-parameter checks (e.g. Nesterov needs momentum) run on
        the full set with these defaults.
        """
        if overrides is None:
            return {}
        if not isinstance(overrides, Mapping):
            raise ValueError(f"Invalid hyperparameters value: {overrides!r} (must be a mapping of names to values)")
        specs = {h.name: h for h in self.hyperparams}
        values: dict[str, Value] = {}
        for key, value in overrides.items():
            if key not in specs:
                raise ValueError(f"Unknown hyperparameter for {self.name}: {key} (known: {', '.join(specs)})")
            if from_text:
                if not isinstance(value, str):
                    raise ValueError(f"Invalid {key} value: {value!r} (must be text)")
                values[key] = parse_value(specs[key], value)
            else:
                values[key] = specs[key].validate(value)
        self.create(values)  # joint checks
        return values

    def resolve(self, overrides: Mapping[str, object] | None = None) -> dict[str, Value]:
        """Every hyperparameter's validated value: these defaults, then ``overrides``."""
        return dict(self.create(overrides).hp)

    def create(self, overrides: Mapping[str, object] | None = None) -> Optimizer:
        """A rule instance with this optimizer's defaults and ``overrides`` (validated)."""
        return self.rule(**{**self.defaults, **(overrides or {})})

    @property
    def docstring(self) -> str:
        """The update rule, as stated in the rule class's docstring."""
        return self.rule.__doc__ or ""


def _spec(rule: type[Optimizer], summary: str, *, adaptive: bool, name: str = "", title: str = "",
          **defaults: Value) -> OptimizerSpec:
    return OptimizerSpec(name or rule.name, title or rule.title, rule, defaults, summary, adaptive)


_RULES = (
    _spec(SGD, "θ ← θ − η·d, d the gradient or its momentum buffer", adaptive=False),
    _spec(Adagrad, "steps shrink with the running sum of squared gradients", adaptive=True),
    _spec(RMSprop, "steps scaled by a moving average of squared gradients", adaptive=True),
    _spec(Adam, "momentum plus RMSProp scaling, with bias correction", adaptive=True),
    _spec(AdamW, "Adam with weight decay applied to θ directly", adaptive=True),
    _spec(NAdam, "Adam with a Nesterov look-ahead on the first moment", adaptive=True),
    _spec(RAdam, "Adam with a variance rectification in the first steps", adaptive=True),
    _spec(Adamax, "Adam with the infinity norm in place of the second moment", adaptive=True),
    _spec(Adadelta, "steps scaled by the ratio of running RMS of updates and gradients", adaptive=True),
)

_ALIASES = (
    _spec(SGD, "plain gradient descent θ ← θ − η∇f (the articles' GD)", adaptive=False,
          name="gd", title="GD"),
    _spec(SGD, "SGD with momentum γ = 0.9", adaptive=False,
          name="momentum", title="Momentum", momentum=0.9),
    _spec(SGD, "Nesterov accelerated gradient, γ = 0.9", adaptive=False,
          name="nag", title="NAG", momentum=0.9, nesterov=True),
)

#: Every optimizer by name, in display order: the articles' names first, then torch's.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec for spec in (_ALIASES[0], _RULES[0], _ALIASES[1], _ALIASES[2], *_RULES[1:])
}


def optimizer_names() -> list[str]:
    return list(OPTIMIZERS)


def get_spec(name: str) -> OptimizerSpec:
    """The spec for ``name`` (case-insensitive), or ValueError listing the known names."""
    key = name.strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer: {name!r} (known: {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[key]


def make_optimizer(name: str, overrides: Mapping[str, object] | None = None) -> Optimizer:
    """A validated optimizer instance by registry name."""
    return get_spec(name).create(overrides)
