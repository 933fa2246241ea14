"""Drawn over a :class:`~gdstudio.ui.views.contour.ContourView`: the inspector's highlighted arrow
and the slow-motion stages of one step.

:class:`StepOverlay` adds its own pyqtgraph items to a contour view's plot (the contour knows
nothing of it) and keeps, next to each drawn item, the data it was drawn from
(:attr:`StepOverlay.highlighted`, :attr:`StepOverlay.drawn`), so a test can compare what is on
screen with the engine's numbers.

* :meth:`StepOverlay.highlight` draws one quantity's arrow (the row hovered in the Step
  inspector) from its origin along its vector: at its true length when that is between
  :data:`MIN_PX` and :data:`MAX_FRACTION` of the view, else shortened or lengthened along the
  same direction, with a label at the tip.
* :meth:`StepOverlay.show_frame` draws a :class:`SceneFrame` of the slow motion: arrows whose tip
  is exactly ``origin + vector`` (tip-to-tail sums stay sums on screen), an axis-aligned ellipse
  for a per-axis preconditioner, a moving point, and a caption.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsEllipseItem

from gdstudio.ui.views._pg import arrow_segments, mk_pen

__all__ = ["HIGHLIGHT_COLOR", "MAX_FRACTION", "MIN_PX", "DrawnArrow", "Highlight", "SceneFrame", "StepOverlay",
           "plot_text"]

#: The hovered quantity's arrow.
HIGHLIGHT_COLOR = "#FFD84D"
#: A highlighted arrow is drawn at its true length when it spans at least this many pixels …
MIN_PX = 18.0
#: … and at most this fraction of the view's smaller side; otherwise it is rescaled (direction kept).
MAX_FRACTION = 0.35
_Z = 40  # above the contour's own arrows (20)
#: Height kept free for the slow-motion caption (four lines) at the top of the view, in pixels.
CAPTION_PX = 80


@dataclass(frozen=True)
class Highlight:
    """What the highlight shows: ``vector`` (data units) drawn from ``origin``; ``drawn_scale``
    is the factor its length was multiplied by on screen (1 at true length)."""

    kind: str
    origin: np.ndarray
    vector: np.ndarray
    label: str
    drawn_scale: float = 1.0


@dataclass(frozen=True)
class DrawnArrow:
    """One slow-motion arrow: from ``origin`` to ``origin + vector`` (data units), exactly."""

    name: str
    origin: np.ndarray
    vector: np.ndarray
    color: str
    label: str = ""
    width: float = 2.6
    dim: bool = False
    #: Where along the arrow its label sits (0 origin, 1 tip).
    label_at: float = 0.55

    @property
    def tip(self) -> np.ndarray:
        return self.origin + self.vector


@dataclass(frozen=True)
class SceneFrame:
    """One picture of a slow-motion step: arrows, an optional ellipse (centre, half-axes), an
    optional point (θ moving) and a caption (the stage's label)."""

    arrows: tuple[DrawnArrow, ...] = ()
    ellipse: tuple[np.ndarray, np.ndarray] | None = None
    ellipse_label: str = ""
    point: np.ndarray | None = None
    caption: str = ""
    extra: dict[str, object] = field(default_factory=dict)


_SPACING_MARKS = str.maketrans({"\u0302": "\u02c6", "\u0303": "\u02dc", "\u0304": "\u02c9"})


def plot_text(text: str) -> str:
    """Text for a pyqtgraph TextItem: combining accents (m̂) become spacing ones (mˆ), which the
    item's flipped transform would otherwise draw a line too high."""
    return text.translate(_SPACING_MARKS)


class StepOverlay:
    """The inspector's highlight and the slow motion, drawn on ``contour``'s plot."""

    def __init__(self, contour) -> None:
        self.contour = contour
        plot = contour.plot_item
        self._hl_curve = pg.PlotCurveItem(connect="pairs", pen=mk_pen(HIGHLIGHT_COLOR, 4.0), antialias=True)
        self._hl_label = pg.TextItem(color=HIGHLIGHT_COLOR, anchor=(0, 1))
        self._arrows: list[tuple[pg.PlotCurveItem, pg.TextItem]] = []
        self._ellipse = QGraphicsEllipseItem()
        self._ellipse.setPen(mk_pen("#7FDBFF", 2.0))
        self._ellipse_label = pg.TextItem(color="#7FDBFF", anchor=(0, 1))
        self._point = pg.ScatterPlotItem(size=14, brush=pg.mkBrush("#FFFFFF"), pen=mk_pen("#000000", 1.5))
        self._caption = pg.TextItem(color="#FFFFFF", anchor=(0, 0), fill=pg.mkBrush(15, 17, 22, 170))
        for item in (self._hl_curve, self._hl_label, self._ellipse, self._ellipse_label, self._point, self._caption):
            item.setZValue(_Z)
            plot.addItem(item)
            item.hide()
        self._caption.setZValue(_Z - 5)  # under the arrows
        self.highlighted: Highlight | None = None
        self.frame: SceneFrame | None = None
        contour.view_box.sigRangeChanged.connect(self._redraw)
        contour.view_box.sigResized.connect(self._redraw)

    # ------------------------------------------------------------------ geometry helpers
    def _pixel(self) -> tuple[float, float] | None:
        px = self.contour.view_box.viewPixelSize()
        sx, sy = float(px[0]), float(px[1])
        if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
            return None
        return sx, sy

    def _max_px(self) -> float:
        rect = self.contour.view_box.boundingRect()
        return MAX_FRACTION * max(1.0, min(rect.width(), rect.height()))

    @staticmethod
    def _px_length(vector: np.ndarray, pixel: tuple[float, float]) -> float:
        return float(math.hypot(vector[0] / pixel[0], vector[1] / pixel[1]))

    def display_scale(self, vectors: list[np.ndarray], fraction: float = 0.8) -> float:
        """A factor that makes the longest of ``vectors`` ``fraction`` of the largest arrow length
        (1 when the view has no size yet or every vector is zero)."""
        pixel = self._pixel()
        lengths = [self._px_length(v, pixel) for v in vectors if pixel is not None and np.isfinite(v).all()]
        longest = max(lengths, default=0.0)
        if not longest > 0:
            return 1.0
        return fraction * self._max_px() / longest

    def fit_inside(self, origins: list[np.ndarray], vectors: list[np.ndarray], scale: float,
                   margin: float = 0.06) -> float:
        """``scale``, or smaller, so that every ``origin + scale·vector`` (tip to tail: the vectors
        are added in turn from each origin) stays inside the view, ``margin`` of its size from the
        edges (origins outside the view do not constrain)."""
        (x0, x1), (y0, y1) = self.contour.view_box.viewRange()
        rect = self.contour.view_box.boundingRect()
        top = CAPTION_PX / max(1.0, rect.height())  # the caption's strip at the top
        lo = np.array([x0 + margin * (x1 - x0), y0 + margin * (y1 - y0)])
        edge = np.array([x1 - margin * (x1 - x0), y1 - margin * (y1 - y0)])
        hi = np.array([edge[0], edge[1] - top * (y1 - y0)])
        best = scale
        for origin, vector in zip(origins, vectors, strict=True):
            inside = np.all(origin >= [x0, y0]) and np.all(origin <= [x1, y1])
            if not inside or not np.isfinite(vector).all():
                continue
            for axis in range(2):
                step = vector[axis] * best
                limit = hi[axis] if origin[axis] < hi[axis] else edge[axis]  # (a start under the caption)
                room = (limit - origin[axis]) if step > 0 else (origin[axis] - lo[axis])
                if abs(step) > room > 0:
                    best *= room / abs(step)
        return best

    # ------------------------------------------------------------------ highlight
    def highlight(self, kind: str, origin: np.ndarray, vector: np.ndarray, label: str) -> bool:
        """Draw ``vector`` from ``origin`` as the highlighted arrow; False (nothing drawn) when
        either is not finite or the vector is zero."""
        o = np.asarray(origin, dtype=np.float64).reshape(-1)[:2]
        v = np.asarray(vector, dtype=np.float64).reshape(-1)[:2]
        if o.size == 1:  # one parameter: the arrow runs along w on the loss curve
            o, v = np.array([o[0], np.nan]), np.array([v[0], 0.0])
        if not (np.isfinite(v).all() and np.isfinite(o[:1]).all()) or not np.any(v):
            self.clear_highlight()
            return False
        self.highlighted = Highlight(kind, o.copy(), v.copy(), label)
        self._draw_highlight()
        return True

    def clear_highlight(self) -> None:
        self.highlighted = None
        self._hl_curve.hide()
        self._hl_label.hide()

    def _draw_highlight(self) -> None:
        h = self.highlighted
        pixel = self._pixel()
        if h is None or pixel is None:
            self._hl_curve.hide()
            self._hl_label.hide()
            return
        origin = h.origin
        if not np.isfinite(origin[1]):  # 1-D: the run's point on the loss curve
            origin = np.array([origin[0], self._curve_y(origin[0])])
        length = self._px_length(h.vector, pixel)
        shown = min(max(length, MIN_PX), self._max_px())
        scale = shown / length if length > 0 else 1.0
        self.highlighted = Highlight(h.kind, h.origin, h.vector, h.label, scale)
        seg = arrow_segments(origin[None], h.vector[None], np.array([shown]), pixel, head_px=11.0)
        if not len(seg):
            self._hl_curve.hide()
            self._hl_label.hide()
            return
        self._hl_curve.setData(seg[:, 0], seg[:, 1], connect="pairs")
        self._hl_curve.show()
        self._hl_label.setText(plot_text(h.label if scale == 1.0 else f"{h.label} (drawn ×{scale:.3g})"))
        self._hl_label.setPos(float(seg[1, 0]), float(seg[1, 1]))
        self._hl_label.show()

    def _curve_y(self, x: float) -> float:
        s = getattr(self.contour, "_surface", None)
        if s is None:
            return 0.0
        y = float(np.interp(x, s.xs, s.z))
        fn = getattr(self.contour, "_y_1d", None)
        return float(fn(np.array([y]))[0]) if fn is not None else y

    def highlight_segments(self) -> np.ndarray:
        """The highlighted arrow's drawn line segments ((6, 2): shaft then the two head strokes)."""
        if not self._hl_curve.isVisible():
            return np.empty((0, 2))
        x, y = self._hl_curve.getData()
        return np.column_stack([x, y])

    # ------------------------------------------------------------------ slow motion
    def show_frame(self, frame: SceneFrame | None) -> None:
        """Draw one slow-motion picture (None clears it)."""
        self.frame = frame
        self._draw_frame()

    def arrow_segments(self, name: str) -> np.ndarray:
        """The drawn segments of the slow-motion arrow ``name`` ((6, 2)); empty when not drawn."""
        if self.frame is None:
            return np.empty((0, 2))
        for (curve, _label), arrow in zip(self._arrows, self.frame.arrows, strict=False):
            if arrow.name == name and curve.isVisible():
                x, y = curve.getData()
                return np.column_stack([x, y])
        return np.empty((0, 2))

    def _arrow_item(self, i: int) -> tuple[pg.PlotCurveItem, pg.TextItem]:
        while len(self._arrows) <= i:
            curve = pg.PlotCurveItem(connect="pairs", antialias=True)
            label = pg.TextItem(anchor=(0, 1))
            for item in (curve, label):
                item.setZValue(_Z - 1)
                self.contour.plot_item.addItem(item)
            self._arrows.append((curve, label))
        return self._arrows[i]

    def _draw_frame(self) -> None:
        frame, pixel = self.frame, self._pixel()
        arrows = frame.arrows if frame is not None and pixel is not None else ()
        for i, arrow in enumerate(arrows):
            assert pixel is not None
            curve, label = self._arrow_item(i)
            length = self._px_length(arrow.vector, pixel)
            seg = arrow_segments(arrow.origin[None], arrow.vector[None], np.array([length]), pixel, head_px=10.0)
            if not len(seg) or not np.isfinite(seg).all():
                curve.hide()
                label.hide()
                continue
            seg[1] = seg[2] = seg[4] = arrow.tip  # the tip exactly at origin + vector
            alpha = 110 if arrow.dim else None
            curve.setPen(mk_pen(arrow.color, arrow.width, alpha=alpha))
            curve.setData(seg[:, 0], seg[:, 1], connect="pairs")
            curve.show()
            if arrow.label and not arrow.dim:
                label.setColor(arrow.color)
                label.setText(plot_text(arrow.label))
                at = arrow.origin + arrow.label_at * arrow.vector
                label.setPos(float(at[0]), float(at[1]))
                label.show()
            else:
                label.hide()
        for curve, label in self._arrows[len(arrows):]:
            curve.hide()
            label.hide()
        if frame is not None and frame.ellipse is not None:
            centre, half = frame.ellipse
            self._ellipse.setRect(float(centre[0] - half[0]), float(centre[1] - half[1]),
                                  float(2 * half[0]), float(2 * half[1]))
            self._ellipse.show()
            self._ellipse_label.setText(plot_text(frame.ellipse_label))
            self._ellipse_label.setPos(float(centre[0] - half[0]), float(centre[1] + half[1]))  # above its top
            self._ellipse_label.setVisible(bool(frame.ellipse_label))
        else:
            self._ellipse.hide()
            self._ellipse_label.hide()
        if frame is not None and frame.point is not None and np.isfinite(frame.point).all():
            self._point.setData([float(frame.point[0])], [float(frame.point[1])])
            self._point.show()
        else:
            self._point.hide()
        if frame is not None and frame.caption:
            (x0, _x1), (_y0, y1) = self.contour.view_box.viewRange()
            self._caption.setText(plot_text(frame.caption))
            self._caption.setPos(x0, y1)
            self._caption.show()
        else:
            self._caption.hide()

    def _redraw(self, *_args: object) -> None:
        if self.highlighted is not None:
            self._draw_highlight()
        if self.frame is not None:
            self._draw_frame()

    def close(self) -> None:
        """Remove the items from the plot and stop following the view."""
        for signal in (self.contour.view_box.sigRangeChanged, self.contour.view_box.sigResized):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(self._redraw)
        plot = self.contour.plot_item
        items = [self._hl_curve, self._hl_label, self._ellipse, self._ellipse_label, self._point, self._caption]
        for curve, label in self._arrows:
            items += [curve, label]
        for item in items:
            with contextlib.suppress(RuntimeError, ValueError):
                plot.removeItem(item)
        self._arrows.clear()
