"""pyqtgraph helpers of the 2-D views: pens, click-transparent items, arrow geometry, the runs layer."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from gdstudio.ui.colormaps import DIVERGED_COLOR

__all__ = [
    "DrawnRun", "PassiveScatter", "RunsLayer", "arrow_segments", "clip_point_to_rect", "dot_keep", "mk_pen",
    "path_keep",
]


def mk_pen(
    color: str | tuple, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine, alpha: int | None = None
):
    """A cosmetic pen (width in pixels whatever the zoom)."""
    c = pg.mkColor(color)
    if alpha is not None:
        c.setAlpha(alpha)
    pen = pg.mkPen(c, width=width, style=style)
    pen.setCosmetic(True)
    return pen


class PassiveScatter(pg.ScatterPlotItem):
    """A ScatterPlotItem that lets clicks through to the plot (a click on a marker still places a start)."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()


def arrow_segments(
    origins: np.ndarray,
    vectors: np.ndarray,
    lengths_px: np.ndarray,
    pixel: tuple[float, float],
    head_px: float = 8.0,
    head_angle: float = np.deg2rad(26.0),
) -> np.ndarray:
    """Line segments of arrows for ``connect='pairs'``: (6M, 2) data coordinates.

    Arrow i starts at ``origins[i]`` and points along ``vectors[i]`` *as it appears on screen*
    (data vector divided by the pixel size ``(sx, sy)``), ``lengths_px[i]`` pixels long, with a
    two-stroke head of ``head_px`` pixels (at most half the shaft). Zero / non-finite vectors or
    lengths give no arrow (rows dropped).
    """
    sx, sy = pixel
    o = np.asarray(origins, dtype=np.float64).reshape(-1, 2)
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    length = np.asarray(lengths_px, dtype=np.float64).reshape(-1)
    u = np.column_stack([v[:, 0] / sx, v[:, 1] / sy])  # screen pixels, y up
    norm = np.hypot(u[:, 0], u[:, 1])
    ok = np.isfinite(norm) & (norm > 0) & np.isfinite(length) & (length > 0.5) & np.isfinite(o).all(axis=1)
    if not ok.any():
        return np.empty((0, 2))
    o, u, norm, length = o[ok], u[ok], norm[ok], length[ok]
    d = u / norm[:, None]
    tip = d * length[:, None]
    h = np.minimum(head_px, 0.5 * length)[:, None]
    c, s = np.cos(head_angle), np.sin(head_angle)
    back = -d
    h1 = np.column_stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]]) * h
    h2 = np.column_stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]]) * h
    scale = np.array([sx, sy])
    tip_data = o + tip * scale
    out = np.empty((o.shape[0], 6, 2))
    out[:, 0] = o
    out[:, 1] = tip_data
    out[:, 2] = tip_data
    out[:, 3] = tip_data + h1 * scale
    out[:, 4] = tip_data
    out[:, 5] = tip_data + h2 * scale
    return out.reshape(-1, 2)


@dataclass(eq=False)
class DrawnRun:
    """One run as the runs layer paints it, in plot coordinates.

    ``xy`` are the shown points (points 0..k, unclipped, for tests and hit-testing); ``line`` is
    the path clipped to the view's box (NaN rows between pieces); what is painted is ``line``, or
    for long paths ``segments`` (pairs of rows: the distinct pixel-to-pixel segments of it),
    ``dots`` (step dots inside the box), ``start`` / ``head`` (None when outside the box) and
    ``cross`` (a diverged run's ✕: its last point, or where the path last left the box),
    ``cross_from`` the vertex before it (the ✕ slides back along that segment into the visible
    rectangle when it falls just outside it).
    """

    key: Hashable
    color: str
    points: np.ndarray
    n: int
    line: np.ndarray | None = None
    segments: np.ndarray | None = None
    dots: np.ndarray | None = None
    start: tuple[float, float] | None = None
    head: tuple[float, float] | None = None
    cross: tuple[float, float] | None = None
    cross_from: tuple[float, float] | None = None

    @property
    def xy(self) -> np.ndarray:
        return self.points[: self.n]

    @property
    def crossed(self) -> bool:
        return self.cross is not None

    def pieces(self) -> list[np.ndarray]:
        """The painted path split at its NaN rows (each piece at least two vertices)."""
        line = self.line if self.line is not None else self.xy
        if len(line) < 2:
            return []
        breaks = np.flatnonzero(np.isnan(line[:, 0]))
        if not len(breaks):
            return [line]
        parts = [p[1:] if np.isnan(p[0, 0]) else p for p in np.split(line, breaks) if len(p)]
        return [p for p in parts if len(p) >= 2]


def clip_point_to_rect(a: tuple[float, float], b: tuple[float, float], rect: QRectF) -> tuple[float, float]:
    """Where segment a → b leaves ``rect`` (b itself when it is inside, or when a → b misses it)."""
    from gdstudio.ui.views._paths import clip_segments

    lo = np.array([rect.left(), rect.top()])
    hi = np.array([rect.right(), rect.bottom()])
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    _, end, visible = clip_segments(np.array([a], float), np.array([b], float), lo, hi)
    return (float(end[0, 0]), float(end[0, 1])) if visible[0] else b


class RunsLayer(pg.GraphicsObject):
    """Every run's path, step dots, start ring, head and divergence cross in one item.

    One ``paint`` with a few QPainter calls per run replaces five pyqtgraph items per run
    (ScatterPlotItem.setData alone cost ~0.3 ms per call). Paths and dots use cosmetic pens
    in data coordinates; markers are drawn in device pixels, so they keep their size at any
    zoom. Painting order: all paths, all dots, all start rings, all heads, all crosses.
    The item's extent is the view's clip box (:meth:`set_box`); it never takes part in
    auto-ranging (``dataBounds`` is None), so no run — however far it went — sets the axes.
    """

    PAD_PX = 14.0

    def __init__(self) -> None:
        super().__init__()
        self._runs: list[DrawnRun] = []
        self._polys: list[list[QPolygonF]] = []
        self._pairs: list[QPolygonF | None] = []
        self._dots: list[QPolygonF] = []
        self._colors: dict[str, QColor] = {}
        self._rect = QRectF()
        self._start_override: dict[Hashable, tuple[float, float]] = {}
        #: Paint paths and dots through an image extended step by step (see _cached_trails).
        self.cache_trails = True
        #: Line widths and marker sizes × this (presentation mode: gdstudio.ui.presentation).
        self._scale = 1.0
        self._trail_cache: tuple[tuple, QImage, dict[Hashable, tuple[int, np.ndarray]]] | None = None

    # -- data ----------------------------------------------------------------------------
    def set_box(self, lo: tuple[float, float], hi: tuple[float, float]) -> None:
        """The clip box (plot coordinates): everything drawn lies in it."""
        rect = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
            self.update()

    @property
    def presentation_scale(self) -> float:
        return self._scale

    @presentation_scale.setter
    def presentation_scale(self, factor: float) -> None:
        self._scale = float(factor)
        self.update()

    def set_runs(self, runs: list[DrawnRun]) -> None:
        """The runs to paint (already clipped and thinned by the view)."""
        self._runs = runs
        self._polys = [[_qpolygon(piece) for piece in r.pieces()] if r.segments is None else [] for r in runs]
        self._pairs = [_qpolygon(r.segments) if r.segments is not None else None for r in runs]
        self._dots = [_qpolygon(r.dots if r.dots is not None else r.xy) for r in runs]
        self.update()

    def set_start_override(self, key: Hashable, xy: tuple[float, float] | None) -> None:
        """Draw run ``key``'s start ring at ``xy`` (during a drag); None restores it."""
        if xy is None:
            self._start_override.pop(key, None)
        else:
            self._start_override[key] = (float(xy[0]), float(xy[1]))
        self.update()

    def runs(self) -> list[DrawnRun]:
        return list(self._runs)

    def start_of(self, run: DrawnRun) -> tuple[float, float] | None:
        if run.key in self._start_override:
            return self._start_override[run.key]
        return run.start

    # -- QGraphicsItem -------------------------------------------------------------------
    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        return None

    def boundingRect(self) -> QRectF:
        rect = QRectF(self._rect)
        for x, y in self._start_override.values():
            rect = rect.united(QRectF(x, y, 0.0, 0.0))
        px, py = self.pixelVectors()
        if px is None:
            return rect
        dx = abs(px.x()) + abs(py.x())
        dy = abs(px.y()) + abs(py.y())
        pad_x, pad_y = dx * self.PAD_PX * self._scale, dy * self.PAD_PX * self._scale
        return rect.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def _color(self, name: str) -> QColor:
        c = self._colors.get(name)
        if c is None:
            c = self._colors[name] = QColor(name)
        return c

    def _paint_trails(self, painter: QPainter) -> None:
        """Every run's path and step dots (the clipped, thinned geometry of :meth:`set_runs`)."""
        k = self._scale
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for r, polys, pairs in zip(self._runs, self._polys, self._pairs, strict=True):
            if polys or pairs is not None:
                painter.setPen(_cosmetic(self._color(r.color), 2.0 * k))
                for poly in polys:
                    painter.drawPolyline(poly)
                if pairs is not None and pairs.size():
                    painter.drawLines(pairs)  # type: ignore[call-overload]  # point pairs (the stubs omit QPolygonF)
        for r, poly in zip(self._runs, self._dots, strict=True):
            if r.n > 1 and poly.size():
                painter.setPen(_cosmetic(self._color(r.color), 5.0 * k, Qt.PenCapStyle.RoundCap))
                painter.drawPoints(poly)

    def _extend_trails(self, painter: QPainter, drawn: dict[Hashable, tuple[int, np.ndarray]]) -> bool:
        """Draw only what each run added since the cached image was painted; False when that is
        not possible (a run restarted, went back, or left the box: the caller repaints all)."""
        lo = np.array([self._rect.left(), self._rect.top()])
        hi = np.array([self._rect.right(), self._rect.bottom()])
        new: list[tuple[DrawnRun, np.ndarray]] = []
        for r in self._runs:
            before = drawn.get(r.key)
            if before is None or r.n < before[0]:
                return False
            n0, last = before
            if not np.array_equal(r.points[n0 - 1], last):
                return False  # restarted or replaced under the same key (an undo: maybe as long)
            if r.n == n0:
                continue
            pts = r.points[n0 - 1 : r.n]
            if not (np.isfinite(pts).all() and (pts >= lo).all() and (pts <= hi).all()):
                return False  # it leaves the box: the clipped geometry draws it (✕ and all)
            new.append((r, pts))
        k = self._scale
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for r, pts in new:
            painter.setPen(_cosmetic(self._color(r.color), 2.0 * k))
            painter.drawPolyline(_qpolygon(pts))
        for r, pts in new:
            painter.setPen(_cosmetic(self._color(r.color), 5.0 * k, Qt.PenCapStyle.RoundCap))
            painter.drawPoints(_qpolygon(pts[1:]))
        return True

    def _cached_trails(self, painter: QPainter) -> QImage | None:
        """The paths and dots as an image of the painted device, extended step by step while
        the runs grow (painting every path in full each frame cost ~7 ms for 8 runs at
        1920×1080 on a software rasterizer; appending the new segments costs a few µs, and
        drawing the image ~1 ms). None when there is no device to cache for."""
        device = painter.device()
        if device is None or device.width() <= 0 or device.height() <= 0:
            return None
        dpr = float(device.devicePixelRatioF()) if hasattr(device, "devicePixelRatioF") else 1.0
        tr = painter.transform()
        key = (device.width(), device.height(), dpr, tuple(tr.map(QPointF(0, 0)).toTuple()),
               tuple(tr.map(QPointF(1, 1)).toTuple()), self._scale, self._rect.getCoords(),
               tuple((r.key, r.color) for r in self._runs))
        cache = self._trail_cache
        if cache is not None and cache[0] == key:
            image, drawn = cache[1], cache[2]
            p = QPainter(image)
            p.setTransform(tr)
            ok = self._extend_trails(p, drawn)
            p.end()
            if ok:
                self._trail_cache = (key, image, self._trail_state())
                return image
        image = QImage(round(device.width() * dpr), round(device.height() * dpr),
                       QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(dpr)
        image.fill(Qt.GlobalColor.transparent)
        p = QPainter(image)
        p.setTransform(tr)
        self._paint_trails(p)
        p.end()
        self._trail_cache = (key, image, self._trail_state())
        return image

    def _trail_state(self) -> dict[Hashable, tuple[int, np.ndarray]]:
        return {r.key: (r.n, np.array(r.points[r.n - 1], copy=True)) for r in self._runs if r.n >= 1}

    def paint(self, painter: QPainter, *_args) -> None:
        if not self._runs:
            return
        image = self._cached_trails(painter) if self.cache_trails else None
        if image is None:
            self._paint_trails(painter)
        else:
            tr = painter.transform()
            painter.resetTransform()
            painter.drawImage(0, 0, image)
            painter.setTransform(tr)
        k = self._scale
        view = self.getViewBox()
        visible = view.viewRect() if view is not None else None
        tr = painter.transform()
        painter.resetTransform()
        for r in self._runs:  # start rings
            start = self.start_of(r)
            if start is None:
                continue
            p = tr.map(QPointF(*start))
            painter.setPen(_cosmetic(QColor(0, 0, 0, 150), 5.0 * k))
            painter.drawEllipse(p, 7.0 * k, 7.0 * k)
            painter.setPen(_cosmetic(self._color(r.color), 3.0 * k))
            painter.drawEllipse(p, 7.0 * k, 7.0 * k)
        rim = _cosmetic(QColor("#101010"), 1.5 * k)
        for r in self._runs:  # heads
            if r.head is None:
                continue
            p = tr.map(QPointF(*r.head))
            painter.setPen(rim)
            painter.setBrush(self._color(r.color))
            painter.drawEllipse(p, 6.5 * k, 6.5 * k)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for r in self._runs:  # divergence crosses
            if r.cross is None:
                continue
            at = r.cross
            if visible is not None and r.cross_from is not None and not visible.contains(QPointF(*at)):
                at = clip_point_to_rect(r.cross_from, at, visible)
            p = tr.map(QPointF(*at))
            for pen in (_cosmetic(QColor(0, 0, 0, 200), 6.5 * k), _cosmetic(QColor(DIVERGED_COLOR), 4.0 * k)):
                painter.setPen(pen)
                painter.drawLine(p + QPointF(-8 * k, -8 * k), p + QPointF(8 * k, 8 * k))
                painter.drawLine(p + QPointF(-8 * k, 8 * k), p + QPointF(8 * k, -8 * k))
        painter.setTransform(tr)


def _qpolygon(xy: np.ndarray) -> QPolygonF:
    if len(xy) == 0:
        return QPolygonF()
    poly = pg.functions.create_qpolygonf(len(xy))
    pg.functions.ndarray_from_qpolygonf(poly)[:] = xy
    return poly


#: Paths with at most this many points are drawn exactly.
EXACT_POINTS = 256


def path_keep(xy: np.ndarray, pixel: tuple[float, float], cell_px: float = 1.0) -> np.ndarray:
    """Indices of the points of a path worth drawing at this zoom.

    A point is dropped when it falls in the same ``cell_px`` screen cell as the point before it
    or the one before that (a converged run bouncing between two pixels draws one segment);
    the first and last points are always kept. Short paths are kept whole.
    """
    n = len(xy)
    if n <= EXACT_POINTS:
        return np.arange(n)
    cells = np.floor(xy / (np.asarray(pixel) * cell_px)).astype(np.int64)
    keep = np.ones(n, dtype=bool)
    keep[1:] &= np.any(cells[1:] != cells[:-1], axis=1)
    keep[2:] &= np.any(cells[2:] != cells[:-2], axis=1)
    keep[0] = keep[-1] = True
    return np.flatnonzero(keep)


def dot_keep(xy: np.ndarray, pixel: tuple[float, float], cell_px: float = 4.0) -> np.ndarray:
    """Indices of step dots to draw: the first point in each ``cell_px`` screen cell (dots
    closer than that would merge into a blob anyway). Short paths are kept whole."""
    n = len(xy)
    if n <= EXACT_POINTS:
        return np.arange(n)
    cells = np.floor(xy / (np.asarray(pixel) * cell_px)).astype(np.int64)
    key = (cells[:, 0] - cells[:, 0].min()) * (int(np.ptp(cells[:, 1])) + 1) + (cells[:, 1] - cells[:, 1].min())
    _, first = np.unique(key, return_index=True)
    return np.sort(first)


def _cosmetic(color: QColor, width: float, cap: Qt.PenCapStyle = Qt.PenCapStyle.RoundCap) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)
    pen.setCapStyle(cap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen
