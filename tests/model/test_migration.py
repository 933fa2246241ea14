"""The version-migration chain of session documents (persistence.migrate / MIGRATIONS)."""

from __future__ import annotations

import pytest

from gdstudio.model import persistence
from gdstudio.model.persistence import FORMAT, SessionError, migrate, session_from_dict


def test_current_version_passes_through_unchanged():
    doc = {"format": FORMAT, "version": persistence.VERSION, "problem": {"name": "bowl"}, "runs": []}
    assert migrate(doc) == doc


def test_version_1_documents_read_as_version_2():
    doc = {"format": FORMAT, "version": 1, "problem": {"name": "bowl"},
           "runs": [{"optimizer": "gd", "start": [1, 1]}]}
    up = migrate(doc)
    assert up["version"] == 2 and up["runs"][0] == {"optimizer": "gd", "start": [1, 1], "schedule": None,
                                                    "schedule_settings": {}, "warmup": 0}
    cfg = session_from_dict(doc).runs[0].config
    assert (cfg.schedule, dict(cfg.schedule_settings), cfg.warmup) == (None, {}, 0)


def test_each_step_runs_once_in_order(monkeypatch):
    """A pretend format version 3: v1 named the problem key 'surface', v2 stored η as 'eta'."""
    calls = []

    def v1_to_v2(doc):
        calls.append(1)
        doc["problem"] = {"name": doc["problem"].pop("surface")}
        return doc

    def v2_to_v3(doc):
        calls.append(2)
        for run in doc["runs"]:
            run["hyperparameters"] = {"lr": run.pop("eta")}
        return doc

    monkeypatch.setattr(persistence, "VERSION", 3)
    monkeypatch.setattr(persistence, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})
    old = {"format": FORMAT, "version": 1, "problem": {"surface": "bowl"},
           "runs": [{"optimizer": "gd", "start": [1, 1], "eta": 0.25}]}
    parsed = session_from_dict(old)
    assert calls == [1, 2]
    assert parsed.problem_settings.name == "bowl" and parsed.runs[0].config.hyperparameters == {"lr": 0.25}
    assert old["problem"] == {"surface": "bowl"}  # the caller's document is not changed
    calls.clear()
    assert migrate({**old, "version": 2, "runs": [{"optimizer": "gd", "start": [1, 1], "eta": 0.5}],
                    "problem": {"name": "bowl"}})["version"] == 3
    assert calls == [2]


def test_a_missing_step_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(persistence, "VERSION", 2)
    monkeypatch.setattr(persistence, "MIGRATIONS", {})
    with pytest.raises(SessionError, match="Cannot read version 1 sessions"):
        migrate({"format": FORMAT, "version": 1})
