"""Run colours and the colour science that chose them (Qt-free).

:data:`PALETTE` is the categorical palette the studio gives its runs, in order. It was chosen
(by ``tools/choose_palette.py``, a greedy max–min search over sRGB) against what runs are drawn
on: the viridis and grey surface maps and the light / dark plot backgrounds. Runs are drawn
with a dark rim, so a colour only has to stand apart in hue and lightness, not from the rim.
The tests hold these CIEDE2000 distances (ΔE00, :func:`ciede2000`):

* between any two run colours: ≥ :data:`MIN_PAIR` (normal vision), and ≥ :data:`MIN_PAIR_CVD`
  for the first :data:`CVD_SAFE` colours under simulated protanopia, deuteranopia and
  tritanopia (:func:`simulate_cvd`, Machado et al. 2009, severity 1);
* between every run colour and every colour of the viridis and grey maps: ≥ :data:`MIN_TO_MAP`;
* to both plot backgrounds: ≥ :data:`MIN_TO_BACKGROUND` (no white, no near-black);
* CIELAB lightness ≥ :data:`MIN_LIGHTNESS` and chroma ≥ :data:`MIN_CHROMA` (the dark rim and
  the dark end of viridis must not swallow a run; greys are what the grey map is made of).

Why these numbers: ΔE00 ≈ 1 is a just-noticeable difference for large patches; thin lines and
small markers need several times that (Stone, Szafir & Setlur 2014, "An Engineering Model for
Color Difference as a Function of Size": a 2-px line needs roughly 4–6× the patch threshold).
So 17 between runs (distinct at a glance), 18 to the maps (a line stays visible on any part of
the surface), 20 to the backgrounds; under simulated colour-vision deficiencies the first eight
colours keep 9 (a dichromat loses one opponent axis: no twelve colours stay far apart in the
remaining one, so the first eight, the usual race size, are the ones held). Viridis covers
blue, teal, green and yellow at most lightnesses, so what stays far from it is the magenta,
red, orange and pink side and light tints: that is where the palette lives. Small multiples
(View → Layout) remain the answer for races of more than eight runs.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BACKGROUNDS",
    "CVD_SAFE",
    "MIN_CHROMA",
    "MIN_LIGHTNESS",
    "MIN_PAIR",
    "MIN_PAIR_CVD",
    "MIN_TO_BACKGROUND",
    "MIN_TO_MAP",
    "PALETTE",
    "ciede2000",
    "hex_to_rgb",
    "rgb_to_lab",
    "simulate_cvd",
]

#: Run colours, in the order runs get them.
PALETTE: tuple[str, ...] = (
    "#EF00FF", "#608F00", "#00FFFF", "#FFBF8F", "#AF6070", "#8FBFFF", "#FF7060", "#FF8FBF",
    "#9F7010", "#8F80BF", "#DFBFFF", "#CF5000",
)
#: The plot backgrounds (dark and light themes).
BACKGROUNDS: tuple[str, ...] = ("#1E1E1E", "#F7F7F7")
MIN_PAIR = 17.0
MIN_PAIR_CVD = 9.0
CVD_SAFE = 8
MIN_TO_MAP = 18.0
MIN_TO_BACKGROUND = 20.0
MIN_LIGHTNESS = 50.0
MIN_CHROMA = 34.0


def hex_to_rgb(colors: str | tuple[str, ...] | list[str]) -> np.ndarray:
    """``"#RRGGBB"`` (or a list of them) -> (..., 3) sRGB floats in [0, 1]."""
    items = [colors] if isinstance(colors, str) else list(colors)
    out = np.array([[int(c.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)] for c in items], dtype=np.float64) / 255
    return out[0] if isinstance(colors, str) else out


def _linear(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _gamma(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (..., 3) -> CIELAB (D65), the usual formulas."""
    xyz = _linear(rgb) @ _RGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference ΔE00 between Lab colours (broadcasting over leading axes).

    Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes",
    with kL = kC = kH = 1; checked against their test data in tests/model/test_palette.py.
    """
    lab1, lab2 = np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, h1p)
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, h2p)
    dl = L2 - L1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar = (L1 + L2) / 2
    cp_bar = (c1p + c2p) / 2
    hsum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2))
    h_bar = np.where(c1p * c2p == 0, hsum, h_bar)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    sl = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    sc = 1 + 0.045 * cp_bar
    sh = 1 + 0.015 * cp_bar * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    out: np.ndarray = np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dH / sh) ** 2 + rt * (dc / sc) * (dH / sh))
    return out


#: Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
_CVD = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def simulate_cvd(rgb: np.ndarray, kind: str) -> np.ndarray:
    """How sRGB colours look with a colour-vision deficiency (``protanopia``, ``deuteranopia``,
    ``tritanopia``; Machado et al. 2009 at severity 1), as sRGB."""
    return _gamma(_linear(rgb) @ _CVD[kind].T)
