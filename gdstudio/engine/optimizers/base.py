"""The optimizer interface: vectorized, in-place update rules over (N, D) parameter arrays.

Every rule follows its reference's float64 code path (torch.optim's single-tensor path for the
classic rules) operation by operation, so a NumPy trajectory matches the reference to rounding.
Rows are independent: N start points (or N runs of the same optimizer) advance in one call. Large
N is processed in row blocks, large enough for NumPy's per-call overhead to vanish and small enough
for the temporaries to stay in cache (see :data:`BLOCK_ROWS`).

How to write a rule
-------------------
One module per rule (``sgd.py`` is the model to copy), two classes:

1. **Its hyperparameters**, a frozen dataclass deriving :class:`Params`. Each field is declared
   with a helper of :mod:`~gdstudio.engine.optimizers.common` that attaches the field's
   :class:`~gdstudio.engine.hyperparams.HyperParam` (symbol, help, valid range, slider range) to the
   field: this class is the one description that panels, CLI, presets, docs and tests read. Names
   and defaults are the reference's keywords::

       @dataclass(frozen=True)
       class SGDParams(Params):
           lr: Real = common.lr(1e-3)
           momentum: Real = common.nonneg("γ", 0.0, "fraction of the previous velocity kept", 0.999)
           nesterov: bool = common.flag("NAG", "Nesterov momentum: look ahead along the velocity")

           def check(self) -> None:  # cross-parameter checks, row by row (optional)
               where = common.rows_where(self.nesterov and (self.momentum <= 0))
               if where is not None:
                   raise ValueError(f"Invalid nesterov value: True (requires a momentum){where}")

   Numbers are typed :data:`~gdstudio.engine.hyperparams.Real` (a float, or an (N, 1) column:
   see *Per-row values*), pairs ``tuple[Real, Real]``, switches ``bool``. Construction validates
   every field (converting ``"0.1"``, ints, lists) and runs :meth:`Params.check`; instances are
   immutable and read both as attributes (``hp.lr``, typed) and as a name → value mapping.

2. **The rule**, ``class SGD(Optimizer[SGDParams])`` with ``name``, ``title`` and a docstring
   that states the update in maths, names the reference (``torch.optim.SGD``) and says what its
   *effective learning rate* is (the per-parameter factor the step multiplied its direction by;
   tests check every rule's docstring for ``Effective learning rate``). It implements:

   - :meth:`Optimizer._buffers`: the (N, D) state buffers and their initial fill (a float, or an
     (N, 1) column: Adagrad's per-row ``initial_accumulator_value``), from ``self.hp``;
   - :meth:`Optimizer._update`: one step on a block of rows, in place. Read the hyperparameters
     from its ``hp`` argument, never ``self.hp`` (in blocks its columns are the block's rows).
     Never modify ``g``; fill ``eff`` with the effective learning rate when it is not None;
   - optionally :meth:`Optimizer._initial_scalars` / :meth:`Optimizer._advance` for values shared
     by the rows and advanced once per step (NAdam's μ product: per-row when β₁ is a column, then
     stored with :meth:`OptState.put` as an (N, 1) buffer that the blocks slice);
   - ``first_moment_buffer`` / ``second_moment_buffer``: buffers the views draw as moments;
     ``internal_buffers``: further buffers reported in :attr:`StepInternals.internals` (an
     averaged iterate, an estimate the views can show).

   - optionally, for the step inspector and ``gdstudio explain`` (docs/explain.md): ``buffer_docs``
     (each buffer's LaTeX symbol, meaning and slow-motion role), ``derived`` (quantities that are
     not buffers, functions of a :class:`~gdstudio.engine.optimizers.quantities.StepContext`) and
     :meth:`Optimizer.update_latex` (the formula for these hyperparameters). Without them the
     inspector still shows every buffer and the generic rows.

   Then add one entry to ``registry.py`` (see its docstring; a variant such as AdamW is an entry
   of the same rule with other defaults, not a new class), a row per hyperparameter in
   docs/optimizers.md, and reference data in tests/data.

Per-row values
--------------
Every number (and each component of a pair) may be an (N, 1) column: ``spec.create({"lr": col,
"betas": (b1_col, 0.999)})`` advances N runs with different values in one call, row i bit-identical
to a single run with row i's values (``tests/engine/test_per_row_hyperparams.py`` checks every
registry entry). The rule's arithmetic must therefore be elementwise in the hyperparameters:

- ``+ − × ÷``, ``np.sqrt``, comparisons with arrays broadcast a column exactly as a float;
- powers and other library functions of hyperparameters alone (``β₁ᵗ``, ``√(1−β₂ᵗ)``) go through
  :func:`common.power` / :func:`common.rowwise`, which evaluate them row by row in Python floats
  as a single run does (NumPy's vector ``pow`` rounds differently from the C library's for about
  5 % of arguments: 5,392 of 10⁵ random β at t = 3, measured with NumPy 2.4);
- a branch on a value (``if momentum != 0``, ``if 1 − β₁ < 0.5``) becomes a per-row choice:
  :func:`common.nonzero` / :func:`common.decay` / :func:`common.lerp_` / :func:`common.choose`;
- switches (``bool``), whole numbers and choices are the same for all rows, so plain
  ``if hp.amsgrad:`` is fine; each number of a triple (Muon's ``ns_coefficients``) may be a
  column like a pair's.

A rule that evaluates the objective itself during a step (a line search) derives
:class:`~gdstudio.engine.optimizers.objective.ObjectiveRule` instead.

Changing hyperparameters while running (schedules)
--------------------------------------------------
:meth:`Optimizer.set_hyperparameters` (``opt.set_hyperparameters(lr=0.05)``, or a column, or
``betas=(0.85, 0.999)``) validates the changes like construction and applies from the next step,
as a torch ``lr_scheduler`` writing ``param_group["lr"]`` does. Buffers a new value needs (SGD's
momentum buffer when γ becomes non-zero) are created, zero-filled, at the next step.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar, cast, get_args, get_origin

import numpy as np
import numpy.typing as npt

from gdstudio.engine.hyperparams import Column, HyperParam, Real, Value
from gdstudio.engine.optimizers.quantities import BufferDoc, Derived, docstring_math, values_latex

__all__ = [
    "BLOCK_ROWS", "PARALLEL_ROWS", "Array", "Column", "OptState", "Optimizer", "Params", "Real",
    "StepInternals",
]

Array = npt.NDArray[np.float64]

#: Rows per block for large N. Each NumPy call costs ~0.5-1 µs whatever its size and a rule
#: makes ~10-15 of them per block, so small blocks pay that per row; past the caches every
#: temporary goes to main memory. Adam over 10⁶ x 2 points (``bench/engine.py --sweep-blocks``,
#: AMD EPYC, 1 MiB L2 per core), ns per point-step: 2048 rows 13.6, 4096 11.3, 8192 10.7,
#: 16384 10.6, 32768 9.9, 65536 9.5, 131072 9.5, unblocked 13.4. 65536 is as fast at 10⁶ but
#: page-faults on every call at 10⁵ (malloc maps and unmaps its 1 MiB temporaries); 32768 rows x 2
#: parameters x 8 bytes = 512 KiB per temporary does not.
BLOCK_ROWS = 32768

#: From this many rows the row ranges run on all available cores (see :meth:`Optimizer.update`).
PARALLEL_ROWS = 4 * BLOCK_ROWS

_POOL: ThreadPoolExecutor | None = None


def _workers() -> int:
    """Cores this process may use (at most 8)."""
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(8, os.cpu_count() or 1))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="gdstudio-rows")
    return _POOL


# -- hyperparameters ----------------------------------------------------------------------------
_SPECS: dict[type, tuple[HyperParam, ...]] = {}
_SPEC_MAPS: dict[type, dict[str, HyperParam]] = {}


@dataclass(frozen=True)
class Params(Mapping[str, Value]):
    """Base of a rule's hyperparameters: a frozen dataclass whose fields carry their specs.

    Construction validates and converts every field (:meth:`HyperParam.validate_rows`), checks
    that per-row columns agree on N, then runs :meth:`check`. Also a read-only mapping
    name → value in field order, for code that is generic over names (panels, persistence, JSON);
    per-row columns appear there as (N, 1) arrays.
    """

    @classmethod
    def specs(cls) -> tuple[HyperParam, ...]:
        """The fields' :class:`HyperParam` specs, in field order (name and label filled in)."""
        specs = _SPECS.get(cls)
        if specs is None:
            found = []
            for f in dataclasses.fields(cls):
                spec = f.metadata.get("hyperparam")
                if not isinstance(spec, HyperParam):
                    raise TypeError(f"{cls.__name__}.{f.name} must be declared with a common.* helper")
                found.append(dataclasses.replace(spec, name=f.name, label=spec.label or f.name.replace("_", " ")))
            specs = _SPECS[cls] = tuple(found)
        return specs

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, owner: str) -> Self:
        """Validated parameters from names → values (defaults for the rest).

        ``Unknown hyperparameter for <owner>: foo (known: …)`` for a name that is not a field.
        """
        cls.check_names(values, owner=owner)
        return cls(**values)

    @classmethod
    def check_names(cls, names: Iterable[str], *, owner: str) -> None:
        """ValueError ``Unknown hyperparameter for <owner>: foo (known: …)`` unless every name is a field."""
        known = [spec.name for spec in cls.specs()]
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"Unknown hyperparameter for {owner}: {unknown[0]} (known: {', '.join(known)})")

    def __post_init__(self) -> None:
        for spec in self.specs():
            object.__setattr__(self, spec.name, spec.validate_rows(getattr(self, spec.name)))
        self._check_rows()
        self.check()

    def with_changes(self, changes: Mapping[str, Any], *, owner: str) -> Self:
        """A copy with ``changes`` (validated as at construction: only the changed fields are
        converted again, then the rows and the joint checks); ``self`` is unchanged."""
        cls = type(self)
        specs = cls._spec_map()
        if not all(name in specs for name in changes):
            cls.check_names(changes, owner=owner)
        new = cls.__new__(cls)
        new.__dict__.update(self.__dict__)
        columns = self.rows is not None
        for name, value in changes.items():
            value = specs[name].validate_rows(value)
            object.__setattr__(new, name, value)
            columns = columns or isinstance(value, np.ndarray) or (
                isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value))
        if columns:  # (plain floats for plain floats keep rows None: the common, per-step case)
            new._check_rows()
        new.check()
        return new

    def _check_rows(self) -> None:
        """Per-row columns must agree on N (kept for :attr:`rows`)."""
        rows: tuple[str, int] | None = None
        for spec in self.specs():
            value = getattr(self, spec.name)
            for i, part in enumerate(value if isinstance(value, tuple) else (value,)):
                if isinstance(part, np.ndarray):
                    what = spec.name if not isinstance(value, tuple) else f"{spec.name}[{i}]"
                    if rows is None:
                        rows = (what, part.shape[0])
                    elif part.shape[0] != rows[1]:
                        raise ValueError(
                            f"Invalid {what} value: {part.shape[0]} rows ({rows[0]} has {rows[1]}: "
                            "per-row values must all have the same number of rows)"
                        )
        object.__setattr__(self, "_rows", None if rows is None else int(rows[1]))

    def check(self) -> None:
        """Cross-parameter checks (e.g. Nesterov needs momentum), row by row; raise ValueError."""

    # -- per-row columns --
    @property
    def rows(self) -> int | None:
        """N if any value is an (N, 1) column, else None."""
        rows: int | None = self.__dict__["_rows"]
        return rows

    def rows_slice(self, start: int, stop: int) -> Self:
        """These parameters with every column cut to rows ``start:stop`` (no re-validation)."""
        out = copy.copy(self)
        if self.rows is not None:
            object.__setattr__(out, "_rows", len(range(self.rows)[start:stop]))
        for spec in self.specs():
            value = getattr(self, spec.name)
            if isinstance(value, np.ndarray):
                object.__setattr__(out, spec.name, value[start:stop])
            elif isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
                object.__setattr__(out, spec.name, tuple(
                    v[start:stop] if isinstance(v, np.ndarray) else v for v in value))
        return out

    # -- mapping view --
    def as_dict(self) -> dict[str, Value]:
        """Every value by name, in field order."""
        return {spec.name: getattr(self, spec.name) for spec in self.specs()}

    @classmethod
    def _spec_map(cls) -> dict[str, HyperParam]:
        specs = _SPEC_MAPS.get(cls)
        if specs is None:
            specs = _SPEC_MAPS[cls] = {spec.name: spec for spec in cls.specs()}
        return specs

    def __getitem__(self, name: str) -> Value:
        if name not in self._spec_map():
            raise KeyError(name)
        value: Value = getattr(self, name)
        return value

    def __iter__(self) -> Iterator[str]:
        return (spec.name for spec in self.specs())

    def __len__(self) -> int:
        return len(self.specs())


# -- state and step report ----------------------------------------------------------------------
@dataclass
class OptState:
    """Per-run optimizer state: the step count ``t`` (shared by all rows), named buffers (N, D),
    or (N, 1) for per-row values, that row blocks slice), and floats shared by all rows (e.g.
    NAdam's running product of μ when β₁ is one value for all rows)."""

    t: int = 0
    buffers: dict[str, Array] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    #: The optimizer's hyperparameter version this state was last synchronised with.
    hp_version: int = 0

    def copy(self) -> OptState:
        return OptState(self.t, {k: v.copy() for k, v in self.buffers.items()}, dict(self.scalars), self.hp_version)

    def put(self, name: str, value: Real) -> None:
        """Store a value shared by the rows: a float in ``scalars``, a column in ``buffers``."""
        if isinstance(value, np.ndarray):
            self.scalars.pop(name, None)
            self.buffers[name] = value
        else:
            self.buffers.pop(name, None)
            self.scalars[name] = value

    def get(self, name: str) -> Real:
        """A value stored with :meth:`put` (KeyError if neither a buffer nor a scalar)."""
        return self.buffers[name] if name in self.buffers else self.scalars[name]


@dataclass
class StepInternals:
    """What one step did, for arrows and curves (each array has the parameters' shape).

    ``first_moment``: the velocity / momentum buffer / first moment, or None for plain rules.
    ``second_moment``: the squared-gradient accumulator (or its infinity-norm), or None.
    ``effective_lr``: the per-parameter factor the rule multiplied its direction by this step
    (``lr`` for SGD; ``lr / (sqrt(v̂) + ε)`` for Adam; see each rule's docstring).
    ``internals``: copies of the rule's ``internal_buffers`` (e.g. an averaged iterate).
    """

    first_moment: Array | None
    second_moment: Array | None
    effective_lr: Array
    internals: dict[str, Array] = field(default_factory=dict)


# -- the rules' base ----------------------------------------------------------------------------
P = TypeVar("P", bound=Params)


class Optimizer(ABC, Generic[P]):
    """Base class of the update rules (see the module docstring for how to write one).

    ``class SGD(Optimizer[SGDParams])`` declares the hyperparameter class; ``hyperparams`` (the
    specs) and ``params_type`` are derived from it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    params_type: ClassVar[type[Params]]
    hyperparams: ClassVar[tuple[HyperParam, ...]]
    #: Names of the buffers reported as first and second moment in :class:`StepInternals`.
    first_moment_buffer: ClassVar[str | None] = None
    second_moment_buffer: ClassVar[str | None] = None
    #: Further buffers reported in :attr:`StepInternals.internals`.
    internal_buffers: ClassVar[tuple[str, ...]] = ()
    #: The state buffers' LaTeX symbols and meanings by name, for the step inspector
    #: (:mod:`~gdstudio.engine.optimizers.quantities`); undocumented buffers still appear.
    buffer_docs: ClassVar[Mapping[str, BufferDoc]] = {}
    #: Quantities of a step that are not buffers (bias corrections, the preconditioner's scale …).
    derived: ClassVar[tuple[Derived, ...]] = ()
    _advances: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._advances = cls._advance is not Optimizer._advance  # skip the no-op call per step
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Optimizer:
                (params,) = get_args(base)
                if isinstance(params, type) and issubclass(params, Params):
                    cls.params_type = params
                    cls.hyperparams = params.specs()

    def __init__(self, hp: P | None = None) -> None:
        """A rule with validated hyperparameters ``hp`` (its defaults if None)."""
        self._version = 0
        if hp is None:
            hp = cast(P, self.params_type())
        self.hp = hp

    @property
    def hp(self) -> P:
        """The hyperparameters (typed; read ``opt.hp.lr``, or ``dict(opt.hp)``)."""
        return self._hp

    @hp.setter
    def hp(self, value: P) -> None:
        if not isinstance(value, self.params_type):
            raise TypeError(f"{self.name} takes {self.params_type.__name__}, not {type(value).__name__}")
        self._hp = value
        self._rows = value.rows
        self._version += 1

    def set_hyperparameters(self, **changes: object) -> None:
        """Change hyperparameters from the next step on (validated as at construction).

        For schedules: ``opt.set_hyperparameters(lr=0.01)``; a value may be an (N, 1) column
        when the state has N rows. Unknown names and bad values raise ValueError and change
        nothing.
        """
        self.hp = self._hp.with_changes(changes, owner=self.name)

    def update_latex(self) -> str:
        """The update rule in LaTeX (an ``aligned`` body) for these hyperparameters; by default
        the class docstring's ``.. math::`` block. Rules with switches override it so the
        formula is the run's own (Adam's AMSGrad max, SGD's Nesterov form …). The last line
        gives the hyperparameters' values."""
        return f"{docstring_math(type(self).__doc__)} \\\\\n{self.values_latex()}"

    def explain_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Row 0 of the state as the step inspector shows it (name → float or array), from the raw
        rows; rules whose buffers hold more than torch's (L-BFGS's pair arrays with spare room)
        trim them here. Default: unchanged."""
        return state

    def values_latex(self) -> str:
        """The hyperparameters' values as one LaTeX line (``& \\eta = 0.1,\\ …``)."""
        return "&" + values_latex(self.hp, self.hyperparams)

    # -- state -------------------------------------------------------------------------
    def init_state(self, params: npt.NDArray[np.floating[Any]]) -> OptState:
        """Fresh state for parameters of shape (N, D) (N must match any per-row column)."""
        params = np.asarray(params)
        if not np.issubdtype(params.dtype, np.floating):
            params = params.astype(np.float64)
        self._check_rows(params.shape[0])
        buffers = {name: np.full_like(params, fill) for name, fill in self._buffers().items()}
        return OptState(0, buffers, self._initial_scalars(), self._version)

    def _check_rows(self, n: int) -> None:
        if self._rows is not None and self._rows != n:
            raise ValueError(
                f"Invalid hyperparameters for {self.name}: per-row values have {self._rows} rows, "
                f"the parameters {n}"
            )

    def _sync(self, params: npt.NDArray[np.floating[Any]], state: OptState) -> None:
        """After :meth:`set_hyperparameters`: check the rows and add the buffers now needed."""
        self._check_rows(params.shape[0])
        for name, fill in self._buffers().items():
            if name not in state.buffers:
                state.buffers[name] = np.full_like(params, fill)
        state.hp_version = self._version

    def _initial_scalars(self) -> dict[str, float]:
        """Floats shared by all rows, at t = 0."""
        return {}

    def _advance(self, hp: P, t: int, state: OptState) -> None:
        """Once per step, before the blocks run: advance values shared by the rows (all N rows'
        ``hp``; store with :meth:`OptState.put`)."""

    @abstractmethod
    def _buffers(self) -> dict[str, Real]:
        """Buffer names and their initial fill value (a float, or an (N, 1) column)."""

    # -- stepping ----------------------------------------------------------------------
    def step(
        self, params: Array, grad: Array, state: OptState, *, record: bool = True
    ) -> StepInternals | None:
        """Advance ``params`` (N, D) one step in place, given ``grad`` at ``params``.

        Returns the step's internals when ``record`` is true (the returned arrays are fresh
        copies), else None; the bench path uses ``record=False``. Overflow and NaN are results,
        never warnings (the update runs under ``np.errstate(all="ignore")``).
        """
        eff = np.empty_like(params) if record else None
        with np.errstate(all="ignore"):
            self.update(params, grad, state, eff)
        if eff is None:
            return None
        return StepInternals(
            first_moment=self._moment(state, self.first_moment_buffer),
            second_moment=self._moment(state, self.second_moment_buffer),
            effective_lr=eff,
            internals={name: state.buffers[name].copy() for name in self.internal_buffers if name in state.buffers},
        )

    def update(self, params: Array, grad: Array, state: OptState, eff: Array | None = None) -> None:
        """The bare in-place step behind :meth:`step`, for hot loops.

        Same arithmetic as :meth:`step`, but it neither enters ``np.errstate`` (the caller does,
        once around its loop: entering costs ~1 µs, a tenth of a 2-parameter step) nor copies
        the moments: read them from ``state.buffers`` (names in ``first_moment_buffer`` and
        ``second_moment_buffer``). ``eff``, if given, has ``params``' shape and receives the
        effective learning rate.
        """
        if state.hp_version != self._version:
            self._sync(params, state)
        n = params.shape[0]
        if self._rows is not None and n != self._rows:
            self._check_rows(n)
        state.t += 1
        hp = self._hp
        if self._advances:
            self._advance(hp, state.t, state)
        if n <= BLOCK_ROWS:
            self._update(hp, params, grad, state.buffers, state.t, state.scalars, eff)
            return
        # Rows are independent: large N runs as contiguous row ranges, one per core, each in
        # cache-sized blocks (NumPy releases the GIL inside ufuncs, so the ranges overlap in time).
        workers = _workers() if n >= PARALLEL_ROWS else 1
        edges = [round(n * i / workers) for i in range(workers + 1)]
        ranges = list(itertools.pairwise(edges))
        if workers == 1:
            self._update_rows(params, grad, state, eff, 0, n)
            return
        pool = _pool()
        err = np.geterr()  # errstate is per thread: the workers take the caller's
        futures = [pool.submit(self._update_rows_in, err, params, grad, state, eff, lo, hi) for lo, hi in ranges[1:]]
        self._update_rows(params, grad, state, eff, *ranges[0])
        for future in futures:
            future.result()

    def _update_rows_in(self, err: Any, params: Array, grad: Array, state: OptState,
                        eff: Array | None, start: int, stop: int) -> None:
        """:meth:`_update_rows` on a worker thread, under the calling thread's ``np.errstate``."""
        with np.errstate(**err):
            self._update_rows(params, grad, state, eff, start, stop)

    def _update_rows(self, params: Array, grad: Array, state: OptState, eff: Array | None,
                     start: int, stop: int) -> None:
        """Rows ``start:stop`` in blocks of ``BLOCK_ROWS``."""
        t, scalars, buffers, hp = state.t, state.scalars, state.buffers, self._hp
        for lo in range(start, stop, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, stop)
            bufs = {k: v[lo:hi] for k, v in buffers.items()}
            block_hp = hp if self._rows is None else hp.rows_slice(lo, hi)
            self._update(block_hp, params[lo:hi], grad[lo:hi], bufs, t, scalars, None if eff is None else eff[lo:hi])

    @staticmethod
    def _moment(state: OptState, name: str | None) -> Array | None:
        buf = None if name is None else state.buffers.get(name)
        return None if buf is None else buf.copy()

    @abstractmethod
    def _update(
        self,
        hp: P,
        p: Array,
        g: Array,
        bufs: dict[str, Array],
        t: int,
        scalars: dict[str, float],
        eff: Array | None,
    ) -> None:
        """One step on a block of rows: update ``p`` and ``bufs`` in place; fill ``eff`` if given.

        ``hp`` holds this block's rows of any per-row column. ``g`` must not be modified. ``t``
        is the step number, starting at 1; ``scalars`` and the per-row values :meth:`_advance`
        stored were already advanced for this step and must not be changed here.
        """

