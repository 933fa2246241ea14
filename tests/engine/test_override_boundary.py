"""The one override boundary and typed hyperparameters.

``OptimizerSpec.validate_overrides`` is the call the CLI, train CLI, panels, presets and
persistence use; the rules read typed ``Params`` dataclasses (no casts), whose fields carry the
specs the panels and CLI show; AdamW is the Adam rule with other defaults.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from pathlib import Path

import numpy as np
import pytest

from gdstudio.engine.optimizers import OPTIMIZERS, get_spec, make_optimizer
from gdstudio.engine.optimizers.adam import Adam, AdamParams
from gdstudio.engine.optimizers.base import Optimizer, Params
from gdstudio.engine.optimizers.sgd import SGD, SGDParams
from gdstudio.engine.problems import make_problem


def test_validate_overrides_returns_the_given_keys_converted() -> None:
    spec = get_spec("adam")
    assert spec.validate_overrides(None) == {}
    assert spec.validate_overrides({}) == {}
    got = spec.validate_overrides({"lr": 1, "betas": [0.8, "0.99"], "amsgrad": "yes"})
    assert got == {"lr": 1.0, "betas": (0.8, 0.99), "amsgrad": True}
    assert type(got["lr"]) is float


def test_validate_overrides_from_text() -> None:
    spec = get_spec("nag")
    assert spec.validate_overrides({"lr": "0.1", "momentum": "0.5"}, from_text=True) == {"lr": 0.1, "momentum": 0.5}
    with pytest.raises(ValueError, match=r"^Invalid lr value: 0\.1 \(must be text\)$"):
        spec.validate_overrides({"lr": 0.1}, from_text=True)
    with pytest.raises(ValueError, match=r"^Invalid lr value: 'fast' \(must be a number\)$"):
        spec.validate_overrides({"lr": "fast"}, from_text=True)
    with pytest.raises(ValueError, match=r"^Unknown hyperparameter for nag: alpha \(known: lr, momentum, "):
        spec.validate_overrides({"alpha": "1"}, from_text=True)


@pytest.mark.parametrize("name", ["gd", "momentum", "nag", "adamw"])
def test_unknown_names_are_reported_with_the_entry_name(name: str) -> None:
    known = ", ".join(h.name for h in get_spec(name).hyperparams)
    message = f"Unknown hyperparameter for {name}: zeta (known: {known})"
    for call in (lambda: get_spec(name).validate_overrides({"zeta": 1.0}), lambda: make_optimizer(name, {"zeta": 1}),
                 lambda: get_spec(name).resolve({"zeta": 1})):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == message


def test_joint_checks_use_the_entry_defaults() -> None:
    with pytest.raises(ValueError, match=r"^Invalid nesterov value: True \(Nesterov momentum requires"):
        get_spec("nag").validate_overrides({"momentum": 0.0})
    assert get_spec("momentum").validate_overrides({"nesterov": True}) == {"nesterov": True}
    with pytest.raises(ValueError, match=r"^Invalid hyperparameters value: \[\('lr', 1\)\] \(must be a mapping"):
        get_spec("sgd").validate_overrides([("lr", 1)])  # type: ignore[arg-type]


def test_params_are_typed_frozen_and_validated_on_construction() -> None:
    hp = AdamParams(lr=0.5, betas=(0.8, 0.9))
    assert hp.lr == 0.5 and hp.betas == (0.8, 0.9) and hp.amsgrad is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.lr = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"^Invalid betas\[1\] value: 1\.0 \(must be in \[0\.0, 1\.0\)\)$"):
        AdamParams(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"^Invalid nesterov value: True"):
        SGDParams(nesterov=True)
    replaced = dataclasses.replace(hp, lr="0.25")  # type: ignore[arg-type]
    assert replaced.lr == 0.25  # replace() validates and converts too
    with pytest.raises(ValueError, match=r"^Invalid eps value: -1\.0"):
        dataclasses.replace(hp, eps=-1.0)


def test_params_read_as_a_mapping_in_field_order() -> None:
    hp = get_spec("adamw").params({"lr": 0.01})
    assert isinstance(hp, AdamParams)
    assert list(hp) == [h.name for h in Adam.hyperparams] == [f.name for f in dataclasses.fields(AdamParams)]
    assert dict(hp) == hp.as_dict() == get_spec("adamw").resolve({"lr": 0.01})
    assert hp["decoupled_weight_decay"] is True and hp["weight_decay"] == 0.01 and len(hp) == 6
    with pytest.raises(KeyError):
        hp["momentum"]


def test_rules_take_params_instances() -> None:
    assert SGD().hp == SGDParams()
    assert SGD(SGDParams(lr=0.1)).hp.lr == 0.1
    with pytest.raises(TypeError, match="sgd takes SGDParams, not AdamParams"):
        SGD(AdamParams())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_specs_come_from_the_params_fields(name: str) -> None:
    """One source of truth: each spec's name and default are its field's; entries change defaults only."""
    spec = get_spec(name)
    fields = dataclasses.fields(spec.rule.params_type)
    assert [h.name for h in spec.rule.hyperparams] == [f.name for f in fields]
    for hp, f in zip(spec.rule.hyperparams, fields, strict=True):
        assert hp.default == f.default
    for hp in spec.hyperparams:
        assert hp.default == spec.defaults.get(hp.name, next(h.default for h in spec.rule.hyperparams
                                                             if h.name == hp.name))
    assert spec.resolve() == dict(spec.create().hp)


def _rule_sources() -> list[Path]:
    rules = {spec.rule for spec in OPTIMIZERS.values()}
    files = {Path(inspect.getfile(rule)) for rule in rules}
    return sorted(files)


@pytest.mark.parametrize("path", _rule_sources(), ids=lambda p: p.name)
def test_no_casts_in_rule_files(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "type: ignore" not in text, f"{path.name} silences the type checker"
    assert not re.search(r"\bcast\(", text), f"{path.name} casts"
    assert "self.hp[" not in text, f"{path.name} reads hyperparameters by name instead of typed fields"


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_rule_is_an_optimizer_generic_over_its_params(name: str) -> None:
    rule = get_spec(name).rule
    assert issubclass(rule, Optimizer)
    assert issubclass(rule.params_type, Params)
    assert dataclasses.is_dataclass(rule.params_type)
    assert rule.params_type.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_adamw_is_the_adam_rule_with_other_defaults() -> None:
    adam, adamw = get_spec("adam"), get_spec("adamw")
    assert adamw.rule is adam.rule is Adam
    assert dict(adamw.defaults) == {"decoupled_weight_decay": True, "weight_decay": 0.01}
    assert adam.resolve() == {**adamw.resolve(), "decoupled_weight_decay": False, "weight_decay": 0.0}
    # The same rule with adamw's values gives adamw's trajectory; without decoupling it differs.
    problem = make_problem("rosenbrock")

    def final(opt: Optimizer) -> np.ndarray:  # type: ignore[type-arg]
        p = np.array([[-1.5, 2.0]])
        state = opt.init_state(p)
        for _ in range(100):
            opt.step(p, problem.gradient(p), state, record=False)
        return p

    as_adamw = final(make_optimizer("adamw", {"lr": 0.05, "weight_decay": 0.5}))
    by_hand = final(make_optimizer("adam", {"lr": 0.05, "weight_decay": 0.5, "decoupled_weight_decay": True}))
    coupled = final(make_optimizer("adam", {"lr": 0.05, "weight_decay": 0.5}))
    assert as_adamw.tobytes() == by_hand.tobytes()
    assert not np.allclose(as_adamw, coupled)


def test_decoupled_weight_decay_shrinks_theta_by_one_minus_lr_lambda() -> None:
    """At a zero gradient Adam's moments stay 0, so a decoupled step is exactly θ(1 − ηλ)."""
    for name in ("adamw", "nadam", "radam"):
        opt = make_optimizer(name, {"lr": 0.1, "weight_decay": 0.5, "decoupled_weight_decay": True})
        p = np.array([[2.0, -4.0]])
        state = opt.init_state(p)
        opt.step(p, np.zeros_like(p), state)
        np.testing.assert_array_equal(p, np.array([[2.0, -4.0]]) * (1 - 0.1 * 0.5))
    coupled = make_optimizer("adam", {"lr": 0.1, "weight_decay": 0.5})
    p = np.array([[2.0, -4.0]])
    state = coupled.init_state(p)
    coupled.step(p, np.zeros_like(p), state)
    assert math.isclose(p[0, 0], 2.0 - 0.1, rel_tol=1e-6)  # Adam's first step has length ≈ η along sign(λθ)
