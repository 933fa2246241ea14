"""Sessions saved by format version 1 (commit 848c8e8, tools/make_session_fixtures_v1.py) still load
to the same runs: points at the saved position to 1e-12, colours, visibility, selection,
hyperparameters, position; and a re-save loads back to the same state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gdstudio.model import Session, load_session, save_session

FOLDER = Path(__file__).resolve().parents[1] / "data" / "sessions" / "v1"
EXPECTED = json.loads((FOLDER / "expected.json").read_text(encoding="utf-8"))


def _jsonish(hp: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hp.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_v1_fixture_loads_to_the_expected_runs(name, tmp_path):
    want = EXPECTED[name]
    s = Session()
    load_session(s, FOLDER / name)
    assert s.problem_settings.name == want["problem"]
    assert s.position == want["position"]
    ids = [e.id for e in s.runs]
    assert (None if s.selected_id is None else ids.index(s.selected_id)) == want["selected"]
    assert len(s.runs) == len(want["runs"])
    for e, w in zip(s.runs, want["runs"], strict=True):
        assert e.config.optimizer == w["optimizer"]
        assert e.color == w["color"] and e.visible is w["visible"]
        assert _jsonish(e.config.hyperparameters) == w["hyperparameters"]
        np.testing.assert_allclose(e.run.history.points[s.position], w["point"], rtol=0, atol=1e-12)
    # saved again by this version, it loads to the same state
    save_session(s, tmp_path / name)
    t = Session()
    load_session(t, tmp_path / name)
    assert t.to_dict() == s.to_dict()
    for a, b in zip(s.runs, t.runs, strict=True):
        np.testing.assert_array_equal(a.run.history.points, b.run.history.points)


def test_the_edited_fixture_keeps_options_speed_and_view():
    s = Session()
    load_session(s, FOLDER / "book-bowl-edited.json")
    o = s.options
    assert (o.show_gradient, o.show_velocity, o.log_loss, o.grey_surface, o.small_multiples) == (True, True, False,
                                                                                               True, True)
    assert (s.problem_settings.log_scale, s.problem_settings.resolution) == (True, 128)
    assert (s.steps_per_tick, s.ticks_per_second, s.max_steps) == (3, 30, 500)
