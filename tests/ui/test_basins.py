"""Basin maps in the window: the overlay shows the engine's map, colours follow the legend, cancel
leaves the window as it was, a pixel click adds that run, the map follows the selected run.

The engine's own equality (every pixel = a single Run) is E1's test (tests/engine); here the
reference for a map is ``gdstudio.engine.explore.basin_map`` on the same full grid, called directly.
"""

from __future__ import annotations

import threading

import gdstudio_window_fixtures as wf
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from gdstudio.engine.explore import DIVERGED, basin_map
from gdstudio.engine.problems.registry import make_problem
from gdstudio.engine.runs import RunConfig
from gdstudio.ui.colormaps import hex_to_rgba
from gdstudio.ui.panels.basins_panel import (
    BasinCompare,
    BasinRequest,
    BasinsPanel,
    compute_levels,
    first_level_inline,
    level_strides,
    panel_of,
)
from gdstudio.ui.views.basins import (
    DIVERGED_COLOR,
    DIVERGED_HATCH,
    MINIMUM_COLORS,
    NONE_COLOR,
    BasinGrid,
    basin_rgba,
    format_minimum,
)

settle = wf.settle
G, K = 64, 60  # small maps keep the tests quick


def rgba8(color: str) -> np.ndarray:
    return np.array([round(c * 255) for c in hex_to_rgba(color)], dtype=np.uint8)


def panel_ready(w, qtbot, grid: int = G, steps: int = K):
    """The window's basin panel with a small grid and budget, its map shown and computed."""
    panel = panel_of(w)
    if grid not in [panel.grid_combo.itemData(i) for i in range(panel.grid_combo.count())]:
        panel.grid_combo.addItem(f"{grid} × {grid}", grid)
    panel.grid_combo.setCurrentIndex(panel.grid_combo.findData(grid))
    panel.steps_spin.setValue(steps)
    return panel


def wait_map(qtbot, panel, timeout=60_000):
    qtbot.waitUntil(lambda: not panel.computing and panel.overlay.map is not None and panel.overlay.map.complete,
                    timeout=timeout)


def reference(w, grid=G, steps=K):
    """The engine's map for the selected run over the session's bounds, on the full grid at once."""
    s = w.session
    (x0, x1), (y0, y1) = s.bounds
    return basin_map(s.problem, s.selected.config, (x0, x1, y0, y1), grid, steps)


@pytest.fixture
def basins(studio, qtbot):
    panel = panel_ready(studio, qtbot)
    studio.actions["basin_map"].trigger()
    wait_map(qtbot, panel)
    return studio, panel


# ------------------------------------------------------------------------------ the map is the engine's
def test_overlay_pixels_are_the_engine_map(basins):
    w, panel = basins
    ref = reference(w)
    m = panel.overlay.map
    assert m.g == G and m.budget == K and m.complete
    np.testing.assert_array_equal(m.status, ref.status)
    np.testing.assert_array_equal(m.minimum, ref.minimum)
    np.testing.assert_array_equal(m.steps, ref.steps_to_minimum)
    np.testing.assert_array_equal(m.final_loss, ref.final_loss)
    # The image drawn is the map's colours, placed so each pixel is centred on its start.
    image = panel.overlay.item.image
    np.testing.assert_array_equal(image, basin_rgba(m, "minimum")[0])
    rect = panel.overlay.item.mapRectToParent(panel.overlay.item.boundingRect())
    (x0, x1), _ = w.session.bounds
    dx = (x1 - x0) / (G - 1)
    assert rect.left() == pytest.approx(x0 - dx / 2) and rect.right() == pytest.approx(x1 + dx / 2)
    assert w.docks["basins"].isVisible() and w.actions["basin_map"].isChecked()
    # Himmelblau with Adam: all four minima are reached from somewhere.
    assert set(np.unique(m.minimum)) >= {0, 1, 2, 3}


def test_an_export_draws_the_basin_map_shown(basins):
    """Exports render their own offscreen contour: the shown map is copied onto it (colours, opacity);
    a hidden map is not."""
    from gdstudio.ui.frames import FrameRenderer
    from gdstudio.ui.views.basins import BasinOverlay

    w, panel = basins
    panel.opacity_slider.setValue(50)
    assert panel.overlay.item.opacity() == pytest.approx(0.5)

    def exported_images(view: str) -> list:
        r = FrameRenderer(w.session, view, (400, 300), like_contour=w.contour)
        try:
            frame = r.frame(w.session.position)
            assert frame.shape[:2] == (300, 400)
            items = r.contour.plot_item.items if r.contour is not None else []
            return [i for i in items if isinstance(i, pg.ImageItem) and i.zValue() == BasinOverlay.Z]
        finally:
            r.close()

    (item,) = exported_images("contour")
    np.testing.assert_array_equal(item.image, panel.overlay.item.image)
    assert item.opacity() == panel.overlay.item.opacity() and item.isVisible()
    assert item.mapRectToParent(item.boundingRect()) == panel.overlay.item.mapRectToParent(
        panel.overlay.item.boundingRect())
    assert len(exported_images("both")) == 1
    panel.show_box.setChecked(False)  # hidden: not exported
    assert exported_images("contour") == []


def test_levels_are_nested_subgrids_and_end_at_the_full_map():
    problem = make_problem("himmelblau")
    config = RunConfig("momentum", (0.0, 0.0), {"lr": 0.01, "momentum": 0.9})
    req = BasinRequest(problem, ((-5.0, 5.0), (-5.0, 5.0)), config, 64, 40)
    levels: list[BasinGrid] = []
    final = compute_levels(req, on_level=levels.append)
    assert level_strides(256) == [16, 8, 4, 2, 1] and level_strides(64) == [4, 2, 1]
    assert [lv.level for lv in levels] == [16, 32, 64] and levels[-1] is final
    ref = basin_map(problem, config, (-5.0, 5.0, -5.0, 5.0), 64, 40)
    np.testing.assert_array_equal(final.minimum, ref.minimum)
    np.testing.assert_array_equal(final.final_loss, ref.final_loss)
    # A coarse level shows each computed start's own value at its pixel (every other pixel at 32²).
    coarse = levels[1]
    np.testing.assert_array_equal(coarse.minimum[::2, ::2], ref.minimum[::2, ::2])
    assert not coarse.complete and coarse.filled[::2, ::2].all() and not coarse.filled[1::2, 1::2].any()
    # … and its nearest computed start's elsewhere.
    near = np.minimum(np.arange(1, 64, 2) + 1, 62)  # odd pixels show the next even (computed) start
    np.testing.assert_array_equal(coarse.minimum[1::2, 1::2], ref.minimum[np.ix_(near, near)])


# ------------------------------------------------------------------------------ colours and legend
def _synthetic(minimum, status=None, steps=None, loss=None, known=((3.0, 2.0), (-2.805118, 3.131312))):
    minimum = np.asarray(minimum)
    shape = minimum.shape
    return BasinGrid(((0.0, 1.0), (0.0, 1.0)),
                     np.ones(shape) if loss is None else np.asarray(loss, float),
                     np.full(shape, -1) if steps is None else np.asarray(steps),
                     np.zeros(shape, np.int8) if status is None else np.asarray(status, np.int8),
                     minimum, np.array(known), 100)


def test_a_cheap_first_level_is_on_screen_when_compute_returns(studio, qtbot):
    """The coarsest level of a vectorized map is computed on the UI thread (a worker shares the GIL
    with a playing window's painting): drawn before any event is processed, equal to the engine."""
    w = studio
    panel = panel_ready(w, qtbot)
    request = panel.request()
    assert first_level_inline(request)
    panel.show_box.setChecked(True)  # shows the map: computes it
    assert panel.computing
    shown = panel.overlay.map
    assert shown is not None and not shown.complete  # no event loop ran: the UI thread drew it
    stride = level_strides(G)[0]
    ref = reference(w)
    np.testing.assert_array_equal(shown.minimum[::stride, ::stride], ref.minimum[::stride, ::stride])
    np.testing.assert_array_equal(shown.final_loss[::stride, ::stride], ref.final_loss[::stride, ::stride])
    wait_map(qtbot, panel)
    np.testing.assert_array_equal(panel.overlay.map.final_loss, ref.final_loss)
    # a line search (one Run per start) or data problems stay on the worker
    lbfgs = BasinRequest(request.problem, request.bounds, RunConfig("lbfgs", (0.0, 0.0)), G, K)
    assert not first_level_inline(lbfgs)
    data = BasinRequest(make_problem("linear-regression"), request.bounds, request.config, G, K)
    assert not first_level_inline(data)


def test_an_engine_error_is_reported_not_raised(studio, qtbot, monkeypatch):
    """The first level runs in the UI's slot: an error there must reach the status line, as the worker's does."""
    import gdstudio.ui.panels.basins_panel as bp

    def refuse(*_args, **_kwargs):
        raise ValueError("Invalid grid: too large")

    w = studio
    panel = panel_ready(w, qtbot)
    monkeypatch.setattr(bp, "basin_map", refuse)
    panel.show_box.setChecked(True)  # computes: must not raise out of the slot
    qtbot.waitUntil(lambda: not panel.computing, timeout=10_000)
    assert panel.status.text() == "Basin map failed: Invalid grid: too large"
    assert panel.overlay.map is None


def test_minimum_mode_colours_each_minimum_with_its_legend_colour():
    m = _synthetic([[0, 1], [-1, 0]], status=[[0, 0], [0, DIVERGED]])
    rgba, legend = basin_rgba(m, "minimum")
    labels = {e.label: e.color for e in legend.entries}
    assert list(labels)[:2] == ["(3.00, 2.00)", "(-2.81, 3.13)"]
    np.testing.assert_array_equal(rgba[0, 0], rgba8(labels["(3.00, 2.00)"]))
    np.testing.assert_array_equal(rgba[0, 1], rgba8(labels["(-2.81, 3.13)"]))
    np.testing.assert_array_equal(rgba[1, 0], rgba8(NONE_COLOR))
    # A diverged start is the dark hatch whatever minimum index it carries.
    assert any(np.array_equal(rgba[1, 1], rgba8(c)) for c in (DIVERGED_COLOR, DIVERGED_HATCH))
    assert labels["diverged"] == DIVERGED_COLOR
    assert labels["(3.00, 2.00)"] == MINIMUM_COLORS[0] != labels["(-2.81, 3.13)"] == MINIMUM_COLORS[1]


def test_continuous_modes_and_diverged_mode():
    steps = np.array([[10, 20, 30, -1]])
    m = _synthetic(np.zeros((1, 4), int), steps=steps, loss=[[1e-8, 1e-4, 1.0, np.inf]],
                   status=[[1, 1, 0, DIVERGED]])
    rgba, legend = basin_rgba(m, "steps")
    assert legend.lut is not None and (legend.lo, legend.hi) == (10, 30)
    np.testing.assert_array_equal(rgba[0, 0], legend.lut[0])  # fewest steps: the bar's low end
    np.testing.assert_array_equal(rgba[0, 2], legend.lut[255])  # most steps: its high end
    rgba, legend = basin_rgba(m, "loss")
    assert legend.lo == pytest.approx(-8, abs=0.2) and legend.hi == pytest.approx(0, abs=0.2)  # log10 scale
    np.testing.assert_array_equal(rgba[0, 0], legend.lut[0])
    np.testing.assert_array_equal(rgba[0, 2], legend.lut[255])
    np.testing.assert_array_equal(rgba[0, 1], legend.lut[128])  # 1e-4 sits mid-way on the log scale
    rgba, _ = basin_rgba(m, "diverged")
    assert (rgba[0, :3, 3] == 0).all() and rgba[0, 3, 3] == 255
    with pytest.raises(ValueError, match="Invalid colour mode"):
        basin_rgba(m, "rainbow")


def test_legend_names_each_known_minimum_once(basins):
    w, panel = basins
    known = w.session.problem.minima
    names = [format_minimum(p) for p in known]
    assert len(known) == 4
    for name in names:
        assert panel.legend.labels.count(name) == 1
    assert len(set(names)) == len(names)
    assert "diverged" in panel.legend.labels
    # Each minimum's swatch is the colour its pixels have in the image.
    image, m = panel.overlay.item.image, panel.overlay.map
    for k, name in enumerate(names):
        color = panel.legend.colors[panel.legend.labels.index(name)]
        pixels = image[(m.minimum == k) & (m.status != DIVERGED)]
        assert len(pixels) and (pixels == rgba8(color)).all()
    # Switching the mode redraws with the mode's legend (a colour bar for steps).
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("steps"))
    assert panel.overlay.mode == "steps" and panel.legend.findChild(object, "basins_colorbar") is not None
    np.testing.assert_array_equal(panel.overlay.item.image, basin_rgba(m, "steps")[0])


# ------------------------------------------------------------------------------ cancel
def _window_state(w, panel):
    m = panel.overlay.map
    return (w.session.to_dict(), [e.run for e in w.session.runs], id(m), panel.overlay.item.isVisible(),
            None if panel.overlay.item.image is None else panel.overlay.item.image.copy(), panel.overlay.mode)


def _same(a, b) -> bool:
    return (a[0] == b[0] and all(x is y for x, y in zip(a[1], b[1], strict=True)) and a[2:4] == b[2:4]
            and a[5] == b[5] and ((a[4] is None and b[4] is None) or np.array_equal(a[4], b[4])))


def test_cancel_leaves_the_window_as_it_was(studio, qtbot):
    w = studio
    panel = panel_ready(w, qtbot, grid=256, steps=20_000)  # long enough to cancel after the first level
    before = _window_state(w, panel)
    assert before[3] is False  # no map shown yet
    w.actions["basin_map"].trigger()
    qtbot.waitUntil(lambda: panel.overlay.map is not None, timeout=30_000)  # the first coarse level is drawn
    assert panel.computing and not panel.overlay.map.complete
    panel.cancel_button.click()
    assert not panel.computing
    after = _window_state(w, panel)
    assert _same(before, after)
    assert panel.overlay.map is None and not panel.overlay.shown
    assert panel.work.wait(10_000)  # no worker left running, nor the engine's shard threads
    assert not [t for t in threading.enumerate() if t.name.startswith(("gdstudio-basins", "gdstudio-explore"))]
    qtbot.wait(50)
    assert _same(before, _window_state(w, panel))  # nothing arrives late


def test_cancel_puts_back_the_previous_map(basins, qtbot):
    w, panel = basins
    before = _window_state(w, panel)
    panel.steps_spin.setValue(20_000)  # the map is recomputed for the new budget …
    qtbot.waitUntil(lambda: panel.computing and id(panel.overlay.map) != before[2], timeout=30_000)
    panel.cancel()  # … and cancelled after its first level
    assert _same(before, _window_state(w, panel))
    assert "stale" in panel.status.text()
    assert panel.work.wait(10_000)


# ------------------------------------------------------------------------------ a click adds that run
def test_clicking_a_pixel_adds_that_run(basins, qtbot):
    w, panel = basins
    s = w.session
    selected = s.selected.config
    n = len(s.runs)
    m = panel.overlay.map
    xs, ys = m.centres()
    i, j = 40, 13
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    target = (xs[i] + 0.3 * dx, ys[j] - 0.2 * dy)  # inside pixel (i, j), off its centre
    pos = wf.scene_point(w.contour, *target)
    qtbot.mouseClick(w.contour.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    settle(qtbot, w)
    assert len(s.runs) == n + 1
    new = s.runs[-1].config
    assert new.start == (float(xs[i]), float(ys[j]))
    assert new == selected.with_(start=new.start)
    assert not panel.computing  # same optimizer and settings: the map still holds
    # The run ends where the map says: its status / minimum at K steps is the pixel's.
    run = s.runs[-1].run
    run.advance(K - run.steps)
    d = np.linalg.norm(w.session.problem.minima - run.history.points[-1], axis=1)
    assert (int(np.argmin(d)) if d.min() < 1e-2 else -1) == m.minimum[j, i]


def test_click_off_the_map_or_with_it_hidden_moves_the_start(basins, qtbot):
    w, panel = basins
    s = w.session
    panel.show_box.setChecked(False)
    n, rid = len(s.runs), s.selected_id
    pos = wf.scene_point(w.contour, 1.0, 1.0)
    qtbot.mouseClick(w.contour.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    settle(qtbot, w)
    assert len(s.runs) == n and s.entry(rid).config.start == pytest.approx((1.0, 1.0), abs=0.1)


# ------------------------------------------------------------------------------ the map follows the run
def test_map_recomputes_when_the_selected_runs_settings_change(basins, qtbot):
    w, panel = basins
    s = w.session
    s.update_run(s.selected_id, hyperparameters={"lr": 0.05})
    qtbot.waitUntil(lambda: panel.computing, timeout=5_000)
    wait_map(qtbot, panel)
    assert panel.overlay.map.key.config.hyperparameters["lr"] == 0.05
    np.testing.assert_array_equal(panel.overlay.map.minimum, reference(w).minimum)


def test_problem_change_replaces_the_map_and_one_parameter_has_none(basins, qtbot):
    w, panel = basins
    s = w.session
    s.set_problem(name="rosenbrock")
    settle(qtbot, w)
    wait_map(qtbot, panel)
    assert panel.overlay.map.key.problem is s.problem
    np.testing.assert_array_equal(panel.overlay.map.status, reference(w).status)
    s.set_problem(name="line-through-origin")  # one parameter: no basin map
    settle(qtbot, w)
    assert panel.overlay.map is None and not panel.computing
    assert "two parameters" in panel.status.text()


def test_a_problem_without_known_minima_is_coloured_by_final_loss(basins, qtbot):
    w, panel = basins
    w.session.set_problem(name="saddle")
    settle(qtbot, w)
    wait_map(qtbot, panel)
    assert panel.mode == "loss" and panel.overlay.mode == "loss"
    assert panel.legend.findChild(object, "basins_colorbar") is not None
    np.testing.assert_array_equal(panel.overlay.item.image, basin_rgba(panel.overlay.map, "loss")[0])


def test_compare_optimizers_shows_one_map_per_run(basins, qtbot):
    w, panel = basins
    window = panel.open_compare()
    qtbot.waitUntil(lambda: not window.work.busy, timeout=120_000)
    runs = [e for e in w.session.runs if e.visible]
    assert len(window.panes) == len(runs) == 2
    for (_plot, image, title), entry, grid in zip(window.panes, runs, window.maps, strict=True):
        assert title.text() == entry.label
        (x0, x1), (y0, y1) = w.session.bounds
        ref = basin_map(w.session.problem, entry.config, (x0, x1, y0, y1), grid.g, K)
        np.testing.assert_array_equal(grid.minimum, ref.minimum)
        np.testing.assert_array_equal(image.image, basin_rgba(grid, "minimum")[0])
    window.close()


def test_a_closed_window_with_a_basin_map_is_freed_without_the_garbage_collector(qtbot, studio_settings):

    from gdstudio.ui.main_window import MainWindow

    w = wf.make_window(qtbot, studio_settings)
    panel = panel_ready(w, qtbot)
    w.actions["basin_map"].trigger()
    wait_map(qtbot, panel)
    panel.open_compare()
    w.close()  # while the compare window computes
    w.deleteLater()
    del w, panel
    qtbot.wait(20)
    # Qt objects only (pure data such as a cancelled job's traceback may sit in a cycle harmlessly)
    assert wf.left_to_collector((MainWindow, BasinsPanel, BasinCompare)) == []
