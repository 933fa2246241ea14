"""Colours shared by the views: the surface colour map and the run palette.

* :data:`SURFACE_MAP` is viridis (perceptually uniform, readable in grey and by colour-blind
  viewers). The contour heat map and the 3-D mesh both colour a value scaled to [0, 1] through
  :func:`lookup_table`, so a colour means the same height in both views.
* :data:`COLORMAPS` are the surface maps a user can pick: ``"viridis"`` and ``"grey"`` (a
  mid-to-light grey ramp for races: coloured run paths stand out on it). :func:`colormap_rgb`
  samples them without Qt (the palette test measures colour distances against it).
* :data:`RUN_PALETTE` is the Okabe–Ito palette (distinguishable with every common colour-vision
  deficiency) with its black replaced by white, since runs are drawn over a dark map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "COLORMAPS",
    "DIVERGED_COLOR",
    "RUN_PALETTE",
    "SURFACE_MAP",
    "colormap",
    "colormap_rgb",
    "hex_to_rgba",
    "lookup_table",
    "map_unit",
    "run_color",
]

SURFACE_MAP = "viridis"
#: The surface colour maps on offer (the first is the default).
COLORMAPS: tuple[str, ...] = ("viridis", "grey")
#: The grey map's ends (value 0 -> GREY_LOW, 1 -> GREY_HIGH): mid grey valleys, light grey peaks.
GREY_LOW, GREY_HIGH = 0.42, 0.86

# viridis (matplotlib, van der Walt, Smith & Firing; CC0), 256 colours as RRGGBB hex.
_VIRIDIS_HEX = (
    "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769"
    "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a"
    "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85"
    "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b"
    "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d"
    "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e"
    "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e"
    "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d"
    "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88"
    "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81"
    "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74"
    "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863"
    "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d"
    "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32"
    "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a"
    "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725"
)

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


def check_colormap(name: str) -> str:
    """``name`` if it is one of :data:`COLORMAPS`, else ValueError naming the choices."""
    if name not in COLORMAPS:
        raise ValueError(f"Invalid colormap value: {name!r} (must be one of {', '.join(COLORMAPS)})")
    return name


@lru_cache(maxsize=8)
def _colormap_rgb(name: str, n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    if name == "grey":
        g = GREY_LOW + (GREY_HIGH - GREY_LOW) * t
        out = np.column_stack([g, g, g])
    else:
        text = "".join(_VIRIDIS_HEX)
        base = np.frombuffer(bytes.fromhex(text), np.uint8).reshape(-1, 3).astype(np.float64) / 255.0
        src = np.linspace(0.0, 1.0, len(base))
        out = np.column_stack([np.interp(t, src, base[:, i]) for i in range(3)])
    out.setflags(write=False)
    return out


def colormap_rgb(name: str = SURFACE_MAP, n: int = 256) -> np.ndarray:
    """The colour map ``name`` sampled at ``n`` evenly spaced values of [0, 1]: (n, 3) floats in
    0..1 (read-only). Qt-free. ValueError for an unknown name or n < 2."""
    check_colormap(name)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"Invalid n value: {n!r} (must be a whole number ≥ 2)")
    return _colormap_rgb(name, int(n))


def colormap(name: str = SURFACE_MAP):  # -> pyqtgraph.ColorMap (imported lazily: this module stays Qt-free)
    """The surface colour map ``name`` as a pyqtgraph ColorMap (from :func:`colormap_rgb`)."""
    import pyqtgraph as pg

    rgb = colormap_rgb(name)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(rgb)), np.rint(rgb * 255).astype(np.uint8))


@lru_cache(maxsize=8)
def lookup_table(n: int = 256, name: str = SURFACE_MAP) -> np.ndarray:
    """The colour map ``name`` sampled at ``n`` points: (n, 4) uint8 RGBA (read-only)."""
    rgb = np.rint(colormap_rgb(name, n) * 255).astype(np.uint8)
    table = np.ascontiguousarray(np.column_stack([rgb, np.full(n, 255, np.uint8)]))
    table.setflags(write=False)
    return table


def map_unit(values: np.ndarray, n: int = 256, name: str = SURFACE_MAP) -> np.ndarray:
    """Colours of ``values`` in [0, 1] (clipped; NaN -> the top colour) as (..., 4) float32 RGBA."""
    table = lookup_table(n, name).astype(np.float32) / 255.0
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=1.0, posinf=1.0, neginf=0.0)
    idx = np.clip(np.rint(v * (n - 1)), 0, n - 1).astype(np.intp)
    return table[idx]
