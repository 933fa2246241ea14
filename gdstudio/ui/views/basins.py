"""Basin-of-attraction maps drawn over the contour: colours, legend, the overlay item and pixel picking.

A basin map is a G×G grid of starts over bounds ``((x0, x1), (y0, y1))``: start (i, j) is
``(xs[i], ys[j])`` with ``xs = linspace(x0, x1, G)`` and ``ys = linspace(y0, y1, G)``, and each start
ran K steps of one optimizer (:func:`gdstudio.engine.explore.basin_map`). A :class:`BasinGrid` holds the outcome as
(G, G) arrays indexed ``[j, i]`` (row = y, as the contour's heat map), and :func:`basin_rgba`
colours it by one of :data:`COLOR_MODES`:

* ``minimum``: which known minimum the start reached (the engine's index, −1: none) in the
  categorical :data:`MINIMUM_COLORS`, the legend naming each minimum by its coordinates;
* ``steps``: steps to reach the tolerance: the first step within 1e-2 of a known minimum (the
  engine's ``steps_to_minimum``), a sequential map; starts that never got there in :data:`NONE_COLOR`;
* ``loss``: the final loss on a log colour scale (log10, between its 1st and 99th percentiles);
* ``diverged``: diverged starts only.

In every mode a diverged start is drawn with the dark :data:`DIVERGED_COLOR` hatch, so the
boundary of divergence is always visible. :class:`BasinOverlay` puts the image on a
:class:`~gdstudio.ui.views.contour.ContourView` between the heat map and the contour lines, with
a user opacity; pixel (i, j) is centred on its start, so :meth:`BasinOverlay.pixel_at` maps a
click to the start that pixel shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from gdstudio.ui.colormaps import hex_to_rgba

__all__ = [
    "COLOR_MODES", "DIVERGED_COLOR", "MINIMUM_COLORS", "NONE_COLOR", "BasinGrid", "BasinOverlay", "Legend",
    "LegendEntry", "basin_rgba", "format_minimum", "minimum_color", "pixel_centres",
]

#: Colour modes and their labels (the dock's combo box shows the labels).
COLOR_MODES: dict[str, str] = {
    "minimum": "Minimum reached",
    "steps": "Steps to tolerance",
    "loss": "Final loss (log)",
    "diverged": "Diverged",
}
#: Minimum i's colour is MINIMUM_COLORS[i % len]: Tableau 10 without its grey (distinct hues, light
#: enough on the dark heat map, none of them grey or black like the two special colours).
MINIMUM_COLORS: tuple[str, ...] = (
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F",
)
#: A start that reached no known minimum (minimum mode) or did not converge within K steps (steps mode).
NONE_COLOR = "#A9A9A9"
#: Diverged starts: a hatch of these two dark greys (every mode).
DIVERGED_COLOR = "#1A1A1A"
DIVERGED_HATCH = "#4A4A4A"
#: Sequential maps of the continuous modes (pyqtgraph's bundled matplotlib maps).
STEPS_MAP = "plasma"
LOSS_MAP = "magma"

#: The engine's status code of a diverged start (gdstudio.engine.explore.DIVERGED).
DIVERGED = 2


def format_minimum(point: np.ndarray | tuple[float, ...]) -> str:
    """A minimum's legend label: ``(3.00, 2.00)``."""
    return "(" + ", ".join(f"{float(v):.2f}" for v in point) + ")"


def minimum_color(index: int) -> str:
    """The categorical colour of known minimum ``index`` (≥ 0)."""
    return MINIMUM_COLORS[index % len(MINIMUM_COLORS)]


def pixel_centres(bounds: tuple[tuple[float, float], tuple[float, float]], g: int) -> tuple[np.ndarray, np.ndarray]:
    """``(xs, ys)``: the starts' coordinates along each axis, ``linspace(lo, hi, g)``."""
    (x0, x1), (y0, y1) = bounds
    return np.linspace(x0, x1, g), np.linspace(y0, y1, g)


@dataclass
class BasinGrid:
    """The outcome of a G×G grid of starts, arrays (G, G) indexed ``[j, i]`` ↔ start ``(xs[i], ys[j])``.

    ``status`` holds the engine's codes (ok, converged, diverged = :data:`DIVERGED`, stopped);
    ``minimum`` the index of the known minimum reached, −1 for none; ``steps`` the first step within
    the tolerance of a known minimum (−1: never); ``known`` are the problem's known minima (M, 2);
    ``budget`` is K. ``filled`` is False for the pixels of a coarse level not computed yet (they
    show their nearest computed neighbour).
    """

    bounds: tuple[tuple[float, float], tuple[float, float]]
    final_loss: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    minimum: np.ndarray
    known: np.ndarray
    budget: int
    label: str = ""
    filled: np.ndarray | None = None
    #: The grid side of the computed sub-grid this level shows (== g when complete).
    level: int = 0
    #: What it was computed for (the panel's key: problem, bounds, configuration, grid, steps).
    key: object = None

    @property
    def g(self) -> int:
        return int(self.status.shape[0])

    @property
    def complete(self) -> bool:
        return self.filled is None or bool(self.filled.all())

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        return pixel_centres(self.bounds, self.g)

    def rect(self) -> QRectF:
        """The image rectangle: each pixel centred on its start."""
        (x0, x1), (y0, y1) = self.bounds
        g = self.g
        dx, dy = (x1 - x0) / max(1, g - 1), (y1 - y0) / max(1, g - 1)
        return QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy)

    def pixel_at(self, x: float, y: float) -> tuple[int, int] | None:
        """``(i, j)`` of the pixel containing (x, y), None outside the map."""
        r = self.rect()
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        fx = (x - r.left()) / r.width() * self.g
        fy = (y - r.top()) / r.height() * self.g
        if not (0 <= fx < self.g and 0 <= fy < self.g):
            return None
        return int(fx), int(fy)


@dataclass(frozen=True)
class LegendEntry:
    color: str
    label: str


@dataclass(frozen=True)
class Legend:
    """What the legend shows: swatches (``entries``) and, for a continuous mode, a colour bar:
    ``lut`` (256, 4) uint8 from ``lo`` to ``hi`` (in the bar's units, ``bar_label``)."""

    entries: tuple[LegendEntry, ...]
    lut: np.ndarray | None = None
    lo: float = 0.0
    hi: float = 1.0
    bar_label: str = ""


def _rgba8(color: str) -> np.ndarray:
    return np.array([round(c * 255) for c in hex_to_rgba(color)], dtype=np.uint8)


def _lut(name: str) -> np.ndarray:
    lut = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=True)
    return np.asarray(lut, dtype=np.uint8)


def _hatch(shape: tuple[int, int]) -> np.ndarray:
    """A diagonal two-tone mask (True: the lighter stroke), stripes ~1/48 of the map wide."""
    g = max(shape)
    period = max(2, g // 24)
    j, i = np.indices(shape)
    return ((i + j) // max(1, period // 2)) % 2 == 1


def _scaled(values: np.ndarray, mask: np.ndarray, robust: bool) -> tuple[np.ndarray, float, float]:
    """Values under ``mask`` scaled to [0, 1] between their extremes (``robust``: their 1st and 99th
    percentiles, so a few outliers do not flatten the rest); (scaled, lo, hi)."""
    v = values[mask]
    if v.size == 0:
        return np.zeros(values.shape), 0.0, 1.0
    lo, hi = (float(p) for p in np.percentile(v, [1, 99])) if robust else (float(v.min()), float(v.max()))
    if not hi > lo:
        lo, hi = float(v.min()), float(v.max())
    if not hi > lo:
        hi = lo + 1.0
    with np.errstate(invalid="ignore"):
        return np.clip((values - lo) / (hi - lo), 0.0, 1.0), lo, hi


def basin_rgba(m: BasinGrid, mode: str) -> tuple[np.ndarray, Legend]:
    """The map's (G, G, 4) uint8 RGBA image in ``mode`` (one of :data:`COLOR_MODES`) and its legend."""
    if mode not in COLOR_MODES:
        raise ValueError(f"Invalid colour mode: {mode!r} (one of {', '.join(COLOR_MODES)})")
    shape = m.status.shape
    out = np.zeros((*shape, 4), dtype=np.uint8)
    diverged = m.status == DIVERGED
    entries: list[LegendEntry] = []
    lut: np.ndarray | None = None
    lo, hi, bar_label = 0.0, 1.0, ""
    if mode == "minimum":
        idx = np.where(diverged, -1, m.minimum).astype(np.intp)
        out[:] = _rgba8(NONE_COLOR)
        for k, point in enumerate(np.asarray(m.known, dtype=np.float64).reshape(-1, 2)):
            color = minimum_color(k)
            out[idx == k] = _rgba8(color)
            entries.append(LegendEntry(color, format_minimum(point)))
        entries.append(LegendEntry(NONE_COLOR, f"no minimum within {m.budget} steps"))
    elif mode == "steps":
        conv = (m.steps >= 0) & ~diverged
        out[:] = _rgba8(NONE_COLOR)
        lut = _lut(STEPS_MAP)
        unit, lo, hi = _scaled(m.steps.astype(np.float64), conv, robust=False)
        if conv.any():
            out[conv] = lut[np.rint(unit[conv] * 255).astype(np.intp)]
        bar_label = "steps to tolerance"
        entries.append(LegendEntry(NONE_COLOR, f"no minimum within {m.budget} steps"))
    elif mode == "loss":
        ok = ~diverged & np.isfinite(m.final_loss)
        with np.errstate(divide="ignore", invalid="ignore"):
            logl = np.log10(np.maximum(np.abs(m.final_loss), 1e-300))
        lut = _lut(LOSS_MAP)
        unit, lo, hi = _scaled(logl, ok, robust=True)
        out[ok] = lut[np.rint(unit[ok] * 255).astype(np.intp)]
        bar_label = "log₁₀ final loss"
    else:  # diverged
        out[:] = _rgba8("#E8E8E8")
        out[..., 3] = 0  # only the diverged starts are drawn
    hatch = _hatch(shape)
    out[diverged & ~hatch] = _rgba8(DIVERGED_COLOR)
    out[diverged & hatch] = _rgba8(DIVERGED_HATCH)
    entries.append(LegendEntry(DIVERGED_COLOR, "diverged"))
    return out, Legend(tuple(entries), lut, lo, hi, bar_label)


class BasinOverlay:
    """A basin map on a contour view: one ``pg.ImageItem`` between the heat map and the contour lines.

    :meth:`show_map` draws a map (replacing the one shown), :meth:`set_mode` / :meth:`set_opacity`
    restyle it, :meth:`clear` removes it. While a map is shown, a left click on one of its pixels
    calls ``on_pixel(x, y)`` with that pixel's centre (its start) instead of the contour's default
    (the view's ``click_handler`` hook); a click outside the map keeps the default.
    """

    Z = -60  # above the heat map (−100), below the contour lines (−50) and everything else

    def __init__(self, contour, on_pixel: Callable[[float, float], object] | None = None) -> None:
        self.contour = contour
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(self.Z)
        self.item.hide()
        contour.plot_item.addItem(self.item)
        self.map: BasinGrid | None = None
        self.mode = "minimum"
        self.opacity = 0.8  # the contour lines above it keep the surface's shape readable
        self.rgba: np.ndarray | None = None
        self.legend: Legend | None = None
        self.on_pixel = on_pixel
        self.item.setOpacity(self.opacity)
        contour.click_handler = self._clicked
        if hasattr(contour, "add_export_decoration"):
            contour.add_export_decoration(self.decorate_export)

    def decorate_export(self, target: Any) -> None:
        """The shown map, in its colours and opacity, on an export's own contour ``target``."""
        if not self.shown or self.map is None:
            return
        copy = BasinOverlay(target)
        copy.mode, copy.opacity = self.mode, self.opacity
        copy.item.setOpacity(self.opacity)
        copy.show_map(self.map)

    @property
    def shown(self) -> bool:
        return self.map is not None and self.item.isVisible()

    def show_map(self, m: BasinGrid) -> None:
        self.map = m
        self._redraw()
        self.item.setRect(m.rect())
        self.item.show()

    def set_mode(self, mode: str) -> None:
        if mode not in COLOR_MODES:
            raise ValueError(f"Invalid colour mode: {mode!r} (one of {', '.join(COLOR_MODES)})")
        self.mode = mode
        if self.map is not None:
            self._redraw()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = min(1.0, max(0.0, float(opacity)))
        self.item.setOpacity(self.opacity)

    def clear(self) -> None:
        self.map = self.rgba = self.legend = None
        self.item.hide()
        self.item.clear()

    def _redraw(self) -> None:
        assert self.map is not None
        self.rgba, self.legend = basin_rgba(self.map, self.mode)
        self.item.setImage(self.rgba, autoLevels=False, levels=None)

    def pixel_at(self, x: float, y: float) -> tuple[float, float] | None:
        """The centre (start) of the shown map's pixel at (x, y), None off the map or when hidden."""
        if not self.shown or self.map is None:
            return None
        ij = self.map.pixel_at(x, y)
        if ij is None:
            return None
        xs, ys = self.map.centres()
        return float(xs[ij[0]]), float(ys[ij[1]])

    def _clicked(self, x: float, y: float, shift: bool) -> bool:
        """The contour's click hook: True when the click was taken (a pixel of the shown map)."""
        centre = self.pixel_at(x, y)
        if centre is None or self.on_pixel is None:
            return False
        self.on_pixel(*centre)
        return True

    def detach(self) -> None:
        if getattr(self.contour, "click_handler", None) == self._clicked:
            self.contour.click_handler = None
        self.contour.plot_item.removeItem(self.item)
