"""What the views draw: :class:`TrajectoryView` (one run) and :class:`HeightScale` (loss -> colour).

Both are plain NumPy: the views are driven by these values and never import the model.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PREVIEW_KEYS", "STATUSES", "HeightScale", "TrajectoryView", "contour_levels", "contour_path", "shown_index"]

STATUSES = ("running", "converged", "diverged", "stopped")  # stopped: the rule could not step (Newton)


def _opt_array(name: str, value: Any, rows: int, dim: int | None) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    want = (rows,) if dim is None else (rows, dim)
    # Per-step arrays may lag the points by more than one row (a step still being recorded).
    if arr.ndim != len(want) or arr.shape[0] > rows or (dim is not None and arr.shape[1] != dim):
        raise ValueError(f"Invalid {name} shape: {arr.shape} (expected at most {want})")
    return arr


PREVIEW_KEYS = ("grad", "first_moment", "effective_lr", "update")


def _preview(value: Any, dim: int) -> dict[str, np.ndarray]:
    if not isinstance(value, Mapping):
        names = ", ".join(PREVIEW_KEYS)
        raise ValueError(f"Invalid preview value: {type(value).__name__} (expected a mapping of {names})")
    out = {}
    for key in PREVIEW_KEYS:
        if key not in value:
            raise ValueError(f"Invalid preview value: missing {key!r} (expected {', '.join(PREVIEW_KEYS)})")
        arr = np.asarray(value[key], dtype=np.float64).reshape(-1)
        if arr.shape != (dim,):
            raise ValueError(f"Invalid preview[{key!r}] shape: {np.shape(value[key])} (expected ({dim},))")
        out[key] = arr
    return out


@dataclass(eq=False)
class TrajectoryView:
    """One run as the views see it.

    ``points`` (K, D) are the finite points visited (``points[k]`` after k steps) and ``loss``
    (K,) their losses. Per-step arrays have one row per step, row k describing the step from
    ``points[k]`` to ``points[k+1]``: ``grad`` (K−1, D) the gradient used, ``first_moment`` the
    velocity / first moment (NaN rows for rules without one), ``effective_lr`` the per-parameter
    step factor, ``update`` = ``points[k+1] − points[k]``, ``grad_norm`` (K−1,) the norm of the
    exact gradient at ``points[k]`` (computed from ``grad`` when not given).

    ``schedule_lr`` (K−1,): the η each step used when the run follows a learning-rate schedule
    (None without one). ``internals``: the rule's extra per-step quantities by name (History's
    ``internals``), row k their value after step k+1 — (K−1, D) for a point-like one (ASGD's
    averaged iterate ``ax``, schedule-free's ``x``), (K−1,) for one number per step (Prodigy's
    ``d``, L-BFGS's ``evals``); NaN rows before the rule created the buffer.

    ``preview`` (optional) describes the step the run *would* take next from its last point
    (``points[last_index]``, which has no row yet): a mapping with keys ``"grad"``,
    ``"first_moment"`` (all-NaN for rules without one), ``"effective_lr"`` and ``"update"``,
    each of shape (D,). The views draw the arrows at the newest point from it; None (a
    diverged or converged run) leaves only the −∇f arrow, from the problem's gradient.
    """

    key: Hashable
    points: np.ndarray
    loss: np.ndarray
    color: str = "#E69F00"
    visible: bool = True
    status: str = "running"
    label: str = ""
    grad: np.ndarray | None = None
    first_moment: np.ndarray | None = None
    effective_lr: np.ndarray | None = None
    update: np.ndarray | None = None
    grad_norm: np.ndarray | None = None
    preview: Mapping[str, np.ndarray] | None = None
    schedule_lr: np.ndarray | None = None
    internals: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] not in (1, 2):
            raise ValueError(f"Invalid points shape: {pts.shape} (expected (K, D) with K ≥ 1 and D in (1, 2))")
        loss = np.asarray(self.loss, dtype=np.float64).reshape(-1)
        if loss.shape[0] != pts.shape[0]:
            raise ValueError(f"Invalid loss shape: {loss.shape} (expected ({pts.shape[0]},) to match points)")
        if self.status not in STATUSES:
            raise ValueError(f"Invalid status value: {self.status!r} (must be one of {', '.join(STATUSES)})")
        self.points, self.loss = pts, loss
        k, d = pts.shape
        rows = max(0, k - 1)
        self.grad = _opt_array("grad", self.grad, rows, d)
        self.first_moment = _opt_array("first_moment", self.first_moment, rows, d)
        self.effective_lr = _opt_array("effective_lr", self.effective_lr, rows, d)
        self.update = _opt_array("update", self.update, rows, d)
        self.grad_norm = _opt_array("grad_norm", self.grad_norm, rows, None)
        if self.preview is not None:
            self.preview = _preview(self.preview, d)
        self.schedule_lr = _opt_array("schedule_lr", self.schedule_lr, rows, None)
        internals = {}
        for name, value in self.internals.items():
            arr = np.asarray(value, dtype=np.float64)
            checked = _opt_array(f"internals[{name!r}]", arr, rows, d if arr.ndim == 2 else None)
            assert checked is not None
            internals[str(name)] = checked
        self.internals = internals

    def point_internals(self) -> dict[str, np.ndarray]:
        """The point-like internals, (K−1, D) each (paths on the contour)."""
        return {k: v for k, v in self.internals.items() if v.ndim == 2}

    def scalar_internals(self) -> dict[str, np.ndarray]:
        """The internals with one number per step, (K−1,) each (curves in the history)."""
        return {k: v for k, v in self.internals.items() if v.ndim == 1}

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def last_index(self) -> int:
        return int(self.points.shape[0]) - 1

    def gradient_norms(self) -> np.ndarray | None:
        """``grad_norm`` if given, else the row norms of ``grad``, else None."""
        if self.grad_norm is not None:
            return self.grad_norm
        if self.grad is not None:
            return np.sqrt(np.einsum("ij,ij->i", self.grad, self.grad))
        return None

    @classmethod
    def from_history(
        cls, key: Hashable, history: Any, *, status: str = "running", color: str = "#E69F00",
        label: str = "", visible: bool = True, preview: Mapping[str, np.ndarray] | None = None,
        scheduled: bool = False,
    ) -> TrajectoryView:
        """Wrap an engine ``History`` (no copies: its arrays are views); ``preview`` as in the class;
        ``scheduled``: the run follows a schedule (its ``lr`` becomes ``schedule_lr``)."""
        internals = {}
        for name in getattr(history, "internals", ()):
            values = history.step_array(name)
            # A buffer not created yet reads as one NaN per step whatever its kind: nothing to show.
            if not (values.ndim == 1 and (values.size == 0 or (math.isnan(values[-1]) and np.isnan(values).all()))):
                internals[name] = values
        return cls(
            key, history.points, history.loss, color=color, visible=visible, status=str(status), label=label,
            grad=history.grad, first_moment=history.first_moment, effective_lr=history.effective_lr,
            update=history.update, grad_norm=history.grad_norm, preview=preview,
            schedule_lr=history.lr if scheduled else None,
            internals=internals,
        )


def shown_index(traj: TrajectoryView, step: int) -> int:
    """Index of the point shown at playback position ``step``: min(step, last index), ≥ 0."""
    return max(0, min(int(step), traj.last_index))


@dataclass(frozen=True)
class HeightScale:
    """Maps losses to a unit colour / height value, shared by the contour and the 3-D views.

    Linear: ``s(z) = z``. Log: ``s(z) = log10(max(z − zmin, 0) + δ)`` with δ = 10⁻⁶ of the
    range (by default), so the minimum is finite and the valleys of steep surfaces (Rosenbrock)
    show.
    ``unit(z) = clip((s(z) − lo) / (hi − lo), 0, 1)`` where lo, hi are the 0.2 % and 99 %
    quantiles of s over the finite grid values (a few huge corners do not flatten the map).
    """

    log: bool
    zmin: float
    delta: float
    lo: float
    hi: float

    @classmethod
    def fit(cls, z: np.ndarray, log: bool, low_q: float = 0.002, high_q: float = 0.99,
            delta_rel: float = 1e-6) -> HeightScale:
        """The scale of the grid values ``z`` (non-finite values ignored); δ = ``delta_rel`` · range."""
        finite = np.asarray(z, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return cls(bool(log), 0.0, 1e-12, 0.0, 1.0)
        zmin = float(finite.min())
        span = float(np.quantile(finite, high_q)) - zmin
        delta = max(span * delta_rel, 1e-12)
        probe = cls(bool(log), zmin, delta, 0.0, 1.0)
        s = probe.transform(finite)
        lo, hi = (float(v) for v in np.quantile(s, [low_q, high_q]))
        if not hi > lo:
            lo, hi = float(s.min()), float(s.max())
        if not hi > lo:
            lo, hi = lo - 0.5, lo + 0.5
        return cls(bool(log), zmin, delta, lo, hi)

    def transform(self, z: np.ndarray | float) -> np.ndarray:
        """s(z) (NaN stays NaN)."""
        z = np.asarray(z, dtype=np.float64)
        if not self.log:
            return z
        with np.errstate(invalid="ignore", over="ignore"):
            return np.log10(np.maximum(z - self.zmin, 0.0) + self.delta)

    def unit(self, z: np.ndarray | float) -> np.ndarray:
        """(s(z) − lo) / (hi − lo) clipped to [0, 1]; NaN -> NaN, +inf -> 1."""
        with np.errstate(invalid="ignore", over="ignore"):
            return np.clip((self.transform(z) - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def label(self) -> str:
        return "log₁₀(loss − min)" if self.log else "loss"


def contour_levels(scale: HeightScale, z: np.ndarray, n: int = 20) -> np.ndarray:
    """About ``n`` contour levels in the scaled values s(z).

    Log scale: evenly spaced in s between lo and hi (log-spaced in z − zmin, so each decade
    gets its share of lines). Linear scale: quantiles of the grid values, so the lines spread
    over the area instead of piling up on the steepest walls.
    """
    if n < 1 or not math.isfinite(scale.lo) or not math.isfinite(scale.hi):
        return np.empty(0)
    if scale.log:
        step = (scale.hi - scale.lo) / n
        return scale.lo + step * (np.arange(n) + 0.5)
    s = np.asarray(z, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return np.empty(0)
    levels = np.unique(np.quantile(s, np.linspace(0.0, 0.98, n + 1)[1:]))
    return levels[(levels > s.min()) & (levels < s.max())]


_PATH_CACHE: list[tuple[np.ndarray, HeightScale, int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []


def contour_path(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, scale: HeightScale,
                 n: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every contour line of s(z) at :func:`contour_levels` as one NaN-separated path.

    Returns (x, y, level) with ``level`` the scaled level value of each vertex (NaN at the
    breaks). Uses contourpy (~0.5 ms per level on 256²; pyqtgraph's isocurve takes ~17 ms).
    The last result is cached (keyed on the very ``z`` array), so the 2-D and 3-D views share
    one computation per surface.
    """
    for cz, cscale, cn, cached in _PATH_CACHE:
        if cz is z and cscale == scale and cn == n:
            return cached
    import contourpy

    s = scale.transform(z)
    levels = contour_levels(scale, s, n)
    result: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.empty(0), np.empty(0), np.empty(0))
    if levels.size:
        gen = contourpy.contour_generator(np.asarray(xs, float), np.asarray(ys, float), np.ma.masked_invalid(s),
                                          name="serial", line_type="ChunkCombinedNan")
        pieces, values = [], []
        for level, chunks in zip(levels, gen.multi_lines(levels), strict=True):
            for arr in chunks[0]:
                if arr is not None and len(arr):
                    pieces += [arr, np.full((1, 2), np.nan)]
                    values += [np.full(len(arr), level), np.full(1, np.nan)]
        if pieces:
            path = np.concatenate(pieces)
            result = (np.ascontiguousarray(path[:, 0]), np.ascontiguousarray(path[:, 1]), np.concatenate(values))
    _PATH_CACHE[:] = [(z, scale, n, result)]
    return result
