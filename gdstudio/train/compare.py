"""A fair race of optimizers training the same network on the same data.

Fairness: every entry starts from the same He-initialized weights (one draw from ``seed``) and
sees the same sequence of mini-batches (one seeded :class:`~gdstudio.engine.sampling.BatchSampler`
drawn once and replayed to every entry), so two entries with identical hyperparameters give
identical curves. The update rules are the engine's (:func:`make_optimizer`), one optimizer
state per parameter array (each W and each b); Muon steps each weight matrix as a matrix and
AdamW the biases, as torch's documentation recommends (:mod:`gdstudio.train.muon_lab`); a rule
that evaluates the objective (L-BFGS) or reduces over the whole group in its reference (Prodigy's
D, Adan's gradient clipping) sees the whole network as
one vector (L-BFGS evaluates the iteration's mini-batch loss: torch's closure). Batches are drawn epoch by epoch without
replacement (the engine's sampler); the book draws each batch independently with replacement
(``np.random.choice``): another sampling scheme with the same expected gradient.

Recording: at iteration ``i`` (1-based) the loss is the mini-batch's mean cross-entropy from
that step's forward pass, i.e. before update ``i`` is applied (the usual training log; the
book records it after the update on the same batch). Test accuracy is measured after update
``i`` when ``i`` is a multiple of ``eval_every`` and after the last update. An entry whose loss
or weights become NaN/inf is marked diverged at that iteration; its remaining losses and
accuracies are NaN and it is not stepped further (a result, not an error).

Learning-rate schedules (``TrainConfig.schedule``, ``schedule_settings``, ``warmup``): every entry
gets the same schedule over its own η, with torch.optim.lr_scheduler semantics (the engine's
:mod:`gdstudio.engine.schedules`): the rates are set before the first update and the schedule
is stepped after each update; ``plateau`` watches the entry's recorded training loss of that
iteration. cyclic / onecycle also cycle β₁ or the momentum, as torch does by default.

Smoothing for plots (:func:`smooth_curve`) is the book's ``common/util.py`` one: a moving
average weighted by an 11-tap Kaiser window (β = 2) with the ends mirrored, so the output has
the input's length. :func:`ema` is the alternative (TensorBoard's debiased exponential average).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers.base import Optimizer
from gdstudio.engine.optimizers.objective import ObjectiveRule
from gdstudio.engine.optimizers.registry import get_spec
from gdstudio.engine.sampling import BatchSampler, check_batch_size
from gdstudio.engine.schedules import ParamValue, Schedule, make_schedule, momentum_target, validate_schedule
from gdstudio.train.blas import blas_threads
from gdstudio.train.datasets import Dataset
from gdstudio.train.mlp import MLP, Params
from gdstudio.train.muon_lab import MuonWithAdamW

__all__ = [
    "TRAINING_DEFAULTS",
    "CompareResult",
    "Entry",
    "TrainConfig",
    "TrainProgress",
    "check_entries",
    "compare_optimizers",
    "ema",
    "make_entry",
    "smooth_curve",
    "training_defaults",
]

#: Learning rates for the Training lab, overriding the registry's (torch's) defaults where
#: those barely move a network in 2,000 steps. The first five are the book's (seed 001):
#: SGD 0.01, Momentum 0.01 (γ = 0.9 from the registry alias), AdaGrad 0.01, Adam 0.001,
#: RMSProp 0.01; GD and NAG follow SGD/Momentum. L-BFGS searches each step's line (strong Wolfe on
#: the mini-batch loss, as torch's LBFGS is used for networks; the studio's one-evaluation default
#: makes wild steps on mini-batches). Lion: 3 × 10⁻⁴, its authors' "3-10x smaller than AdamW's" for the
#: book's Adam 0.001 (its reference default 10⁻⁴ barely moves the network in a short race). Other
#: optimizers keep their reference's defaults.
TRAINING_DEFAULTS: dict[str, dict[str, Value]] = {
    "gd": {"lr": 0.01},
    "sgd": {"lr": 0.01},
    "momentum": {"lr": 0.01},
    "nag": {"lr": 0.01},
    "adagrad": {"lr": 0.01},
    "rmsprop": {"lr": 0.01},
    "adam": {"lr": 0.001},
    "lbfgs": {"lr": 1.0, "line_search_fn": "strong_wolfe"},
    "lion": {"lr": 3e-4},
}


def training_defaults(name: str) -> dict[str, Value]:
    """The Training lab's hyperparameter overrides for optimizer ``name`` (may be empty)."""
    return dict(TRAINING_DEFAULTS.get(get_spec(name).name, {}))


@dataclass(frozen=True)
class Entry:
    """One competitor: a display ``label``, a registry ``optimizer`` name and overrides."""

    label: str
    optimizer: str
    overrides: Mapping[str, Value] = field(default_factory=dict)

    def create(self) -> Optimizer:
        """The optimizer with the training defaults, then ``overrides`` (validated)."""
        return get_spec(self.optimizer).create({**training_defaults(self.optimizer), **self.overrides})


def make_entry(name: str, overrides: Mapping[str, object] | None = None, *, label: str | None = None) -> Entry:
    """An :class:`Entry` with validated overrides (ValueError names the bad parameter)."""
    spec = get_spec(name)
    hp = spec.create({**training_defaults(spec.name), **(overrides or {})}).hp
    given = {k: hp[k] for k in (overrides or {})}
    return Entry(label or spec.name, spec.name, given)


@dataclass(frozen=True)
class TrainConfig:
    """What every entry shares: network, budget, batches, seed, evaluation interval."""

    hidden: tuple[int, ...] = (100, 100, 100, 100)
    iterations: int = 2000
    batch_size: int = 128
    seed: int = 0
    eval_every: int = 100
    dtype: str = "float32"
    threads: int | None = 1  # BLAS threads while training (see gdstudio.train.blas); None: leave as is
    schedule: str | None = None  # a learning-rate schedule for every entry (see gdstudio.engine.schedules)
    schedule_settings: Mapping[str, object] = field(default_factory=dict)
    warmup: int = 0  # linear warm-up steps before the schedule (or before a constant η)

    def validate(self, n_train: int | None = None) -> None:
        for name in ("iterations", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (1 if name == "iterations" else 0):
                low = 1 if name == "iterations" else 0
                raise ValueError(f"Invalid {name} value: {v!r} (must be a whole number ≥ {low})")
        check_batch_size(self.batch_size, n_train if n_train is not None else self.batch_size)
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1
                                  for h in self.hidden):
            raise ValueError(f"Invalid hidden value: {list(self.hidden)!r} (layer sizes must be whole numbers ≥ 1)")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"Invalid dtype value: {self.dtype!r} (must be float32 or float64)")
        self.schedule_values()

    def schedule_values(self) -> dict[str, ParamValue]:
        """Every keyword of the schedule, validated, with the run-length ones resolved from
        ``iterations``; ValueError for a bad schedule, keyword, value or warm-up."""
        return validate_schedule(self.schedule, self.schedule_settings, warmup=self.warmup,
                                 horizon=int(self.iterations))


class _EntrySchedule:
    """An entry's running schedule and the optimizer hyperparameters it drives (η, and β₁ or the
    momentum for cyclic / onecycle)."""

    def __init__(self, schedule: Schedule, opt: Optimizer, target: str | None) -> None:
        self.schedule, self.opt, self.target = schedule, opt, target
        self.apply()

    def apply(self) -> None:
        """Give the optimizer the rates its next update uses (torch: the param group's values)."""
        changes: dict[str, object] = {"lr": self.schedule.lr}
        momentum = self.schedule.momentum
        if momentum is not None and self.target == "betas":
            betas = self.opt.hp.as_dict()["betas"]
            assert isinstance(betas, tuple)  # (β₁, β₂): the schedule sets β₁
            changes["betas"] = (momentum, *betas[1:])  # keep β₂ (and Adan's / AdEMAMix's β₃)
        elif momentum is not None and self.target == "momentum":
            changes["momentum"] = momentum
        self.opt.set_hyperparameters(**changes)

    def step(self, loss: float) -> None:
        self.schedule.step(loss if self.schedule.watches_loss else None)
        self.apply()


def _lr(opt: Optimizer) -> float:
    """The optimizer's current η (one value: the networks have no per-row columns)."""
    value = opt.hp.as_dict()["lr"]
    return float(value) if isinstance(value, (int, float, np.floating)) else math.nan


def check_entries(entries: Sequence[Entry], config: TrainConfig) -> None:
    """ValueError (one line) when one of ``entries`` cannot train a network: a rule that needs the
    Hessian (Newton), or ``config``'s schedule cannot drive it (see :func:`entry_schedules`)."""
    opts = [e.create() for e in entries]
    for entry, opt in zip(entries, opts, strict=True):
        if isinstance(opt, ObjectiveRule) and opt.needs_hessian:
            raise ValueError(f"Invalid optimizer for training: {entry.optimizer} needs the exact Hessian, which the "
                             "Training lab's networks do not compute")
    entry_schedules(entries, opts, config)


def entry_schedules(entries: Sequence[Entry], opts: Sequence[Optimizer],
                    config: TrainConfig) -> list[_EntrySchedule | None]:
    """One running schedule per entry (None without a schedule or warm-up); ValueError when the
    schedule cannot drive an entry (cyclic momentum on an optimizer without momentum or betas)."""
    settings = config.schedule_values()
    out: list[_EntrySchedule | None] = []
    for entry, opt in zip(entries, opts, strict=True):
        names = [h.name for h in get_spec(entry.optimizer).hyperparams]
        target = momentum_target(config.schedule, settings, entry.optimizer, names)
        schedule = make_schedule(config.schedule, settings, opt.hp.as_dict()["lr"], warmup=config.warmup)
        out.append(None if schedule is None else _EntrySchedule(schedule, opt, target))
    return out


@dataclass
class TrainProgress:
    """Sent to the progress callback after each iteration."""

    iteration: int
    total: int
    loss: dict[str, float]
    accuracy: dict[str, float] | None  # test accuracy when measured this iteration
    elapsed: float


@dataclass
class CompareResult:
    """Per-iteration losses and sampled test accuracies of every entry."""

    labels: list[str]
    entries: list[Entry]
    hyperparams: dict[str, dict[str, Value]]
    config: TrainConfig
    dataset: str
    total: int                    # iterations requested
    completed: int                # iterations run (fewer if cancelled)
    losses: dict[str, np.ndarray]  # (completed,) float64, NaN after divergence
    lrs: dict[str, np.ndarray]    # (completed,) the learning rate each update used (NaN after divergence)
    eval_iterations: np.ndarray   # iterations (after that many updates) with test accuracy
    accuracies: dict[str, np.ndarray]
    diverged: dict[str, int | None]
    cancelled: bool
    seconds: float
    #: With ``record_every``: label -> (R, P) flat weights ``[W_1, b_1, …]`` (network dtype) after
    #: the iterations in :attr:`weight_iterations`; NaN rows once the entry diverged. None otherwise.
    weights: dict[str, np.ndarray] | None = None
    weight_iterations: np.ndarray | None = None  # (R,) int64: 0 (the shared start), K, 2K, …, the last

    @property
    def iterations(self) -> np.ndarray:
        return np.arange(1, self.completed + 1)

    def final_accuracy(self, label: str) -> float:
        acc = self.accuracies[label]
        return float(acc[-1]) if len(acc) else math.nan

    def table(self) -> tuple[list[str], list[list[str]]]:
        """CSV header and rows: iteration, ``loss_<label>``…, ``test_accuracy_<label>``…
        (accuracy cells empty where not evaluated; NaN written as ``nan``)."""
        header = ["iteration", *(f"loss_{l}" for l in self.labels), *(f"test_accuracy_{l}" for l in self.labels)]
        at = {int(it): k for k, it in enumerate(self.eval_iterations)}
        rows = []
        for i in range(self.completed):
            it = i + 1
            row = [str(it), *(_fmt(self.losses[l][i]) for l in self.labels)]
            k = at.get(it)
            row += [("" if k is None else _fmt(self.accuracies[l][k])) for l in self.labels]
            rows.append(row)
        return header, rows


def _fmt(v: float) -> str:
    return "nan" if not math.isfinite(v) else repr(float(v))


Progress = Callable[[TrainProgress], None]


def compare_optimizers(
    dataset: Dataset,
    entries: Sequence[Entry | str],
    config: TrainConfig = TrainConfig(),
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    record_every: int = 0,
) -> CompareResult:
    """Train one network per entry from the same start on the same batches; see the module doc.

    ``progress`` is called after every iteration (from the calling thread); setting ``cancel``
    stops the run after the current iteration and returns what was recorded
    (``cancelled=True``). Safe to run in a worker thread: nothing here touches a UI.

    ``record_every`` K > 0 also keeps every entry's flattened weights at iteration 0 (the shared
    start), after every K-th update and after the last one (:attr:`CompareResult.weights`, for the
    loss landscapes of :mod:`gdstudio.train.landscape`); 0 records nothing and costs nothing.
    """
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or record_every < 0:
        raise ValueError(f"Invalid record_every value: {record_every!r} (must be a whole number ≥ 0)")
    ents = [Entry(e, get_spec(e).name) if isinstance(e, str) else e for e in entries]
    if not ents:
        raise ValueError("Invalid entries value: [] (give at least one optimizer)")
    labels = [e.label for e in ents]
    dup = next((l for l in labels if labels.count(l) > 1), None)
    if dup is not None:
        raise ValueError(f"Invalid entries value: label {dup!r} appears twice (give each entry its own label)")
    n_train = len(dataset.y_train)
    config.validate(n_train)
    check_entries(ents, config)
    opts = [e.create() for e in ents]
    hyperparams = {l: dict(o.hp.as_dict()) for l, o in zip(labels, opts, strict=True)}  # before any schedule
    schedules = entry_schedules(ents, opts, config)
    net = MLP(dataset.n_features, config.hidden, dataset.n_classes, dtype=config.dtype)
    data = dataset.astype(net.dtype)
    x_tr, y_tr = data.x_train, data.y_train

    rng = np.random.default_rng(config.seed)
    start = net.init_params(rng)
    shapes = net.shapes
    # Each parameter array is stepped with its rows as the engine's rows (elementwise rules give the
    # same numbers in any layout). A rule whose reference reduces over the whole parameter group
    # (L-BFGS, which also evaluates the objective; Prodigy's D) sees the whole network as one row:
    # its parameters and gradient are views of one (1, P) array.
    flats = [_flatten(start) if _whole_network(o) else None for o in opts]
    params: list[Params] = [[p.copy() for p in start] if f is None else _views(f, shapes) for f in flats]
    muons = [MuonWithAdamW(o, ps) if o.name == "muon" else None for o, ps in zip(opts, params, strict=True)]
    states = [[o.init_state(p) for p in ([f] if f is not None else ps)]
              for o, ps, f in zip(opts, params, flats, strict=True)]
    grads = net.zeros_like_params()
    flat_grad = np.zeros((1, sum(a * b for a, b in shapes)), net.dtype)
    flat_grads = _views(flat_grad, shapes)
    sampler = BatchSampler(n_train, config.batch_size, shuffle=True, rng=rng)

    total = int(config.iterations)
    losses = {l: np.full(total, np.nan) for l in labels}
    lrs = {l: np.full(total, np.nan) for l in labels}
    eval_its: list[int] = []
    accs: dict[str, list[float]] = {l: [] for l in labels}
    diverged: dict[str, int | None] = dict.fromkeys(labels)
    completed = 0
    cancelled = False
    t0 = time.perf_counter()
    xb = np.empty((sampler.batch_size, net.sizes[0]), net.dtype)
    recorder = None
    if record_every:
        recorder = _Recorder(labels, total, int(record_every), sum(a * b for a, b in shapes), net.dtype)
        recorder.take(0, params, diverged)

    with blas_threads(config.threads), np.errstate(all="ignore"):  # overflow is a result, not a warning
        for it in range(1, total + 1):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            idx = sampler.next()
            if idx is None:
                x, y = x_tr, y_tr
            else:
                x = xb[: len(idx)]
                np.take(x_tr, idx, axis=0, out=x)
                y = y_tr[idx]
            row: dict[str, float] = {}
            for k, (label, opt) in enumerate(zip(labels, opts, strict=True)):
                if diverged[label] is not None:
                    row[label] = math.nan
                    continue
                flat = flats[k]
                loss, _ = net.loss_and_grad(params[k], x, y, grads if flat is None else flat_grads)
                if not math.isfinite(loss):
                    diverged[label] = it
                    row[label] = math.nan
                    continue
                losses[label][it - 1] = loss
                lrs[label][it - 1] = _lr(opt)
                row[label] = loss
                muon = muons[k]
                if muon is not None:
                    muon.step(params[k], grads)
                elif flat is None:
                    for p, g, s in zip(params[k], grads, states[k], strict=True):
                        opt.step(p, g, s, record=False)
                elif isinstance(opt, ObjectiveRule):
                    opt.step(flat, flat_grad, states[k][0], record=False, objective=_BatchLoss(net, x, y))
                else:
                    opt.step(flat, flat_grad, states[k][0], record=False)
                schedule = schedules[k]
                if schedule is not None:
                    schedule.step(loss)
            completed = it
            if recorder is not None and it % recorder.every == 0:
                recorder.take(it, params, diverged)
            acc_row = None
            if (config.eval_every and it % config.eval_every == 0) or it == total:
                acc_row = _evaluate(net, params, labels, diverged, data, it)
                eval_its.append(it)
                for label in labels:
                    accs[label].append(acc_row[label])
            if progress is not None:
                progress(TrainProgress(it, total, row, acc_row, time.perf_counter() - t0))
        if completed and (not eval_its or eval_its[-1] != completed):
            acc_row = _evaluate(net, params, labels, diverged, data, completed)
            eval_its.append(completed)
            for label in labels:
                accs[label].append(acc_row[label])
    if recorder is not None and recorder.last != completed:
        recorder.take(completed, params, diverged)

    return CompareResult(
        labels=labels,
        entries=ents,
        hyperparams=hyperparams,
        config=config,
        dataset=dataset.name,
        total=total,
        completed=completed,
        losses={l: v[:completed].copy() for l, v in losses.items()},
        lrs={l: v[:completed].copy() for l, v in lrs.items()},
        eval_iterations=np.asarray(eval_its, dtype=np.int64),
        accuracies={l: np.asarray(v, dtype=np.float64) for l, v in accs.items()},
        diverged=diverged,
        cancelled=cancelled,
        seconds=time.perf_counter() - t0,
        weights=None if recorder is None else recorder.weights(),
        weight_iterations=None if recorder is None else recorder.iterations(),
    )


class _Recorder:
    """Every entry's flattened weights at the recorded iterations, in preallocated (R, P) arrays
    (R = 1 + ⌈total / every⌉ unless cancelled: the start, every ``every``-th update, the last one)."""

    def __init__(self, labels: Sequence[str], total: int, every: int, size: int, dtype: np.dtype) -> None:
        self.labels, self.every = list(labels), every
        rows = 1 + total // every + (total % every > 0)
        self._w = {l: np.empty((rows, size), dtype) for l in labels}
        self._its: list[int] = []

    @property
    def last(self) -> int | None:
        return self._its[-1] if self._its else None

    def take(self, it: int, params: Sequence[Params], diverged: Mapping[str, int | None]) -> None:
        """Record every entry's weights after update ``it`` (NaN for a diverged entry)."""
        r = len(self._its)
        for label, ps in zip(self.labels, params, strict=True):
            row = self._w[label][r]
            if diverged[label] is not None:
                row.fill(np.nan)
                continue
            start = 0
            for p in ps:
                row[start : start + p.size] = p.reshape(-1)
                start += p.size
        self._its.append(it)

    def weights(self) -> dict[str, np.ndarray]:
        n = len(self._its)
        return {l: (w if n == len(w) else w[:n].copy()) for l, w in self._w.items()}

    def iterations(self) -> np.ndarray:
        return np.asarray(self._its, dtype=np.int64)


#: Rules whose reference reduces over all the parameters of a group (not per tensor): Prodigy's D;
#: Adan's gradient clipping (``max_grad_norm`` > 0 rescales by the norm of every gradient of the
#: group in pytorch_optimizer's Adan; elementwise otherwise, so one row gives the same numbers).
_GROUP_RULES = frozenset({"prodigy", "adan"})


def _whole_network(opt: Optimizer) -> bool:
    """Whether ``opt`` steps the network as one vector (see :func:`compare_optimizers`)."""
    return isinstance(opt, ObjectiveRule) or opt.name in _GROUP_RULES


def _flatten(params: Params) -> np.ndarray:
    """The parameter arrays as one (1, P) row, in order."""
    return np.concatenate([p.reshape(-1) for p in params])[None, :]


def _views(flat: np.ndarray, shapes: Sequence[tuple[int, int]]) -> Params:
    """The network's parameter arrays as views of a (1, P) row (writing one writes the row)."""
    out: Params = []
    start = 0
    for a, b in shapes:
        out.append(flat[0, start : start + a * b].reshape(a, b))
        start += a * b
    return out


class _BatchLoss:
    """The objective an L-BFGS step evaluates (torch's closure): the network's mean cross-entropy
    on this iteration's mini-batch, as a function of its flattened parameters (M, P)."""

    def __init__(self, net: MLP, x: np.ndarray, y: np.ndarray) -> None:
        self.net, self.x, self.y = net, x, y

    def _rows(self, points: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.atleast_2d(points), dtype=self.net.dtype)

    def loss(self, points: np.ndarray) -> np.ndarray:
        rows = self._rows(points)
        return np.array([self.net.loss(_views(rows[i : i + 1], self.net.shapes), self.x, self.y)
                         for i in range(len(rows))])

    def gradient(self, points: np.ndarray) -> np.ndarray:
        rows = self._rows(points)
        out = np.empty_like(rows)
        for i in range(len(rows)):
            self.net.loss_and_grad(_views(rows[i : i + 1], self.net.shapes), self.x, self.y,
                                   _views(out[i : i + 1], self.net.shapes))
        return out


def _evaluate(net: MLP, params: list[Params], labels: list[str], diverged: dict[str, int | None],
              data: Dataset, it: int) -> dict[str, float]:
    """Test accuracy after update ``it``; an entry whose weights are not finite is diverged (NaN)."""
    out: dict[str, float] = {}
    for k, label in enumerate(labels):
        if diverged[label] is None and not all(np.isfinite(p).all() for p in params[k]):
            diverged[label] = it
        out[label] = math.nan if diverged[label] is not None else net.accuracy(params[k], data.x_test, data.y_test)
    return out


# -- smoothing ----------------------------------------------------------------------------------
def smooth_curve(values: Sequence[float] | np.ndarray, window: int = 11, beta: float = 2.0) -> np.ndarray:
    """The book's smoothing: convolve with a normalized Kaiser window of ``window`` taps (β =
    ``beta``) after mirroring ``window − 1`` samples at each end; same length as the input.
    A NaN spreads over its window (divergence stays visible as a gap)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"Invalid values shape: {x.shape} (must be 1-D)")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"Invalid window value: {window!r} (must be an odd whole number ≥ 1)")
    n = len(x)
    if n < window:  # a short curve: the largest odd window that fits
        window = n if n % 2 else n - 1
    if window <= 1:
        return x.copy()
    # The book: s = np.r_[x[w-1:0:-1], x, x[-1:-w:-1]]; y = convolve(w/w.sum(), s, 'valid')[h:-h].
    padded = np.concatenate([x[window - 1 : 0 : -1], x, x[-1 : -window : -1]])
    w = np.kaiser(window, beta)
    y = np.convolve(w / w.sum(), padded, mode="valid")
    half = window // 2
    return y[half : half + n]


def ema(values: Sequence[float] | np.ndarray, alpha: float = 0.9) -> np.ndarray:
    """Debiased exponential moving average: ``s_t = α s_{t-1} + (1−α) x_t``, reported as
    ``s_t / (1 − α^t)`` (TensorBoard's smoothing). NaN inputs are skipped and reported as NaN."""
    x = np.asarray(values, dtype=np.float64)
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"Invalid alpha value: {alpha!r} (must be in [0, 1))")
    out = np.empty_like(x)
    s, weight = 0.0, 0.0
    for i, v in enumerate(x):
        if not math.isfinite(v):
            out[i] = math.nan
            continue
        s = alpha * s + (1 - alpha) * v
        weight = alpha * weight + (1 - alpha)
        out[i] = s / weight
    return out
