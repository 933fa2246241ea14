"""The optimizers' point-like internals on the contour: ASGD's averaged iterate x̄, schedule-free's x.

Each is drawn as a thin dashed path in its run's colour up to the step shown, with a small hollow
circle at its head (:class:`InternalsLayer`). Row k of an internal is its value after step k+1, so
at playback position s the rows 0 … s−1 are shown. Rows before the rule created its buffer (NaN)
are skipped; the path stops at its first non-finite row after that (a diverged run draws nothing
beyond it) and is clipped to the contour's box (no strokes out to 1e300).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from gdstudio.ui.views._paths import ClippedPath, Thinning, inside_box
from gdstudio.ui.views._pg import EXACT_POINTS
from gdstudio.ui.views.types import TrajectoryView, shown_index

__all__ = ["HEAD_RADIUS", "DrawnInternal", "InternalPaths", "InternalsLayer"]

#: Radius (px) of the hollow circle at an internal's head.
HEAD_RADIUS = 5.0
#: Dashed path width (px); a dark solid line twice as wide lies under it, so the dashes read as
#: dashes even where the internal runs along its run's own (solid) path.
PATH_WIDTH = 1.5
_UNDER = QColor(16, 16, 16, 170)


@dataclass(eq=False)
class DrawnInternal:
    """One internal of one run as drawn: ``points`` (m, 2) its finite rows up to the step shown
    (the History values), ``verts`` the clipped polyline thinned for the zoom (NaN rows between
    pieces), ``head`` its last point when inside the box."""

    key: Hashable
    name: str
    color: str
    points: np.ndarray
    verts: np.ndarray
    head: tuple[float, float] | None


class _InternalPath:
    """One internal's path, kept between frames (as the contour's run geometry): its rows are
    clipped as they arrive, thinned for the pixel size, so a frame costs O(new rows + drawn
    vertices), never O(history)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo, self.hi = lo, hi
        self.clip = ClippedPath(lo, hi)
        self.offset: int | None = None  # the first finite row (the rows before: no buffer yet)
        self.seen = 0  # rows looked at
        self.thin: Thinning | None = None
        self.pixel: tuple[float, float] | None = None
        self._checks: list[tuple[int, np.ndarray]] = []

    def matches(self, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Whether ``values`` continue the rows seen (a few compared) in the same box."""
        if len(values) < self.seen or not (np.array_equal(lo, self.lo) and np.array_equal(hi, self.hi)):
            return False
        return all(np.array_equal(values[i], row, equal_nan=True) for i, row in self._checks)

    def extend(self, values: np.ndarray) -> None:
        n = len(values)
        if n <= self.seen:
            return
        new = values[self.seen : n]
        if self.offset is None:
            ok = np.isfinite(new).all(axis=1)
            if ok.any():
                self.offset = self.seen + int(np.argmax(ok))
                new = values[self.offset : n]
        if self.offset is not None:
            self.clip.extend(new)  # stops at the first non-finite row (a diverged run)
            if self.thin is not None:
                self.thin.extend(self.clip.verts)
        self.seen = n
        self._checks = [(i, values[i].copy()) for i in sorted({0, n // 2, n - 1})]

    def fit(self, pixel: tuple[float, float] | None) -> None:
        """Thin for this pixel size (recomputed only when it changed by more than 25 %)."""
        if pixel is None:
            self.thin, self.pixel = None, None
            return
        old = self.pixel
        if self.thin is None or old is None or max(pixel[0] / old[0], old[0] / pixel[0],
                                                    pixel[1] / old[1], old[1] / pixel[1]) > 1.25:
            self.pixel = pixel
            self.thin = Thinning(np.array(pixel))
            self.thin.extend(self.clip.verts)

    def drawn(self, key: Hashable, name: str, color: str, values: np.ndarray, k: int) -> DrawnInternal | None:
        """Rows 0 … k−1 (the values after steps 1 … k)."""
        clip, offset = self.clip, self.offset
        if offset is None or k <= offset or clip.n == 0:
            return None
        shown = min(k - offset, clip.n)  # rows of the path shown (it stops at a non-finite one)
        points = values[offset : offset + shown]
        m = clip.prefix_len(shown - 1)
        verts = clip.verts[:m]
        if self.thin is not None and m > EXACT_POINTS:
            verts = verts[self.thin.prefix(m)]
        last = points[-1:]
        head = (float(last[0, 0]), float(last[0, 1])) if inside_box(last, self.lo, self.hi)[0] else None
        return DrawnInternal(key, name, color, points, verts, head)


class InternalPaths:
    """The point-like internals of the visible 2-D runs, cached per (run key, name)."""

    def __init__(self) -> None:
        self._paths: dict[tuple[Hashable, str], _InternalPath] = {}

    def drawn(self, trajs: list[TrajectoryView], step: int, lo: np.ndarray, hi: np.ndarray,
              pixel: tuple[float, float] | None) -> list[DrawnInternal]:
        """What to draw at playback position ``step`` (rows before a buffer existed skipped, each
        path up to its first non-finite row, clipped to [lo, hi])."""
        out = []
        seen = set()
        for t in trajs:
            if not t.visible or t.dim != 2:
                continue
            k = shown_index(t, step)  # points 0..k shown: internal rows 0..k−1 (after steps 1..k)
            for name, values in t.point_internals().items():
                seen.add((t.key, name))
                path = self._paths.get((t.key, name))
                if path is None or not path.matches(values, lo, hi):
                    path = self._paths[(t.key, name)] = _InternalPath(lo.copy(), hi.copy())
                path.extend(values)
                path.fit(pixel)
                d = path.drawn(t.key, name, t.color, values, k)
                if d is not None:
                    out.append(d)
        for gone in [key for key in self._paths if key not in seen]:
            del self._paths[gone]
        return out

    def clear(self) -> None:
        self._paths.clear()


class InternalsLayer(pg.GraphicsObject):
    """Every drawn internal in one item: dashed cosmetic polylines and hollow head circles."""

    def __init__(self) -> None:
        super().__init__()
        self._drawn: list[DrawnInternal] = []
        self._rect = QRectF()
        self._pixel: tuple[float, float] | None = None

    def set_drawn(self, drawn: list[DrawnInternal], pixel: tuple[float, float] | None) -> None:
        self.prepareGeometryChange()
        self._drawn, self._pixel = drawn, pixel
        rect = QRectF()
        for d in drawn:
            v = d.verts[np.isfinite(d.verts).all(axis=1)] if len(d.verts) else d.verts
            if len(v):
                x0, y0 = v.min(axis=0)
                x1, y1 = v.max(axis=0)
                rect = rect.united(QRectF(float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
        if pixel is not None and not rect.isNull():
            pad_x, pad_y = (HEAD_RADIUS + 3) * pixel[0], (HEAD_RADIUS + 3) * pixel[1]
            rect = rect.adjusted(-pad_x, -pad_y, pad_x, pad_y)
        self._rect = rect
        self.update()

    def drawn(self) -> list[DrawnInternal]:
        return list(self._drawn)

    def boundingRect(self) -> QRectF:
        return self._rect

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        return None  # never stretches the view (the contour keeps the problem's range)

    def paint(self, painter: QPainter, *_args) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        transform = painter.transform()
        heads = []
        under = QPen(_UNDER, 2 * PATH_WIDTH + 0.6)
        under.setCosmetic(True)
        under.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        for d in self._drawn:
            color = QColor(d.color)
            pen = QPen(color, PATH_WIDTH)
            pen.setCosmetic(True)
            pen.setDashPattern([3.0, 2.0])  # in pen widths: 4.5 px dashes, 3 px gaps
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            verts = d.verts
            path = pg.arrayToQPath(verts[:, 0], verts[:, 1], connect="finite")
            painter.setPen(under)
            painter.drawPath(path)
            painter.setPen(pen)
            painter.drawPath(path)
            if d.head is not None:
                heads.append((color, transform.map(QPointF(*d.head))))
        painter.resetTransform()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, p in heads:
            dark = QPen(_UNDER, 3.4)
            painter.setPen(dark)  # a dark rim under the ring: readable on light and dark surfaces
            painter.drawEllipse(p, HEAD_RADIUS, HEAD_RADIUS)
            painter.setPen(QPen(color, 1.6))
            painter.drawEllipse(p, HEAD_RADIUS, HEAD_RADIUS)
        painter.setTransform(transform)
