"""The registry's groups (the window lists optimizers by them)."""

from __future__ import annotations

import pytest

from gdstudio.engine.optimizers import GROUPS, OPTIMIZERS, OptimizerSpec, get_spec, optimizers_by_group

EXPECTED = {
    "classic": {"gd", "sgd", "momentum", "nag", "asgd"},
    "adaptive": {"adagrad", "rmsprop", "adam", "adamw", "nadam", "radam", "adamax", "adadelta", "adafactor",
                 "adabelief", "yogi", "adan", "lamb", "ademamix", "prodigy", "laprop", "madgrad"},
    "sign-based": {"lion", "rprop", "muon"},
    "second-order": {"lbfgs", "newton"},
    "schedule-free": {"schedulefree-sgd", "schedulefree-adamw"},
}


def test_groups_in_display_order() -> None:
    assert GROUPS == ("classic", "adaptive", "sign-based", "second-order", "schedule-free")


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_entry_has_a_known_group(name: str) -> None:
    assert OPTIMIZERS[name].group in GROUPS


def test_groups_hold_the_intended_rules() -> None:
    assert {group: set(names) for group, names in optimizers_by_group().items()} == EXPECTED


def test_by_group_covers_the_registry_once_in_registry_order() -> None:
    grouped = optimizers_by_group()
    assert list(grouped) == list(GROUPS)
    flat = [name for names in grouped.values() for name in names]
    assert sorted(flat) == sorted(OPTIMIZERS)
    order = list(OPTIMIZERS)
    for names in grouped.values():
        assert names == sorted(names, key=order.index)


def test_an_unknown_group_is_refused() -> None:
    spec = get_spec("adam")
    with pytest.raises(ValueError, match=r"^Invalid group value: 'fancy' \(must be one of classic, adaptive"):
        OptimizerSpec(spec.name, spec.title, spec.rule, spec.defaults, spec.summary, spec.adaptive, "fancy")  # type: ignore[arg-type]
