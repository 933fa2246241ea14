"""The quadratic theory: a surface's Hessian, its eigen-decomposition, and the step sizes and rates
of gradient descent and heavy-ball momentum that follow from it (Distill, "Why Momentum Really Works").

On a quadratic f(θ) = ½(θ − θ*)ᵀH(θ − θ*) + c with eigenvalues 0 < λmin ≤ … ≤ λmax of H, the error
along each eigenvector qᵢ evolves on its own:

- GD, θ ← θ − η∇f: eᵢ(k) = (1 − ηλᵢ)ᵏ eᵢ(0). Stable for η < 2/λmax; the worst factor
  max |1 − ηλᵢ| is least at η = 2/(λmin + λmax), where it is (κ − 1)/(κ + 1), κ = λmax/λmin.
- Heavy-ball momentum (torch's SGD with γ: b ← γb + ∇f, θ ← θ − ηb): each direction follows
  eᵢ(k+1) = (1 + γ − ηλᵢ) eᵢ(k) − γ eᵢ(k−1), whose rate is the spectral radius of the companion
  matrix [[1 + γ − ηλᵢ, −γ], [1, 0]]. Stable for 0 ≤ γ < 1 and η < 2(1 + γ)/λmax; the optimum is
  η = (2/(√λmax + √λmin))², γ = ((√κ − 1)/(√κ + 1))², rate (√κ − 1)/(√κ + 1) (a double root at the
  extreme eigenvalues: the error there decays like k·ρᵏ).
- NAG (torch's nesterov): eᵢ(k+1) = (1 + γ)(1 − ηλᵢ) eᵢ(k) − γ(1 − ηλᵢ) eᵢ(k−1); stable for
  η < 2(1 + γ)/((1 + 2γ)λmax).

Which problems are quadratic: bowl, rotated-bowl, booth, matyas and saddle (a quadratic that is not
convex), the data losses linear-regression and line-through-origin (the mean squared error of a
model linear in its parameters: the analysis is of the full-data loss; mini-batches see other
Hessians), and typed functions that SymPy proves to be polynomials of total degree ≤ 2. For those
the Hessian is constant and the analysis holds everywhere; for any other surface :func:`analyze`
describes the local quadratic model at a point (``quadratic`` False).

Where no optimum exists (an eigenvalue ≤ 0: not convex there, or singular) :func:`analyze` raises
:class:`NotConvexError` (a ValueError) with one line saying so, never NaN.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gdstudio.engine.deadline import DeadlineExceeded, run_with_deadline
from gdstudio.engine.optimizers.registry import get_spec
from gdstudio.engine.optimizers.sgd import SGD
from gdstudio.engine.problems.base import Problem
from gdstudio.engine.runs import Run, RunConfig, Status

__all__ = [
    "JSON_KEYS",
    "QUADRATIC_PROBLEMS",
    "Analysis",
    "NotConvexError",
    "analyze",
    "divergence_reason",
    "error_along_eigenvectors",
    "explain_divergence",
    "is_quadratic",
    "predicted_errors",
    "step_rates",
]

Array = npt.NDArray[np.float64]

#: Registry problems whose loss is a quadratic in the parameters (constant Hessian).
QUADRATIC_PROBLEMS = frozenset({"bowl", "rotated-bowl", "booth", "matyas", "saddle",
                                "linear-regression", "line-through-origin"})

#: The keys of ``gdstudio analyze --format json`` (a public contract), in output order.
JSON_KEYS = ("hessian", "eigenvalues", "eigenvectors", "condition_number", "gd_max_stable_lr", "gd_optimal_lr",
             "gd_rate", "momentum_optimal_lr", "momentum_optimal", "momentum_rate", "quadratic")

#: An eigenvalue at most this fraction of the largest |eigenvalue| counts as zero (singular).
SINGULAR_RTOL = 1e-12
#: Seconds SymPy may take to decide whether a typed function is a polynomial of degree ≤ 2.
_DETECT_SECONDS = 1.0
#: What :func:`is_quadratic` found for each typed problem object (the window asks on every frame).
_DETECTED: weakref.WeakKeyDictionary[Problem, bool] = weakref.WeakKeyDictionary()


def _num(v: float) -> str:
    """A number for messages: 4 significant digits, a true minus sign."""
    text = f"{v:.4g}"
    return text.replace("-", "−")


def _point(p: Sequence[float] | Array) -> str:
    return "(" + ", ".join(_num(float(v)) for v in p) + ")"


class NotConvexError(ValueError):
    """No optimal settings exist: the Hessian has an eigenvalue ≤ 0 at the point (or everywhere, for a
    quadratic). Carries what was computed, so a panel can still show the Hessian and its eigenvalues."""

    def __init__(self, message: str, *, hessian: Array, eigenvalues: Array, eigenvectors: Array,
                 point: tuple[float, ...], quadratic: bool) -> None:
        super().__init__(message)
        self.hessian = hessian
        self.eigenvalues = eigenvalues
        self.eigenvectors = eigenvectors
        self.point = point
        self.quadratic = quadratic


@dataclass(frozen=True)
class Analysis:
    """The quadratic model of a surface at ``point`` (everywhere, when ``quadratic``).

    ``eigenvalues`` ascending, ``eigenvectors`` the matching unit columns (each with its largest
    component positive); ``minimum`` the minimizer of the quadratic model, θ − H⁻¹∇f(θ) (the exact
    minimum when ``quadratic``).
    """

    hessian: Array
    eigenvalues: Array
    eigenvectors: Array
    condition_number: float
    gd_max_stable_lr: float
    gd_optimal_lr: float
    gd_rate: float
    momentum_optimal_lr: float
    momentum_optimal: float
    momentum_rate: float
    quadratic: bool
    point: tuple[float, ...]
    minimum: tuple[float, ...]

    def as_json(self) -> dict[str, Any]:
        """The ``gdstudio analyze`` JSON document: exactly :data:`JSON_KEYS`."""
        return {
            "hessian": self.hessian.tolist(),
            "eigenvalues": self.eigenvalues.tolist(),
            "eigenvectors": self.eigenvectors.tolist(),
            "condition_number": self.condition_number,
            "gd_max_stable_lr": self.gd_max_stable_lr,
            "gd_optimal_lr": self.gd_optimal_lr,
            "gd_rate": self.gd_rate,
            "momentum_optimal_lr": self.momentum_optimal_lr,
            "momentum_optimal": self.momentum_optimal,
            "momentum_rate": self.momentum_rate,
            "quadratic": self.quadratic,
        }


# ------------------------------------------------------------------------------------------ detection
def _polynomial_degree_at_most_2(expr: Any) -> bool:
    import sympy  # already loaded: a typed function was parsed with it

    from gdstudio.engine.expressions import X, Y

    if not expr.is_polynomial(X, Y):
        return False
    return int(sympy.Poly(expr, X, Y).total_degree()) <= 2


def is_quadratic(problem: Problem) -> bool:
    """Whether ``problem``'s loss is a quadratic in its parameters (its Hessian is constant).

    Registry problems by name (:data:`QUADRATIC_PROBLEMS`); a typed function when SymPy proves it a
    polynomial in x, y of total degree ≤ 2 (within a second; past it: not proven, so False).
    """
    expr = getattr(problem, "expr", None)
    if problem.name != "custom" or expr is None:
        return problem.name in QUADRATIC_PROBLEMS
    known = _DETECTED.get(problem)
    if known is not None:
        return known
    try:
        found = run_with_deadline(lambda: _polynomial_degree_at_most_2(expr), _DETECT_SECONDS, "gdstudio-quadratic")
    except DeadlineExceeded:  # not proven within the time: treated as not quadratic
        found = False
    except Exception:  # SymPy's PolynomialError and kin, RecursionError: not proven polynomial
        found = False
    _DETECTED[problem] = found
    return found


# ------------------------------------------------------------------------------------------ analysis
def _check_point(problem: Problem, at: Sequence[float] | None) -> tuple[float, ...] | None:
    if at is None:
        return None
    try:
        point = tuple(float(v) for v in at)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid point: {at!r} (must be {problem.dim} number(s))") from None
    if len(point) != problem.dim:
        names = ", ".join(problem.params)
        raise ValueError(f"Invalid point: {len(point)} value(s) for {problem.dim} parameter(s) ({names})")
    if not all(math.isfinite(v) for v in point):
        raise ValueError(f"Invalid point: {_point(point)} (every coordinate must be a finite number)")
    return point


def _default_point(problem: Problem) -> tuple[float, ...]:
    """Where a local analysis looks when no point is given: the first known minimum (whose Hessian
    governs the rate near the end of a run), else the problem's suggested start."""
    minima = problem.minima
    if len(minima):
        return tuple(float(v) for v in minima[0])
    return tuple(float(v) for v in problem.start)


def _eigen(h: Array) -> tuple[Array, Array]:
    """Ascending eigenvalues and unit eigenvector columns, each column's largest component positive."""
    values, vectors = np.linalg.eigh(h)
    for i in range(vectors.shape[1]):
        col = vectors[:, i]
        if col[int(np.argmax(np.abs(col)))] < 0:
            vectors[:, i] = -col
    return values.astype(float), vectors.astype(float)


def hessian_at(problem: Problem, point: Sequence[float]) -> Array:
    """The exact (D, D) Hessian at ``point`` (full data for data problems); ValueError when the
    problem has none or it is not finite there."""
    p = np.asarray(point, dtype=float)
    try:
        with np.errstate(all="ignore"):
            h = np.asarray(problem.hessian(p), dtype=float).reshape(problem.dim, problem.dim)
    except NotImplementedError as exc:
        raise ValueError(str(exc)) from None
    if not np.isfinite(h).all():
        raise ValueError(f"The Hessian at {_point(point)} is not finite: no quadratic model there")
    return np.asarray(0.5 * (h + h.T), dtype=float)


def analyze(problem: Problem, at: Sequence[float] | None = None) -> Analysis:
    """The quadratic theory of ``problem``: everywhere when it is quadratic (``at`` is then only
    checked, and recorded as the point), else the local quadratic model at ``at`` (default: the
    first known minimum, else the suggested start).

    Raises ValueError for a point of the wrong length or not finite, a problem without an exact
    Hessian or one not finite at the point, and :class:`NotConvexError` where an eigenvalue is ≤ 0
    (no optimal step size exists).
    """
    quadratic = is_quadratic(problem)
    given = _check_point(problem, at)
    point = given if given is not None else (tuple(float(v) for v in problem.start) if quadratic
                                             else _default_point(problem))
    h = hessian_at(problem, point)
    values, vectors = _eigen(h)
    lo, hi = float(values[0]), float(values[-1])
    where = f"of {problem.name} (constant)" if quadratic else f"at {_point(point)}"
    scale = max(abs(lo), abs(hi))
    if lo < 0 and abs(lo) > SINGULAR_RTOL * scale:
        down = _point(vectors[:, 0])
        raise NotConvexError(
            f"the Hessian {where} has a negative eigenvalue {_num(lo)} (along {down}): "
            "no optimal step size exists (not convex here)",
            hessian=h, eigenvalues=values, eigenvectors=vectors, point=point, quadratic=quadratic)
    if lo <= SINGULAR_RTOL * scale:
        flat = _point(vectors[:, 0])
        raise NotConvexError(
            f"the Hessian {where} is singular (eigenvalue 0 along {flat}): "
            "no optimal step size exists (no unique minimum)",
            hessian=h, eigenvalues=values, eigenvectors=vectors, point=point, quadratic=quadratic)
    kappa = hi / lo
    sk = math.sqrt(kappa)
    with np.errstate(all="ignore"):
        grad = np.asarray(problem.gradient(np.asarray(point, dtype=float)), dtype=float).reshape(problem.dim)
    minimum = np.asarray(point, dtype=float) - np.linalg.solve(h, grad)
    if quadratic and len(problem.minima):  # a convex quadratic's one minimum, exact (no solve's rounding)
        minimum = np.asarray(problem.minima[0], dtype=float)
    if quadratic and given is None:  # the quadratic's own centre: where its eigen-axes cross
        point = tuple(float(v) for v in minimum)
    return Analysis(
        hessian=h,
        eigenvalues=values,
        eigenvectors=vectors,
        condition_number=kappa,
        gd_max_stable_lr=2.0 / hi,
        gd_optimal_lr=2.0 / (lo + hi),
        gd_rate=(kappa - 1.0) / (kappa + 1.0),
        momentum_optimal_lr=(2.0 / (math.sqrt(hi) + math.sqrt(lo))) ** 2,
        momentum_optimal=((sk - 1.0) / (sk + 1.0)) ** 2,
        momentum_rate=(sk - 1.0) / (sk + 1.0),
        quadratic=quadratic,
        point=point,
        minimum=tuple(float(v) for v in minimum),
    )


# ------------------------------------------------------------------------------------------ rates
def error_along_eigenvectors(points: npt.ArrayLike, minimum: npt.ArrayLike, eigenvectors: npt.ArrayLike) -> Array:
    """(steps, D): the error θ_k − θ* of each point projected on each eigenvector (column)."""
    p = np.asarray(points, dtype=float)
    return np.asarray((p - np.asarray(minimum, dtype=float)) @ np.asarray(eigenvectors, dtype=float), dtype=float)


def _iteration_matrices(eigenvalues: Array, lr: float, momentum: float, nesterov: bool) -> Array:
    """(D, 2, 2): each eigendirection's linear map of one step (see the module docstring)."""
    lam = np.asarray(eigenvalues, dtype=float)
    m = np.zeros((lam.size, 2, 2))
    if nesterov:  # state (e, b): b ← γb + λe; e ← e − η(λe + γb)
        m[:, 0, 0] = 1.0 - lr * lam * (1.0 + momentum)
        m[:, 0, 1] = -lr * momentum * momentum
        m[:, 1, 0] = lam
        m[:, 1, 1] = momentum
    else:  # state (e_k, e_{k-1}): e_{k+1} = (1 + γ − ηλ)e_k − γe_{k-1}
        m[:, 0, 0] = 1.0 + momentum - lr * lam
        m[:, 0, 1] = -momentum
        m[:, 1, 0] = 1.0
    return m


def step_rates(eigenvalues: npt.ArrayLike, lr: float, momentum: float = 0.0, *, nesterov: bool = False) -> Array:
    """Each eigendirection's asymptotic factor per step: |1 − ηλᵢ| for GD (γ = 0), else the spectral
    radius of the heavy-ball (or NAG) iteration matrix. Above 1: that direction diverges."""
    lam = np.asarray(eigenvalues, dtype=float).reshape(-1)
    if momentum == 0.0 and not nesterov:
        return np.abs(1.0 - lr * lam)
    mats = _iteration_matrices(lam, lr, momentum, nesterov)
    return np.asarray(np.abs(np.linalg.eigvals(mats)).max(axis=1), dtype=float)


def predicted_errors(initial: npt.ArrayLike, eigenvalues: npt.ArrayLike, steps: int, lr: float,
                     momentum: float = 0.0, *, nesterov: bool = False) -> Array:
    """(steps + 1, D): |eᵢ(0)|·ρᵢᵏ, the predicted envelope of the error along each eigenvector
    (exact for GD; for momentum the rate, without the transient's constant or polynomial factor)."""
    rates = step_rates(eigenvalues, lr, momentum, nesterov=nesterov)
    k = np.arange(steps + 1, dtype=float)[:, None]
    with np.errstate(all="ignore"):
        return np.asarray(np.abs(np.asarray(initial, dtype=float))[None, :] * rates[None, :] ** k, dtype=float)


# ------------------------------------------------------------------------------------------ divergence
def _float(value: object) -> float | None:
    try:
        v = float(np.ravel(np.asarray(value, dtype=float))[0])
    except (TypeError, ValueError, IndexError):
        return None
    return v if math.isfinite(v) else None


def divergence_reason(problem: Problem, config: RunConfig, *, lr: float | None = None) -> str | None:
    """Why GD, heavy-ball momentum or NAG (torch's SGD rule) diverges on a quadratic, in one line,
    e.g. ``η·λmax = 2.4 > 2: GD is unstable on this surface for η > 0.1``; None when the theory
    does not apply (another rule, a surface that is not quadratic, mini-batches of a data loss) or
    says the run is stable. ``lr`` is the η the run used last (a schedule's), default the configured one.

    Weight decay λ_wd adds λ_wd to every eigenvalue; dampening τ scales momentum's η by (1 − τ).
    """
    try:
        spec = get_spec(config.optimizer)
    except ValueError:
        return None
    if spec.rule is not SGD or not is_quadratic(problem):
        return None
    n = problem.n_samples
    if n is not None and config.batch_size is not None and config.batch_size < n:
        return None
    try:
        hp: Mapping[str, object] = spec.resolve(config.hyperparameters)
        h = hessian_at(problem, problem.start)
    except ValueError:
        return None
    eta = lr if lr is not None else _float(hp["lr"])
    gamma, tau, wd = _float(hp["momentum"]), _float(hp["dampening"]), _float(hp["weight_decay"])
    if eta is None or gamma is None or tau is None or wd is None:
        return None
    values, vectors = _eigen(h + wd * np.eye(problem.dim))
    lo, hi = float(values[0]), float(values[-1])
    nesterov = bool(hp["nesterov"])
    name = "GD" if gamma == 0 else ("NAG" if nesterov else "heavy-ball momentum")
    if lo < 0 and abs(lo) > SINGULAR_RTOL * max(abs(lo), abs(hi)):
        return (f"λmin = {_num(lo)} < 0: the surface falls away along {_point(vectors[:, 0])} (no minimum), "
                f"so {name} diverges for every η")
    if eta <= 0 or hi <= 0:
        return None
    if gamma == 0:
        x = eta * hi
        if x <= 2:
            return None
        return f"η·λmax = {_num(x)} > 2: GD is unstable on this surface for η > {_num(2 / hi)}"
    if gamma >= 1:
        return f"γ = {_num(gamma)} ≥ 1: {name} is unstable for every η (it needs γ < 1)"
    eff = eta * (1 - tau)
    factor = "η(1−τ)" if tau else "η"
    x = eff * hi
    if nesterov:
        bound = 2 * (1 + gamma) / (1 + 2 * gamma)
        if x <= bound:
            return None
        return (f"{factor}·λmax = {_num(x)} > 2(1+γ)/(1+2γ) = {_num(bound)}: NAG (γ = {_num(gamma)}) is unstable "
                f"on this surface for η > {_num(bound / hi / (1 - tau))}")
    bound = 2 * (1 + gamma)
    if x <= bound:
        return None
    return (f"{factor}·λmax = {_num(x)} > 2(1+γ) = {_num(bound)}: heavy-ball momentum (γ = {_num(gamma)}) is "
            f"unstable on this surface for η > {_num(bound / hi / (1 - tau))}")


def explain_divergence(run: Run) -> str | None:
    """:func:`divergence_reason` for a diverged run (None for any other status); with a schedule, at
    the learning rate of the last step recorded."""
    if run.status is not Status.DIVERGED:
        return None
    lr = None
    if run.config.schedule is not None and len(run.history.lr):
        lr = float(run.history.lr[-1])
    return divergence_reason(run.problem, run.config, lr=lr)
