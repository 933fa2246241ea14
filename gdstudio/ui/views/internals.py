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

from gdstudio.ui.views._paths import ClippedPath, inside_box
from gdstudio.ui.views._pg import EXACT_POINTS, path_keep
from gdstudio.ui.views.types import TrajectoryView, shown_index

__all__ = ["HEAD_RADIUS", "DrawnInternal", "InternalsLayer", "internal_paths"]

#: Radius (px) of the hollow circle at an internal's head.
HEAD_RADIUS = 5.0
#: Dashed path width (px); a dark solid line twice as wide lies under it, so the dashes read as
#: dashes even where the internal runs along its run's own (solid) path.
PATH_WIDTH = 1.5
_UNDER = QColor(16, 16, 16, 170)


@dataclass(eq=False)
class DrawnInternal:
    """One internal of one run as drawn: ``points`` (m, 2) its finite rows up to the step shown
    (the History values), ``verts`` the clipped polyline (NaN rows between pieces), ``head`` its
    last point when inside the box."""

    key: Hashable
    name: str
    color: str
    points: np.ndarray
    verts: np.ndarray
    head: tuple[float, float] | None


def _finite_rows(values: np.ndarray, stop: int) -> np.ndarray:
    """Rows ``[:stop]`` from the first finite one up to (not including) the next non-finite one."""
    rows = values[:stop]
    ok = np.isfinite(rows).all(axis=1)
    if not ok.any():
        return rows[:0]
    first = int(np.argmax(ok))
    bad = ~ok[first:]
    last = first + (int(np.argmax(bad)) if bad.any() else len(bad))
    return rows[first:last]


def internal_paths(trajs: list[TrajectoryView], step: int, lo: np.ndarray, hi: np.ndarray) -> list[DrawnInternal]:
    """The point-like internals of the visible 2-D runs at playback position ``step``."""
    out = []
    for t in trajs:
        if not t.visible or t.dim != 2:
            continue
        k = shown_index(t, step)  # points 0..k shown: internal rows 0..k−1 (after steps 1..k)
        for name, values in t.point_internals().items():
            pts = _finite_rows(values, k)
            if not len(pts):
                continue
            clip = ClippedPath(lo, hi)
            clip.extend(pts)
            head = (float(pts[-1, 0]), float(pts[-1, 1])) if inside_box(pts[-1:], lo, hi)[0] else None
            out.append(DrawnInternal(t.key, name, t.color, pts, clip.verts, head))
    return out


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
            if self._pixel is not None and len(verts) > EXACT_POINTS and not np.isnan(verts).any():
                verts = verts[path_keep(verts, self._pixel)]
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
