"""One step of a run, explained: the update rule in LaTeX and every quantity of the step with its value.

Step K is the step from ``points[K-1]`` to ``points[K]`` (K ≥ 1). Its values are the engine's
own: θ, the gradient, the effective learning rate, Δθ, η and the losses come from the run's
:class:`~gdstudio.engine.runs.History`; the state buffers (under torch's names) and the rule's
derived quantities come from replaying the run to step K with the same sampler, noise and
schedule (a run's trajectory is a function of its config), so they are the ones the engine had.

- :func:`explain_step` (``problem, config, K``) runs the config and explains step K;
- :func:`explain_run` (``run, K``) explains a step of a live run: its replay is cached per run
  (a twin run checkpointed every :data:`CHECKPOINT_EVERY` steps), so scrubbing a long run
  replays at most that many steps per request (``bench/explain.py``);
- :func:`to_markdown`, :func:`to_latex`, :func:`to_json` render an explanation.

The rows a rule gets without code: θ before, g, η, every state buffer after the step, the
effective learning rate, Δθ, θ after, the losses; the rule adds its symbols and derived
quantities in the registry (:mod:`gdstudio.engine.optimizers.quantities`).
"""

from __future__ import annotations

import copy
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers.base import OptState
from gdstudio.engine.optimizers.quantities import ROLES, BufferDoc, Role, StepContext
from gdstudio.engine.problems import Problem
from gdstudio.engine.recorded import RecordedRun
from gdstudio.engine.runs import History, Run, RunConfig, Status

__all__ = [
    "CHECKPOINT_EVERY",
    "Explainer",
    "QuantityRow",
    "RowValue",
    "StepExplanation",
    "explain_run",
    "explain_step",
    "format_row_value",
    "to_json",
    "to_latex",
    "to_markdown",
]

Array = npt.NDArray[np.float64]
#: A row's value: a float, a (D,) array, or a larger array (L-BFGS's (k, D) pair history).
RowValue = float | Array

#: Replay checkpoints: one twin run saved every this many steps.
CHECKPOINT_EVERY = 64


@dataclass(frozen=True)
class QuantityRow:
    """One row of the inspector: ``name`` (an ASCII key: torch's name for a buffer), LaTeX
    ``symbol``, one-line ``meaning``, ``value``, ``kind`` (``input`` θ/g/η, ``state`` a buffer
    after the step, ``derived`` a rule's quantity, ``output`` η_eff/Δθ/θ after/losses) and the
    slow-motion ``role`` (one of :data:`~gdstudio.engine.optimizers.quantities.ROLES`) or None."""

    name: str
    symbol: str
    meaning: str
    value: RowValue
    kind: str
    role: Role | None = None


@dataclass(frozen=True)
class StepExplanation:
    """Step ``step`` of a run: the points around it, the gradient it used, the state after it, the
    rates, the losses, the rule in LaTeX for the run's hyperparameters and the inspector's rows."""

    optimizer: str
    step: int
    param_before: Array
    param_after: Array
    grad: Array
    #: Every state buffer after the step under torch's names (plus ``step``, torch's count):
    #: (D,) arrays, floats for per-row values, larger arrays for L-BFGS's history.
    state: dict[str, RowValue]
    #: The same before the step (buffers the step creates are absent).
    state_before: dict[str, RowValue]
    lr: float
    effective_lr: Array
    update: Array
    loss_before: float
    loss_after: float
    formula_latex: str
    hyperparameters: dict[str, Value]
    quantities: tuple[QuantityRow, ...]
    param_names: tuple[str, ...] = ()
    _index: dict[str, QuantityRow] = field(default_factory=dict, repr=False, compare=False)

    def row(self, name: str) -> QuantityRow:
        """The row named ``name`` (KeyError naming the known rows otherwise)."""
        if not self._index:
            self._index.update((q.name, q) for q in self.quantities)
        if name not in self._index:
            raise KeyError(f"no quantity {name!r} (known: {', '.join(self._index)})")
        return self._index[name]

    def vectors(self) -> dict[Role, QuantityRow]:
        """Slow motion's vectors by role, in :data:`ROLES` order (a rule's row before a generic one)."""
        found: dict[Role, QuantityRow] = {}
        for q in sorted(self.quantities, key=lambda q: q.kind != "derived"):
            if q.role is not None and q.role not in found:
                found[q.role] = q
        return {role: found[role] for role in ROLES if role in found}


# -- replay -------------------------------------------------------------------------------------
def _rng_copy(rng: np.random.Generator) -> np.random.Generator:
    bits = rng.bit_generator
    twin = type(bits)(0)
    twin.state = bits.state
    return np.random.Generator(twin)


def _fork(run: Run, history: History | None = None) -> Run:
    """An independent twin of ``run`` at its current step: advancing it takes exactly the steps
    ``run`` would take. Its history holds that one point, or is ``history`` (a checkpoint's shared
    placeholder: a checkpoint is never advanced, only forked again)."""
    twin = copy.copy(run)
    twin.optimizer = copy.copy(run.optimizer)
    twin.sampler = copy.deepcopy(run.sampler)
    twin._noise_rng = _rng_copy(run._noise_rng)
    twin.params = run.params.copy()
    twin.state = run.state.copy()
    twin.schedule = copy.deepcopy(run.schedule)
    twin._configured = dict(run._configured)
    twin._exact = run._exact.copy()
    # a checkpoint's history is the empty placeholder: its point's loss is kept beside it
    last = float(run.history.loss[-1]) if len(run.history) else float(getattr(run, "_checkpoint_loss", math.nan))
    if history is not None:
        twin.history = history
        twin._checkpoint_loss = last  # type: ignore[attr-defined]
        return twin
    twin.history = History(run.problem.dim, run.optimizer.internal_buffers)
    twin.history._reserve(1)
    twin._record_point(twin.params[0], last)
    return twin


def _row(buf: Array) -> RowValue:
    """Row 0 of a state buffer: a float for a per-row (N, 1) value, else an array copy."""
    if buf.ndim == 2 and buf.shape[1] == 1:
        return float(buf[0, 0])
    out: Array = np.array(buf[0], dtype=np.float64)
    return out


def _state_dict(state: OptState, opt: Any) -> dict[str, RowValue]:
    """Row 0 of every buffer and every shared value, plus torch's ``step`` count."""
    out: dict[str, RowValue] = {"step": float(state.t)}
    for name, buf in state.buffers.items():
        out[name] = _row(buf)
    for name, value in state.scalars.items():
        out[name] = float(value)
    shown: dict[str, RowValue] = opt.explain_state(out)
    return shown


@dataclass
class _Replayed:
    hp: Any
    t: int
    before: OptState
    after: OptState
    grad: Array
    param_before: Array
    param_after: Array
    effective_lr: Array


class Explainer:
    """Explanations of one run's steps, replaying from checkpoints of a twin run.

    The twin starts from ``Run(run.problem, run.config)``; a checkpoint is kept every
    :data:`CHECKPOINT_EVERY` steps as the replay passes them, so a request costs at most that
    many replayed steps once the checkpoints exist (and the first request up to K steps); the
    twin after the last step explained is kept too, so playing forward replays one step a frame.
    """

    def __init__(self, run: Run, every: int = CHECKPOINT_EVERY) -> None:
        _check_explainable(run)
        self._run = weakref.ref(run)
        self._every = max(1, int(every))
        # Checkpoints share one empty history (~30 KB saved per checkpoint: a fork's own history
        # reserves 256 rows of every per-step array).
        self._placeholder = History(run.problem.dim, run.optimizer.internal_buffers)
        self._checkpoints: dict[int, Run] = {0: _fork(Run(run.problem, run.config), self._placeholder)}
        self._last: StepExplanation | None = None
        #: The twin after the last step explained (the next step replays one step from it).
        self._cursor: tuple[int, Run] | None = None

    def explain(self, step: int) -> StepExplanation:
        run = self._run()
        if run is None:  # pragma: no cover - the cache drops explainers with their run
            raise ValueError("the run no longer exists")
        step = _check_step(run, step)
        if self._last is not None and self._last.step == step:
            return self._last
        replayed = self._replay(run, step)
        self._last = _explanation(run, step, replayed)
        return self._last

    def _replay(self, run: Run, step: int) -> _Replayed:
        """Step ``step`` of the twin: the state before and after it."""
        base = max(k for k in self._checkpoints if k <= step - 1)
        origin = self._checkpoints[base]
        if self._cursor is not None and base < self._cursor[0] <= step - 1:  # playing forward: from the last step
            base, origin = self._cursor
        twin = _fork(origin)
        at = base
        while at < step - 1:
            target = min(step - 1, (at // self._every + 1) * self._every)
            twin.advance(target - at)
            if twin.steps != target - base:
                raise ValueError(f"step {step} cannot be replayed: the replay stopped at step {base + twin.steps}")
            at = target
            if at % self._every == 0 and at not in self._checkpoints:
                self._checkpoints[at] = _fork(twin, self._placeholder)
        hp = twin.optimizer.hp
        before = twin.state.copy()
        point = twin.params[0].copy()
        taken = twin.advance(1)
        if taken != 1:
            raise ValueError(f"step {step} cannot be replayed: the run {twin.status.value} there")
        self._cursor = (step, _fork(twin, self._placeholder))
        h = twin.history
        return _Replayed(hp, twin.state.t, before, twin.state.copy(), h.grad[-1].copy(), point,
                         twin.params[0].copy(), h.effective_lr[-1].copy())


_EXPLAINERS: weakref.WeakKeyDictionary[Run, Explainer] = weakref.WeakKeyDictionary()


def _check_step(run: Run, step: object) -> int:
    """``step`` as a whole number within the run's recorded steps, or one-line ValueError."""
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise ValueError(f"Invalid step value: {step!r} (must be a whole number ≥ 1)")
    k = int(step)
    if k < 1:
        raise ValueError(f"Invalid step value: {k} (steps count from 1: step K goes from point K−1 to point K)")
    last = run.history.steps
    if k <= last:
        return k
    if run.status is Status.DIVERGED and run.diverged_at is not None:
        at = run.diverged_at
        if k > at:
            raise ValueError(f"step {k} is beyond the divergence at step {at}")
        raise ValueError(f"step {k} is the divergence: its point is not finite (the last finite step is {last})")
    if run.status is Status.STOPPED:
        raise ValueError(f"step {k} is beyond the run's end at step {last} (stopped: {run.stop_reason})")
    if run.status is Status.CONVERGED:
        raise ValueError(f"step {k} is beyond the run's end at step {last} (converged)")
    raise ValueError(f"step {k} is beyond the run's end at step {last}")


def _check_explainable(run: Run) -> None:
    """ValueError for a network landscape's recorded path: its steps were not taken on the slice."""
    if isinstance(run, RecordedRun):
        raise ValueError("a network landscape's paths are recorded training iterates (steps in the network's "
                         "weight space, projected on this slice), not steps taken here: nothing to explain")


def explain_run(run: Run, step: int) -> StepExplanation:
    """Step ``step`` of a live ``run`` (the run is not touched; its replay is cached per run)."""
    explainer = _EXPLAINERS.get(run)
    if explainer is None:
        _check_step(run, step)  # a bad step costs no replay set-up
        explainer = _EXPLAINERS[run] = Explainer(run)
    return explainer.explain(step)


def explain_step(problem: Problem, config: RunConfig, step: int) -> StepExplanation:
    """Run ``config`` on ``problem`` up to step ``step`` and explain that step.

    ValueError (one line) for a bad config, a step < 1, or a step the run does not reach
    (``step 40 is beyond the divergence at step 37``, a converged or stopped run's end).
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        _check_step(Run(problem, config), step)
    run = Run(problem, config).run(int(step))
    return Explainer(run).explain(int(step))


# -- rows ---------------------------------------------------------------------------------------
_GENERIC: dict[str, tuple[str, str]] = {
    "theta_before": (r"\theta_{t-1}", "the point before the step (where the gradient is taken)"),
    "grad": (r"g_t", "the gradient the step used (mini-batch and noise included)"),
    "lr": (r"\eta_t", "the learning rate of this step (a schedule's, else η)"),
    "effective_lr": (r"\eta^{\mathrm{eff}}_t", "the per-parameter factor the step multiplied its direction by"),
    "update": (r"\Delta\theta_t", "the step: θ after − θ before"),
    "theta_after": (r"\theta_t", "the point after the step"),
    "loss_before": (r"f(\theta_{t-1})", "the full loss before the step"),
    "loss_after": (r"f(\theta_t)", "the full loss after the step"),
}


def _explanation(run: Run, step: int, r: _Replayed) -> StepExplanation:
    h = run.history
    i = step - 1
    opt = run.optimizer
    rule = type(opt)
    param_before = np.array(h.points[i], dtype=np.float64)
    param_after = np.array(h.points[step], dtype=np.float64)
    grad = np.array(h.grad[i], dtype=np.float64)
    eff = np.array(h.effective_lr[i], dtype=np.float64)
    update = np.array(h.update[i], dtype=np.float64)
    lr = float(h.lr[i])
    loss_before, loss_after = float(h.loss[i]), float(h.loss[step])
    ctx = StepContext(r.hp, r.t, r.before, r.after, r.grad, r.param_before, r.param_after, r.effective_lr)
    state = _state_dict(r.after, opt)
    derived_rows = []
    for d in rule.derived:
        with np.errstate(all="ignore"):
            value = d.value(ctx)
        if value is None:
            continue
        v: RowValue = float(value) if isinstance(value, (float, int)) or np.ndim(value) == 0 else np.asarray(
            value, dtype=np.float64)
        derived_rows.append(QuantityRow(d.name, d.symbol, d.meaning, v, "derived", d.role))
    declared_point = any(q.role == "gradient_point" for q in derived_rows)

    def generic(name: str, value: RowValue, kind: str, role: Role | None = None) -> QuantityRow:
        symbol, meaning = _GENERIC[name]
        return QuantityRow(name, symbol, meaning, value, kind, role)

    rows = [
        generic("theta_before", param_before, "input", None if declared_point else "gradient_point"),
        generic("grad", grad, "input", "gradient"),
        generic("lr", lr, "input"),
    ]
    docs: Mapping[str, BufferDoc] = rule.buffer_docs
    for name, value in state.items():
        if name == "step":
            rows.append(QuantityRow("step", "t", "torch's step count after this step", value, "state"))
            continue
        doc = docs.get(name)
        if doc is None:
            rows.append(QuantityRow(name, rf"\texttt{{{_tex_escape(name)}}}", f"state buffer {name!r}", value, "state"))
        else:
            rows.append(QuantityRow(name, doc.symbol, doc.meaning, value, "state", doc.role))
    rows += derived_rows
    rows += [
        generic("effective_lr", eff, "output"),
        generic("update", update, "output", "step"),
        generic("theta_after", param_after, "output"),
        generic("loss_before", loss_before, "output"),
        generic("loss_after", loss_after, "output"),
    ]
    return StepExplanation(
        optimizer=run.spec.name, step=step, param_before=param_before, param_after=param_after, grad=grad,
        state=state, state_before=_state_dict(r.before, opt), lr=lr, effective_lr=eff, update=update,
        loss_before=loss_before, loss_after=loss_after, formula_latex=_formula(opt, r.hp),
        hyperparameters=dict(r.hp), quantities=tuple(rows), param_names=tuple(run.problem.params),
    )


def _formula(opt: Any, hp: Any) -> str:
    """The rule's LaTeX for the hyperparameters the step used."""
    twin = copy.copy(opt)
    twin.hp = hp
    latex: str = twin.update_latex()
    return latex


def _tex_escape(text: str) -> str:
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")


# -- rendering ----------------------------------------------------------------------------------
def format_row_value(value: RowValue, digits: int = 6) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    arr = np.asarray(value)
    if arr.ndim == 1:
        return "(" + ", ".join(f"{x:.{digits}g}" for x in arr.tolist()) + ")"
    return np.array2string(arr, precision=digits, separator=", ").replace("\n", "")


def to_markdown(expl: StepExplanation) -> str:
    """The inspector's rows as a Markdown table (symbol in $…$, name, value, meaning)."""
    lines = [
        f"Step {expl.step} of {expl.optimizer}",
        "",
        "$$",
        r"\begin{aligned}",
        expl.formula_latex,
        r"\end{aligned}",
        "$$",
        "",
        "| quantity | name | value | meaning |",
        "|---|---|---|---|",
    ]
    for q in expl.quantities:
        meaning = q.meaning.replace("|", r"\|")
        lines.append(f"| ${q.symbol}$ | `{q.name}` | {format_row_value(q.value)} | {meaning} |")
    return "\n".join(lines) + "\n"


def to_latex(expl: StepExplanation) -> str:
    """The inspector's rows as a LaTeX ``tabular`` (after the rule in an ``aligned`` block)."""
    lines = [
        r"\[",
        r"\begin{aligned}",
        expl.formula_latex,
        r"\end{aligned}",
        r"\]",
        r"\begin{tabular}{lll}",
        r"\hline",
        r"quantity & value & meaning \\",
        r"\hline",
    ]
    for q in expl.quantities:
        value = _tex_escape(format_row_value(q.value)).replace("inf", r"\infty").replace("nan", r"\mathrm{NaN}")
        lines.append(f"${q.symbol}$ & ${value}$ & {_tex_escape(q.meaning)} \\\\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    """Arrays as lists, non-finite floats as the strings "nan", "inf", "-inf" (strict JSON)."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def to_json(expl: StepExplanation) -> dict[str, Any]:
    """The public JSON document of ``gdstudio explain`` (keys in docs/explain.md)."""
    return {
        "optimizer": expl.optimizer,
        "step": expl.step,
        "param_before": _jsonable(expl.param_before),
        "param_after": _jsonable(expl.param_after),
        "grad": _jsonable(expl.grad),
        "state": {k: _jsonable(v) for k, v in expl.state.items()},
        "lr": _jsonable(expl.lr),
        "effective_lr": _jsonable(expl.effective_lr),
        "update": _jsonable(expl.update),
        "loss_before": _jsonable(expl.loss_before),
        "loss_after": _jsonable(expl.loss_after),
        "hyperparameters": {k: _jsonable(v) for k, v in expl.hyperparameters.items()},
        "formula_latex": expl.formula_latex,
        "quantities": [
            {"name": q.name, "symbol": q.symbol, "value": _jsonable(q.value), "meaning": q.meaning,
             "kind": q.kind, "role": q.role}
            for q in expl.quantities
        ],
    }
