"""A network landscape in a session: opened like a session document, saved and loaded exactly, v3 migrates."""

from __future__ import annotations

import json

import gdstudio_landscape_fixture as fx
import numpy as np
import pytest

from gdstudio.engine.recorded import RecordedRun
from gdstudio.model import Session
from gdstudio.model.landscape import landscape_document
from gdstudio.model.persistence import VERSION, SessionError, load_session, migrate, save_session


@pytest.fixture
def session() -> Session:
    s = Session()
    s.apply_dict(landscape_document(fx.make_landscape(), colors=fx.COLORS), label="open landscape")
    return s


def test_a_landscape_document_opens_recorded_runs(session):
    data = fx.make_landscape()
    assert session.problem.name == "landscape" and session.problem.params == ("PC1 38%", "PC2 12%")
    assert [e.label for e in session.runs] == ["SGD", "Momentum", "Adam"]
    assert [e.color for e in session.runs] == list(fx.COLORS)
    assert all(isinstance(e.run, RecordedRun) for e in session.runs)
    session.forward(4)
    for e, path in zip(session.runs, data.paths, strict=True):
        np.testing.assert_array_equal(e.run.history.points, path.points[:5])
        np.testing.assert_array_equal(e.run.history.loss, path.loss[:5])
    session.forward(100)
    assert session.position == 10 and not session.any_running
    session.undo_stack.undo()
    assert session.problem.name == "himmelblau"


def test_save_and_load_round_trip_exactly(session, tmp_path):
    session.forward(6)
    path = tmp_path / "landscape.json"
    save_session(session, path)
    doc = json.loads(path.read_text())
    assert doc["version"] == VERSION == 4 and doc["problem"]["landscape"]["titles"] == ["PC1 38%", "PC2 12%"]
    other = Session()
    load_session(other, path)
    assert other.problem_settings.landscape == session.problem_settings.landscape
    assert other.position == 6
    for a, b in zip(session.runs, other.runs, strict=True):
        assert (a.label, a.color, a.config) == (b.label, b.color, b.config)
        np.testing.assert_array_equal(a.run.history.points, b.run.history.points)
        np.testing.assert_array_equal(a.run.history.loss, b.run.history.loss)
    assert other.to_dict() == session.to_dict()


def test_version_3_documents_migrate_without_a_landscape():
    v3 = {"format": "gdstudio-session", "version": 3, "problem": {"name": "bowl"},
          "runs": [{"optimizer": "gd", "start": [1, 1]}], "view": {"show_internals": False}}
    up = migrate(v3)
    assert up["version"] == 4 and up["problem"] == {"name": "bowl", "landscape": None}
    s = Session()
    s.apply_dict(v3)
    assert s.problem_settings.landscape is None and s.to_dict()["problem"]["landscape"] is None


def test_bad_landscapes_are_one_clear_error(session):
    doc = session.to_dict()
    doc["problem"]["landscape"]["loss"][0] = [1.0]
    with pytest.raises(SessionError, match=r"problem\.landscape: Invalid landscape loss"):
        Session().apply_dict(doc)
    doc = session.to_dict()
    doc["problem"]["landscape"] = None
    with pytest.raises(SessionError, match="needs the name 'landscape' and its grid"):
        Session().apply_dict(doc)
    doc = session.to_dict()
    doc["runs"][0]["hyperparameters"] = {"lr": 0.5}
    with pytest.raises(SessionError, match="recorded training path"):
        Session().apply_dict(doc)


def test_a_recorded_run_cannot_be_reconfigured(session):
    rid = session.runs[0].id
    with pytest.raises(ValueError, match="recorded training path"):
        session.update_run(rid, hyperparameters={"lr": 0.3})


def test_the_caption_names_the_training_iteration_of_the_step(session):
    from gdstudio.export.schedule import caption

    data = fx.make_landscape()
    session.forward(4)
    cap = caption(session.problem.title, session.runs, 3, 10)
    assert cap.title.endswith("· step 3 / 10 (training iteration 30)")  # recorded every 10 iterations
    assert int(data.paths[0].iterations[3]) == 30
    assert "training iteration" not in caption("Himmelblau", [], 3, 10).title  # a surface's steps are steps
