"""A PNG of the smoothed training-loss curves, drawn with Pillow alone (no matplotlib, no Qt).

Axes with "nice" ticks (1, 2, 5 × 10ᵏ), one coloured line per optimizer (a NaN breaks the line),
and a legend with each optimizer's final test accuracy. The y range runs from 0 (or the
smallest decade on a log axis) to the 98th percentile of the smoothed values, so a first-step
spike (RMSProp's, at the book's η = 0.01) does not flatten every other curve; lines leaving
the frame are clipped.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from gdstudio.plot_axes import default_font, nice_ticks
from gdstudio.train.compare import CompareResult, ema, smooth_curve

__all__ = ["PALETTE", "nice_ticks", "render_curves", "smoothed"]

#: Line colours (matplotlib's "tab10", in its order).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def _label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}"
    return f"{v:g}"


def smoothed(values: np.ndarray, how: str) -> np.ndarray:
    """``how``: ``kaiser`` (the book's window), ``ema`` (α = 0.95) or ``none``."""
    if how == "kaiser":
        return smooth_curve(values)
    if how == "ema":
        return ema(values, 0.95)
    if how == "none":
        return np.asarray(values, dtype=np.float64)
    raise ValueError(f"Invalid smooth value: {how!r} (must be kaiser, ema or none)")


def render_curves(
    result: CompareResult,
    *,
    smooth: str = "kaiser",
    size: tuple[int, int] = (960, 600),
    log_y: bool = False,
    title: str | None = None,
) -> Image.Image:
    """An RGB image of the smoothed loss curves of ``result``."""
    width, height = size
    if width < 200 or height < 150:
        raise ValueError(f"Invalid size value: {size!r} (must be at least 200×150)")
    curves = {l: smoothed(result.losses[l], smooth) for l in result.labels}
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font, small = default_font(15), default_font(12)
    left, right, top, bottom = 72, 20, 44, 56
    pw, ph = width - left - right, height - top - bottom

    n = max(result.completed, 1)
    x_lo, x_hi = 1.0, float(max(n, 2))
    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values()] or [np.empty(0)])
    if log_y:
        finite = finite[finite > 0]
    if finite.size == 0:
        y_lo, y_hi = (0.1, 10.0) if log_y else (0.0, 1.0)
    elif log_y:
        y_lo = 10 ** math.floor(math.log10(float(finite.min())))
        y_hi = 10 ** math.ceil(math.log10(float(np.percentile(finite, 98))))
        y_hi = max(y_hi, y_lo * 10)
    else:
        y_lo = 0.0
        top_v = float(np.percentile(finite, 98))
        y_hi = nice_ticks(0.0, top_v * 1.05 if top_v > 0 else 1.0)[-1]
        if y_hi < top_v:
            y_hi = top_v * 1.05
        if y_hi <= 0:
            y_hi = 1.0

    def fy(v: np.ndarray) -> np.ndarray:
        if log_y:
            with np.errstate(all="ignore"):
                t = (np.log10(v) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo))
        else:
            t = (v - y_lo) / (y_hi - y_lo)
        return (1.0 - t) * ph

    def fx(v: np.ndarray) -> np.ndarray:
        return (v - x_lo) / (x_hi - x_lo) * pw

    # grid and ticks
    xt = [t for t in nice_ticks(0.0, x_hi, 8) if t >= x_lo - 1e-9 or t == 0]
    for t in xt:
        px = left + float(fx(np.array([max(t, x_lo)]))[0])
        draw.line([(px, top), (px, top + ph)], fill="#e6e6e6")
        draw.line([(px, top + ph), (px, top + ph + 5)], fill="black")
        text = _label(t)
        draw.text((px - draw.textlength(text, font=small) / 2, top + ph + 8), text, fill="black", font=small)
    if log_y:
        yt = [10.0**k for k in range(round(math.log10(y_lo)), round(math.log10(y_hi)) + 1)]
    else:
        yt = nice_ticks(y_lo, y_hi, 6)
    for t in yt:
        py = top + float(fy(np.array([t]))[0])
        draw.line([(left, py), (left + pw, py)], fill="#e6e6e6")
        draw.line([(left - 5, py), (left, py)], fill="black")
        text = _label(t)
        draw.text((left - 8 - draw.textlength(text, font=small), py - 7), text, fill="black", font=small)

    # curves, drawn on a plot-sized layer so anything outside the frame is clipped
    layer = Image.new("RGBA", (pw, ph), (0, 0, 0, 0))
    ld = ImageDraw.Draw(layer)
    xs = fx(np.arange(1, result.completed + 1, dtype=np.float64))
    for k, label in enumerate(result.labels):
        ys = fy(curves[label])
        colour = PALETTE[k % len(PALETTE)]
        for seg in _segments(xs, ys):
            if len(seg) == 1:
                ld.point(seg, fill=colour)
            else:
                ld.line(seg, fill=colour, width=2, joint="curve")
    img.paste(layer, (left, top), layer)
    draw.rectangle([left, top, left + pw, top + ph], outline="black")

    # labels and legend
    xlabel = "iterations"
    draw.text((left + pw / 2 - draw.textlength(xlabel, font=font) / 2, height - 24), xlabel, fill="black", font=font)
    ylabel = "training loss" + {"kaiser": " (smoothed)", "ema": " (EMA)", "none": ""}[smooth]
    label_img = Image.new("RGBA", (int(draw.textlength(ylabel, font=font)) + 4, 20), (255, 255, 255, 0))
    ImageDraw.Draw(label_img).text((2, 1), ylabel, fill="black", font=font)
    label_img = label_img.rotate(90, expand=True)
    img.paste(label_img, (6, top + ph // 2 - label_img.height // 2), label_img)
    heading = title or f"{result.dataset}: {result.completed} iterations, batch {result.config.batch_size}"
    draw.text((left, 12), heading, fill="black", font=font)

    entries = []
    for label in result.labels:
        acc = result.final_accuracy(label)
        extra = "diverged" if result.diverged.get(label) else (f"test acc {acc:.1%}" if math.isfinite(acc) else "")
        entries.append(f"{label}  {extra}".rstrip())
    lw = max(draw.textlength(e, font=small) for e in entries) + 44
    lx, ly = left + pw - lw - 10, top + 10
    draw.rectangle([lx, ly, lx + lw, ly + 8 + 18 * len(entries)], fill="white", outline="#999999")
    for k, text in enumerate(entries):
        yy = ly + 6 + 18 * k
        draw.line([(lx + 8, yy + 7), (lx + 32, yy + 7)], fill=PALETTE[k % len(PALETTE)], width=3)
        draw.text((lx + 38, yy), text, fill="black", font=small)
    return img


def _segments(xs: np.ndarray, ys: np.ndarray) -> list[list[tuple[float, float]]]:
    """Runs of finite points as polylines (NaN/inf break a line)."""
    ok = np.isfinite(ys)
    segs: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    big = 1e6  # keep far-off points finite for Pillow while preserving direction
    for x, y, good in zip(xs.tolist(), np.clip(ys, -big, big).tolist(), ok.tolist(), strict=True):
        if good:
            cur.append((x, y))
        elif cur:
            segs.append(cur)
            cur = []
    if cur:
        segs.append(cur)
    return segs

