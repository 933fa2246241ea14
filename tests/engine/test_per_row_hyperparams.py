"""Per-row hyperparameters: N runs with different values in one call equal N separate runs, bit for bit.

Parametrized over THE WHOLE REGISTRY (entries added later are covered automatically): for every
number hyperparameter (each component of a pair), a column of values spread over its range
(zero and both sides of any branch the range allows) advances N rows for 60 steps on two
problems; every point, effective learning rate and final buffer row must equal, byte for byte,
a single run (its own optimizer, one row) with that row's value. Also under other settings of the
entry's switches and with every other number moved off its default, in row blocks on several
threads, and across a mid-run :meth:`Optimizer.set_hyperparameters` (what a schedule does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from gdstudio.engine.hyperparams import HyperParam
from gdstudio.engine.optimizers import OPTIMIZERS, OptimizerSpec, base, get_spec, make_optimizer
from gdstudio.engine.problems import Problem, make_problem

STEPS = 60
PROBLEMS = [("rosenbrock", (-1.5, 2.0)), ("himmelblau", (0.5, -3.5))]


def _numbers(spec: OptimizerSpec) -> Iterator[tuple[str, int | None, HyperParam]]:
    """(name, pair/triple component or None, spec) of every number that may be per-row."""
    for hp in spec.hyperparams:
        if hp.kind == "float":
            yield hp.name, None, hp
        elif hp.kind in ("pair", "triple"):
            for part in range(2 if hp.kind == "pair" else 3):
                yield hp.name, part, hp


def _candidates(hp: HyperParam, default: float) -> list[float]:
    """Values across the slider range: the default, its half and double, the ends, the middle, 0."""
    lo, hi = hp.soft_low, hp.soft_high
    mid = math.sqrt(lo * hi) if hp.log and lo > 0 else (lo + hi) / 2
    values = [default, default * 0.5, default * 2, lo, hi, mid, 0.0, 0.49, 0.51]
    out: list[float] = []
    for v in values:
        try:
            hp._check_scalar(v, hp.name)
        except ValueError:
            continue
        if v not in out:
            out.append(v)
    return out


def _busy(spec: OptimizerSpec) -> dict[str, Any]:
    """Every number a little off its default (so every term of the rule is live)."""
    out: dict[str, Any] = {}
    for hp in spec.hyperparams:
        if hp.kind == "float":
            d = float(hp.default or 0.0)  # type: ignore[arg-type]  # None (a reference's "automatic"): 0
            v = d * 1.5 if d else min(0.3, hp.soft_high)
            try:
                hp._check_scalar(v, hp.name)
                out[hp.name] = v
            except ValueError:
                pass
    return out


def _settings(spec: OptimizerSpec) -> list[dict[str, Any]]:
    """The defaults, each switch flipped, and every number off its default (those the entry accepts)."""
    out: list[dict[str, Any]] = [{}]
    for hp in spec.hyperparams:
        if hp.kind == "bool":
            out.append({hp.name: not hp.default})
    out.append(_busy(spec))
    ok = []
    for s in out:
        try:
            spec.create(s)
        except ValueError:
            continue
        ok.append(s)
    return ok


def _with(base_hp: dict[str, Any], spec: OptimizerSpec, name: str, part: int | None, value: Any) -> dict[str, Any]:
    hp = dict(base_hp)
    if part is None:
        hp[name] = value
    else:
        pair = list(hp.get(name, spec.resolve(base_hp)[name]))
        pair[part] = value
        hp[name] = tuple(pair)
    return hp


def _objective(opt: Any, problem: Problem) -> dict[str, Any]:
    """Keyword for rules that evaluate the objective during a step (E2's ObjectiveRule), else none."""
    needs = getattr(opt, "needs_objective", None)
    if needs is None or not needs():
        return {}
    from gdstudio.engine.optimizers.objective import BatchObjective  # exists once such rules do

    return {"objective": BatchObjective(problem)}


def _trajectory(
    opt: Any, problem: Problem, start: np.ndarray, steps: int, change: tuple[int, dict[str, Any]] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Points (steps + 1, N, D), effective lrs (steps, N, D) and the final (N, ·) buffers."""
    p = start.copy()
    state = opt.init_state(p)
    points = np.empty((steps + 1, *p.shape))
    effs = np.empty((steps, *p.shape))
    points[0] = p
    with np.errstate(all="ignore"):
        for k in range(steps):
            if change is not None and k == change[0]:
                opt.set_hyperparameters(**change[1])
            eff = np.empty_like(p)
            opt.update(p, problem.gradient(p), state, eff, **_objective(opt, problem))
            points[k + 1] = p
            effs[k] = eff
    return points, effs, state.buffers


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _check_rows(spec: OptimizerSpec, settings: dict[str, Any], name: str, part: int | None,
                problem: Problem, start: tuple[float, float], steps: int = STEPS,
                change: float | None = None) -> int:
    """Column run vs single runs; returns the number of rows compared."""
    hp = next(h for h in spec.hyperparams if h.name == name)
    resolved = spec.resolve(settings)[name]
    default = float((resolved if part is None else resolved[part]) or 0.0)  # type: ignore[index, arg-type]
    values = []
    for v in _candidates(hp, default):
        try:
            spec.create(_with(settings, spec, name, part, v))
        except ValueError:  # a joint check refuses this value with these settings (e.g. Nesterov, γ = 0)
            continue
        values.append(v)
    n = len(values)
    if n < 2:
        return 0
    column = np.array(values).reshape(n, 1)
    starts = np.repeat(np.array([start], dtype=np.float64), n, axis=0)
    lr_change = None
    if change is not None:
        lr0 = spec.resolve(settings)["lr"]
        lr_change = (steps // 2, {"lr": np.full((n, 1), float(lr0) * change)})  # type: ignore[arg-type]
    opt = spec.create(_with(settings, spec, name, part, column))
    points, effs, bufs = _trajectory(opt, problem, starts, steps, lr_change)
    for i, v in enumerate(values):
        single = spec.create(_with(settings, spec, name, part, v))
        one_change = None if lr_change is None else (lr_change[0], {"lr": float(lr_change[1]["lr"][0, 0])})
        p1, e1, b1 = _trajectory(single, problem, starts[i : i + 1], steps, one_change)
        what = f"{spec.name} {settings} {name}{'' if part is None else f'[{part}]'}={v!r} (row {i})"
        assert _same(points[:, i : i + 1], p1), f"points differ: {what}"
        assert _same(effs[:, i : i + 1], e1), f"effective lr differs: {what}"
        for key, buf in b1.items():
            assert key in bufs, f"buffer {key} missing in the column run: {what}"
            row = bufs[key][i : i + 1]
            if buf.shape[1] != row.shape[1]:  # a value shared by the single run's rows: a float there
                continue
            assert _same(row, buf), f"buffer {key} differs: {what}"
    return n


CASES = [(name, problem) for name in OPTIMIZERS for problem in PROBLEMS]


@pytest.mark.parametrize(("name", "problem"), CASES, ids=[f"{n}-{p[0]}" for n, p in CASES])
def test_column_equals_separate_runs_for_every_number(name: str, problem: tuple[str, tuple[float, float]]) -> None:
    spec = get_spec(name)
    prob = make_problem(problem[0])
    compared = 0
    targets = list(_numbers(spec))
    assert targets, f"{name} has no number hyperparameter"
    for settings in _settings(spec):
        for hp_name, part, _ in targets:
            compared += _check_rows(spec, settings, hp_name, part, prob, problem[1])
    assert compared >= 2 * len(targets)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_columns_in_row_blocks_on_threads(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Blocks slice the columns with the buffers (rules read ``hp``, not ``self.hp``)."""
    monkeypatch.setattr(base, "BLOCK_ROWS", 2)
    monkeypatch.setattr(base, "PARALLEL_ROWS", 4)
    monkeypatch.setattr(base, "_workers", lambda: 2)
    spec = get_spec(name)
    prob = make_problem("rosenbrock")
    settings = _busy(spec) if _busy(spec) in _settings(spec) else {}
    for hp_name, part, _ in _numbers(spec):
        _check_rows(spec, settings, hp_name, part, prob, (-1.5, 2.0), steps=20)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_set_hyperparameters_mid_run_matches_single_runs(name: str) -> None:
    """A schedule's change of η halfway (a column of the same new η per row) equals the single runs'."""
    spec = get_spec(name)
    prob = make_problem("himmelblau")
    for hp_name, part, _ in list(_numbers(spec))[:3]:
        _check_rows(spec, {}, hp_name, part, prob, (0.5, -3.5), steps=30, change=0.5)


def test_several_columns_at_once() -> None:
    """lr, β₁ and λ per row together (an η × β₁ sweep) equal the single runs."""
    spec = get_spec("adamw")
    prob = make_problem("rosenbrock")
    lrs = np.array([[0.001], [0.01], [0.1], [0.03]])
    b1 = np.array([[0.0], [0.5], [0.9], [0.99]])
    wd = np.array([[0.0], [0.01], [0.1], [0.0]])
    starts = np.repeat([[-1.5, 2.0]], 4, axis=0)
    points, effs, _ = _trajectory(spec.create({"lr": lrs, "betas": (b1, 0.999), "weight_decay": wd}),
                                  prob, starts, 80)
    for i in range(4):
        single = spec.create({"lr": float(lrs[i, 0]), "betas": (float(b1[i, 0]), 0.999),
                              "weight_decay": float(wd[i, 0])})
        p1, e1, _ = _trajectory(single, prob, starts[i : i + 1], 80)
        assert _same(points[:, i : i + 1], p1) and _same(effs[:, i : i + 1], e1)
    assert len({points[-1, i].tobytes() for i in range(4)}) == 4  # the rows really differ


# -- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("adam", {"lr": np.array([[0.1], [-1.0], [0.2]])}, "Invalid lr value: -1.0 (must be in [0.0, inf)) in row 1"),
        ("adam", {"lr": np.array([[0.1], [np.nan]])}, "Invalid lr value: nan (must be in [0.0, inf)) in row 1"),
        ("adam", {"betas": (np.array([[0.9], [1.0]]), 0.999)},
         "Invalid betas[0] value: 1.0 (must be in [0.0, 1.0)) in row 1"),
        ("adam", {"betas": (0.9, np.array([[0.99], [0.9], [-0.5]]))},
         "Invalid betas[1] value: -0.5 (must be in [0.0, 1.0)) in row 2"),
        ("rmsprop", {"alpha": np.array([[0.5], [1.5]])}, "Invalid alpha value: 1.5 (must be in [0.0, 1.0]) in row 1"),
        ("adam", {"lr": np.array([0.1, 0.2])},
         "Invalid lr value: array of shape (2,) (must be a number or an (N, 1) column)"),
        ("adam", {"lr": np.ones((2, 2))},
         "Invalid lr value: array of shape (2, 2) (must be a number or an (N, 1) column)"),
        ("adam", {"lr": np.array([["a"], ["b"]])}, "Invalid lr value: array of <U1 (must be numbers)"),
        ("adam", {"lr": np.ones((3, 1)), "eps": np.ones((2, 1))},
         "Invalid eps value: 2 rows (lr has 3: per-row values must all have the same number of rows)"),
        ("adam", {"amsgrad": np.array([[True], [False]])},
         "Invalid amsgrad value: array of shape (2, 1) "
         "(a switch is one value for all rows: per-row values are for numbers only)"),
        ("nag", {"momentum": np.array([[0.9], [0.0], [0.5]])},
         "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening) in row 1"),
        ("nag", {"dampening": np.array([[0.0], [0.0], [0.5]])},
         "Invalid nesterov value: True (Nesterov momentum requires a momentum and zero dampening) in row 2"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_columns_name_the_row(name: str, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        make_optimizer(name, overrides)
    assert str(info.value) == message
    with pytest.raises(ValueError) as again:
        get_spec(name).validate_overrides(overrides)
    assert str(again.value) == message


def test_rows_must_match_the_state() -> None:
    opt = make_optimizer("sgd", {"lr": np.full((3, 1), 0.1)})
    with pytest.raises(ValueError, match=r"^Invalid hyperparameters for sgd: per-row values have 3 rows, "
                                         r"the parameters 2$"):
        opt.init_state(np.zeros((2, 2)))
    state = opt.init_state(np.zeros((3, 2)))
    opt.set_hyperparameters(lr=np.full((4, 1), 0.1))
    with pytest.raises(ValueError, match="per-row values have 4 rows, the parameters 3"):
        opt.update(np.zeros((3, 2)), np.ones((3, 2)), state)


def test_columns_are_validated_copies_that_cannot_change() -> None:
    col = np.array([[0.1], [0.2]])
    opt = make_optimizer("adam", {"lr": col})
    col[0, 0] = -5.0
    lr = opt.hp.lr
    assert isinstance(lr, np.ndarray) and lr[0, 0] == 0.1 and lr.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        lr[0, 0] = 1.0
    assert make_optimizer("adam", {"lr": np.array([[1], [2]])}).hp["lr"].dtype == np.float64  # ints converted


def test_set_hyperparameters_validates_and_changes_nothing_on_error() -> None:
    opt = make_optimizer("nag")
    with pytest.raises(ValueError, match=r"^Unknown hyperparameter for sgd: beta \(known: lr, momentum"):
        opt.set_hyperparameters(beta=0.9)
    with pytest.raises(ValueError, match=r"^Invalid nesterov value: True"):
        opt.set_hyperparameters(momentum=0.0)
    with pytest.raises(ValueError, match=r"^Invalid lr value: -1.0"):
        opt.set_hyperparameters(lr=-1)
    assert opt.hp.momentum == 0.9 and opt.hp.lr == 1e-3
    opt.set_hyperparameters(lr="0.5")
    assert opt.hp.lr == 0.5


def test_momentum_turned_on_mid_run_creates_its_buffer() -> None:
    """SGD without momentum has no buffer; a schedule turning γ on creates it at the next step."""
    opt = make_optimizer("sgd", {"lr": 0.1})
    p = np.array([[1.0, -1.0]])
    state = opt.init_state(p)
    assert "momentum_buffer" not in state.buffers
    opt.update(p, np.ones_like(p), state)
    opt.set_hyperparameters(momentum=0.5)
    opt.update(p, np.ones_like(p), state)
    assert "momentum_buffer" in state.buffers


def test_set_hyperparameters_tracks_the_rows() -> None:
    """A column in, a column out: the row count follows, and columns must still agree."""
    opt = make_optimizer("adam", {"eps": np.full((2, 1), 1e-8)})
    assert opt.hp.rows == 2
    with pytest.raises(ValueError, match=r"^Invalid eps value: 2 rows \(lr has 3: per-row values must all have"):
        opt.set_hyperparameters(lr=np.full((3, 1), 0.1))
    opt.set_hyperparameters(eps=1e-8)
    assert opt.hp.rows is None
    opt.init_state(np.zeros((5, 2)))  # any number of rows again
    opt.set_hyperparameters(betas=(np.array([[0.5], [0.9], [0.95]]), 0.999))
    assert opt.hp.rows == 3 and opt.hp.rows_slice(1, 3).rows == 2 and opt.hp.rows_slice(0, 1).betas[0].shape == (1, 1)
    with pytest.raises(ValueError, match="per-row values have 3 rows, the parameters 5"):
        opt.init_state(np.zeros((5, 2)))
