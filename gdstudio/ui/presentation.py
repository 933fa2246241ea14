"""Presentation mode's type scale: fonts, line widths and markers of any widget × a factor.

:func:`scale_fonts` walks a widget tree: Qt widgets get a scaled font; inside pyqtgraph views,
axes get scaled tick fonts, pens and tick lengths, text items scaled fonts, curves scaled pen
widths and scatter markers scaled sizes. The originals are remembered on first use, so
``scale_fonts(w, 1.0)`` restores them exactly and scaling twice never compounds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QWidget

__all__ = ["scale_fonts"]

_ORIGINAL = "_gdstudio_presentation_original"


def _original(obj: object, key: str, current: Callable[[], object]) -> object:
    """``obj``'s unscaled ``key`` (e.g. its font): ``current()`` the first time, remembered on
    ``obj``, so a second scaling never starts from a scaled value (None is remembered too)."""
    saved = obj.__dict__.setdefault(_ORIGINAL, {})
    if key not in saved:
        saved[key] = current()
    return saved[key]


def _scaled_font(font: QFont, factor: float) -> QFont:
    out = QFont(font)
    size = font.pointSizeF()
    if size > 0:
        out.setPointSizeF(size * factor)
    elif font.pixelSize() > 0:
        out.setPixelSize(max(1, round(font.pixelSize() * factor)))
    return out


def _scaled_pen(pen: QPen, factor: float) -> QPen:
    """``pen`` × ``factor`` (a 0-width cosmetic pen draws 1 px wide); × 1 is ``pen`` itself."""
    out = QPen(pen)
    if factor != 1.0:
        out.setWidthF((pen.widthF() or 1.0) * factor)
    return out


def _scale_item(item: object, factor: float) -> None:
    if hasattr(item, "presentation_scale"):  # items that scale their own lines and markers
        item.presentation_scale = factor  # type: ignore[attr-defined]
    elif isinstance(item, pg.AxisItem):
        font = _original(item, "tick_font", lambda: QFont(item.style.get("tickFont") or item.font()))
        item.setStyle(tickFont=_scaled_font(font, factor))  # type: ignore[arg-type]
        label_font = _original(item, "label_font", lambda: QFont(item.label.font()))
        item.label.setFont(_scaled_font(label_font, factor))  # type: ignore[arg-type]
        size = _original(item, "label_size", lambda: item.labelStyle.get("font-size"))
        points = label_font.pointSizeF() if label_font.pointSizeF() > 0 else 9.0  # type: ignore[attr-defined]
        if isinstance(size, str) and size.endswith("pt"):
            points = float(size[:-2])
        # The label is HTML whose font-size overrides the item's font: scale the style.
        item.labelStyle["font-size"] = f"{points * factor:.1f}pt"
        item._updateLabel()
        item.setPen(_scaled_pen(_original(item, "pen", lambda: QPen(item.pen())), factor))  # type: ignore[arg-type]
    elif isinstance(item, pg.TextItem):
        font = _original(item, "font", lambda: QFont(item.textItem.font()))
        item.setFont(_scaled_font(font, factor))  # type: ignore[arg-type]
    elif isinstance(item, pg.LabelItem):
        size = _original(item, "size", lambda: item.opts.get("size"))
        if isinstance(size, str) and size.endswith("pt"):
            item.setText(item.text, size=f"{float(size[:-2]) * factor:.1f}pt")
    elif isinstance(item, pg.PlotCurveItem):
        pen = _original(item, "pen", lambda: QPen(item.opts["pen"]))
        item.setPen(_scaled_pen(pen, factor))  # type: ignore[arg-type]
    elif isinstance(item, pg.ScatterPlotItem):
        size = _original(item, "size", lambda: float(item.opts.get("size", 7)))
        item.setSize(float(size) * factor)  # type: ignore[arg-type]


def _font_copy(widget: QWidget) -> QFont:
    return QFont(widget.font())


def scale_fonts(widget: QWidget, factor: float) -> None:
    """Scale ``widget``'s tree to ``factor`` × its original fonts, lines and markers."""
    widgets = [widget, *widget.findChildren(QWidget)]
    # Remember every original first: a child inherits its parent's font, so scaling the parent
    # before reading the child would make the child's scaled font its "original" (compounding).
    originals = [_original(w, "font", functools.partial(_font_copy, w)) for w in widgets]
    for w, font in zip(widgets, originals, strict=True):
        w.setFont(_scaled_font(font, factor))  # type: ignore[arg-type]
        if isinstance(w, pg.GraphicsView):
            for item in w.scene().items():
                _scale_item(item, factor)
