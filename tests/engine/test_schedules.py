"""Learning-rate schedules against torch.optim.lr_scheduler 2.13 (tests/data/reference_schedules.json,
written by tools/reference_schedules.py; torch is not needed here), the registry's keyword specs and
validation messages, the per-row column, and the warm-up."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.schedules import (
    SCHEDULES,
    Schedule,
    ScheduleParam,
    check_warmup,
    format_param_value,
    get_schedule_spec,
    make_schedule,
    momentum_target,
    preview_schedule,
    schedule_names,
    validate_schedule,
)

DATA = json.loads((Path(__file__).parents[1] / "data" / "reference_schedules.json").read_text())
SEQUENCES: list[dict[str, Any]] = DATA["sequences"]
TRAJECTORIES: list[dict[str, Any]] = DATA["trajectories"]
NAMES = ["step", "multistep", "constant", "linear", "exponential", "polynomial", "cosine", "cosine-restarts",
         "cyclic", "onecycle", "plateau"]


def _id(case: dict[str, Any]) -> str:
    warm = f"+warmup{case['warmup']}" if case["warmup"] else ""
    keys = ",".join(f"{k}={v}" for k, v in case["settings"].items())
    return f"{case['schedule']}{warm}[{keys}]x{len(case['lrs'])}"


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a − b| / max(1e-300, |b|): relative error of learning rates (which are > 0 or 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    both_zero = (a == 0) & (b == 0)
    with np.errstate(all="ignore"):
        dev = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
    dev[both_zero] = 0.0
    return float(dev.max()) if dev.size else 0.0


def _replay(case: dict[str, Any], lr: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(steps, rows) learning rates and (steps,) momenta our schedule gives for ``case``."""
    schedule = Schedule(case["schedule"], case["settings"], lr, warmup=case["warmup"])
    rows = len(case["lrs"])
    lrs = np.empty((case["steps"], rows))
    moms = None if schedule.momentum is None else np.empty(case["steps"])
    losses = None if case["losses"] is None else np.array(case["losses"]).T  # (steps, rows)
    for k in range(case["steps"]):
        lrs[k] = np.broadcast_to(np.asarray(schedule.lr, dtype=np.float64).ravel(), (rows,))
        if moms is not None:
            moms[k] = schedule.momentum
        if k + 1 < case["steps"] or losses is not None:
            loss = None if losses is None else (losses[k] if np.ndim(lr) else float(losses[k][0]))
            schedule.step(loss)
    return lrs, moms


def test_reference_data_covers_every_schedule_and_warmup() -> None:
    names = {c["schedule"] for c in SEQUENCES}
    assert names == {*NAMES, None}
    assert all(c["steps"] >= 200 for c in SEQUENCES)
    warmed = {c["schedule"] for c in SEQUENCES if c["warmup"]}
    assert warmed == {*NAMES, None} - {"plateau"}  # torch's SequentialLR refuses ReduceLROnPlateau
    assert {c["schedule"] for c in SEQUENCES if len(c["lrs"]) > 1} == {*NAMES, None}


@pytest.mark.parametrize("case", SEQUENCES, ids=[_id(c) for c in SEQUENCES])
def test_lr_sequence_matches_torch(case: dict[str, Any]) -> None:
    ref = np.array(case["lr"]).T  # (steps, rows)
    ref_moms = None if case["momentum"] is None else np.array(case["momentum"])
    rows = len(case["lrs"])
    lr: Any = np.array(case["lrs"]).reshape(rows, 1) if rows > 1 else case["lrs"][0]
    lrs, moms = _replay(case, lr)
    total = case["settings"].get("total_steps")
    if case["schedule"] == "onecycle" and not case["warmup"] and total < case["steps"]:
        # After the cycle the last rates stay; torch extrapolates one more step (then raises).
        assert np.array_equal(lrs[total:], np.repeat(lrs[total - 1 : total], case["steps"] - total, axis=0))
        assert not np.array_equal(lrs[total:], ref[total:])
        lrs, ref = lrs[:total], ref[:total]
        if moms is not None and ref_moms is not None:
            assert np.all(moms[total:] == moms[total - 1])
            moms, ref_moms = moms[:total], ref_moms[:total]
    assert _rel(lrs, ref) <= 1e-12, _rel(lrs, ref)
    assert np.array_equal(lrs, ref), "expected bit-identical learning rates"
    if ref_moms is None:
        assert moms is None
    else:
        assert moms is not None
        assert np.array_equal(moms, ref_moms)


@pytest.mark.parametrize("case", [c for c in SEQUENCES if len(c["lrs"]) > 1],
                         ids=[_id(c) for c in SEQUENCES if len(c["lrs"]) > 1])
def test_per_row_column_equals_separate_rows(case: dict[str, Any]) -> None:
    """An (N, 1) column of η equals N schedules each with its own float η, bit for bit."""
    rows = len(case["lrs"])
    column, _ = _replay(case, np.array(case["lrs"]).reshape(rows, 1))
    for i, lr in enumerate(case["lrs"]):
        single = dict(case, lrs=[lr], losses=None if case["losses"] is None else [case["losses"][i]])
        alone, _ = _replay(single, lr)
        assert np.array_equal(column[:, i], alone[:, 0])


@pytest.mark.parametrize("case", SEQUENCES[:40:3], ids=[_id(c) for c in SEQUENCES[:40:3]])
def test_preview_equals_the_running_schedule(case: dict[str, Any]) -> None:
    lr0 = case["lrs"][0]
    losses = None if case["losses"] is None else case["losses"][0]
    out = preview_schedule(case["schedule"], case["settings"], lr0, case["steps"], warmup=case["warmup"],
                           losses=losses)
    n = min(case["steps"], case["settings"].get("total_steps") or case["steps"])  # onecycle: the cycle
    lrs, moms = out["lr"], out["momentum"]
    assert lrs is not None and np.array_equal(lrs[:n], np.array(case["lr"][0][:n]))
    if case["momentum"] is None:
        assert moms is None
    else:
        assert moms is not None and np.array_equal(moms[:n], np.array(case["momentum"][:n]))


# -- the registry ----------------------------------------------------------------------------------
def test_registry_names_and_torch_keywords() -> None:
    assert schedule_names() == NAMES
    torch_defaults: dict[str, dict[str, object]] = {
        "step": {"gamma": 0.1}, "multistep": {"gamma": 0.1},
        "constant": {"factor": 1.0 / 3, "total_iters": 5},
        "linear": {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_iters": 5},
        "polynomial": {"total_iters": 5, "power": 1.0}, "cosine": {"eta_min": 0.0},
        "cosine-restarts": {"T_mult": 1, "eta_min": 0.0},
        "cyclic": {"step_size_up": 2000, "step_size_down": None, "mode": "triangular", "gamma": 1.0,
                   "cycle_momentum": True, "base_momentum": 0.8, "max_momentum": 0.9},
        "onecycle": {"pct_start": 0.3, "anneal_strategy": "cos", "cycle_momentum": True, "base_momentum": 0.85,
                     "max_momentum": 0.95, "div_factor": 25.0, "final_div_factor": 1e4, "three_phase": False},
        "plateau": {"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": "rel",
                    "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
    }
    # Keywords torch has no default for, with gdstudio's documented choice (None: automatic).
    chosen: dict[str, dict[str, object]] = {
              "step": {"step_size": 30}, "multistep": {"milestones": (30, 80)}, "exponential": {"gamma": 0.99},
              "cosine": {"T_max": None}, "cosine-restarts": {"T_0": 50}, "cyclic": {"base_lr": None, "max_lr": None},
              "onecycle": {"max_lr": None, "total_steps": None}}
    for name in NAMES:
        spec = get_schedule_spec(name)
        expected: dict[str, object] = {**torch_defaults.get(name, {}), **chosen.get(name, {})}
        assert {p.name: p.default for p in spec.params} == expected, name
        assert spec.torch_class and spec.summary and spec.docstring
        for p in spec.params:
            assert p.help and p.symbol
            assert p.validate(p.default) == p.default  # every default is valid
            assert p.parse(format_param_value(p.default)) == p.default  # and round-trips as text
    assert get_schedule_spec(" Cosine ").name == "cosine"
    assert [s.name for s in SCHEDULES.values() if s.cycles_momentum] == ["cyclic", "onecycle"]
    assert [s.name for s in SCHEDULES.values() if s.watches_loss] == ["plateau"]


@pytest.mark.parametrize(("name", "settings", "message"), [
    ("foo", {}, "Unknown schedule: 'foo' (known: step, multistep, constant, linear, exponential, polynomial, "
                "cosine, cosine-restarts, cyclic, onecycle, plateau)"),
    ("cosine", {"foo": "1"}, "Unknown keyword for cosine: foo (known: T_max, eta_min)"),
    ("step", {"gamma": "-1"}, "Invalid gamma value: -1.0 (must be in (0.0, inf))"),
    ("step", {"gamma": "x"}, "Invalid gamma value: 'x' (must be in (0.0, inf))"),
    ("step", {"step_size": "0"}, "Invalid step_size value: '0' (must be a whole number in [1, inf))"),
    ("step", {"step_size": "2.5"}, "Invalid step_size value: '2.5' (must be a whole number in [1, inf))"),
    ("multistep", {"milestones": "30,-1"},
     "Invalid milestones value: '30,-1' (must be whole numbers in [0, inf), e.g. 30,80)"),
    ("multistep", {"milestones": ""}, "Invalid milestones value: '' (must be whole numbers in [0, inf), e.g. 30,80)"),
    ("cyclic", {"mode": "sine"}, "Invalid mode value: 'sine' (must be one of triangular, triangular2, exp_range)"),
    ("cyclic", {"cycle_momentum": "maybe"}, "Invalid cycle_momentum value: 'maybe' (must be true or false)"),
    ("cyclic", {"max_momentum": "1"}, "Invalid max_momentum value: 1.0 (must be in [0.0, 1.0))"),
    ("cyclic", {"max_lr": "nan"}, "Invalid max_lr value: nan (must be in [0.0, inf) or auto)"),
    ("plateau", {"factor": "1"}, "Invalid factor value: 1.0 (must be in [0.0, 1.0))"),
    ("plateau", {"patience": "-1"}, "Invalid patience value: '-1' (must be a whole number in [0, inf))"),
    ("plateau", {"threshold_mode": "REL"}, "Invalid threshold_mode value: 'REL' (must be one of rel, abs)"),
    ("constant", {"factor": "0"}, "Invalid factor value: 0.0 (must be in (0.0, 1.0])"),
    ("linear", {"start_factor": "0"}, "Invalid start_factor value: 0.0 (must be in (0.0, 1.0])"),
    ("polynomial", {"power": "-1"}, "Invalid power value: -1.0 (must be in [0.0, inf))"),
    ("onecycle", {"pct_start": "0.1", "total_steps": "10"},
     "Invalid pct_start value: 0.1 (pct_start × total_steps = 1 with total_steps=10: the cycle's first phase "
     "has no length, and torch's OneCycleLR divides by zero)"),
    ("cosine", {"T_max": "auto", "eta_min": "-0.1"}, "Invalid eta_min value: -0.1 (must be in [0.0, inf))"),
])
def test_validation_messages(name: str, settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_schedule(name, settings, from_text=True)
    assert str(info.value) == message


def test_validation_from_values_and_text() -> None:
    assert validate_schedule("multistep", {"milestones": "80, 30"}, from_text=True) == {
        "milestones": (30, 80), "gamma": 0.1}
    assert validate_schedule("multistep", {"milestones": [80, 30.0]})["milestones"] == (30, 80)
    assert validate_schedule("cyclic", {"cycle_momentum": "off", "max_lr": "auto"}, from_text=True)[
        "cycle_momentum"] is False
    assert validate_schedule("onecycle", {"anneal_strategy": "linear", "three_phase": True})["three_phase"] is True
    with pytest.raises(ValueError, match=r"^Invalid gamma value: True \(must be in \(0.0, inf\)\)$"):
        validate_schedule("step", {"gamma": True})
    with pytest.raises(ValueError, match=r"^Invalid gamma value: 0.5 \(must be text\)$"):
        validate_schedule("step", {"gamma": 0.5}, from_text=True)
    with pytest.raises(ValueError, match="must be a mapping"):
        validate_schedule("step", [("gamma", 0.5)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no schedule is chosen"):
        validate_schedule(None, {"gamma": 0.5})
    assert validate_schedule(None, None) == {}


def test_horizon_resolves_auto_keywords_after_the_warmup() -> None:
    assert validate_schedule("cosine", {}, horizon=200)["T_max"] == 200
    assert validate_schedule("cosine", {}, horizon=200, warmup=20)["T_max"] == 180
    assert validate_schedule("onecycle", {}, horizon=50, warmup=60)["total_steps"] == 1
    assert validate_schedule("cosine", {"T_max": 7}, horizon=200)["T_max"] == 7  # given: kept
    assert validate_schedule("cosine", {})["T_max"] is None  # unknown length: DEFAULT_HORIZON when built


def test_warmup_checks() -> None:
    assert check_warmup(0) == 0 and check_warmup("12") == 12 and check_warmup(np.int64(3)) == 3
    for bad in (-1, 2.5, True, "x", None):
        with pytest.raises(ValueError, match=r"^Invalid warmup value: .* \(must be a whole number ≥ 0\)$"):
            check_warmup(bad)
    with pytest.raises(ValueError, match=r"^Invalid warmup value: 5 \(plateau cannot follow a warm-up"):
        validate_schedule("plateau", {}, warmup=5)
    assert make_schedule(None, None, 0.1) is None
    assert make_schedule(None, {}, 0.1, warmup=3) is not None


def test_momentum_target_follows_torch() -> None:
    cyc = validate_schedule("cyclic", {})
    assert momentum_target("cyclic", cyc, "adam", ("lr", "betas", "eps")) == "betas"
    assert momentum_target("cyclic", cyc, "sgd", ("lr", "momentum", "nesterov")) == "momentum"
    assert momentum_target("cosine", validate_schedule("cosine", {}), "adagrad", ("lr",)) is None
    off = validate_schedule("onecycle", {"cycle_momentum": False})
    assert momentum_target("onecycle", off, "adagrad", ("lr", "eps")) is None
    with pytest.raises(ValueError, match=r"^Invalid cycle_momentum value: true \(adagrad has no momentum or betas "
                                         r"to cycle; set cycle_momentum=false\)$"):
        momentum_target("onecycle", validate_schedule("onecycle", {}), "adagrad", ("lr", "eps"))


# -- behaviour beyond torch's range --------------------------------------------------------------
def test_onecycle_keeps_its_last_rates_after_the_cycle() -> None:
    """After total_steps steps η stays at its final value (torch extrapolates the last phase for one
    more step, which goes negative with linear annealing, and then raises)."""
    s = Schedule("onecycle", {"total_steps": 10, "anneal_strategy": "linear", "three_phase": True}, 0.1)
    seen = []
    for _ in range(15):
        seen.append((s.lr, s.momentum))
        s.step()
    assert seen[10:] == [seen[9]] * 5
    assert min(lr for lr, _ in seen) > 0
    assert seen[9][0] == pytest.approx(0.1 / 25 / 1e4, rel=1e-12)
    # pct_start = 1 (two phases): torch divides by zero at step_num = total_steps; never reached here.
    s = Schedule("onecycle", {"total_steps": 20, "pct_start": 1.0}, 0.1)
    lrs = []
    for _ in range(25):
        lrs.append(s.lr)
        s.step()
    assert lrs[19] == pytest.approx(0.1) and lrs[20:] == [lrs[19]] * 5


def test_plateau_per_row_losses_split_a_shared_rate() -> None:
    s = Schedule("plateau", {"patience": 0}, 1.0)
    s.step(np.array([1.0, 1.0]))
    s.step(np.array([0.5, 2.0]))  # row 0 improves, row 1 does not
    assert np.array_equal(s.lr, np.array([[1.0], [0.1]]))
    with pytest.raises(ValueError, match="plateau needs the loss"):
        s.step()


def test_nan_and_inf_are_results() -> None:
    s = Schedule("plateau", {"patience": 1}, 0.1)
    for loss in (math.nan, math.inf, math.nan):
        s.step(loss)
    assert s.lr == pytest.approx(0.01)
    s = Schedule("exponential", {"gamma": 1e10}, 1e300)
    for _ in range(3):
        s.step()
    assert s.lr == math.inf


def test_schedule_param_kinds() -> None:
    p = ScheduleParam("n", "n", 3, "count", kind="int", low=1)
    assert p.validate(4.0) == 4 and p.parse(" 7 ") == 7
    assert p.range_text() == "a whole number in [1, inf)"
    with pytest.raises(ValueError, match="Invalid kind"):
        ScheduleParam("x", "x", 1.0, "x", kind="complex")
    auto = get_schedule_spec("cosine").param("T_max")
    assert auto.optional and auto.parse("auto") is None and auto.validate(None) is None
    assert auto.default_text() == "auto (the run's steps after the warm-up)"
    with pytest.raises(ValueError, match=r"^Invalid gamma value: None \(must be in \(0.0, inf\)\)$"):
        get_schedule_spec("step").param("gamma").validate(None)


# -- inside a run ----------------------------------------------------------------------------------
def _run(case: dict[str, Any]) -> Any:
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    config = RunConfig(case["optimizer"], tuple(case["start"]), dict(case["hyperparameters"]), tol=0.0,
                       schedule=case["schedule"], schedule_settings=case["settings"], warmup=case["warmup"])
    return Run(make_problem(case["problem"]), config).run(case["steps"])


@pytest.mark.parametrize("case", TRAJECTORIES,
                         ids=[f"{c['problem']}-{c['optimizer']}-{c['schedule']}" for c in TRAJECTORIES])
def test_run_with_a_schedule_matches_torch(case: dict[str, Any]) -> None:
    """Whole torch runs: the points to 1e-12 relative to max(1, |p|), the lr each step used exactly,
    and the cycled momentum / β₁ (visible in the trajectory: it differs from a run without cycling)."""
    assert case["tight"], f"reference too sensitive to compare: {case['sensitivity']}"
    run = _run(case)
    points, ref = run.history.points, np.array(case["points"])
    assert points.shape == ref.shape
    dev = float(np.max(np.abs(points - ref) / np.maximum(1.0, np.abs(ref))))
    assert dev <= 1e-12, dev
    assert np.array_equal(run.history.lr, np.array(case["lr"]))
    assert np.array_equal(run.history.step_array("lr"), run.history.lr)
    assert run.hyperparameters["lr"] == case["hyperparameters"]["lr"]  # the configured η, not the last one
    if case["schedule"] in ("cyclic", "onecycle"):
        plain = _run(dict(case, settings={**case["settings"], "cycle_momentum": False}))
        assert np.max(np.abs(plain.history.points - ref)) > 1e-6


def test_run_records_the_lr_of_every_step() -> None:
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    bowl = make_problem("bowl")
    run = Run(bowl, RunConfig("adam", (-7.0, 2.0), {"lr": 0.05}, tol=0.0)).run(30)
    assert np.array_equal(run.history.lr, np.full(30, 0.05))  # no schedule: η throughout
    run = Run(bowl, RunConfig("sgd", (-7.0, 2.0), {"lr": 0.05}, tol=0.0, warmup=4)).run(10)
    # torch's LinearLR(start_factor=1/N, total_iters=N): η·(1/N + (1 − 1/N)·min(t, N)/N), η from step N + 1.
    closed = [0.05 * (1 / 4 + (1 - 1 / 4) * min(t, 4) / 4) for t in range(10)]
    np.testing.assert_allclose(run.history.lr, closed, rtol=1e-15, atol=0)
    assert closed[:5] == pytest.approx([0.0125, 0.021875, 0.03125, 0.040625, 0.05])
    # A run advanced in pieces equals one advanced at once (the schedule steps with the run).
    config = RunConfig("momentum", (-7.0, 2.0), {"lr": 0.05}, tol=0.0, schedule="cosine",
                       schedule_settings={"T_max": 20})
    whole = Run(bowl, config).run(40)
    parts = Run(bowl, config)
    for k in (1, 7, 13, 19):
        parts.advance(k)
    assert np.array_equal(whole.history.lr, parts.history.lr)
    assert np.array_equal(whole.history.points, parts.history.points)
    # preview() shows the step advance(1) takes, with the schedule's next rates.
    preview = parts.preview()
    assert preview is not None
    parts.advance(1)
    assert np.array_equal(preview["update"], parts.history.update[-1])


def test_run_refuses_bad_schedule_settings() -> None:
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    bowl = make_problem("bowl")
    with pytest.raises(ValueError, match=r"^Invalid cycle_momentum value: true \(adagrad has no momentum"):
        Run(bowl, RunConfig("adagrad", (1.0, 1.0), schedule="onecycle"))
    with pytest.raises(ValueError, match=r"^Unknown schedule: 'cosin'"):
        Run(bowl, RunConfig("sgd", (1.0, 1.0), schedule="cosin"))
    with pytest.raises(ValueError, match=r"^Invalid warmup value: -2 "):
        Run(bowl, RunConfig("sgd", (1.0, 1.0), warmup=-2))
    run = Run(bowl, RunConfig("adagrad", (1.0, 1.0), schedule="onecycle",
                              schedule_settings={"cycle_momentum": False})).run(5)
    assert run.history.lr[0] == pytest.approx(0.01 / 25)


def test_trace_json_has_the_lr_of_every_step() -> None:
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig
    from gdstudio.export.trace_format import trace_json

    settings = validate_schedule("multistep", {"milestones": "5,7"}, from_text=True, warmup=3, horizon=12)
    run = Run(make_problem("bowl"), RunConfig("adam", (-7.0, 2.0), {"lr": 0.1}, tol=0.0, schedule="multistep",
                                              schedule_settings=settings, warmup=3)).run(12)
    doc = json.loads(trace_json(run, 12))
    assert doc["lr"] == run.history.lr.tolist() and len(doc["lr"]) == doc["steps"] == len(doc["points"]) - 1
    assert doc["lr"][3:] == [0.1] * 5 + [0.1 * 0.1] * 2 + [0.1 * 0.1 * 0.1] * 2  # milestones count after the warm-up
    assert doc["schedule"] == "multistep" and doc["warmup"] == 3
    assert doc["schedule_settings"] == {"milestones": [5, 7], "gamma": 0.1}
    assert doc["hyperparameters"]["lr"] == 0.1
    plain = json.loads(trace_json(Run(make_problem("bowl"), RunConfig("sgd", (-7.0, 2.0), {"lr": 0.1})).run(4)))
    assert plain["lr"] == [0.1] * 4 and plain["schedule"] is None and plain["schedule_settings"] == {}


@pytest.mark.parametrize(("optimizer", "name", "settings", "warmup"), [
    ("adam", "onecycle", {"total_steps": 60}, 0),
    ("momentum", "cyclic", {"step_size_up": 7, "mode": "triangular2"}, 5),
    ("adam", "cosine", {"T_max": 40, "eta_min": 1e-3}, 10),
    ("sgd", "plateau", {"patience": 2, "factor": 0.5, "threshold": 0.05, "threshold_mode": "abs"}, 0),
])
def test_per_row_lr_column_with_a_schedule_equals_single_runs(optimizer: str, name: str, settings: dict[str, Any],
                                                               warmup: int) -> None:
    """N rows with an (N, 1) η column, one schedule over the column (the optimizer's per-row lr, as
    torch param groups), equal N single-row Runs bit for bit, points and rates."""
    from gdstudio.engine.optimizers import get_spec
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    problem, start, steps = make_problem("himmelblau"), (-0.5, -0.5), 60
    etas = np.array([[0.01], [0.03], [0.02]])
    spec = get_spec(optimizer)
    opt = spec.create({"lr": etas})
    params = np.repeat(np.array([start]), 3, axis=0)
    state = opt.init_state(params)
    schedule = Schedule(name, settings, opt.hp["lr"], warmup=warmup)
    target = momentum_target(name, schedule.settings, optimizer, list(opt.hp))

    def apply() -> None:
        changes: dict[str, Any] = {"lr": schedule.lr}
        if target == "betas":
            changes["betas"] = (schedule.momentum, opt.hp["betas"][1])  # type: ignore[index]
        elif target == "momentum":
            changes["momentum"] = schedule.momentum
        opt.set_hyperparameters(**changes)

    apply()
    points, lrs = [params.copy()], []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            lrs.append(np.asarray(schedule.lr).ravel().copy())
            opt.update(params, problem.gradient(params), state)
            points.append(params.copy())
            schedule.step(problem.loss(params) if schedule.watches_loss else None)
            apply()
    together, rates = np.stack(points), np.stack(lrs)  # (steps + 1, 3, D), (steps, 3)
    assert all(len(set(rates[:, i])) > 1 for i in range(3))  # every row's η did change
    for i, eta in enumerate(etas[:, 0]):
        run = Run(problem, RunConfig(optimizer, start, {"lr": float(eta)}, tol=0.0, schedule=name,
                                     schedule_settings=settings, warmup=warmup)).run(steps)
        assert np.array_equal(run.history.points, together[:, i]), i
        assert np.array_equal(run.history.lr, rates[:, i]), i


def _registry() -> list[str]:
    from gdstudio.engine.optimizers import optimizer_names

    return optimizer_names()


@pytest.mark.parametrize("optimizer", _registry())
def test_every_optimizer_follows_a_schedule(optimizer: str) -> None:
    """Every registry rule takes the schedule's η each step (cosine behind a warm-up), and cyclic
    momentum on β₁ or the momentum where it has one (else the one-line refusal), as the preview says."""
    from gdstudio.engine.optimizers import get_spec
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    booth, start, steps = make_problem("booth"), (-8.0, -6.0), 30
    eta = get_spec(optimizer).resolve()["lr"]
    assert isinstance(eta, float)
    run = Run(booth, RunConfig(optimizer, start, tol=0.0, schedule="cosine", schedule_settings={"T_max": 20},
                               warmup=4)).run(steps)
    preview = preview_schedule("cosine", {"T_max": 20}, eta, steps, warmup=4)
    assert np.array_equal(run.history.lr[: run.steps], np.asarray(preview["lr"])[: run.steps])
    assert run.steps == steps or run.status != "running"
    names = set(get_spec(optimizer).resolve())
    settings = {"step_size_up": 5}
    if not names & {"betas", "momentum"}:
        with pytest.raises(ValueError, match=rf"^Invalid cycle_momentum value: true \({optimizer} has no momentum"):
            Run(booth, RunConfig(optimizer, start, schedule="cyclic", schedule_settings=settings))
        return
    run = Run(booth, RunConfig(optimizer, start, tol=0.0, schedule="cyclic", schedule_settings=settings))
    expected = preview_schedule("cyclic", settings, eta, 12)
    for k in range(12):  # the optimizer holds the rates of the next step
        hp = run.optimizer.hp
        momentum = hp["betas"][0] if "betas" in names else hp["momentum"]  # type: ignore[index]
        assert (hp["lr"], momentum) == (expected["lr"][k], expected["momentum"][k])  # type: ignore[index]
        if run.advance(1) == 0:
            break
