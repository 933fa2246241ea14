"""The bridge follows the fields the views show: a change reaches only what it affects."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.bridge import ViewBridge
from gdstudio.ui.views import ContourView, HistoryView
from gdstudio.ui.views.multiples import SmallMultiplesView


@pytest.fixture
def race(qtbot):
    s = Session()
    s.set_problem(name="himmelblau")
    for opt, lr, start in (("adam", 0.1, (0.5, 0.5)), ("momentum", 0.005, (-1.0, 2.0)), ("gd", 0.01, (1.0, -1.0))):
        s.add_run(RunConfig(opt, start, {"lr": lr}))
    contour, history, multiples = ContourView(use_opengl=False), HistoryView(), SmallMultiplesView(use_opengl=False)
    for w in (contour, history, multiples):
        qtbot.addWidget(w)
    b = ViewBridge(s, contour, None, history)
    b.add_view(multiples)
    s.forward(20)
    b.flush()
    yield s, b, contour, history, multiples
    b.close()


def _count_frames(monkeypatch, pane) -> list[int]:
    calls: list[int] = []
    original = pane.set_frame

    def counting(trajs, step):
        calls.append(step)
        original(trajs, step)

    monkeypatch.setattr(pane, "set_frame", counting)
    return calls


def test_layout_options_push_nothing(race, qtbot, monkeypatch):
    s, b, contour, _history, _multiples = race
    seen: list[object] = []
    monkeypatch.setattr(contour, "set_options", seen.append)
    pushes = b.pushes
    s.set_options(small_multiples=True)
    s.set_options(show_surface=False)
    qtbot.wait(20)
    assert seen == [] and b.pushes == pushes and not b.stale
    s.set_options(show_field=True)  # drawn by the views, needs no preview: options only
    assert len(seen) == 1 and seen[0].field and not b.stale
    s.set_options(grey_surface=True)
    assert len(seen) == 2 and seen[1].colormap == "grey" and not b.stale
    s.set_options(show_velocity=True)  # an arrow at the heads: the runs follow (with previews)
    assert len(seen) == 3 and b.stale
    qtbot.waitUntil(lambda: not b.stale)
    assert b.pushes == pushes + 1


def test_the_grey_map_reaches_every_view(race, qtbot):
    s, _b, contour, _history, multiples = race
    s.set_options(grey_surface=True)
    assert contour.colormap_name == "grey"
    assert [p.colormap_name for p in multiples.panes.values()] == ["grey"] * 3
    s.set_options(grey_surface=False)
    assert contour.colormap_name == "viridis" and multiples.panes[s.runs[0].id].colormap_name == "viridis"


def test_a_recolour_repaints_one_pane_and_repens_one_history_run(race, qtbot, monkeypatch):
    s, b, contour, history, multiples = race
    a, c, d = (e.id for e in s.runs)
    counts = {key: _count_frames(monkeypatch, multiples.panes[key]) for key in (a, c, d)}
    pens = {key: [curve.pen for curve in history._runs[key].curves["loss"]] for key in (a, c, d)}
    geoms = dict(contour._geoms)
    s.set_color(c, "#123456")
    qtbot.waitUntil(lambda: not b.stale)
    assert [len(counts[k]) for k in (a, c, d)] == [0, 1, 0]
    assert multiples.title_of(c)[1] == "#123456"
    for key in (a, d):
        assert [curve.pen for curve in history._runs[key].curves["loss"]] == pens[key]
    assert history._runs[c].curves["loss"][0].pen.color().name() == "#123456"
    assert contour.drawn_run(c).color == "#123456"
    assert all(contour._geoms[k] is geoms[k] for k in (a, c, d))  # clipped geometry kept: only the pen changed
    s.set_visible(d, False)
    qtbot.waitUntil(lambda: not b.stale)
    assert list(multiples.panes) == [a, c] and contour.drawn_run(d) is None
    assert len(counts[a]) == 0  # the other panes were kept as they were


def test_selection_pushes_nothing(race, qtbot):
    s, b, *_ = race
    pushes = b.pushes
    s.select(s.runs[1].id)
    qtbot.wait(20)
    assert b.pushes == pushes and not b.stale


def test_a_new_run_and_a_restart_reach_the_views(race, qtbot):
    s, b, contour, history, multiples = race
    rid = s.add_run(RunConfig("rmsprop", (2.0, 2.0), {"lr": 0.02}))
    qtbot.waitUntil(lambda: not b.stale)
    assert rid in multiples.panes and contour.drawn_run(rid).n == 21
    s.set_start(rid, (-2.0, -2.0))  # a new Run object: the entry's run field
    qtbot.waitUntil(lambda: not b.stale)
    np.testing.assert_array_equal(contour.drawn_run(rid).start, (-2.0, -2.0))
    s.remove_run(rid)
    qtbot.waitUntil(lambda: not b.stale)
    assert rid not in multiples.panes and contour.drawn_run(rid) is None
    assert rid not in history._runs


def test_the_colour_scale_reuses_the_grid(race, qtbot, monkeypatch):
    s, b, contour, *_ = race
    grid = b.last_surface
    calls: list[int] = []
    original = s.problem.grid
    monkeypatch.setattr(s.problem, "grid", lambda *a, **k: calls.append(1) or original(*a, **k))
    s.set_problem(log_scale=True)
    assert calls == [] and b.last_surface is grid and contour._scale.log
    s.set_problem(resolution=64)  # a new grid
    assert calls == [1] and b.last_surface.z.shape == (64, 64)
    s.set_problem(log_scale=False)
    assert calls == [1] and not contour._scale.log
