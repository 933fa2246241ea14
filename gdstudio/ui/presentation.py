"""Presentation mode's type scale: fonts, line widths and markers of any widget × a factor.

:func:`scale_fonts` walks a widget tree: Qt widgets get a scaled font; inside pyqtgraph views,
axes get scaled tick fonts, pens and tick lengths, text items scaled fonts, curves scaled pen
widths and scatter markers scaled sizes. The originals are remembered on first use, so
``scale_fonts(w, 1.0)`` restores them exactly and scaling twice never compounds.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QWidget

__all__ = ["scale_fonts"]

_ORIGINAL = "_gdstudio_presentation_original"


def _remember(obj: object, value: object) -> object:
    """The value saved on ``obj`` the first time (its unscaled state)."""
    saved = getattr(obj, _ORIGINAL, None)
    if saved is None:
        try:
            setattr(obj, _ORIGINAL, value)
        except (AttributeError, TypeError):
            return value
        return value
    return saved


def _scaled_font(font: QFont, factor: float) -> QFont:
    out = QFont(font)
    size = font.pointSizeF()
    if size > 0:
        out.setPointSizeF(size * factor)
    elif font.pixelSize() > 0:
        out.setPixelSize(max(1, round(font.pixelSize() * factor)))
    return out


def _scaled_pen(pen: QPen, factor: float) -> QPen:
    out = QPen(pen)
    out.setWidthF(max(1.0, pen.widthF()) * factor if pen.widthF() > 0 or factor != 1.0 else pen.widthF())
    return out


def _scale_item(item: object, factor: float) -> None:
    if hasattr(item, "presentation_scale"):  # items that scale their own lines and markers
        item.presentation_scale = factor  # type: ignore[attr-defined]
    elif isinstance(item, pg.AxisItem):
        font = _remember(item, QFont(item.style.get("tickFont") or item.font()))
        item.setStyle(tickFont=_scaled_font(font, factor))  # type: ignore[arg-type]
        label_font = getattr(item, "_gdstudio_label_font", None)
        if label_font is None:
            label_font = QFont(item.label.font())
            item._gdstudio_label_font = label_font  # type: ignore[attr-defined]
            item._gdstudio_label_size = item.labelStyle.get("font-size")  # type: ignore[attr-defined]
        item.label.setFont(_scaled_font(label_font, factor))
        size = item._gdstudio_label_size  # type: ignore[attr-defined]
        points = label_font.pointSizeF() if label_font.pointSizeF() > 0 else 9.0
        if isinstance(size, str) and size.endswith("pt"):
            points = float(size[:-2])
        # The label is HTML whose font-size overrides the item's font: scale the style.
        item.labelStyle["font-size"] = f"{points * factor:.1f}pt"
        item._updateLabel()
        item.setPen(_scaled_pen(_remember_pen(item, item.pen()), factor))
    elif isinstance(item, pg.TextItem):
        font = _remember(item, QFont(item.textItem.font()))
        item.setFont(_scaled_font(font, factor))  # type: ignore[arg-type]
    elif isinstance(item, pg.LabelItem):
        size = _remember(item, item.opts.get("size"))
        if isinstance(size, str) and size.endswith("pt"):
            item.setText(item.text, size=f"{float(size[:-2]) * factor:.1f}pt")
    elif isinstance(item, pg.PlotCurveItem):
        pen = _remember(item, QPen(item.opts["pen"]))
        item.setPen(_scaled_pen(pen, factor))  # type: ignore[arg-type]
    elif isinstance(item, pg.ScatterPlotItem):
        size = _remember(item, float(item.opts.get("size", 7)))
        item.setSize(float(size) * factor)  # type: ignore[arg-type]


def _remember_pen(item: object, pen: QPen) -> QPen:
    saved = getattr(item, "_gdstudio_pen", None)
    if saved is None:
        saved = QPen(pen)
        item._gdstudio_pen = saved  # type: ignore[attr-defined]
    return saved


def scale_fonts(widget: QWidget, factor: float) -> None:
    """Scale ``widget``'s tree to ``factor`` × its original fonts, lines and markers."""
    widgets = [widget, *widget.findChildren(QWidget)]
    # Remember every original first: a child inherits its parent's font, so scaling the parent
    # before reading the child would make the child's scaled font its "original" (compounding).
    originals = [_remember(w, QFont(w.font())) for w in widgets]
    for w, font in zip(widgets, originals, strict=True):
        w.setFont(_scaled_font(font, factor))  # type: ignore[arg-type]
        if isinstance(w, pg.GraphicsView):
            for item in w.scene().items():
                _scale_item(item, factor)
