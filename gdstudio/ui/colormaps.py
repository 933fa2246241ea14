"""Colours shared by the views: the surface colour map and the run palette.

* :data:`SURFACE_MAP` is viridis (perceptually uniform, readable in grey and by colour-blind
  viewers). The contour heat map and the 3-D mesh both colour a value scaled to [0, 1] through
  :func:`lookup_table`, so a colour means the same height in both views.
* :data:`RUN_PALETTE` is the Okabe–Ito palette (distinguishable with every common colour-vision
  deficiency) with its black replaced by white, since runs are drawn over a dark map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "DIVERGED_COLOR",
    "RUN_PALETTE",
    "SURFACE_MAP",
    "colormap",
    "hex_to_rgba",
    "lookup_table",
    "map_unit",
    "run_color",
]

SURFACE_MAP = "viridis"

#: Okabe & Ito (2008), "Color Universal Design", ordered so neighbours contrast, black -> white.
RUN_PALETTE: tuple[str, ...] = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#FFFFFF",  # white
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#0072B2",  # blue
)

#: The "diverged" cross.
DIVERGED_COLOR = "#FF2020"


def run_color(index: int) -> str:
    """The palette colour of the ``index``-th run (cycling)."""
    return RUN_PALETTE[index % len(RUN_PALETTE)]


def hex_to_rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """``"#RRGGBB"`` or ``"#RRGGBBAA"`` -> (r, g, b, a) floats in [0, 1]; ValueError otherwise."""
    text = color.strip().lstrip("#") if isinstance(color, str) else ""
    if len(text) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"Invalid color value: {color!r} (must be '#RRGGBB' or '#RRGGBBAA')")
    values = [int(text[i : i + 2], 16) / 255.0 for i in range(0, len(text), 2)]
    if len(values) == 3:
        values.append(alpha)
    return (values[0], values[1], values[2], values[3])


def colormap():  # -> pyqtgraph.ColorMap (imported lazily: this module stays importable anywhere)
    """The surface colour map as a pyqtgraph ColorMap."""
    import pyqtgraph as pg

    return pg.colormap.get(SURFACE_MAP)


@lru_cache(maxsize=4)
def lookup_table(n: int = 256) -> np.ndarray:
    """The colour map sampled at ``n`` points: (n, 4) uint8 RGBA (read-only)."""
    table = np.ascontiguousarray(colormap().getLookupTable(0.0, 1.0, n, alpha=True), dtype=np.uint8)
    table.setflags(write=False)
    return table


def map_unit(values: np.ndarray, n: int = 256) -> np.ndarray:
    """Colours of ``values`` in [0, 1] (clipped; NaN -> the top colour) as (..., 4) float32 RGBA."""
    table = lookup_table(n).astype(np.float32) / 255.0
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=1.0, posinf=1.0, neginf=0.0)
    idx = np.clip(np.rint(v * (n - 1)), 0, n - 1).astype(np.intp)
    return table[idx]
