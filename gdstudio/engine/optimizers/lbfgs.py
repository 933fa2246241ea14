"""L-BFGS with an optional strong-Wolfe line search, as ``torch.optim.LBFGS`` (one step = one ``step(closure)``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdstudio.engine.hyperparams import Real
from gdstudio.engine.optimizers import common, torch_params
from gdstudio.engine.optimizers.base import Array, OptState, Params
from gdstudio.engine.optimizers.objective import DONE, EVALS, Objective, ObjectiveRule
from gdstudio.engine.optimizers.quantities import BufferDoc, docs

#: Per-row state kept between steps (torch keeps these in ``state[first param]``).
_ROW_STATE = ("d", "t", "H_diag", "prev_flat_grad", "n_iter", "func_evals", "n_old", "old_dirs", "old_stps", "ro")
#: Why a step left its row where it was (the ``done`` buffer; ``done_value`` holds the number tested).
_MOVED, _SMALL_GRADIENT, _NO_DESCENT, _UPHILL = 0.0, 1.0, 2.0, 3.0
DONE_VALUE = "done_value"


@dataclass(frozen=True)
class LBFGSParams(Params):
    """``torch.optim.LBFGS``'s keywords; ``max_iter = 1`` and ``max_eval = 25`` are gdstudio's defaults.

    One gdstudio step is one ``step(closure)`` call, so torch's ``max_iter = 20`` would make each
    step 20 iterations, and torch's ``max_eval = max_iter * 5 // 4`` (1 at ``max_iter = 1``)
    leaves the strong-Wolfe search a single evaluation: it then never moves from (−1.5, 2) on
    Rosenbrock (measured in torch 2.13 by ``tools/make_reference.py``).
    """

    lr: Real = torch_params.lr(1.0, torch_params.INVALID_LR)
    max_iter: int = common.integer("k", 1, "iterations per step (each a direction and a step length)",
                                   low=1, soft_high=20)
    max_eval: int = common.integer("E", 25, "most loss/gradient evaluations per step (line search included)",
                                   low=1, soft_high=50)
    tolerance_grad: Real = common.hyperparam(
        1e-7, "τ_g", "a step does nothing once the largest |gradient| component is at most this",
        low=0.0, soft_low=1e-12, soft_high=1.0, log=True,
    )
    tolerance_change: Real = common.hyperparam(
        1e-9, "τ_Δ", "iterations stop when the step or the loss change is below this",
        low=0.0, soft_low=1e-15, soft_high=1.0, log=True,
    )
    history_size: int = common.integer("m", 100, "curvature pairs (s, y) kept for the inverse-Hessian estimate",
                                       low=1, soft_high=100)
    line_search_fn: str = common.choice(
        "none", ("none", "strong_wolfe"),
        "line search: none (fixed step η) or strong_wolfe (torch's None or 'strong_wolfe')", symbol="LS",
    )


class LBFGS(ObjectiveRule[LBFGSParams]):
    r"""L-BFGS as in ``torch.optim.LBFGS`` (after minFunc); one gdstudio step is one ``step(closure)``.

    Each iteration (``max_iter`` per step; one with gdstudio's default), α the step length
    (torch's ``t``):

    .. math::
        y &\leftarrow g_t - g_{t-1},\quad s \leftarrow \alpha_{t-1} d_{t-1}:\ \text{keep } (s, y, \rho = 1/(y\cdot s))
            \text{ if } y\cdot s > 10^{-10},\ \gamma = \frac{y\cdot s}{y\cdot y} \\
        d_t &\leftarrow -H_t g_t \quad (\text{two-loop recursion over the last } m \text{ pairs from } H_0 = \gamma I;
            \ d_1 = -g_1) \\
        \alpha_t &\leftarrow \eta \min(1, 1/\sum|g_1|) \text{ (first iteration), } \eta \text{ after; strong Wolfe: }
            \text{a cubic-interpolation search from there, } c_1 = 10^{-4},\ c_2 = 0.9 \\
        \theta_t &\leftarrow \theta_{t-1} + \alpha_t d_t

    A step does nothing when max |g| ≤ ``tolerance_grad``, or when its first direction is no
    descent direction, g·d > −``tolerance_change``: torch's ``step`` returns before moving, and
    with the same gradient every later step does the same, so the rule reports it (``done``,
    ``converged``) and a Run on all the data without noise ends ``converged`` there. A direction
    that points uphill (g·d > ``tolerance_change``: the curvature pairs broke down, e.g. after an
    overflow) is a ``failure`` instead: the Run ends ``stopped``.
    Iterations within a step stop early when max |α d| or the loss change falls below
    ``tolerance_change``, or after ``max_eval`` evaluations (the next step goes on from there,
    as torch's next ``step`` does). The line search evaluates the loss and gradient at trial
    points (the step's mini-batch), so every step records how many evaluations it used
    (``evals``, the first one included). Rows (runs) are independent and stepped one by one: the
    line search's control flow differs per row. Effective learning rate: α, the step length
    along the quasi-Newton direction d (the last iteration's).
    """

    name = "lbfgs"
    title = "L-BFGS"

    buffer_docs = docs({
        "d": BufferDoc(r"d_t", "the quasi-Newton direction −H g of the last iteration"),
        "t": BufferDoc(r"\alpha_t", "the step length along d (torch's t)"),
        "H_diag": BufferDoc(r"\gamma", "the initial inverse-Hessian scale y·s / y·y"),
        "prev_flat_grad": BufferDoc(r"g_{t}", "the gradient kept for the next curvature pair"),
        "n_iter": BufferDoc(r"n", "iterations so far"),
        "func_evals": BufferDoc(r"E", "loss/gradient evaluations so far"),
        "old_dirs": BufferDoc(r"y_i", "the kept gradient differences y (oldest first)"),
        "old_stps": BufferDoc(r"s_i", "the kept steps s (oldest first)"),
        "ro": BufferDoc(r"\rho_i", "1/(y·s) of each kept pair"),
        "evals": BufferDoc(r"E_t", "evaluations this step made (the line search's included)"),
    })

    def explain_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """The pair lists hold ``n_old`` pairs, as torch's lists (the arrays have spare room)."""
        out = dict(state)
        n_old = int(out.get("n_old", 0))
        for name in ("old_dirs", "old_stps", "ro"):
            if name in out:
                value = np.asarray(out[name], dtype=np.float64)
                out[name] = value.reshape(-1, *value.shape[1:])[:n_old] if value.ndim > 1 else np.ravel(value)[:n_old]
        return out

    def needs_objective(self) -> bool:
        hp = self.hp
        return hp.line_search_fn != "none" or hp.max_iter > 1

    def _buffers(self) -> dict[str, Real]:
        return {"d": 0.0, "prev_flat_grad": 0.0}

    def _update(self, hp: LBFGSParams, p: Array, g: Array, bufs: dict[str, Array], t: int,
                scalars: dict[str, float], eff: Array | None) -> None:
        raise AssertionError("LBFGS steps rows in update()")  # pragma: no cover

    def _prepare(self, params: Array, state: OptState) -> None:
        """Create the per-row buffers. The (s, y) pair history grows as pairs arrive (up to
        ``history_size``, as torch's lists do), so a large ``history_size`` costs nothing upfront."""
        n, dim = params.shape
        bufs = state.buffers
        for name in ("t", "H_diag", "n_iter", "func_evals", "n_old", EVALS, DONE, DONE_VALUE):
            if name not in bufs:
                bufs[name] = np.zeros((n, 1))
        if "ro" not in bufs:  # the pairs have the parameters' dtype (float32 in the Training lab), as torch's
            bufs["old_dirs"] = np.zeros((n, 0, dim), dtype=params.dtype)
            bufs["old_stps"] = np.zeros((n, 0, dim), dtype=params.dtype)
            bufs["ro"] = np.zeros((n, 0), dtype=params.dtype)

    def _step_rows(self, params: Array, grad: Array, state: OptState, eff: Array | None,
                   objective: Objective | None) -> None:
        self._prepare(params, state)
        hp, bufs = self.hp, state.buffers
        for i in range(params.shape[0]):
            row = _Row(bufs, i)
            lr = _at(hp.lr, i)
            x = params[i].copy()
            t_last = _lbfgs_step(
                x, grad[i].copy(), row, objective, lr=lr, max_iter=hp.max_iter, max_eval=hp.max_eval,
                tolerance_grad=_at(hp.tolerance_grad, i), tolerance_change=_at(hp.tolerance_change, i),
                history_size=hp.history_size, strong_wolfe=hp.line_search_fn == "strong_wolfe",
            )
            row.store()
            params[i] = x
            if eff is not None:
                eff[i] = t_last

    def converged(self, state: OptState, row: int = 0) -> str | None:
        bufs = state.buffers
        why = float(bufs[DONE][row, 0]) if DONE in bufs else _MOVED
        value = float(bufs[DONE_VALUE][row, 0]) if DONE_VALUE in bufs else math.nan
        if why == _SMALL_GRADIENT:
            return (f"max |∇f| = {value:.3g} ≤ tolerance_grad ({_at(self.hp.tolerance_grad, row):g}): "
                    "L-BFGS takes no further step")
        if why == _NO_DESCENT:
            return (f"∇f·d = {value:.3g} > -tolerance_change ({-_at(self.hp.tolerance_change, row):g}) "
                    "along the L-BFGS direction d: it takes no further step")
        return None

    def failure(self, state: OptState, row: int = 0) -> str | None:
        bufs = state.buffers
        if DONE not in bufs or float(bufs[DONE][row, 0]) != _UPHILL:
            return None
        return (f"the L-BFGS direction d points uphill at step {state.t} (∇f·d = {float(bufs[DONE_VALUE][row, 0]):.3g}"
                " > 0, its curvature pairs have broken down): it takes no further step")


def _at(value: Real, i: int) -> float:
    return float(value[i, 0]) if isinstance(value, np.ndarray) else float(value)


def _dot(a: Array, b: Array) -> float:
    """torch's ``a.dot(b)`` for the short vectors here: products summed left to right."""
    total = float(a[0]) * float(b[0])
    for j in range(1, a.shape[0]):
        total += float(a[j]) * float(b[j])
    return total


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics (torch's 0-dim tensors): ±inf or NaN where Python raises."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _abs_sum(a: Array) -> float:
    total = abs(float(a[0]))
    for j in range(1, a.shape[0]):
        total += abs(float(a[j]))
    return total


def _abs_max(a: Array) -> float:
    return float(np.max(np.abs(a)))


class _Row:
    """One row's L-BFGS state, read from and written back to the (N, …) buffers."""

    def __init__(self, bufs: dict[str, Array], i: int) -> None:
        self.bufs, self.i = bufs, i
        self.d = bufs["d"][i].copy()
        self.t = float(bufs["t"][i, 0])
        self.h_diag = float(bufs["H_diag"][i, 0])
        self.prev_flat_grad = bufs["prev_flat_grad"][i].copy()
        self.n_iter = int(bufs["n_iter"][i, 0])
        self.func_evals = int(bufs["func_evals"][i, 0])
        n_old = int(bufs["n_old"][i, 0])
        self.old_dirs = [bufs["old_dirs"][i, k].copy() for k in range(n_old)]
        self.old_stps = [bufs["old_stps"][i, k].copy() for k in range(n_old)]
        self.ro = [float(bufs["ro"][i, k]) for k in range(n_old)]
        self.evals = 0
        self.done, self.done_value = _MOVED, 0.0

    def store(self) -> None:
        b, i = self.bufs, self.i
        held = len(self.old_dirs)
        if held > b["ro"].shape[1]:  # grow the pair history of every row (doubling)
            cap = max(held, 2 * b["ro"].shape[1])
            for name in ("old_dirs", "old_stps", "ro"):
                old = b[name]
                grown = np.zeros((old.shape[0], cap, *old.shape[2:]), dtype=old.dtype)
                grown[:, : old.shape[1]] = old
                b[name] = grown
        b["d"][i] = self.d
        b["t"][i, 0] = self.t
        b["H_diag"][i, 0] = self.h_diag
        b["prev_flat_grad"][i] = self.prev_flat_grad
        b["n_iter"][i, 0] = self.n_iter
        b["func_evals"][i, 0] = self.func_evals
        b["n_old"][i, 0] = len(self.old_dirs)
        for k, (y, s, r) in enumerate(zip(self.old_dirs, self.old_stps, self.ro, strict=True)):
            b["old_dirs"][i, k] = y
            b["old_stps"][i, k] = s
            b["ro"][i, k] = r
        b[EVALS][i, 0] = self.evals
        b[DONE][i, 0] = self.done
        b[DONE_VALUE][i, 0] = self.done_value


def _lbfgs_step(x: Array, flat_grad: Array, st: _Row, objective: Objective | None, *, lr: float, max_iter: int,
                max_eval: int, tolerance_grad: float, tolerance_change: float, history_size: int,
                strong_wolfe: bool) -> float:
    """One ``torch.optim.LBFGS.step(closure)`` on one row: ``x`` moves in place; returns the last t.

    ``flat_grad`` is the gradient at ``x`` (the closure's first evaluation); the loss there is
    evaluated only when something reads it (a line search, or a second iteration).
    """
    need_loss = strong_wolfe or max_iter > 1

    def evaluate(point: Array) -> tuple[float, Array]:
        assert objective is not None
        at = point.reshape(1, -1)
        return float(objective.loss(at)[0]), np.asarray(objective.gradient(at)[0], dtype=np.float64)

    loss = float(objective.loss(x.reshape(1, -1))[0]) if need_loss and objective is not None else math.nan
    current_evals = 1
    st.func_evals += 1
    st.evals = 1
    largest = _abs_max(flat_grad)
    if largest <= tolerance_grad:
        st.done, st.done_value = _SMALL_GRADIENT, largest
        return 0.0
    d, t = st.d, st.t
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        st.n_iter += 1
        if st.n_iter == 1:
            d = -flat_grad
            st.old_dirs, st.old_stps, st.ro = [], [], []
            st.h_diag = 1.0
        else:
            y = flat_grad - st.prev_flat_grad
            s = d * t
            ys = _dot(y, s)
            if ys > 1e-10:
                if len(st.old_dirs) == history_size:
                    st.old_dirs.pop(0)
                    st.old_stps.pop(0)
                    st.ro.pop(0)
                st.old_dirs.append(y)
                st.old_stps.append(s)
                st.ro.append(1.0 / ys)
                st.h_diag = _div(ys, _dot(y, y))
            num_old = len(st.old_dirs)
            al = [0.0] * num_old
            q = -flat_grad
            for k in range(num_old - 1, -1, -1):
                al[k] = _dot(st.old_stps[k], q) * st.ro[k]
                q = q + (-al[k]) * st.old_dirs[k]
            r = q * st.h_diag
            for k in range(num_old):
                be_k = _dot(st.old_dirs[k], r) * st.ro[k]
                r = r + (al[k] - be_k) * st.old_stps[k]
            d = r
        st.prev_flat_grad = flat_grad.copy()
        prev_loss = loss
        if st.n_iter == 1:
            inverse = _div(1.0, _abs_sum(flat_grad))
            t = (inverse if inverse < 1.0 else 1.0) * lr
        else:
            t = lr
        gtd = _dot(flat_grad, d)
        if gtd > -tolerance_change:
            if n_iter == 1:  # nothing moved in this step (a later iteration's break follows a move)
                st.done, st.done_value = (_NO_DESCENT if gtd <= tolerance_change else _UPHILL), gtd
            break
        ls_func_evals = 0
        if strong_wolfe:
            loss, flat_grad, t, ls_func_evals = _strong_wolfe(evaluate, x, t, d, loss, flat_grad, gtd,
                                                              max_ls=max_eval - current_evals)
            x += t * d
            opt_cond = _abs_max(flat_grad) <= tolerance_grad
        else:
            x += t * d
            opt_cond = False
            if n_iter != max_iter:
                loss, flat_grad = evaluate(x)
                opt_cond = _abs_max(flat_grad) <= tolerance_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        st.func_evals += ls_func_evals
        st.evals = current_evals
        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            break
        if _abs_max(d * t) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
            break
    st.d, st.t = d, t
    return t


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """torch's ``_cubic_interpolate`` (from torch/optim's polyinterp.lua)."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - _div(3 * (f1 - f2), x1 - x2)
    d2_square = d1 * d1 - g1 * g2  # torch's d1**2: the same correctly rounded square, never OverflowError
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * _div(g2 + d2 - d1, g2 - g1 + 2 * d2)
        else:
            min_pos = x1 - (x1 - x2) * _div(g1 + d2 - d1, g1 - g2 + 2 * d2)
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj: Callable[[Array], tuple[float, Array]], x: Array, t: float, d: Array, f: float, g: Array,
                  gtd: float, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Array, float, int]:
    """torch's ``_strong_wolfe`` (from lswolfe.lua): (loss, gradient, step length, evaluations).

    ``obj`` evaluates at a point; the trial points are ``x + t·d``. ``tolerance_change`` is
    torch's default here (LBFGS.step does not pass its own).
    """
    d_norm = _abs_max(d)
    f_new, g_new = obj(x + t * d)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[Array] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj(x + t * d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    if len(bracket) == 1:  # a NaN loss made torch pick position 1 of a one-point bracket (IndexError)
        low_pos = 0
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(x + t * d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos], bracket_g[high_pos] = t, f_new, g_new
            bracket_gtd[high_pos] = gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos] = t, f_new, g_new
            bracket_gtd[low_pos] = gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
