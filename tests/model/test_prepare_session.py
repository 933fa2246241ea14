"""prepare_session: a document validated and computed off any session, with progress and cancel."""

from __future__ import annotations

import pytest

from gdstudio.model.presets import preset_document
from gdstudio.model.session import PREPARE_CHUNK, LoadCancelled, Session, prepare_cost, prepare_session


def _doc(steps: int) -> dict:
    doc = preset_document("rosenbrock")
    doc["runs"] = [dict(doc["runs"][0], tol=0.0), dict(doc["runs"][0], tol=0.0)]
    doc["runs"][1]["hyperparameters"] = {"lr": 0.05}  # GD at η 0.05 diverges within a few steps
    doc["runs"][1].pop("color", None)
    doc["runs"][0].pop("color", None)
    doc["playback"].update(position=steps, computed_steps=steps, max_steps=steps)
    return doc


def test_progress_rises_to_the_total_counting_a_stopped_run_as_done():
    steps = 2 * PREPARE_CHUNK + 500
    seen: list[tuple[int, int]] = []
    prepared = prepare_session(_doc(steps), progress=lambda d, t: seen.append((d, t)))
    assert [t for _, t in seen] == [2 * steps] * 3  # one report per chunk
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 2 * steps
    assert done[0] == PREPARE_CHUNK + steps  # the diverged run counts whole from the first chunk
    assert done[1] == 2 * PREPARE_CHUNK + steps  # and only once (not again at every chunk)
    assert prepared.runs[0].steps == steps and not prepared.runs[1].running
    assert prepare_cost(_doc(steps)) == 2 * steps


def test_cancel_stops_and_the_session_is_untouched():
    s = Session()
    before = [e.config for e in s.runs]
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(LoadCancelled):
        prepare_session(_doc(10 * PREPARE_CHUNK), cancelled=cancelled)
    assert len(calls) == 4 and [e.config for e in s.runs] == before


def test_apply_prepared_equals_apply_dict():
    doc = _doc(300)
    a, b = Session(), Session()
    a.apply_dict(doc)
    b.apply_prepared(prepare_session(doc))
    assert a.to_dict() == b.to_dict()
