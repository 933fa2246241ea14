"""PNG heat maps and curves with axes, a colour bar and a title, drawn with Pillow alone (Qt-free).

For `gdstudio basins` and `gdstudio sweep`: :func:`heatmap_png` draws a (ny, nx) RGB cell image
over x and y ranges (linear or log axes, "nice" ticks of 1, 2, 5 × 10ᵏ, decades on a log axis)
with either a continuous colour bar (viridis, linear or log) or a categorical legend bar
(labelled swatches); :func:`curve_png` a curve y(x) with marked points (diverged cells).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from gdstudio.plot_axes import default_font, nice_ticks

__all__ = [
    "CATEGORY_COLOURS", "DIVERGED_RGB", "NONE_RGB", "PNG_SIZE", "ColourBar", "Swatches", "curve_png", "heatmap_png",
    "viridis",
]

#: Width × height of every PNG.
PNG_SIZE = (800, 600)
#: Colours of categories (the minima): matplotlib's tab10.
CATEGORY_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                    (227, 119, 194), (188, 189, 34), (23, 190, 207), (127, 127, 127)]
DIVERGED_RGB = (0, 0, 0)
NONE_RGB = (200, 200, 200)

# viridis at 0, 1/8, … 1 (matplotlib's values, rounded)
_VIRIDIS = np.array([[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129],
                     [92, 200, 99], [170, 220, 50], [253, 231, 37]], dtype=np.float64)


def viridis(t: np.ndarray) -> np.ndarray:
    """RGB uint8 (..., 3) of values ``t`` in [0, 1] (clipped; NaN → 0)."""
    t = np.clip(np.nan_to_num(np.asarray(t, dtype=np.float64), nan=0.0), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    lo = np.minimum(np.floor(t).astype(np.int64), len(_VIRIDIS) - 2)
    frac = (t - lo)[..., None]
    rgb = _VIRIDIS[lo] * (1 - frac) + _VIRIDIS[lo + 1] * frac
    return np.rint(rgb).astype(np.uint8)


def _log_ticks(lo: float, hi: float) -> list[float]:
    first, last = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    every = max(1, math.ceil((last - first + 1) / 8))  # at most ~8 decades labelled
    ticks = [10.0**k for k in range(first, last + 1) if (k - first) % every == 0]
    return ticks if len(ticks) >= 2 else [lo, hi]


def _label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}"
    return f"{v:.3g}"


@dataclass(frozen=True)
class ColourBar:
    """A continuous colour bar: viridis from ``lo`` to ``hi`` (log10 scale when ``log``)."""

    lo: float
    hi: float
    log: bool
    label: str


@dataclass(frozen=True)
class Swatches:
    """A categorical legend bar: (label, RGB) per category."""

    items: Sequence[tuple[str, tuple[int, int, int]]]


@dataclass(frozen=True)
class _Axis:
    lo: float
    hi: float
    log: bool
    label: str

    def frac(self, v: float) -> float:
        if self.log:
            return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[float]:
        return _log_ticks(self.lo, self.hi) if self.log else nice_ticks(self.lo, self.hi)


def _axis(lo: float, hi: float, log: bool, label: str) -> _Axis:
    if not (math.isfinite(lo) and math.isfinite(hi)) or (log and (lo <= 0 or hi <= 0)):
        lo, hi, log = 0.0, 1.0, False
    if hi <= lo:  # a single value: a unit-wide (or a decade-wide) range around it
        lo, hi = (lo / math.sqrt(10), lo * math.sqrt(10)) if log else (lo - 0.5, hi + 0.5)
    return _Axis(lo, hi, log, label)


_LEFT, _RIGHT, _TOP, _BOTTOM = 80, 170, 44, 60


def _frame(title: str, xa: _Axis, ya: _Axis) -> tuple[Image.Image, ImageDraw.ImageDraw, tuple[int, int, int, int]]:
    width, height = PNG_SIZE
    img = Image.new("RGB", PNG_SIZE, "white")
    draw = ImageDraw.Draw(img)
    font = default_font(15)
    pw, ph = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    draw.text((_LEFT, 12), title, fill="black", font=font)
    draw.text((_LEFT + pw / 2 - draw.textlength(xa.label, font=font) / 2, height - 26), xa.label, fill="black",
              font=font)
    label_img = Image.new("RGBA", (int(draw.textlength(ya.label, font=font)) + 4, 20), (255, 255, 255, 0))
    ImageDraw.Draw(label_img).text((2, 1), ya.label, fill="black", font=font)
    label_img = label_img.rotate(90, expand=True)
    img.paste(label_img, (6, _TOP + ph // 2 - label_img.height // 2), label_img)
    return img, draw, (_LEFT, _TOP, pw, ph)


def _ticks(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], xa: _Axis, ya: _Axis) -> None:
    left, top, pw, ph = box
    small = default_font(12)
    for t in xa.ticks():
        f = xa.frac(t)
        if -1e-9 <= f <= 1 + 1e-9:
            px = left + f * pw
            draw.line([(px, top + ph), (px, top + ph + 5)], fill="black")
            text = _label(t)
            draw.text((px - draw.textlength(text, font=small) / 2, top + ph + 8), text, fill="black", font=small)
    for t in ya.ticks():
        f = ya.frac(t)
        if -1e-9 <= f <= 1 + 1e-9:
            py = top + (1 - f) * ph
            draw.line([(left - 5, py), (left, py)], fill="black")
            text = _label(t)
            draw.text((left - 8 - draw.textlength(text, font=small), py - 7), text, fill="black", font=small)
    draw.rectangle([left, top, left + pw, top + ph], outline="black")


def _colour_bar(img: Image.Image, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
                bar: ColourBar | Swatches) -> None:
    left, top, pw, ph = box
    small = default_font(12)
    x0 = left + pw + 24
    if isinstance(bar, Swatches):
        for k, (text, rgb) in enumerate(bar.items):
            y = top + 6 + 24 * k
            draw.rectangle([x0, y, x0 + 18, y + 16], fill=rgb, outline="black")
            draw.text((x0 + 24, y + 1), text, fill="black", font=small)
        return
    h = ph
    t = np.linspace(1.0, 0.0, h)[:, None].repeat(18, axis=1)
    img.paste(Image.fromarray(viridis(t), "RGB"), (x0, top))
    draw.rectangle([x0, top, x0 + 18, top + h], outline="black")
    axis = _axis(bar.lo, bar.hi, bar.log, bar.label)
    for tick in axis.ticks():
        f = axis.frac(tick)
        if -1e-9 <= f <= 1 + 1e-9:
            py = top + (1 - f) * h
            draw.line([(x0 + 18, py), (x0 + 23, py)], fill="black")
            draw.text((x0 + 26, py - 7), _label(tick), fill="black", font=small)
    draw.text((x0, top + h + 8), bar.label, fill="black", font=small)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def heatmap_png(rgb: np.ndarray, x: tuple[float, float, bool, str], y: tuple[float, float, bool, str], title: str,
                bar: ColourBar | Swatches) -> bytes:
    """A PNG of the (ny, nx, 3) uint8 cells ``rgb`` (row j at y_j, increasing upwards) spanning
    ``x`` = (lo, hi, log, label) and ``y`` likewise (cell centres at the ends), with ``bar``."""
    xa, ya = _axis(*x), _axis(*y)
    img, draw, box = _frame(title, xa, ya)
    left, top, pw, ph = box
    cells = Image.fromarray(np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[::-1]), "RGB")
    img.paste(cells.resize((pw, ph), Image.Resampling.NEAREST), (left, top))
    _ticks(draw, box, xa, ya)
    _colour_bar(img, draw, box, bar)
    return _png(img)


def curve_png(xs: np.ndarray, ys: np.ndarray, x: tuple[bool, str], y: tuple[bool, str], title: str,
              marks: np.ndarray | None = None, mark_label: str = "diverged") -> bytes:
    """A PNG of the curve ``ys`` over ``xs`` (non-finite values break it), ``x``/``y`` = (log,
    label); points where ``marks`` is true are drawn as red crosses at the bottom, with a legend."""
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    xlog, xlabel = x
    ylog, ylabel = y
    good = np.isfinite(ys) & ((ys > 0) if ylog else True)
    finite = ys[good]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if ylog:
            lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    else:
        lo, hi = (0.1, 10.0) if ylog else (0.0, 1.0)
    xa = _axis(float(xs.min()), float(xs.max()), xlog, xlabel)
    ya = _axis(lo, hi, ylog, ylabel)
    img, draw, box = _frame(title, xa, ya)
    left, top, pw, ph = box
    pts = [(left + xa.frac(float(a)) * pw, top + (1 - ya.frac(float(b))) * ph) if ok else None
           for a, b, ok in zip(xs.tolist(), ys.tolist(), good.tolist(), strict=True)]
    seg: list[tuple[float, float]] = []
    for p in [*pts, None]:
        if p is None:
            if len(seg) > 1:
                draw.line(seg, fill=CATEGORY_COLOURS[0], width=2)
            seg = []
        else:
            seg.append(p)
            draw.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=CATEGORY_COLOURS[0])
    if marks is not None:
        for a, m in zip(xs.tolist(), np.asarray(marks, dtype=bool).tolist(), strict=True):
            if m:
                px, py = left + xa.frac(a) * pw, top + ph - 8
                draw.line([(px - 4, py - 4), (px + 4, py + 4)], fill=(214, 39, 40), width=2)
                draw.line([(px - 4, py + 4), (px + 4, py - 4)], fill=(214, 39, 40), width=2)
    _ticks(draw, box, xa, ya)
    _colour_bar(img, draw, box, Swatches([(ylabel, CATEGORY_COLOURS[0]), (mark_label, (214, 39, 40))]))
    return _png(img)
