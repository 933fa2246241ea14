"""Rules that evaluate the objective themselves (L-BFGS and its line search).

Most rules see one gradient per step: the caller evaluates it at the current points and passes
it to :meth:`Optimizer.update`. A rule deriving :class:`ObjectiveRule` also needs the loss and
gradient at points of its own choosing (a line search, inner iterations), as torch's
``optimizer.step(closure)`` does. The caller passes an :class:`Objective`, which evaluates the
same function the step's gradient came from (the same mini-batch, the same noise model), and
the rule records in its ``evals`` state buffer, an (N, 1) column, how many evaluations each row
used in the step (the initial one included, as torch's ``func_evals`` counts).

:class:`gdstudio.engine.runs.Run` builds the objective of every step (:class:`BatchObjective`)
and records ``evals`` per step in its :class:`~gdstudio.engine.runs.History` (``evals`` is one of
the rule's ``internal_buffers``).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Protocol, get_args, get_origin

import numpy as np
import numpy.typing as npt

from gdstudio.engine.optimizers.base import Array, Optimizer, OptState, P, Params, StepInternals

__all__ = ["DONE", "EVALS", "BatchObjective", "Objective", "ObjectiveRule"]

#: The (N, 1) state buffer holding the evaluations each row used in the last step.
EVALS = "evals"
#: The (N, 1) state buffer a rule sets non-zero for a row whose last step met the rule's own
#: termination test and left the point where it was (0: the row stepped as usual).
DONE = "done"


class Objective(Protocol):
    """The function a rule minimises, at any points (M, D), M ≥ 1 (rows of one or more runs)."""

    def loss(self, points: Array) -> Array:
        """The loss at ``points`` (M, D) -> (M,)."""

    def gradient(self, points: Array) -> Array:
        """The gradient at ``points`` (M, D) -> (M, D) (the one the step's ``grad`` came from)."""


class BatchObjective:
    """A problem's mean loss and gradient over one mini-batch (all data when ``indices`` is None),
    plus N(0, σ²) noise on each gradient evaluation drawn from ``rng`` (σ = ``noise``)."""

    def __init__(self, problem: Any, indices: npt.NDArray[np.intp] | None = None, *, noise: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        if noise and rng is None:
            raise ValueError("Invalid noise value: a noisy objective needs a random generator")
        self.problem = problem
        self.indices = indices
        self.noise = noise
        self.rng = rng

    def loss(self, points: Array) -> Array:
        out: Array = np.asarray(self.problem.batch_loss(points, self.indices), dtype=np.float64)
        return out

    def gradient(self, points: Array) -> Array:
        g: Array = np.asarray(self.problem.gradient(points, self.indices), dtype=np.float64)
        if self.noise and self.rng is not None:
            g = g + self.noise * self.rng.standard_normal(g.shape)
        return g

    def hessian(self, points: Array) -> Array:
        """The exact Hessian (M, D, D) of the mini-batch loss (``Problem.hessian``; no noise)."""
        h: Array = np.asarray(self.problem.hessian(points, self.indices), dtype=np.float64)
        return h


class ObjectiveRule(Optimizer[P]):
    """Base of the rules that may evaluate the objective during a step (see the module docstring).

    :meth:`update` and :meth:`step` take ``objective``. :meth:`needs_objective` says whether the
    hyperparameters make a step evaluate anything beyond the given ``grad`` (L-BFGS with one
    iteration and no line search does not); a step that needs it without one raises ValueError.
    Subclasses implement :meth:`_step_rows` (all rows, their own control flow) instead of
    :meth:`Optimizer._update`, and fill the (N, 1) ``evals`` buffer.
    """

    internal_buffers: ClassVar[tuple[str, ...]] = (EVALS,)
    #: The rule needs the objective's exact Hessian (``objective.hessian(points) -> (M, D, D)``,
    #: :class:`BatchObjective` has it): Newton. Callers without one (the Training lab's networks) leave it out.
    needs_hessian: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):  # ``class LBFGS(ObjectiveRule[LBFGSParams])``
            if get_origin(base) is ObjectiveRule:
                (params,) = get_args(base)
                if isinstance(params, type) and issubclass(params, Params):
                    cls.params_type = params
                    cls.hyperparams = params.specs()

    def needs_objective(self) -> bool:
        """Whether a step evaluates the objective beyond the given gradient."""
        return True

    def failure(self, state: OptState, row: int = 0) -> str | None:
        """Why ``row``'s last step could not be taken (its point was left as it was), else None.

        :class:`~gdstudio.engine.runs.Run` then stops with status ``stopped`` and this message
        (Newton: a singular H + λI). The base rule never fails."""
        return None

    def done(self, state: OptState) -> npt.NDArray[np.bool_]:
        """(N,) True for each row whose last step met the rule's own termination test and left
        its point where it was (torch's ``LBFGS.step`` returning early): with the same gradient
        every later step does the same. Read from the :data:`DONE` buffer (all False without one)."""
        buf = state.buffers.get(DONE)
        if buf is None:
            rows = next(iter(state.buffers.values())).shape[0] if state.buffers else 0
            return np.zeros(rows, dtype=bool)
        flags: npt.NDArray[np.bool_] = buf[:, 0] != 0
        return flags

    def converged(self, state: OptState, row: int = 0) -> str | None:
        """Why ``row``'s last step found the rule converged by its own test (:meth:`done`), worded
        for the user, else None.

        :class:`~gdstudio.engine.runs.Run` then ends the run ``converged`` with this message as
        ``stop_reason`` when the step was deterministic (all the data, no gradient noise): the
        step is not recorded, since every later one would leave the point there too. The base
        rule never reports it."""
        return None

    def step(
        self, params: Array, grad: Array, state: OptState, *, record: bool = True,
        objective: Objective | None = None,
    ) -> StepInternals | None:
        """:meth:`Optimizer.step`, with the ``objective`` the rule may evaluate."""
        eff = np.empty_like(params) if record else None
        with np.errstate(all="ignore"):
            self.update(params, grad, state, eff, objective)
        if eff is None:
            return None
        return StepInternals(
            first_moment=self._moment(state, self.first_moment_buffer),
            second_moment=self._moment(state, self.second_moment_buffer),
            effective_lr=eff,
            internals={name: state.buffers[name].copy() for name in self.internal_buffers if name in state.buffers},
        )

    def update(self, params: Array, grad: Array, state: OptState, eff: Array | None = None,
               objective: Objective | None = None) -> None:
        """:meth:`Optimizer.update`; ``objective`` gives the loss and gradient at any points."""
        if objective is None and self.needs_objective():
            raise ValueError(
                f"{self.name} evaluates the objective during a step with these hyperparameters: "
                "pass objective= (gdstudio.engine.runs.Run does)"
            )
        if state.hp_version != self._version:
            self._sync(params, state)
        self._check_rows(params.shape[0])
        state.t += 1
        self._step_rows(params, grad, state, eff, objective)

    @abstractmethod
    def _step_rows(self, params: Array, grad: Array, state: OptState, eff: Array | None,
                   objective: Objective | None) -> None:
        """One step of every row, in place; fill ``state.buffers["evals"]`` ((N, 1)) and ``eff``."""
