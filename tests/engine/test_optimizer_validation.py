"""Hyperparameter validation, the optimizer registry, and what a step reports.

Messages are matched exactly: they are the product's error text (CLI, panels, presets) and
name the parameter and the offending value, in torch.optim's style. Registry defaults are
compared with torch's own, read by ``tools/make_reference.py`` with ``inspect.signature``
into ``tests/data/reference_torch_defaults.json`` (torch is not imported here).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdstudio.engine.hyperparams import HyperParam, format_value, parse_value
from gdstudio.engine.optimizers import OPTIMIZERS, OptState, get_spec, make_optimizer, optimizer_names

DATA = Path(__file__).resolve().parents[1] / "data"
TORCH = json.loads((DATA / "reference_torch_defaults.json").read_text(encoding="utf-8"))
MANIFEST = json.loads((DATA / "reference_cases.json").read_text(encoding="utf-8"))
_EXTRA = json.loads((DATA / "reference_torch_extra.json").read_text(encoding="utf-8"))
#: Every registry name's torch form as the reference data were made with it.
TORCH_OPTIMIZERS = {**MANIFEST["torch_optimizers"], **_EXTRA["torch_optimizers"]}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "optimizers.md"

#: The registry's names, in display order: the articles' names first, then torch's.
NAMES = ["gd", "sgd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam", "adamax",
         "adadelta", "rprop", "asgd", "adafactor", "lbfgs", "muon"]
#: Then pytorch_optimizer's and schedulefree's rules (defaults, messages and trajectories against
#: those packages: tests/engine/test_reference_community.py).
COMMUNITY = ["lion", "adabelief", "yogi", "adan", "lamb", "ademamix", "prodigy", "laprop", "madgrad",
             "schedulefree-sgd", "schedulefree-adamw"]
#: Then rules checked against their closed form (no reference package): tests/engine/test_newton.py.
CLOSED_FORM = ["newton"]
#: Rules whose step couples the coordinates (norms, dot products): their effective learning rate is
#: checked in tests/engine/test_reference_torch_extra.py, not by the per-coordinate trace below.
COUPLED = {"adafactor", "lbfgs", "muon"}

#: Registry name -> (torch class, keyword arguments that make it this optimizer).
TORCH_FORM: dict[str, tuple[str, dict[str, Any]]] = {
    "gd": ("SGD", {}),
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nag": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "nadam": ("NAdam", {}),
    "radam": ("RAdam", {}),
    "adamax": ("Adamax", {}),
    "adadelta": ("Adadelta", {}),
    # issue 10's torch.optim rules (tests/data/reference_torch_extra.json). L-BFGS: one step is one
    # step(closure), so max_iter=1, max_eval=25; Adafactor's eps[0] None is float64's ε = 2⁻⁵² and
    # Muon's adjust_lr_fn None is "original", both written out.
    "rprop": ("Rprop", {}),
    "asgd": ("ASGD", {}),
    "adafactor": ("Adafactor", {"eps": (2.0**-52, 1e-3)}),
    "lbfgs": ("LBFGS", {"max_iter": 1, "max_eval": 25}),
    "muon": ("Muon", {"adjust_lr_fn": "original"}),
}

#: torch keywords that are not hyperparameters of the update (device paths, sign, autograd).
TORCH_MACHINERY = {"foreach", "maximize", "capturable", "differentiable", "fused"}
#: torch hyperparameters deliberately not exposed, with the reason.
NOT_EXPOSED: dict[tuple[str, str], str] = {}
#: Switches an entry shows that its torch class fixes: torch's AdamW is Adam(decoupled_weight_decay=True)
#: (AdamW(...) takes no such keyword); the ``adamw`` entry is Adam with that default.
FIXED_BY_TORCH_CLASS = {"adamw": {"decoupled_weight_decay": True}}


# -- exact messages -------------------------------------------------------------------------------
BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("sgd", {"lr": -0.1}, "Invalid lr value: -0.1 (must be in [0.0, inf))"),
    ("adam", {"lr": -1e-3}, "Invalid lr value: -0.001 (must be in [0.0, inf))"),
    ("sgd", {"momentum": -0.5}, "Invalid momentum value: -0.5 (must be in [0.0, inf))"),
    ("rmsprop", {"momentum": -0.5}, "Invalid momentum value: -0.5 (must be in [0.0, inf))"),
    ("sgd", {"dampening": 2}, "Invalid dampening value: 2.0 (must be in [0.0, 1.0])"),
    ("sgd", {"weight_decay": -1}, "Invalid weight_decay value: -1.0 (must be in [0.0, inf))"),
    ("adam", {"betas": (1.0, 0.9)}, "Invalid betas[0] value: 1.0 (must be in [0.0, 1.0))"),
    ("adam", {"betas": (-0.1, 0.9)}, "Invalid betas[0] value: -0.1 (must be in [0.0, 1.0))"),
    ("adam", {"betas": (0.9, 1.0)}, "Invalid betas[1] value: 1.0 (must be in [0.0, 1.0))"),
    ("nadam", {"betas": (0.9, -0.1)}, "Invalid betas[1] value: -0.1 (must be in [0.0, 1.0))"),
    ("adamax", {"betas": [0.9, 1.5]}, "Invalid betas[1] value: 1.5 (must be in [0.0, 1.0))"),
    ("adam", {"eps": -1e-8}, "Invalid eps value: -1e-08 (must be in [0.0, inf))"),
    ("adagrad", {"eps": -1.0}, "Invalid eps value: -1.0 (must be in [0.0, inf))"),
    ("adagrad", {"lr_decay": -1}, "Invalid lr_decay value: -1.0 (must be in [0.0, inf))"),
    ("adagrad", {"initial_accumulator_value": -0.5},
     "Invalid initial_accumulator_value value: -0.5 (must be in [0.0, inf))"),
    ("rmsprop", {"alpha": 1.5}, "Invalid alpha value: 1.5 (must be in [0.0, 1.0])"),
    ("adadelta", {"rho": -0.1}, "Invalid rho value: -0.1 (must be in [0.0, 1.0])"),
    ("nadam", {"momentum_decay": -0.004}, "Invalid momentum_decay value: -0.004 (must be in [0.0, inf))"),
    # Nesterov needs momentum and no dampening (torch: "Nesterov momentum requires ...").
    ("sgd", {"nesterov": True},
     "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening)"),
    ("gd", {"nesterov": True},
     "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening)"),
    ("momentum", {"nesterov": True, "dampening": 0.1},
     "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening)"),
    ("nag", {"momentum": 0.0},
     "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening)"),
    # Unknown names.
    ("adam", {"momentum": 0.9},
     "Unknown hyperparameter for adam: momentum (known: lr, betas, eps, weight_decay, amsgrad, "
     "decoupled_weight_decay)"),
    ("sgd", {"beta": 0.9, "alpha": 1},
     "Unknown hyperparameter for sgd: alpha (known: lr, momentum, dampening, weight_decay, nesterov)"),
    ("adadelta", {"learning_rate": 1.0},
     "Unknown hyperparameter for adadelta: learning_rate (known: lr, rho, eps, weight_decay)"),
    # Wrong types.
    ("adam", {"lr": "fast"}, "Invalid lr value: 'fast' (must be a number)"),
    ("adam", {"lr": None}, "Invalid lr value: None (must be a number)"),
    ("adam", {"lr": True}, "Invalid lr value: True (must be a number)"),
    ("adam", {"lr": [0.1]}, "Invalid lr value: [0.1] (must be a number)"),
    ("adam", {"lr": 1 + 2j}, "Invalid lr value: (1+2j) (must be a number)"),
    ("sgd", {"nesterov": 1}, "Invalid nesterov value: 1 (must be true or false)"),
    ("adam", {"amsgrad": "maybe"}, "Invalid amsgrad value: 'maybe' (must be true or false)"),
    ("rmsprop", {"centered": None}, "Invalid centered value: None (must be true or false)"),
    ("adam", {"betas": 0.9}, "Invalid betas value: 0.9 (must be two numbers, e.g. 0.9,0.999)"),
    ("adam", {"betas": (0.9,)}, "Invalid betas value: (0.9,) (must be two numbers, e.g. 0.9,0.999)"),
    ("adam", {"betas": (0.9, 0.99, 0.5)},
     "Invalid betas value: (0.9, 0.99, 0.5) (must be two numbers, e.g. 0.9,0.999)"),
    ("adam", {"betas": ("a", "b")}, "Invalid betas value: ('a', 'b') (must be two numbers, e.g. 0.9,0.999)"),
    ("adam", {"betas": "0.9;0.99"}, "Invalid betas value: '0.9;0.99' (must be two numbers, e.g. 0.9,0.999)"),
    # NaN is never in range.
    ("adam", {"lr": math.nan}, "Invalid lr value: nan (must be in [0.0, inf))"),
    ("sgd", {"momentum": math.nan}, "Invalid momentum value: nan (must be in [0.0, inf))"),
    ("adam", {"betas": (math.nan, 0.9)}, "Invalid betas[0] value: nan (must be in [0.0, 1.0))"),
    ("adam", {"eps": "nan"}, "Invalid eps value: nan (must be in [0.0, inf))"),
]


@pytest.mark.parametrize(("name", "overrides", "message"), BAD_VALUES, ids=lambda v: str(v)[:40])
def test_bad_values_raise_exact_messages(name: str, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        make_optimizer(name, overrides)
    assert str(info.value) == message


@pytest.mark.parametrize("value", [math.inf, -math.inf, "inf", "-inf", 1e400])
@pytest.mark.parametrize("param", ["lr", "eps", "weight_decay"])
def test_infinities_are_rejected_naming_parameter_and_value(param: str, value: object) -> None:
    shown = "-inf" if str(value).startswith("-") else "inf"
    with pytest.raises(ValueError, match=rf"^Invalid {param} value: {re.escape(shown)} \(must be in "):
        make_optimizer("adam", {param: value})


def test_infinite_betas_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"^Invalid betas\[1\] value: inf \(must be in \[0.0, 1.0\)\)$"):
        make_optimizer("adam", {"betas": (0.9, math.inf)})


def test_unknown_optimizer_names_every_known_one() -> None:
    with pytest.raises(ValueError) as info:
        get_spec("adamm")
    assert str(info.value) == f"Unknown optimizer: 'adamm' (known: {', '.join(NAMES + COMMUNITY + CLOSED_FORM)})"
    with pytest.raises(ValueError, match=r"^Unknown optimizer: '' \(known: gd, sgd, "):
        make_optimizer("")


def test_edges_of_the_valid_ranges_are_accepted() -> None:
    assert make_optimizer("adam", {"betas": (0.0, 0.0), "lr": 0.0, "eps": 0.0}).hp["betas"] == (0.0, 0.0)
    assert make_optimizer("adam", {"betas": (0.999999, 0.999999)}).hp["betas"] == (0.999999, 0.999999)
    assert make_optimizer("rmsprop", {"alpha": 1.0}).hp["alpha"] == 1.0
    assert make_optimizer("adadelta", {"rho": 0.0}).hp["rho"] == 0.0
    assert make_optimizer("sgd", {"dampening": 1.0, "momentum": 0.5}).hp["dampening"] == 1.0
    assert make_optimizer("sgd", {"nesterov": True, "momentum": 1e-9}).hp["nesterov"] is True


def test_values_are_converted_to_their_kind() -> None:
    opt = make_optimizer("adam", {"lr": 1, "betas": [0.8, "0.99"], "amsgrad": "true", "eps": "1e-6"})
    assert dict(opt.hp) == {"lr": 1.0, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.0, "amsgrad": True,
                            "decoupled_weight_decay": False}
    assert opt.hp.betas == (0.8, 0.99) and opt.hp.amsgrad is True
    assert type(opt.hp["lr"]) is float
    assert make_optimizer("adam", {"lr": np.float64(0.5)}).hp["lr"] == 0.5
    assert make_optimizer("adam", {"betas": np.array([0.5, 0.6])}).hp["betas"] == (0.5, 0.6)


# -- the registry against torch --------------------------------------------------------------------
def test_registry_names_and_order() -> None:
    assert optimizer_names() == NAMES + COMMUNITY + CLOSED_FORM
    assert list(OPTIMIZERS) == NAMES + COMMUNITY + CLOSED_FORM
    assert set(TORCH_FORM) == set(NAMES) == set(TORCH_OPTIMIZERS)
    for name in NAMES + COMMUNITY + CLOSED_FORM:
        assert get_spec(f"  {name.upper()} ") is OPTIMIZERS[name]
        assert OPTIMIZERS[name].name == name


def test_torch_defaults_file_is_current() -> None:
    """The defaults file and the reference trajectories came from the same torch."""
    assert TORCH["torch_version"] == MANIFEST["torch_version"]
    assert TORCH["torch_version"].startswith("2.13.0")
    for name, (cls, kwargs) in TORCH_FORM.items():
        assert TORCH_OPTIMIZERS[name] == {"class": cls, "kwargs": jsonable(kwargs)}


def jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples are lists)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return [jsonable(v) for v in value] if isinstance(value, tuple) else value


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    if isinstance(value, bool):
        return value
    if value is None:  # torch's None for a choice (L-BFGS's line_search_fn) is the choice "none"
        return "none"
    if isinstance(value, str):
        return value
    return float(value)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_equal_torch(name: str) -> None:
    """Each spec's defaults are torch's (plus the alias's keywords), and no torch
    hyperparameter is missing without a stated reason."""
    cls, alias = TORCH_FORM[name]
    torch_defaults = TORCH["classes"][cls]
    spec = get_spec(name)
    fixed = FIXED_BY_TORCH_CLASS.get(name, {})
    ours = {hp.name: hp.default for hp in spec.hyperparams if hp.name not in fixed}
    assert {k: v for k, v in spec.resolve().items() if k in fixed} == fixed
    for key in ours:
        assert key in torch_defaults, f"{name}: {key} is not a torch.optim.{cls} keyword"
    expected = {key: _plain(alias.get(key, torch_defaults[key])) for key in ours}
    assert {k: _plain(v) for k, v in ours.items()} == expected
    assert {k: _plain(v) for k, v in spec.resolve().items() if k not in fixed} == expected
    assert dict(spec.create().hp) == spec.resolve()
    missing = set(torch_defaults) - set(ours) - TORCH_MACHINERY - {k for c, k in NOT_EXPOSED if c == cls}
    assert not missing, f"torch.optim.{cls} has hyperparameters the registry lacks: {sorted(missing)}"
    for key, value in {**alias, **fixed}.items():
        assert spec.defaults[key] == value


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameter_specs_are_complete(name: str) -> None:
    spec = get_spec(name)
    names = [hp.name for hp in spec.hyperparams]
    assert len(names) == len(set(names))
    assert names[0] == "lr"
    for hp in spec.hyperparams:
        assert hp.symbol and hp.help and hp.label
        assert hp.validate(hp.default) == hp.default
        if hp.kind == "bool":
            assert isinstance(hp.default, bool)
            continue
        assert hp.low <= hp.soft_low < hp.soft_high <= hp.high
        assert math.isfinite(hp.soft_low) and math.isfinite(hp.soft_high)
        if hp.kind == "choice":
            assert hp.default in hp.choices and len(hp.choices) >= 2
            continue
        width = {"float": 0, "int": 0, "pair": 2, "triple": 3}[hp.kind]
        for soft in (hp.soft_low, hp.soft_high):
            value = int(soft) if hp.kind == "int" else soft
            hp.validate(value if width == 0 else (value,) * width)
        if hp.log:
            assert hp.soft_low > 0
        if hp.kind in ("pair", "triple"):
            assert len(hp.symbols) == len(hp.default) == width
    doc = " ".join(spec.docstring.split())
    assert "torch.optim." in doc and "Effective learning rate" in doc


# -- parse_value / format_value ---------------------------------------------------------------------
ALL_HYPERPARAMS = [(name, hp) for name in NAMES for hp in get_spec(name).hyperparams]


@pytest.mark.parametrize(("name", "hp"), ALL_HYPERPARAMS, ids=lambda v: v if isinstance(v, str) else v.name)
def test_defaults_round_trip_through_text(name: str, hp: HyperParam) -> None:
    text = format_value(hp.default)
    assert parse_value(hp, text) == hp.default
    assert make_optimizer(name, {hp.name: text}).hp[hp.name] == hp.default


@pytest.mark.parametrize(
    ("param", "text", "value"),
    [
        ("lr", " 0.01 ", 0.01), ("lr", "1e-3", 0.001), ("lr", "0", 0.0), ("lr", "5", 5.0),
        ("amsgrad", "TRUE", True), ("amsgrad", "on", True), ("amsgrad", "1", True), ("amsgrad", "yes", True),
        ("amsgrad", "False", False), ("amsgrad", "off", False), ("amsgrad", "0", False), ("amsgrad", "no", False),
        ("betas", "0.9,0.999", (0.9, 0.999)), ("betas", "(0.8, 0.99)", (0.8, 0.99)),
        ("betas", "[0, 0.5]", (0.0, 0.5)),
    ],
)
def test_parse_value_accepts_command_line_forms(param: str, text: str, value: object) -> None:
    hp = next(h for h in get_spec("adam").hyperparams if h.name == param)
    assert parse_value(hp, text) == value


@pytest.mark.parametrize(
    ("param", "text", "message"),
    [
        ("lr", "fast", "Invalid lr value: 'fast' (must be a number)"),
        ("lr", "", "Invalid lr value: '' (must be a number)"),
        ("lr", "-1", "Invalid lr value: -1.0 (must be in [0.0, inf))"),
        ("amsgrad", "maybe", "Invalid amsgrad value: 'maybe' (must be true or false)"),
        ("betas", "0.9", "Invalid betas value: '0.9' (must be two numbers, e.g. 0.9,0.999)"),
        ("betas", "0.9,x", "Invalid betas value: '0.9,x' (must be two numbers, e.g. 0.9,0.999)"),
        ("betas", "0.9,1", "Invalid betas[1] value: 1.0 (must be in [0.0, 1.0))"),
    ],
)
def test_parse_value_errors(param: str, text: str, message: str) -> None:
    hp = next(h for h in get_spec("adam").hyperparams if h.name == param)
    with pytest.raises(ValueError) as info:
        parse_value(hp, text)
    assert str(info.value) == message


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_valid_value_round_trips_exactly(data: st.DataObject) -> None:
    _, hp = data.draw(st.sampled_from(ALL_HYPERPARAMS))
    if hp.kind == "bool":
        value: object = data.draw(st.booleans())
    elif hp.kind == "choice":
        value = data.draw(st.sampled_from(hp.choices))
    elif hp.kind == "int":
        value = data.draw(st.integers(min_value=int(hp.low), max_value=10**6 if math.isinf(hp.high) else int(hp.high)))
    else:
        number = st.floats(
            min_value=hp.low, max_value=hp.high, exclude_max=hp.high_open, exclude_min=hp.low_open,
            allow_nan=False, allow_infinity=False,
        )
        width = {"pair": 2, "triple": 3}.get(hp.kind, 1)
        value = tuple(data.draw(number) for _ in range(width)) if width > 1 else data.draw(number)
    text = format_value(value)  # type: ignore[arg-type]
    parsed = parse_value(hp, text)
    assert parsed == value
    assert type(parsed) is type(value)
    assert format_value(parsed) == text


# -- what a step reports ----------------------------------------------------------------------------
#: Registry name -> (state buffer reported as first moment, as second moment), default settings.
MOMENTS = {
    "gd": (None, None), "sgd": (None, None), "momentum": ("momentum_buffer", None),
    "nag": ("momentum_buffer", None), "adagrad": (None, "sum"), "rmsprop": (None, "square_avg"),
    "adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq"), "nadam": ("exp_avg", "exp_avg_sq"),
    "radam": ("exp_avg", "exp_avg_sq"), "adamax": ("exp_avg", "exp_inf"), "adadelta": (None, "square_avg"),
    "rprop": (None, None), "asgd": (None, None), "adafactor": (None, "variance"), "lbfgs": (None, None),
    "muon": ("momentum_buffer", None),
}


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_step_internals_shapes_and_copies(name: str, dim: int) -> None:
    opt = make_optimizer(name, {"lr": 0.01})
    rng = np.random.default_rng(0)
    p = rng.normal(size=(4, dim))
    state = opt.init_state(p)
    g = rng.normal(size=p.shape)
    g_before = g.copy()
    info = opt.step(p, g, state)
    np.testing.assert_array_equal(g, g_before)  # the gradient is never modified
    assert state.t == 1
    assert info is not None
    assert info.effective_lr.shape == p.shape and info.effective_lr.dtype == np.float64
    assert np.all(info.effective_lr > 0)
    first, second = MOMENTS[name]
    for reported, buffer in ((info.first_moment, first), (info.second_moment, second)):
        if buffer is None:
            assert reported is None
        else:
            assert reported is not None and reported.shape == p.shape
            np.testing.assert_array_equal(reported, state.buffers[buffer])
            assert not np.shares_memory(reported, state.buffers[buffer])
    assert not np.shares_memory(info.effective_lr, p)
    assert opt.step(p, g, state, record=False) is None
    assert state.t == 2


@pytest.mark.parametrize("name", NAMES)
def test_gradient_is_not_modified_with_weight_decay(name: str) -> None:
    has_decay = any(hp.name == "weight_decay" for hp in get_spec(name).hyperparams)  # Rprop, L-BFGS: none
    opt = make_optimizer(name, {"weight_decay": 0.1} if has_decay else {})
    p = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = np.array([[0.3, -0.1], [2.0, 0.0]])
    g_before = g.copy()
    state = opt.init_state(p)
    for _ in range(3):
        opt.step(p, g, state)
    np.testing.assert_array_equal(g, g_before)


def test_init_state_fills_buffers() -> None:
    state = make_optimizer("adagrad", {"initial_accumulator_value": 0.25}).init_state(np.zeros((3, 2)))
    np.testing.assert_array_equal(state.buffers["sum"], np.full((3, 2), 0.25))
    assert state.t == 0
    copy = state.copy()
    copy.buffers["sum"][0, 0] = 9.0
    assert state.buffers["sum"][0, 0] == 0.25
    assert isinstance(copy, OptState)


# Effective learning rate: each rule's definition, recomputed here in plain Python floats from the
# gradients alone (no engine state is read), and checked against the step actually taken.
def _scalar_trace(name: str, hp: dict[str, Any], grads: list[float], p0: float) -> list[tuple[float, float]]:
    """(effective lr, step Δθ) of one coordinate, by the rule's textbook formula in Python floats."""
    lr = hp["lr"]
    decoupled = name == "adamw"
    assert decoupled or hp.get("weight_decay", 0) == 0, "the model has weight decay for AdamW only"
    out = []
    p = p0
    m = v = u = vmax = buf = gbar = 0.0
    s = hp.get("initial_accumulator_value", 0.0)
    mu_product = 1.0
    rp_prev, rp_delta = 0.0, lr
    for t, g in enumerate(grads, start=1):
        if name in ("gd", "sgd", "momentum", "nag"):
            mom = hp["momentum"]
            buf = g if t == 1 else mom * buf + (1 - hp["dampening"]) * g
            d = (g + mom * buf if hp["nesterov"] else buf) if mom else g
            eff, step = lr, -lr * d
        elif name == "adagrad":
            s += g * g
            eff = lr / (1 + (t - 1) * hp["lr_decay"]) / (math.sqrt(s) + hp["eps"])
            step = -eff * g
        elif name == "rmsprop":
            a = hp["alpha"]
            v = a * v + (1 - a) * g * g
            gbar = a * gbar + (1 - a) * g
            r = (math.sqrt(v - gbar * gbar) if hp["centered"] else math.sqrt(v)) + hp["eps"]
            eff = lr / r
            buf = hp["momentum"] * buf + g / r
            step = -lr * buf if hp["momentum"] else -eff * g
        elif name in ("adam", "adamw"):
            b1, b2 = hp["betas"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            vmax = max(vmax, v)
            vhat = (vmax if hp["amsgrad"] else v) / (1 - b2**t)
            eff = lr / (1 - b1**t) / (math.sqrt(vhat) + hp["eps"])
            step = -eff * m - (lr * hp["weight_decay"] * p if decoupled else 0.0)
        elif name == "nadam":
            b1, b2 = hp["betas"]
            psi = hp["momentum_decay"]
            mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
            mu_product *= mu
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            eff = lr / (math.sqrt(v / (1 - b2**t)) + hp["eps"])
            step = -eff * ((1 - mu) / (1 - mu_product) * g + mu_next / (1 - mu_product * mu_next) * m)
        elif name == "radam":
            b1, b2 = hp["betas"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            rho_inf = 2 / (1 - b2) - 1
            rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
            if rho > 5:
                rect = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                eff = lr * rect * math.sqrt(1 - b2**t) / (math.sqrt(v) + hp["eps"])
            else:
                eff = lr
            step = -eff * m / (1 - b1**t)
        elif name == "adamax":
            b1, b2 = hp["betas"]
            m = b1 * m + (1 - b1) * g
            u = max(b2 * u, abs(g) + hp["eps"])
            eff = lr / (1 - b1**t) / u
            step = -eff * m
        elif name == "adadelta":
            rho, eps = hp["rho"], hp["eps"]
            v = rho * v + (1 - rho) * g * g
            ratio = math.sqrt(u + eps) / math.sqrt(v + eps)
            eff = lr * ratio
            delta = ratio * g
            u = rho * u + (1 - rho) * delta * delta
            step = -eff * g
        elif name == "rprop":  # Δ grows by η₊ while sign(g) holds, shrinks by η₋ at a flip
            (minus, plus), (low, high) = hp["etas"], hp["step_sizes"]
            flip = g * rp_prev
            rp_delta = min(max(rp_delta * (plus if flip > 0 else minus if flip < 0 else 1.0), low), high)
            rp_prev = 0.0 if flip < 0 else g
            eff, step = rp_delta, -math.copysign(rp_delta, rp_prev) if rp_prev else 0.0
        elif name == "asgd":  # η_t = η/(1 + λη(t−1))^α, θ ← θ(1 − λη_t) − η_t g
            eff = lr / (1 + hp["lambd"] * lr * (t - 1)) ** hp["alpha"]
            step = -hp["lambd"] * eff * p - eff * g
        else:  # pragma: no cover - a new registry name needs its formula here
            raise AssertionError(f"no effective-lr formula for {name}")
        p += step
        out.append((eff, step))
    return out


EFF_CASES: list[tuple[str, dict[str, Any]]] = [
    *[(name, {"lr": 0.05}) for name in NAMES if name not in COUPLED],
    ("sgd", {"lr": 0.05, "momentum": 0.7, "dampening": 0.2}),
    ("adagrad", {"lr": 0.3, "lr_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("rmsprop", {"lr": 0.02, "centered": True}),
    ("rmsprop", {"lr": 0.02, "momentum": 0.6, "alpha": 0.9}),
    ("adam", {"lr": 0.1, "amsgrad": True, "betas": (0.5, 0.8), "eps": 1e-3}),
    ("nadam", {"lr": 0.1, "momentum_decay": 0.05, "betas": (0.8, 0.9)}),
    ("radam", {"lr": 0.1, "betas": (0.8, 0.9)}),
    ("adamax", {"lr": 0.1, "betas": (0.5, 0.7), "eps": 0.01}),
    ("adadelta", {"lr": 2.0, "rho": 0.5, "eps": 1e-3}),
    ("rprop", {"lr": 0.02, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.1)}),
    ("asgd", {"lr": 0.05, "lambd": 0.5, "alpha": 0.5}),
]


@pytest.mark.parametrize(("name", "overrides"), EFF_CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_effective_lr_definitions(name: str, overrides: dict[str, Any]) -> None:
    """effective_lr equals the rule's documented factor, recomputed independently, and the
    step taken equals that factor times the rule's direction."""
    opt = make_optimizer(name, overrides)
    hp = dict(opt.hp)
    rng = np.random.default_rng(7)
    steps = 12  # RAdam rectifies from step 6 (β₂ = 0.999 or 0.9): both branches run
    grads = rng.normal(scale=[[0.01, 1.0, 30.0]], size=(steps, 1, 3))
    grads[5, 0, 1] = 0.0  # a zero gradient: no 0/0 anywhere
    p = rng.normal(size=(1, 3))
    p0 = p.copy()
    state = opt.init_state(p)
    effs, updates = [], []
    for k in range(steps):
        before = p.copy()
        info = opt.step(p, grads[k], state)
        effs.append(info.effective_lr[0])
        updates.append(p[0] - before[0])
    for j in range(3):
        expected = _scalar_trace(name, hp, [float(g) for g in grads[:, 0, j]], float(p0[0, j]))
        for k, (eff, step) in enumerate(expected):
            assert effs[k][j] == pytest.approx(eff, rel=1e-12, abs=0), f"step {k + 1}, coordinate {j}"
            assert updates[k][j] == pytest.approx(step, rel=1e-9, abs=1e-15), f"step {k + 1}, coordinate {j}"


def test_adam_effective_lr_is_step_size_over_denominator() -> None:
    """Adam's effective_lr is step_size / denom, as in torch's update ``p −= step_size·m/denom``."""
    lr, (b1, b2), eps = 0.1, (0.9, 0.999), 1e-8
    opt = make_optimizer("adam", {"lr": lr})
    p = np.array([[1.0, -1.0]])
    state = opt.init_state(p)
    m = np.zeros(2)
    v = np.zeros(2)
    for t, g in enumerate([np.array([0.5, -2.0]), np.array([0.1, 3.0]), np.array([-0.4, 0.0])], start=1):
        before = p.copy()
        info = opt.step(p, g[None, :], state)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step_size = lr / (1 - b1**t)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
        np.testing.assert_allclose(info.effective_lr[0], step_size / denom, rtol=1e-14)
        np.testing.assert_allclose(p[0] - before[0], -(step_size / denom) * m, rtol=1e-12)


# -- the docs show the registry ---------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES + COMMUNITY + CLOSED_FORM)
def test_docs_table_matches_registry(name: str) -> None:
    """docs/optimizers.md lists every hyperparameter with its symbol, default and range."""
    text = DOCS.read_text(encoding="utf-8")
    for hp in get_spec(name).hyperparams:
        row = f"| `{name}` | `{hp.name}` | {hp.symbol} | {format_value(hp.default)} | {hp.range_text()} |"
        assert row in text, f"missing or stale row in {DOCS.name}: {row}"


def test_numpy_scalars_are_accepted_like_python_numbers() -> None:
    opt = make_optimizer("adam", {"lr": np.float32(0.25), "amsgrad": np.bool_(True), "betas": np.array([0.8, 0.9])})
    assert opt.hp["lr"] == pytest.approx(0.25) and type(opt.hp["lr"]) is float
    assert opt.hp["amsgrad"] is True
    assert opt.hp["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match=r"Invalid lr value: -1\.0"):
        make_optimizer("adam", {"lr": np.int64(-1)})
