"""Choose the run palette (gdstudio.model.palette.PALETTE): a greedy max–min search over sRGB.

Candidates: an sRGB grid (17 levels per channel) kept only if ΔE00 ≥ MIN_TO_MAP to every colour
of the viridis and grey surface maps and ≥ MIN_TO_BACKGROUND to both plot backgrounds. Then,
colour by colour, take the candidate whose smallest distance to the colours already chosen is
largest — for the first CVD_SAFE colours that distance is the smallest over normal vision and
the three simulated colour-vision deficiencies (scaled by MIN_PAIR / MIN_PAIR_CVD). Prints the
palette and its distances; paste it into palette.py. Run: .venv/bin/python tools/choose_palette.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gdstudio.model.palette import (
    BACKGROUNDS,
    CVD_SAFE,
    MIN_CHROMA,
    MIN_LIGHTNESS,
    MIN_PAIR,
    MIN_PAIR_CVD,
    MIN_TO_BACKGROUND,
    MIN_TO_MAP,
    ciede2000,
    hex_to_rgb,
    rgb_to_lab,
    simulate_cvd,
)
from gdstudio.ui.colormaps import colormap_rgb

KINDS = ("protanopia", "deuteranopia", "tritanopia")


def main(n: int = 12) -> None:
    levels = np.linspace(0, 1, 17)
    cand = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    maps = np.concatenate([colormap_rgb("viridis", 64), colormap_rgb("grey", 16)])
    lab = rgb_to_lab(cand)
    to_map = ciede2000(lab[:, None], rgb_to_lab(maps)[None]).min(axis=1)
    to_bg = ciede2000(lab[:, None], rgb_to_lab(hex_to_rgb(BACKGROUNDS))[None]).min(axis=1)
    keep = (to_map >= MIN_TO_MAP) & (to_bg >= MIN_TO_BACKGROUND) & (lab[:, 0] >= MIN_LIGHTNESS)
    keep &= np.hypot(lab[:, 1], lab[:, 2]) >= MIN_CHROMA
    cand, lab, to_map = cand[keep], lab[keep], to_map[keep]
    cvd = {k: rgb_to_lab(simulate_cvd(cand, k)) for k in KINDS}
    print(f"{keep.sum()} candidates of {keep.size}")
    chosen = [int(np.argmax(to_map))]
    while len(chosen) < n:
        d = ciede2000(lab[:, None], lab[chosen][None]).min(axis=1)
        if len(chosen) < CVD_SAFE:
            for k in KINDS:
                seen = ciede2000(cvd[k][:, None], cvd[k][chosen][None]).min(axis=1)
                d = np.minimum(d, seen * MIN_PAIR / MIN_PAIR_CVD)
        d[chosen] = -1
        chosen.append(int(np.argmax(d)))
    hexes = ["#{:02X}{:02X}{:02X}".format(*np.round(cand[i] * 255).astype(int)) for i in chosen]
    print("PALETTE =", tuple(hexes))
    sel = lab[chosen]
    pair = ciede2000(sel[:, None], sel[None])
    np.fill_diagonal(pair, np.inf)
    print(f"min pair {pair.min():.1f}, min to map {to_map[chosen].min():.1f}")
    for k in KINDS:
        c = cvd[k][chosen][:CVD_SAFE]
        p = ciede2000(c[:, None], c[None])
        np.fill_diagonal(p, np.inf)
        print(f"min pair under {k} (first {CVD_SAFE}): {p.min():.1f}")


if __name__ == "__main__":
    main()
