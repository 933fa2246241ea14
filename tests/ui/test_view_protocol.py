"""Every view implements the View interface the bridge calls, with the protocol's signatures; the
bridge drives them through it only (options, surfaces, frames, clicks of every picking view)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui import bridge as bridge_mod
from gdstudio.ui.bridge import ViewBridge, display_options
from gdstudio.ui.views import ContourView, HistoryView, SurfaceView
from gdstudio.ui.views.fit import FitView
from gdstudio.ui.views.multiples import SmallMultiplesView
from gdstudio.ui.views.protocol import DeferredFrames, DisplayOptions, PickingView, View

VIEWS = (ContourView, SurfaceView, HistoryView, FitView, SmallMultiplesView)
PROTOCOL_METHODS = ("set_problem", "set_surface", "set_frame", "set_position", "set_options")


def _params(fn) -> list[tuple[str, object, bool]]:
    return [(p.name, p.kind, p.default is inspect.Parameter.empty)
            for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("cls", VIEWS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_each_view_has_the_protocols_signature(cls, name):
    assert _params(getattr(cls, name)) == _params(getattr(View, name))


def test_picking_and_deferred_views():
    assert issubclass(ContourView, PickingView) and issubclass(SmallMultiplesView, PickingView)
    assert not issubclass(HistoryView, PickingView) and not issubclass(FitView, PickingView)
    assert issubclass(SurfaceView, DeferredFrames) and not issubclass(ContourView, DeferredFrames)


def test_dead_calls_are_gone():
    assert not hasattr(ContourView, "set_axis_labels")
    assert not hasattr(ContourView, "set_step_dots") and not hasattr(SmallMultiplesView, "set_step_dots")


def test_the_bridge_does_not_duck_type():
    """No hasattr / getattr / inspect in the bridge: it calls the interface."""
    tree = ast.parse(Path(bridge_mod.__file__).read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    assert not {"hasattr", "getattr"} & names
    assert "inspect" not in imported


def test_display_options_follow_the_session():
    s = Session()
    s.set_options(show_gradient=True, show_field=True, log_loss=False)
    o = display_options(s)
    assert o == DisplayOptions(gradient=True, velocity=False, effective_step=False, field=True, log_loss=False,
                               colormap="viridis")
    s.set_options(grey_surface=True)
    assert display_options(s).colormap == "grey"
    assert o.overlays == {"gradient": True, "velocity": False, "effective_step": False, "field": True}
    assert o.wants_preview and not DisplayOptions(field=True).wants_preview


@pytest.fixture
def views(qtbot):
    made = (ContourView(use_opengl=False), SurfaceView(), HistoryView(), FitView(),
            SmallMultiplesView(use_opengl=False))
    for v in made:
        qtbot.addWidget(v)
    return made


def test_every_view_is_fed_through_the_interface(qtbot, views):
    contour, surface, history, fit, multiples = views
    s = Session()
    s.set_problem(name="sigmoid-neuron")
    s.add_run(RunConfig("adam", (0.5, 0.5), {"lr": 0.1}))
    b = ViewBridge(s, contour, surface, history)
    try:
        b.add_view(fit)
        b.add_view(multiples)
        s.forward(4)
        b.flush()
        rid = s.selected_id
        assert fit.applies and set(fit.shown_params()) == {rid}
        np.testing.assert_array_equal(fit.shown_params()[rid], s.selected.run.history.points[4])
        assert list(multiples.panes) == [rid]
        assert contour.drawn_run(rid) is not None and contour.drawn_run(rid).n == 5
        assert history.curve_data(rid, "loss")[0][0].size > 0
        surface.flush()
        assert set(surface.head_positions()) == {rid}
        s.set_options(show_velocity=True, log_loss=False)
        assert contour.overlays["velocity"] and multiples.panes[rid].overlays["velocity"]
        assert history._log["loss"] is False
    finally:
        b.close()


def test_clicks_in_the_small_multiples_reach_the_session(qtbot, views):
    """The multiples are an extra view in the window (add_view): their clicks move starts too."""
    contour, _surface, _history, _fit, multiples = views
    s = Session()
    s.add_run(RunConfig("adam", (0.5, 0.5), {"lr": 0.1}))
    b = ViewBridge(s, contour, None, None)
    try:
        b.add_view(multiples)
        rid = s.selected_id
        multiples.startClicked.emit(1.5, -0.5)
        assert s.entry(rid).config.start == (1.5, -0.5)
        multiples.startAdded.emit(2.0, 2.0)
        assert len(s.runs) == 2
        multiples.startDropped.emit("not a run", 0.0, 0.0)  # refused with a message, no exception
    finally:
        b.close()
    multiples.startClicked.emit(0.25, 0.25)  # closed: disconnected
    assert s.entry(rid).config.start == (1.5, -0.5)
