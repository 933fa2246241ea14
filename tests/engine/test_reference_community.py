"""The community optimizers against their references' own trajectories (``tools/reference_community.py``).

The data hold float64 trajectories of pytorch_optimizer 4.1.0 (Lion, AdaBelief, Yogi, Adan, Lamb,
AdEMAMix, Prodigy, LaProp, MADGRAD) and schedulefree 1.4.1 (SGDScheduleFree, AdamWScheduleFree
in train mode), fed each problem's analytic gradient, with Prodigy's D and schedule-free's
averaged x after every step, the references' keyword defaults and the messages they raise for
bad values. No reference package is needed here.

Every tight case must agree with the engine at every step to 1e-12 relative to ``max(1, |p|)``.
A case is loose when the reference itself, started one ulp away, drifts past 1e-13; those are
compared at 1e-9 up to the step before the drift reaches 1e-11 (``horizon``), and must be
exactly these:

* Lamb η = 0.05, λ = 0.05 on Booth from (−8, −6) (horizon 108): |θ₀| = 10 is exactly the
  trust ratio's clamp, and rounding decides on which side of it ‖θ‖ falls.
* Lamb η = 0.01 on Beale (horizon 239) and η = 0.05 on Himmelblau (horizon 100): DESIGN.md's
  cases; the trust ratio ‖θ‖/‖u‖ divides by the norm of a step that nearly vanishes as m
  changes sign, so 1-ulp changes in u grow.
* Prodigy with its defaults on Rosenbrock (horizon 120): D is the running maximum of an
  estimate built from the distance travelled, a positive feedback along the curved valley.
* MADGRAD η = 0.05 without momentum on Himmelblau (horizon 50): θ jumps to the dual-averaging
  point every step, so rounding in the cube-root scale moves θ directly, and Himmelblau's
  saddle between basins amplifies it.

See docs/optimizers.md ("Community optimizers").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import Problem, make_problem
from gdstudio.engine.runs import Run, RunConfig, Status

DATA = Path(__file__).resolve().parents[1] / "data"
MANIFEST: dict[str, Any] = json.loads((DATA / "reference_community_cases.json").read_text(encoding="utf-8"))
with np.load(DATA / "reference_community_trajectories.npz", allow_pickle=False) as _npz:
    ARRAYS: dict[str, np.ndarray] = {key: _npz[key] for key in _npz.files}
CASES: list[dict[str, Any]] = MANIFEST["cases"]
TIGHT_CASES = [c for c in CASES if c["tight"]]
LOOSE_CASES = [c for c in CASES if not c["tight"]]
NAMES = list(MANIFEST["references"])

TIGHT = 1e-12
LOOSE = 1e-9

#: (registry name, problem, overrides, start) of the loose cases named in the docstring.
DOCUMENTED_LOOSE = {
    ("lamb", "booth", (("lr", 0.05), ("weight_decay", 0.05)), (-8.0, -6.0)),
    ("lamb", "beale", (("lr", 0.01),), (1.0, 1.4)),
    ("lamb", "himmelblau", (("lr", 0.05),), (-0.5, -0.5)),
    ("prodigy", "rosenbrock", (), (-1.5, 2.0)),
    ("madgrad", "himmelblau", (("lr", 0.05), ("momentum", 0.0)), (-0.5, -0.5)),
}


def _value(v: Any) -> Any:
    """A JSON value as the engine takes it (lists → tuples, "inf" → ∞)."""
    if v == "inf":
        return math.inf
    if isinstance(v, list):
        return tuple(_value(x) for x in v)
    return v


def _overrides(case: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in case["overrides"].items()}


def _key(case: dict[str, Any]) -> tuple[Any, ...]:
    return case["optimizer"], case["problem"], tuple(sorted(_overrides(case).items())), tuple(case["start"])


def _id(case: dict[str, Any]) -> str:
    return f"{case['id']}-{case['optimizer']}-{case['problem']}"


def _problem(case: dict[str, Any]) -> Problem:
    return make_problem(case["problem"], dataset=case["dataset"])


def engine_trajectory(case: dict[str, Any], steps: int | None = None
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Points (steps + 1, D) of the engine from the case's start, and each internal after every step."""
    steps = case["steps"] if steps is None else steps
    problem = _problem(case)
    opt = get_spec(case["optimizer"]).create(_overrides(case))
    p = np.array([case["start"]], dtype=np.float64)
    state = opt.init_state(p)
    out = np.empty((steps + 1, p.shape[1]))
    out[0] = p[0]
    internals: dict[str, list[np.ndarray]] = {}
    for k in range(1, steps + 1):
        info = opt.step(p, problem.gradient(p), state)
        assert info is not None
        out[k] = p[0]
        for name, value in info.internals.items():
            internals.setdefault(name, []).append(value[0].copy())
    return out, {k: np.array(v) for k, v in internals.items()}


def relative_error(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-step max of |points − ref| / max(1, |ref|); inf where anything is not finite."""
    with np.errstate(all="ignore"):
        err = np.abs(points - ref) / np.maximum(1.0, np.abs(ref))
    err[~(np.isfinite(points) & np.isfinite(ref))] = np.inf
    return err.reshape(err.shape[0], -1).max(axis=1)


def assert_close(points: np.ndarray, ref: np.ndarray, tol: float, what: str) -> None:
    err = relative_error(points, ref)
    bad = np.nonzero(err > tol)[0]
    assert bad.size == 0, (
        f"{what}: step {bad[0]} differs by {err[bad[0]]:.3g} (> {tol:g}) relative to max(1, |p|): "
        f"engine {points[bad[0]]} vs reference {ref[bad[0]]}"
    )


# -- the data themselves ----------------------------------------------------------------------------
def test_data_come_from_the_pinned_references_in_float64() -> None:
    versions = MANIFEST["versions"]
    assert versions["pytorch_optimizer"] == "4.1.0"
    assert versions["schedulefree"] == "1.4.1"
    assert versions["torch"].startswith("2.13.0")
    assert MANIFEST["dtype"] == "float64" and MANIFEST["foreach"] is False
    for case in CASES:
        ref = ARRAYS[f"case_{case['id']}"]
        assert ref.shape == (case["steps"] + 1, len(case["start"]))
        assert case["steps"] >= 300
        assert np.array_equal(ref[0], case["start"])
        assert np.isfinite(ref).all()
        assert case["loss_end"] < case["loss_start"], _id(case)
        assert np.abs(ref[-1] - ref[0]).max() > 1e-2, _id(case)


def test_every_rule_has_tight_cases_on_several_problems() -> None:
    for name in NAMES:
        problems = {c["problem"] for c in TIGHT_CASES if c["optimizer"] == name}
        assert len(problems) >= 4 and "sigmoid-neuron" in problems, (name, problems)


def test_every_hyperparameter_is_exercised_off_its_default() -> None:
    """For each rule, every hyperparameter takes a non-default value in some tight case."""
    for name in NAMES:
        spec = get_spec(name)
        defaults = spec.resolve()
        varied = {key for c in TIGHT_CASES if c["optimizer"] == name
                  for key, value in spec.resolve(_overrides(c)).items() if value != defaults[key]}
        assert varied == set(defaults), f"{name}: never varied {sorted(set(defaults) - varied)}"


def test_loose_cases_are_exactly_the_documented_ones() -> None:
    assert {_key(c) for c in LOOSE_CASES} == DOCUMENTED_LOOSE
    for case in LOOSE_CASES:
        assert 30 < case["horizon"] < case["steps"]


# -- registry entries against the references' signatures ---------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_keywords_and_defaults_are_the_references(name: str) -> None:
    """Same keyword names (implementation switches ``foreach``/``maximize`` aside), same defaults."""
    ours = get_spec(name).resolve()
    theirs = {k: _value(v) for k, v in MANIFEST["defaults"][name].items()}
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key] == value and (value is None) == (ours[key] is None), (name, key, ours[key], value)


@pytest.mark.parametrize("name", NAMES)
def test_docstring_names_the_reference_and_states_the_rule(name: str) -> None:
    ref = MANIFEST["references"][name]
    doc = " ".join(get_spec(name).docstring.split())
    assert f"{ref['package']}.{ref['class']}" in doc
    assert "Effective learning rate" in doc and ".. math::" in get_spec(name).docstring


@pytest.mark.parametrize("entry", MANIFEST["messages"], ids=lambda e: f"{e['optimizer']}-{next(iter(e['kwargs']))}")
def test_bad_values_raise_the_references_messages(entry: dict[str, Any]) -> None:
    spec = get_spec(entry["optimizer"])
    kwargs = {k: _value(v) for k, v in entry["kwargs"].items()}
    with pytest.raises(ValueError) as info:
        spec.create(kwargs)
    assert str(info.value) == entry["message"]


@pytest.mark.parametrize("entry", MANIFEST["messages"][:3], ids=lambda e: e["optimizer"])
def test_a_bad_row_is_named(entry: dict[str, Any]) -> None:
    (key, value), = entry["kwargs"].items()
    column = np.array([[get_spec(entry["optimizer"]).resolve()[key]], [value]])
    with pytest.raises(ValueError) as info:
        get_spec(entry["optimizer"]).create({key: column})
    assert str(info.value) == entry["message"] + " in row 1"


@pytest.mark.parametrize(
    ("name", "text", "key", "value"),
    [
        ("adan", "0.9,0.8,0.7", "betas", (0.9, 0.8, 0.7)),
        ("ademamix", "none", "t_alpha_beta3", None),
        ("ademamix", "250", "t_alpha_beta3", 250.0),
        ("prodigy", "none", "beta3", None),
        ("prodigy", "None", "eps", None),
        ("prodigy", "inf", "growth_rate", math.inf),
        ("prodigy", "1.02", "growth_rate", 1.02),
    ],
)
def test_command_line_values(name: str, text: str, key: str, value: Any) -> None:
    assert get_spec(name).validate_overrides({key: text}, from_text=True) == {key: value}


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("adan", {"betas": (0.9, 0.9)}, "Invalid betas value: (0.9, 0.9) (must be three numbers, e.g. 0.98,0.92,0.99)"),
        ("lion", {"betas": (0.9, 0.9, 0.9)},
         "Invalid betas value: (0.9, 0.9, 0.9) (must be two numbers, e.g. 0.9,0.99)"),
        ("lion", {"lr": math.nan}, "Invalid lr value: nan (must be in [0.0, inf))"),
        ("prodigy", {"d0": 0.0}, "Invalid d0 value: 0.0 (must be in (0.0, inf))"),
        ("prodigy", {"growth_rate": -math.inf}, "Invalid growth_rate value: -inf (must be in (0.0, inf])"),
        ("ademamix", {"t_alpha_beta3": 0.0}, "Invalid t_alpha_beta3 value: 0.0 (must be in (0.0, inf))"),
        ("ademamix", {"t_alpha_beta3": 10.0, "betas": (0.0, 0.999, 0.9999)},
         "Invalid betas[0] value: 0.0 (the β₃ warm-up takes its logarithm: must be > 0 with t_alpha_beta3)"),
        ("schedulefree-adamw", {"betas": (0.0, 0.999)},
         "Invalid betas[0] value: 0.0 (schedule-free needs β₁ > 0: x = (y − (1−β₁)z)/β₁)"),
        ("schedulefree-adamw", {"lr": -1.0}, "Invalid lr value: -1.0 (must be in [0.0, inf))"),
    ],
)
def test_values_no_step_can_use_are_refused(name: str, overrides: dict[str, Any], message: str) -> None:
    """Where the reference has no message (NaN, a zero it divides by, a tuple of the wrong length), one clear line."""
    with pytest.raises(ValueError) as info:
        get_spec(name).create(overrides)
    assert str(info.value) == message


# -- the engine against the references ----------------------------------------------------------------
@pytest.mark.parametrize("case", TIGHT_CASES, ids=_id)
def test_rule_matches_its_reference(case: dict[str, Any]) -> None:
    ref = ARRAYS[f"case_{case['id']}"]
    points, internals = engine_trajectory(case)
    assert_close(points, ref, TIGHT, _id(case))
    for name in case["internals"]:
        expected = ARRAYS[f"{name}_{case['id']}"][1:]
        got = internals[name].reshape(expected.shape[0], -1)
        assert_close(got, expected.reshape(got.shape), TIGHT, f"{_id(case)} internal {name}")


@pytest.mark.parametrize("case", LOOSE_CASES, ids=_id)
def test_chaotic_trajectory_matches_up_to_its_horizon(case: dict[str, Any]) -> None:
    ref = ARRAYS[f"case_{case['id']}"][: case["horizon"] + 1]
    points, _ = engine_trajectory(case, steps=case["horizon"])
    assert_close(points, ref, LOOSE, _id(case))


def test_internals_are_recorded_by_the_rules() -> None:
    assert {c["optimizer"] for c in CASES if c["internals"]} == {"prodigy", "schedulefree-sgd", "schedulefree-adamw"}
    assert get_spec("prodigy").rule.internal_buffers == ("d",)
    assert get_spec("schedulefree-sgd").rule.internal_buffers == ("x",)
    assert get_spec("schedulefree-adamw").rule.internal_buffers == ("x",)


RUN_CASES = [c for c in TIGHT_CASES if c["problem"] == "sigmoid-neuron" or c["internals"]][::2]


@pytest.mark.parametrize("case", RUN_CASES, ids=_id)
def test_run_matches_the_reference(case: dict[str, Any]) -> None:
    """A Run (full batch, no noise, no convergence stop) draws the reference's points and records its internals."""
    ref = ARRAYS[f"case_{case['id']}"]
    config = RunConfig(case["optimizer"], tuple(case["start"]), hyperparameters=_overrides(case), tol=0.0)
    run = Run(_problem(case), config).run(case["steps"])
    assert run.status is Status.RUNNING
    assert_close(run.history.points, ref, TIGHT, f"Run {_id(case)}")
    for name in case["internals"]:
        expected = ARRAYS[f"{name}_{case['id']}"][1:]
        got = np.asarray(run.history.step_array(name)).reshape(expected.shape[0], -1)
        assert_close(got, expected.reshape(got.shape), TIGHT, f"Run {_id(case)} internal {name}")


def test_schedule_free_x_is_the_average_of_z() -> None:
    """x from y and z equals the weighted running average xₜ = (1 − cₜ)xₜ₋₁ + cₜzₜ (η constant: cₜ = 1/t)."""
    case = next(c for c in TIGHT_CASES if c["optimizer"] == "schedulefree-sgd" and not c["overrides"].get("r")
                and not c["overrides"].get("warmup_steps"))
    problem = _problem(case)
    opt = get_spec("schedulefree-sgd").create(_overrides(case))
    p = np.array([case["start"]])
    state = opt.init_state(p)
    x = p[0].copy()
    for t in range(1, 60):
        opt.step(p, problem.gradient(p), state)
        x = (1 - 1 / t) * x + (1 / t) * state.buffers["z"][0]
        np.testing.assert_allclose(state.buffers["x"][0], x, rtol=1e-12, atol=1e-12)


# -- per-row columns where the registry-wide test does not reach --------------------------------------
@pytest.mark.parametrize(
    ("name", "key", "column", "settings"),
    [
        ("adan", "betas", (0.98, 0.92, np.array([[0.99], [0.9], [1.0]])), {"lr": 0.05}),
        ("ademamix", "betas", (0.9, 0.999, np.array([[0.9999], [0.99], [1.0]])), {"lr": 0.02, "t_alpha_beta3": 40.0}),
        ("ademamix", "t_alpha_beta3", np.array([[10.0], [40.0], [1e4]]), {"lr": 0.02}),
        ("prodigy", "beta3", np.array([[0.0], [0.5], [0.99]]), {}),
        ("lamb", "n_sma_threshold", np.array([[0.0], [5.0], [40.0]]), {"lr": 0.05, "rectify": True}),
        ("adabelief", "n_sma_threshold", np.array([[3.0], [5.0], [40.0]]), {"lr": 0.05, "rectify": True}),
        ("laprop", "steps_before_using_centered", np.array([[0.0], [10.0], [30.0]]), {"lr": 0.05, "centered": True}),
        ("schedulefree-sgd", "warmup_steps", np.array([[0.0], [5.0], [30.0]]), {"lr": 0.01}),
        ("schedulefree-adamw", "lr", np.array([[0.0], [0.05], [0.1]]), {"warmup_steps": 10.0, "r": 1.0}),
    ],
)
def test_column_rows_equal_single_runs(name: str, key: str, column: Any, settings: dict[str, Any]) -> None:
    problem = make_problem("himmelblau")
    spec = get_spec(name)
    start = np.array([[-0.5, -0.5], [1.0, 2.0], [-3.0, 1.5]])
    together = start.copy()
    opt = spec.create({**settings, key: column})
    state = opt.init_state(together)
    singles = []
    for i in range(3):
        row = tuple(v[i, 0] if isinstance(v, np.ndarray) else v for v in column) if isinstance(column, tuple) \
            else column[i, 0]
        single = spec.create({**settings, key: row})
        singles.append((single, single.init_state(start[i : i + 1]), start[i : i + 1].copy()))
    with np.errstate(all="ignore"):
        for _ in range(60):
            opt.step(together, problem.gradient(together), state)
            for single, single_state, p in singles:
                single.step(p, problem.gradient(p), single_state)
    for i, (_, single_state, p) in enumerate(singles):
        assert together[i].tobytes() == p[0].tobytes(), f"row {i}"
        for buf, value in single_state.buffers.items():
            assert state.buffers[buf][i].tobytes() == value[0].tobytes(), f"row {i} buffer {buf}"


def test_reference_tolerance_is_not_vacuous() -> None:
    """A rule right to 1e-6 but not to 1e-12 fails the tight check (β₂ nudged by 1e-9)."""
    case = next(c for c in TIGHT_CASES if c["optimizer"] == "adabelief" and c["problem"] == "rosenbrock")
    ref = ARRAYS[f"case_{case['id']}"]
    wrong = {**case, "overrides": {**case["overrides"], "betas": [0.9, 0.999 + 1e-9]}}
    err = relative_error(engine_trajectory(wrong)[0], ref)
    assert TIGHT < err.max() < 1e-3


# -- the effective learning rate is the factor the step applied ------------------------------------
@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("adabelief", {"lr": 0.05}),
        ("yogi", {"lr": 0.05}),
        ("lamb", {"lr": 0.05}),
        ("prodigy", {}),
        ("adan", {"lr": 0.05, "betas": (0.9, 0.0, 0.99)}),  # β₂ = 0: no gradient-difference term
    ],
)
def test_step_is_effective_lr_times_the_first_moment(name: str, overrides: dict[str, Any]) -> None:
    problem = make_problem("rosenbrock")
    opt = get_spec(name).create(overrides)
    p = np.array([[-1.5, 2.0], [0.5, -0.5]])
    state = opt.init_state(p)
    for _ in range(30):
        before = p.copy()
        info = opt.step(p, problem.gradient(p), state)
        assert info is not None and info.first_moment is not None
        expected = before - info.effective_lr * info.first_moment  # to rounding of θ itself
        assert np.all(np.abs(p - expected) <= 4 * np.spacing(np.maximum(np.abs(p), np.abs(before)))), (p, expected)


def test_lion_moves_each_coordinate_by_exactly_its_effective_lr() -> None:
    opt = get_spec("lion").create({"lr": 0.01})
    p = np.array([[-1.5, 2.0]])
    state = opt.init_state(p)
    problem = make_problem("rosenbrock")
    for _ in range(30):
        before = p.copy()
        info = opt.step(p, problem.gradient(p), state)
        assert info is not None
        assert np.all(np.abs(np.abs(p - before) - info.effective_lr) <= 4 * np.spacing(np.abs(before)))
