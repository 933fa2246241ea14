"""Newton's method with Levenberg-style damping: θ ← θ − η (H + λI)⁻¹ ∇f, from the problem's exact Hessian."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from gdstudio.engine.hyperparams import Real
from gdstudio.engine.optimizers import common
from gdstudio.engine.optimizers.base import Array, OptState, Params
from gdstudio.engine.optimizers.objective import Objective, ObjectiveRule

__all__ = ["FAILED", "Newton", "NewtonParams"]

#: The (N, 1) state buffer saying why each row's last step was not taken (0: it was; see ``_WHY``).
FAILED = "failed"
_OK, _SINGULAR, _NONFINITE, _UNAVAILABLE = 0.0, 1.0, 2.0, 3.0


@dataclass(frozen=True)
class NewtonParams(Params):
    """η (1.0: the full Newton step) and the damping λ added to the Hessian's diagonal (0.0: none)."""

    lr: Real = common.lr(1.0)
    damping: Real = common.hyperparam(
        0.0, "λ", "damping: added to the Hessian's diagonal; large λ makes the step gradient descent with η/λ",
        low=0.0, soft_high=100.0, label="damping",
    )


class Newton(ObjectiveRule[NewtonParams]):
    r"""Damped Newton's method (no torch class: the reference is the closed form).

    .. math::
        \theta_t \leftarrow \theta_{t-1} - \eta\,(H + \lambda I)^{-1} \nabla f(\theta_{t-1}),
        \qquad H = \nabla^2 f(\theta_{t-1})

    H is the problem's exact Hessian (``Problem.hessian``; the step's mini-batch for data problems,
    like the gradient; gradient noise is not added to H). With η = 1 and λ = 0 one step lands on
    the stationary point of a quadratic, whatever its kind (a saddle's too: Newton seeks ∇f = 0).
    As λ → ∞ the step tends to gradient descent with step η/λ.

    A row whose H + λI is not finite or is singular (numerical rank < D: its smallest singular value
    at most D·ε times its largest, NumPy's ``matrix_rank`` tolerance), or whose problem has no
    Hessian, is left where it is, its ``failed`` buffer says why, and :meth:`failure` words it;
    :class:`~gdstudio.engine.runs.Run` then stops with status ``stopped`` ("singular Hessian (H + λI
    not invertible) at step k: add damping").

    Effective learning rate (per coordinate): η·diag((H + λI)⁻¹), the factor the step applies to each
    gradient component alone (η/λ in the large-damping limit, η/h_ii for a diagonal H); 0 for a row
    that did not move.
    """

    name = "newton"
    title = "Newton"
    internal_buffers: ClassVar[tuple[str, ...]] = ()
    needs_hessian: ClassVar[bool] = True

    def __init__(self, hp: NewtonParams | None = None) -> None:
        super().__init__(hp)
        self._hessian_error = ""

    def _buffers(self) -> dict[str, Real]:
        return {}

    def _update(self, hp: NewtonParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        raise AssertionError("Newton steps rows in update()")  # pragma: no cover

    def _step_rows(self, params: Array, grad: Array, state: OptState, eff: Array | None,
                   objective: Objective | None) -> None:
        n, dim = params.shape
        failed = state.buffers.get(FAILED)
        if failed is None or failed.shape[0] != n:
            failed = state.buffers[FAILED] = np.zeros((n, 1))
        hessian_of = getattr(objective, "hessian", None)
        if hessian_of is None:
            raise ValueError("newton needs the exact Hessian of the objective, which this one does not provide "
                             "(gdstudio.engine.runs.Run passes one with hessian(): analytic, data and typed problems)")
        try:
            h = np.asarray(hessian_of(params), dtype=np.float64)
        except (NotImplementedError, ValueError) as exc:  # no Hessian, or a typed function's over budget
            self._hessian_error = str(exc)
            failed[:] = _UNAVAILABLE
            if eff is not None:
                eff[...] = 0.0
            return
        hp = self.hp
        damping = hp.damping
        lam = damping[:, :, None] if isinstance(damping, np.ndarray) else damping
        a = h + lam * np.eye(dim)
        finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(a).all(axis=(1, 2)))
        ok = finite.copy()
        if finite.any():
            s = np.linalg.svd(a[finite], compute_uv=False)
            ok[finite] = s[:, -1] > s[:, 0] * dim * np.finfo(np.float64).eps
        # A non-finite gradient with a regular H + λI is divergence (the step gives NaN), not a failure.
        failed[:, 0] = np.where(ok, _OK, np.where(finite, _SINGULAR, _NONFINITE))
        if eff is not None:
            eff[~ok] = 0.0
        if not ok.any():
            return
        lr = hp.lr
        rate = lr[ok] if isinstance(lr, np.ndarray) else lr
        rows = int(ok.sum())
        # One solve for the direction and (H + λI)⁻¹'s columns (its diagonal: the effective lr).
        rhs = np.concatenate([grad[ok][:, :, None], np.broadcast_to(np.eye(dim), (rows, dim, dim))], axis=2)
        x = np.linalg.solve(a[ok], rhs)
        params[ok] += -rate * x[:, :, 0]
        if eff is not None:
            eff[ok] = rate * np.diagonal(x[:, :, 1:], axis1=1, axis2=2)

    def failure(self, state: OptState, row: int = 0) -> str | None:
        failed = state.buffers.get(FAILED)
        why = _OK if failed is None else float(failed[row, 0])
        if why == _SINGULAR:
            return f"singular Hessian (H + λI not invertible) at step {state.t}: add damping"
        if why == _NONFINITE:
            return f"non-finite Hessian at step {state.t}: H + λI has an infinite or NaN entry"
        if why == _UNAVAILABLE:
            return f"no Hessian at step {state.t}: {self._hessian_error}"
        return None
