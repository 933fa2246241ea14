"""A network's loss landscape as a 2-D problem the studio's views draw.

A landscape is a G_b × G_a grid of losses on a plane through weight space (axes ``a`` and ``b``;
``loss[j, i]`` is the loss at ``(a[i], b[j])``: row b, column a, as :class:`Surface` stores
``z[row y, column x]``), the two axis titles ("PC1 38%", "random direction 1"), a note saying which
loss it is ("loss over 1,000 of 1,797 training images") and each optimizer's path projected onto
the plane with its true loss at each recorded iterate (:class:`RecordedPath`).

:class:`LandscapeProblem` turns the grid into a :class:`Problem`: :meth:`~LandscapeProblem.grid`
over the grid's own extent returns the stored values exactly (whatever resolution is asked: the
grid is the data); :meth:`~LandscapeProblem.loss` elsewhere is the **bilinear** interpolation of
the grid inside each cell,

    f(a, b) = (1−s)(1−t) L[j, i] + s(1−t) L[j, i+1] + (1−s) t L[j+1, i] + s t L[j+1, i+1],
    s = (a − a_i)/(a_{i+1} − a_i),  t = (b − b_j)/(b_{j+1} − b_j),

and :meth:`~LandscapeProblem.gradient` its exact derivative inside the cell (for the views'
arrows: ∂f/∂a = ((1−t)(L[j,i+1] − L[j,i]) + t(L[j+1,i+1] − L[j+1,i])) / (a_{i+1} − a_i), and
likewise for b). Bilinear, not bicubic: it never overshoots the computed losses. Outside the grid
both are NaN (nothing was computed there). Its only "minimum" is the grid's lowest node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems.base import Bounds, Problem, Surface, check_bounds

__all__ = ["LANDSCAPE", "LandscapeData", "LandscapeProblem", "RecordedPath", "landscape_from_json"]

#: The problem name of a landscape (not in the registry: a landscape is made from a training run).
LANDSCAPE = "landscape"


def _array(values: object, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name} value: not an array of numbers") from None
    if arr.ndim != ndim:
        raise ValueError(f"Invalid {name} value: expected {ndim} dimension(s), got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _axis(values: object, name: str) -> np.ndarray:
    arr = _array(values, name, 1)
    if len(arr) < 2 or not np.isfinite(arr).all() or not (np.diff(arr) > 0).all():
        raise ValueError(f"Invalid {name} value: need ≥ 2 finite, strictly increasing coordinates")
    return arr


@dataclass(frozen=True, eq=False)
class RecordedPath:
    """One optimizer's recorded path on the plane: ``points`` (n, 2), its true network loss at
    each recorded iterate ``loss`` (n,) and the training ``iterations`` (n,) they were taken at.
    ``optimizer`` (a registry name) and ``hyperparameters`` (overrides, canonical) are what trained
    it; ``label`` the Training lab's name for it."""

    label: str
    optimizer: str
    points: np.ndarray
    loss: np.ndarray
    iterations: np.ndarray
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"Invalid path label value: {self.label!r} (must be text)")
        spec = get_spec(self.optimizer)
        object.__setattr__(self, "optimizer", spec.name)
        object.__setattr__(self, "hyperparameters", spec.validate_overrides(dict(self.hyperparameters)))
        points = _array(self.points, f"path {self.label!r} points", 2)
        if points.shape[1] != 2 or len(points) < 1:
            raise ValueError(f"Invalid path {self.label!r} points: expected (n ≥ 1, 2), got {points.shape}")
        if not np.isfinite(points[0]).all():
            raise ValueError(f"Invalid path {self.label!r} points: the first point is not finite")
        loss = _array(self.loss, f"path {self.label!r} loss", 1)
        iterations = _array(self.iterations, f"path {self.label!r} iterations", 1)
        if not (len(loss) == len(iterations) == len(points)):
            raise ValueError(f"Invalid path {self.label!r}: {len(points)} points, {len(loss)} losses and "
                             f"{len(iterations)} iterations (must be equal)")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "iterations", iterations)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedPath):
            return NotImplemented
        return (self.label, self.optimizer, dict(self.hyperparameters)) == (
            other.label, other.optimizer, dict(other.hyperparameters)) and all(
            np.array_equal(x, y, equal_nan=True) for x, y in
            ((self.points, other.points), (self.loss, other.loss), (self.iterations, other.iterations)))

    __hash__ = object.__hash__


@dataclass(frozen=True, eq=False)
class LandscapeData:
    """The grid, its axes and titles, the note saying which loss, and the recorded paths."""

    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    titles: tuple[str, str] = ("direction 1", "direction 2")
    note: str = ""
    plane: str = ""
    paths: tuple[RecordedPath, ...] = ()

    def __post_init__(self) -> None:
        a, b = _axis(self.a, "landscape axis a"), _axis(self.b, "landscape axis b")
        loss = _array(self.loss, "landscape loss", 2)
        if loss.shape != (len(b), len(a)):
            raise ValueError(f"Invalid landscape loss value: shape {loss.shape}, expected (len(b), len(a)) = "
                             f"{(len(b), len(a))}")
        titles = tuple(self.titles)
        if len(titles) != 2 or not all(isinstance(t, str) for t in titles):
            raise ValueError(f"Invalid landscape titles value: {self.titles!r} (must be two texts)")
        for name in ("note", "plane"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"Invalid landscape {name} value: {getattr(self, name)!r} (must be text)")
        paths = tuple(self.paths)
        if not all(isinstance(p, RecordedPath) for p in paths):
            raise ValueError("Invalid landscape paths value: each must be a RecordedPath")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "titles", titles)
        object.__setattr__(self, "paths", paths)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LandscapeData):
            return NotImplemented
        return (self.titles, self.note, self.plane, self.paths) == (other.titles, other.note, other.plane,
                                                                    other.paths) and all(
            np.array_equal(x, y, equal_nan=True) for x, y in ((self.a, other.a), (self.b, other.b),
                                                              (self.loss, other.loss)))

    __hash__ = object.__hash__

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite losses as null; floats exact through JSON's repr)."""
        def nums(arr: np.ndarray) -> Any:
            return [None if not math.isfinite(v) else v for v in arr.tolist()] if arr.ndim == 1 \
                else [nums(row) for row in arr]
        return {
            "a": self.a.tolist(), "b": self.b.tolist(), "loss": nums(self.loss), "titles": list(self.titles),
            "note": self.note, "plane": self.plane,
            "paths": [{"label": p.label, "optimizer": p.optimizer, "hyperparameters": _plain(p.hyperparameters),
                       "points": nums(p.points), "loss": nums(p.loss), "iterations": nums(p.iterations)}
                      for p in self.paths],
        }


def _plain(hp: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in hp.items():
        if isinstance(v, float) and math.isinf(v):
            out[k] = "inf" if v > 0 else "-inf"
        else:
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def _nan(values: object) -> object:
    """JSON nulls back to NaN (nested lists)."""
    if isinstance(values, list):
        return [_nan(v) for v in values]
    return math.nan if values is None else values


def landscape_from_json(doc: object) -> LandscapeData:
    """The inverse of :meth:`LandscapeData.to_json` (ValueError naming what is wrong)."""
    if not isinstance(doc, Mapping):
        raise ValueError("Invalid landscape value: expected an object")
    known = ("a", "b", "loss", "titles", "note", "plane", "paths")
    for key in doc:
        if key not in known:
            raise ValueError(f"Invalid landscape value: unknown key {key!r} (known: {', '.join(known)})")
    for key in ("a", "b", "loss"):
        if key not in doc:
            raise ValueError(f"Invalid landscape value: missing {key!r}")
    paths = []
    raw_paths = doc.get("paths", [])
    if not isinstance(raw_paths, list):
        raise ValueError("Invalid landscape paths value: expected a list")
    for i, p in enumerate(raw_paths):
        if not isinstance(p, Mapping) or any(k not in p for k in ("label", "optimizer", "points", "loss",
                                                                    "iterations")):
            raise ValueError(f"Invalid landscape paths[{i}] value: needs label, optimizer, points, loss, iterations")
        hp = p.get("hyperparameters", {})
        if not isinstance(hp, Mapping):
            raise ValueError(f"Invalid landscape paths[{i}].hyperparameters value: expected an object")
        hp = {k: (float(v) if v in ("inf", "-inf") else v) for k, v in hp.items()}
        paths.append(RecordedPath(p["label"], p["optimizer"], _nan(p["points"]),  # type: ignore[arg-type]
                                  _nan(p["loss"]), _nan(p["iterations"]), hp))  # type: ignore[arg-type]
    titles = doc.get("titles", ("direction 1", "direction 2"))
    if not isinstance(titles, (list, tuple)):
        raise ValueError(f"Invalid landscape titles value: {titles!r} (must be two texts)")
    return LandscapeData(_nan(doc["a"]), _nan(doc["b"]), _nan(doc["loss"]),  # type: ignore[arg-type]
                         (str(titles[0]), str(titles[1])) if len(titles) == 2 else tuple(titles),
                         doc.get("note", ""), doc.get("plane", ""), tuple(paths))


class LandscapeProblem(Problem):
    """A :class:`LandscapeData` grid as a 2-D problem (bilinear between nodes; see the module doc)."""

    name = LANDSCAPE
    formula = "network loss on a plane of its weights (bilinear between grid nodes)"

    def __init__(self, data: LandscapeData) -> None:
        if not isinstance(data, LandscapeData):
            raise ValueError(f"Invalid landscape value: {data!r} (must be LandscapeData)")
        self.data = data
        self.params = (data.titles[0] or "direction 1", data.titles[1] or "direction 2")
        self.title = f"Network landscape ({data.note})" if data.note else "Network landscape"
        self.formula = (f"{data.note}, on a plane of the network's weights" if data.note
                        else "network loss on a plane of its weights")
        a, b = data.a, data.b
        self.bounds: Bounds = ((float(a[0]), float(a[-1])), (float(b[0]), float(b[-1])))
        first = data.paths[0].points[0] if data.paths else (0.5 * (a[0] + a[-1]), 0.5 * (b[0] + b[-1]))
        self.start = (float(first[0]), float(first[1]))

    @property
    def minima(self) -> np.ndarray:
        """The grid's lowest node (none when every value is NaN)."""
        z = self.data.loss
        if not np.isfinite(z).any():
            return np.empty((0, 2))
        j, i = np.unravel_index(int(np.nanargmin(z)), z.shape)
        return np.array([[self.data.a[i], self.data.b[j]]])

    def _cells(self, points: np.ndarray) -> tuple[np.ndarray, ...]:
        """Cell indices (i, j), fractions (s, t), cell widths (da, db) and inside-mask per point."""
        a, b = self.data.a, self.data.b
        x, y = points[..., 0], points[..., 1]
        inside = (x >= a[0]) & (x <= a[-1]) & (y >= b[0]) & (y <= b[-1])
        i = np.clip(np.searchsorted(a, x, side="right") - 1, 0, len(a) - 2)
        j = np.clip(np.searchsorted(b, y, side="right") - 1, 0, len(b) - 2)
        da, db = a[i + 1] - a[i], b[j + 1] - b[j]
        s, t = (x - a[i]) / da, (y - b[j]) / db
        return i, j, s, t, da, db, inside

    def loss(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            i, j, s, t, _da, _db, inside = self._cells(p)
            z = self.data.loss
            f = ((1 - s) * (1 - t) * z[j, i] + s * (1 - t) * z[j, i + 1] + (1 - s) * t * z[j + 1, i]
                 + s * t * z[j + 1, i + 1])
        return np.where(inside, f, np.nan)

    def gradient(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            i, j, s, t, da, db, inside = self._cells(p)
            z = self.data.loss
            ga = ((1 - t) * (z[j, i + 1] - z[j, i]) + t * (z[j + 1, i + 1] - z[j + 1, i])) / da
            gb = ((1 - s) * (z[j + 1, i] - z[j, i]) + s * (z[j + 1, i + 1] - z[j, i + 1])) / db
        g = np.stack([ga, gb], axis=-1)
        return np.where(inside[..., None], g, np.nan)

    def grid(self, resolution: int = 256, bounds: Bounds | None = None) -> Surface:
        """The stored grid itself over its own extent (any ``resolution``); elsewhere the bilinear
        interpolation at ``resolution`` points per axis (NaN outside the grid)."""
        if bounds is None or check_bounds(bounds, 2) == self.bounds:
            d = self.data
            return Surface(d.a.copy(), d.b.copy(), d.loss.copy())
        return super().grid(resolution, bounds)

    def describe(self) -> str:
        return f"{self.name}: {self.title}"

