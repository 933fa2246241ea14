"""Icons Qt's standard set lacks, drawn with QPainter (no image files to ship or to lose).

``ICONS[name]()`` returns a QIcon; an action names one as ``draw:NAME`` (see actions.py).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

__all__ = ["ICONS", "icon"]


def _race(size: int = 32) -> QIcon:
    """A chequered flag on a pole: the race."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor("#505050"), size / 14))
    p.drawLine(QPointF(size * 0.2, size * 0.08), QPointF(size * 0.2, size * 0.95))
    left, top, w, h = size * 0.24, size * 0.1, size * 0.66, size * 0.46
    cells = 4
    cw, ch = w / cells, h / 3
    p.setPen(Qt.PenStyle.NoPen)
    for i in range(cells):
        for j in range(3):
            p.setBrush(QColor("#202020") if (i + j) % 2 == 0 else QColor("#F4F4F4"))
            p.drawRect(QRectF(left + i * cw, top + j * ch, cw, ch))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(QColor("#202020"), 1))
    p.drawPolygon(QPolygonF([QPointF(left, top), QPointF(left + w, top), QPointF(left + w, top + h),
                             QPointF(left, top + h)]))
    p.end()
    return QIcon(pix)


ICONS: dict[str, Callable[[], QIcon]] = {"race": _race}


def icon(name: str) -> QIcon:
    """The drawn icon ``name`` (KeyError naming the known ones otherwise)."""
    try:
        return ICONS[name]()
    except KeyError:
        raise KeyError(f"Unknown icon {name!r} (known: {', '.join(ICONS)})") from None
