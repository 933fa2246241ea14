"""The run palette against the surface maps: CIEDE2000 distances (issue: colours that can be told
apart on viridis, by colour-blind viewers too). The thresholds and why: gdstudio/model/palette.py.

The colour maps live in gdstudio.ui.colormaps (a NumPy table), hence a ui test; nothing here
needs a QApplication.
"""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.model import palette as pal
from gdstudio.model.session import Session
from gdstudio.ui.colormaps import colormap_rgb

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), ΔE00 — pairs 1, 7, 17, 25, 34.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_sharmas_test_data(lab1, lab2, expected):
    assert pal.ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
    assert pal.ciede2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_lab_of_known_colours():
    lab = pal.rgb_to_lab(pal.hex_to_rgb(["#FFFFFF", "#000000", "#FF0000"]))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)  # sRGB red, D65


def test_cvd_simulation_keeps_greys_and_merges_red_green_for_deuteranopes():
    grey = np.array([[0.5, 0.5, 0.5]])
    for kind in ("protanopia", "deuteranopia", "tritanopia"):
        np.testing.assert_allclose(pal.simulate_cvd(grey, kind), grey, atol=2e-3)
    red, green = pal.hex_to_rgb(["#D00000", "#509000"])
    lab = lambda c: pal.rgb_to_lab(c)  # noqa: E731
    normal = pal.ciede2000(lab(red), lab(green))
    deut = pal.ciede2000(lab(pal.simulate_cvd(red, "deuteranopia")), lab(pal.simulate_cvd(green, "deuteranopia")))
    assert deut < normal / 3


def _min_offdiag(labs: np.ndarray) -> float:
    d = pal.ciede2000(labs[:, None], labs[None])
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def test_run_colours_are_far_apart_from_each_other():
    labs = pal.rgb_to_lab(pal.hex_to_rgb(pal.PALETTE))
    assert len(set(pal.PALETTE)) == len(pal.PALETTE) >= 11  # Race all starts 11 runs
    assert _min_offdiag(labs) >= pal.MIN_PAIR


@pytest.mark.parametrize("kind", ["protanopia", "deuteranopia", "tritanopia"])
def test_first_eight_stay_apart_for_colour_blind_viewers(kind):
    sim = pal.simulate_cvd(pal.hex_to_rgb(pal.PALETTE[: pal.CVD_SAFE]), kind)
    assert _min_offdiag(pal.rgb_to_lab(sim)) >= pal.MIN_PAIR_CVD


@pytest.mark.parametrize("cmap", ["viridis", "grey"])
def test_run_colours_stand_out_on_every_surface_colour(cmap):
    runs = pal.rgb_to_lab(pal.hex_to_rgb(pal.PALETTE))
    surface = pal.rgb_to_lab(colormap_rgb(cmap, 256))
    assert float(pal.ciede2000(runs[:, None], surface[None]).min()) >= pal.MIN_TO_MAP


def test_no_white_grey_or_near_background_run_colour():
    runs = pal.rgb_to_lab(pal.hex_to_rgb(pal.PALETTE))
    backgrounds = pal.rgb_to_lab(pal.hex_to_rgb(pal.BACKGROUNDS))
    assert float(pal.ciede2000(runs[:, None], backgrounds[None]).min()) >= pal.MIN_TO_BACKGROUND
    assert (runs[:, 0] >= pal.MIN_LIGHTNESS).all()
    assert (np.hypot(runs[:, 1], runs[:, 2]) >= pal.MIN_CHROMA).all()
    assert "#FFFFFF" not in {c.upper() for c in pal.PALETTE}


def test_the_old_palette_would_fail():
    """The palette this replaces (Okabe–Ito with white, Tableau): the checks above catch it."""
    old = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#FFFFFF",
           "#8C564B", "#BCBD22", "#17BECF", "#9467BD")
    labs = pal.rgb_to_lab(pal.hex_to_rgb(old))
    surface = pal.rgb_to_lab(colormap_rgb("viridis", 256))
    assert float(pal.ciede2000(labs[:, None], surface[None]).min()) < pal.MIN_TO_MAP
    assert _min_offdiag(labs) < pal.MIN_PAIR


def test_session_gives_runs_the_palette_in_order():
    from gdstudio.engine.runs import RunConfig

    s = Session()
    s.replace_runs([RunConfig("gd", (0.0, 0.0)) for _ in range(len(pal.PALETTE))])
    assert [e.color for e in s.runs] == list(pal.PALETTE)


def test_presets_colour_their_runs_from_the_palette():
    from gdstudio.model.presets import list_presets, preset_document

    for info in list_presets():
        colors = [r.get("color") for r in preset_document(info.id)["runs"]]
        assert colors == [pal.PALETTE[i % len(pal.PALETTE)] for i in range(len(colors))], info.id
