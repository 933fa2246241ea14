"""A small live preview of a learning-rate schedule: η over the run's steps, as a sparkline.

:meth:`SchedulePreview.set_data` takes what ``preview_schedule`` returns (η for steps 1…N, and the
momentum / β₁ a cyclic or one-cycle schedule sets, or None) and the warm-up length. η is drawn
in the accent colour on a linear axis from 0 to its largest value; the momentum, when there is
one, faintly (dashed) on its own axis; the warm-up's end as a dotted line. Labels give η's
largest and last value and the number of steps.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["SchedulePreview"]

LR_COLOR = "#4FA3FF"
MOMENTUM_COLOR = "#C8A040"
_MAX_POINTS = 600  # more steps than pixels: drawn as min/max per column would be overkill for a sparkline


def _short(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


class SchedulePreview(QWidget):
    """η (and momentum / β₁) over the run's steps; :attr:`lr` / :attr:`momentum` hold the data drawn."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("schedule_preview")
        self.lr: np.ndarray = np.empty(0)
        self.momentum: np.ndarray | None = None
        self.warmup = 0
        #: The step shown by the playback (0 = the start): marked on the curve.
        self.position = 0
        self.setMinimumHeight(84)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("η for each step of the run (step 1 at the left, the run's last step at the right)")

    def sizeHint(self) -> QSize:
        return QSize(220, 96)

    def set_data(self, lr: np.ndarray, momentum: np.ndarray | None = None, warmup: int = 0) -> None:
        """Show η (one value per step) and, when not None, the momentum / β₁ the schedule sets."""
        self.lr = np.asarray(lr, dtype=float)
        self.momentum = None if momentum is None else np.asarray(momentum, dtype=float)
        self.warmup = int(warmup)
        tip = "η for each step of the run (step 1 at the left, the run's last step at the right)"
        if self.momentum is not None:
            tip += "\nfaint dashes: the momentum / β₁ the schedule cycles (own scale)"
        if self.warmup:
            tip += f"\ndotted line: end of the {self.warmup}-step warm-up"
        self.setToolTip(tip)
        self.update()

    def set_position(self, position: int) -> None:
        """Mark the step the playback shows (its η: ``lr[position - 1]``; 0 marks nothing)."""
        if position != self.position:
            self.position = int(position)
            self.update()

    # ---------------------------------------------------------------- drawing
    @staticmethod
    def _polygon(values: np.ndarray, rect: QRectF, lo: float, hi: float) -> QPolygonF:
        n = len(values)
        idx = np.unique(np.linspace(0, n - 1, min(n, _MAX_POINTS)).round().astype(int))
        span = hi - lo if hi > lo else 1.0
        poly = QPolygonF()
        for i in idx:
            v = values[i]
            if not math.isfinite(v):
                continue
            x = rect.left() + (rect.width() * i / (n - 1) if n > 1 else rect.width() / 2)
            y = rect.bottom() - rect.height() * (v - lo) / span
            poly.append(QPointF(x, y))
        return poly

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.Text)
        faint = QColor(text)
        faint.setAlpha(110)
        fm = p.fontMetrics()
        h = fm.height()
        rect = QRectF(6, h + 2, max(1, self.width() - 12), max(1, self.height() - 2 * h - 6))
        p.setPen(QPen(faint, 1))
        p.drawLine(rect.bottomLeft(), rect.bottomRight())
        finite = self.lr[np.isfinite(self.lr)] if len(self.lr) else self.lr
        if len(finite) == 0:
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no steps")
            p.end()
            return
        n = len(self.lr)
        if self.warmup and n > 1 and self.warmup < n:
            x = rect.left() + rect.width() * self.warmup / (n - 1)
            p.setPen(QPen(faint, 1, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        if self.momentum is not None and len(self.momentum):
            m = self.momentum[np.isfinite(self.momentum)]
            if len(m):
                color = QColor(MOMENTUM_COLOR)
                color.setAlpha(150)
                p.setPen(QPen(color, 1.2, Qt.PenStyle.DashLine))
                lo, hi = float(m.min()), float(m.max())
                pad = 0.05 * (hi - lo) if hi > lo else 0.5
                p.drawPolyline(self._polygon(self.momentum, rect, lo - pad, hi + pad))
        top = float(finite.max())
        p.setPen(QPen(QColor(LR_COLOR), 1.8))
        p.drawPolyline(self._polygon(self.lr, rect, min(0.0, float(finite.min())), 1.08 * top if top > 0 else 1.0))
        n_pos = min(self.position, n)
        if n_pos >= 1 and math.isfinite(self.lr[n_pos - 1]):  # the step shown: a dot on the η curve
            x = rect.left() + (rect.width() * (n_pos - 1) / (n - 1) if n > 1 else rect.width() / 2)
            hi = 1.08 * top if top > 0 else 1.0
            lo = min(0.0, float(finite.min()))
            y = rect.bottom() - rect.height() * (self.lr[n_pos - 1] - lo) / (hi - lo if hi > lo else 1.0)
            p.setPen(QPen(faint, 1))
            p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            p.setBrush(QColor(LR_COLOR))
            p.setPen(QPen(text, 1))
            p.drawEllipse(QPointF(x, y), 3.5, 3.5)
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(text)
        p.drawText(QRectF(6, 0, self.width() - 12, h), Qt.AlignmentFlag.AlignLeft,
                   f"η max {_short(top)}   last {_short(float(self.lr[-1]))}")
        if self.momentum is not None and len(self.momentum):
            p.setPen(QColor(MOMENTUM_COLOR))
            lo_m, hi_m = float(np.nanmin(self.momentum)), float(np.nanmax(self.momentum))
            p.drawText(QRectF(6, 0, self.width() - 12, h), Qt.AlignmentFlag.AlignRight,
                       f"β₁/momentum {_short(lo_m)}–{_short(hi_m)}")
        p.setPen(faint)
        bottom = QRectF(6, self.height() - h - 1, self.width() - 12, h)
        p.drawText(bottom, Qt.AlignmentFlag.AlignLeft,
                   f"step {n_pos}: η {_short(float(self.lr[n_pos - 1]))}" if n_pos >= 1 else "step 1")
        p.drawText(bottom, Qt.AlignmentFlag.AlignRight, f"{n}")
        p.end()
