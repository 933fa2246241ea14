"""Axis helpers for the PNGs drawn with Pillow alone (training curves, heat maps): round tick values
and the default font at a size. Qt-free; shared by :mod:`gdstudio.train.plot` and
:mod:`gdstudio.export.heatmap_png`, which may not import each other."""

from __future__ import annotations

import math

from PIL import ImageFont

__all__ = ["default_font", "nice_ticks"]


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 × 10ᵏ) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    ticks = []
    v = math.ceil(lo / step - 1e-9) * step
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


def default_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``size`` pixels (its bitmap font where FreeType or Pillow ≥ 10.1 is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, AttributeError):
        return ImageFont.load_default()
