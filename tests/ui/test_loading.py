"""Loads are all or nothing, and a long session opens off the UI thread with progress and Cancel.

Every preset is loaded after another, with each overlay on (and all of them), through the real
window; a view that fails while a load is pushed leaves the previous session on screen.
"""

from __future__ import annotations

import itertools
import json
import time

import gdstudio_window_fixtures as wf  # registered by conftest.py
import pytest
from PySide6.QtCore import Qt, QTimer

from gdstudio.model.presets import list_presets, preset_document

OVERLAYS = ("show_gradient", "show_velocity", "show_effective_step", "show_field")
PRESETS = [p.id for p in list_presets()]


def _interleaved_by_dimension() -> list[str]:
    """Presets ordered so 1-D and 2-D problems alternate as often as possible."""
    one = [p for p in PRESETS if preset_document(p)["problem"]["name"] == "line-through-origin"]
    two = [p for p in PRESETS if p not in one]
    out = []
    while one or two:
        if two:
            out.append(two.pop(0))
        if one:
            out.append(one.pop(0))
    return out


def _check_consistent(w, preset_id: str) -> None:
    """Title, panels, runs and views all describe the preset just loaded."""
    doc = preset_document(preset_id)
    s = w.session
    assert w.windowTitle().startswith(doc["title"])
    assert s.problem.name == doc["problem"]["name"]
    assert w.panels["problem"].combo.currentData() == s.problem.name
    run_ids = {e.id for e in s.runs if e.visible}
    contour = {r.key for r in w.contour.runs_layer.runs()} if w.contour.isVisible() else run_ids
    assert contour == run_ids
    assert w.bridge.last_surface is not None and w.bridge.last_surface.z.shape[-1] == s.problem_settings.resolution


@pytest.mark.parametrize("overlay", [*OVERLAYS, "all"])
def test_every_preset_loads_whole_with_each_overlay(shared_studio, qtbot, overlay):
    w = shared_studio
    on = OVERLAYS if overlay == "all" else (overlay,)
    for preset_id in _interleaved_by_dimension():
        assert w.load_preset(preset_id), preset_id
        w.session.set_options(**dict.fromkeys(on, True))  # presets set their own view options
        wf.settle(qtbot, w)
        _check_consistent(w, preset_id)
        assert w.message_box is None or not w.message_box.isVisible()
        w.session.forward(3)  # the arrows at the head, mid-history and after stepping
        wf.settle(qtbot, w)
        w.session.seek(1)
        wf.settle(qtbot, w)


def test_a_view_that_fails_during_a_load_leaves_the_previous_session(shared_studio, qtbot, monkeypatch):
    w = shared_studio
    w.load_preset("rosenbrock")
    wf.settle(qtbot, w)
    before = (w.windowTitle(), w.session.problem.name, [(e.id, e.config) for e in w.session.runs])
    drawn_before = {r.key for r in w.contour.runs_layer.runs()}
    original = type(w.contour).set_surface

    def broken(self, surface, *args, **kwargs):
        if surface.z.ndim == 1:  # the 1-D preset's surface: this view cannot draw it
            raise ValueError("cannot reshape array of size 2 into shape (1,1)")
        return original(self, surface, *args, **kwargs)

    monkeypatch.setattr(type(w.contour), "set_surface", broken)
    assert not w.load_preset("line-gd-vs-sgd")
    wf.settle(qtbot, w)
    after = (w.windowTitle(), w.session.problem.name, [(e.id, e.config) for e in w.session.runs])
    assert after == before
    assert {r.key for r in w.contour.runs_layer.runs()} == drawn_before
    assert w.panels["problem"].combo.currentData() == "rosenbrock"
    box = w.message_box
    assert box is not None and box.isVisible()
    assert "cannot reshape" in box.text() and "previous session is kept" in box.text()
    box.close()
    monkeypatch.setattr(type(w.contour), "set_surface", original)
    assert w.load_preset("line-gd-vs-sgd")  # and the same load works once the view does


def _long_session(tmp_path, runs: int = 12, steps: int = 100_000):
    doc = preset_document("rosenbrock")
    template = doc["runs"][0]
    doc["runs"] = [dict(template, color=None) for _ in range(runs)]
    for r in doc["runs"]:
        r.pop("color")
        r["tol"] = 0.0  # nobody converges early: every run computes every step
    doc["playback"].update(position=steps, computed_steps=steps, max_steps=steps)
    path = tmp_path / "long.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_long_session_opens_off_the_ui_thread_and_the_window_stays_usable(shared_studio, qtbot, tmp_path):
    w = shared_studio
    path = _long_session(tmp_path)
    assert path.stat().st_size < 4096  # the 2 KB file that froze the window for 30 s
    w.load_preset("beale")
    wf.settle(qtbot, w)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()) if w.loading else None)
    timer.start(20)
    assert w.open_path(path)
    assert w.loading and w.load_progress.isVisible() and w.load_cancel.isVisible()
    qtbot.waitUntil(lambda: w.load_progress.value() > 0, timeout=30_000)  # progress is reported
    assert w.session.problem.name == "beale" and w.loading  # still the old session meanwhile
    qtbot.waitUntil(lambda: not w.loading, timeout=120_000)
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10 and max(gaps) < 1.0  # the event loop kept running while it computed
    assert len(w.session.runs) == 12 and w.session.computed_steps == 100_000
    assert w.current_path == path and not w.load_progress.isVisible()


def test_cancel_stops_opening_and_keeps_the_current_session(shared_studio, qtbot, tmp_path):
    w = shared_studio
    w.load_preset("beale")
    wf.settle(qtbot, w)
    before = [(e.id, e.config) for e in w.session.runs]
    assert w.open_path(_long_session(tmp_path))
    qtbot.waitUntil(lambda: w.load_progress.value() > 0, timeout=30_000)
    qtbot.mouseClick(w.load_cancel, Qt.MouseButton.LeftButton)
    assert not w.loading and not w.load_progress.isVisible()
    qtbot.wait(300)  # a late result of the cancelled job must not land
    assert w.session.problem.name == "beale" and [(e.id, e.config) for e in w.session.runs] == before
    assert "Stopped opening" in w.status_message.text()


def test_a_bad_file_changes_nothing_and_names_the_problem(shared_studio, qtbot, tmp_path):
    w = shared_studio
    w.load_preset("saddle")
    wf.settle(qtbot, w)
    doc = preset_document("rosenbrock")
    doc["runs"][0]["optimizer"] = "nope"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert not w.open_path(path)
    assert w.session.problem.name == "saddle"
    assert "nope" in w.message_box.text()
    w.message_box.close()
