"""A number whose reference allows None (Prodigy's β₃ and ε, AdEMAMix's T) has an "auto" box: None."""

from __future__ import annotations

import math

from gdstudio.engine.optimizers import get_spec
from gdstudio.ui.widgets.hyperparams import ParamEditor


def _spec(optimizer: str, name: str):  # type: ignore[no-untyped-def]
    return next(h for h in get_spec(optimizer).hyperparams if h.name == name)


def test_auto_is_none_and_a_number_when_turned_off(qtbot) -> None:  # type: ignore[no-untyped-def]
    ed = ParamEditor(_spec("ademamix", "t_alpha_beta3"))
    qtbot.addWidget(ed)
    got: list[object] = []
    ed.committed.connect(got.append)
    assert ed.auto is not None and ed.auto.isChecked() and ed.value() is None
    assert not ed.spins[0].isEnabled() and not ed.slider.isEnabled()
    ed.auto.setChecked(False)
    assert got[-1] == 1.0 and ed.spins[0].isEnabled()  # the slider's low end, a valid T
    get_spec("ademamix").validate_overrides({"t_alpha_beta3": got[-1]})
    ed.auto.setChecked(True)
    assert got[-1] is None
    ed.set_value(250.0)
    assert not ed.auto.isChecked() and ed.value() == 250.0


def test_numbers_without_none_have_no_auto_box_and_inf_survives(qtbot) -> None:  # type: ignore[no-untyped-def]
    ed = ParamEditor(_spec("prodigy", "growth_rate"))
    qtbot.addWidget(ed)
    assert ed.auto is None
    assert ed.value() == math.inf  # the reference's default, kept exactly
