"""The version-migration chain of session documents (persistence.migrate / MIGRATIONS)."""

from __future__ import annotations

import pytest

from gdstudio.model import persistence
from gdstudio.model.persistence import FORMAT, SessionError, migrate, session_from_dict


def test_current_version_passes_through_unchanged():
    doc = {"format": FORMAT, "version": persistence.VERSION, "problem": {"name": "bowl"}, "runs": []}
    assert migrate(doc) == doc


def test_version_1_documents_read_as_the_current_version():
    doc = {"format": FORMAT, "version": 1, "problem": {"name": "bowl"},
           "runs": [{"optimizer": "gd", "start": [1, 1]}]}
    up = migrate({**doc, "view": {}})
    assert up["version"] == persistence.VERSION and up["runs"][0] == {
        "optimizer": "gd", "start": [1, 1], "schedule": None, "schedule_settings": {}, "warmup": 0}
    assert up["view"] == {"show_internals": False}
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


def test_a_migrated_v1_file_has_every_key_a_file_of_this_version_has():
    """A new persisted field needs a migration step writing its old meaning: then an old file,
    migrated, has exactly the keys this version writes (what presets' canonical form relies on)."""
    import json
    from pathlib import Path

    from gdstudio.model import Session

    folder = Path(__file__).resolve().parents[1] / "data" / "sessions" / "v1"
    for path in sorted(folder.glob("*.json")):
        if path.name == "expected.json":
            continue
        old = json.loads(path.read_text(encoding="utf-8"))
        new = Session()
        new.apply_dict(old)
        now = new.to_dict()
        up = migrate(old)
        assert set(up["problem"]) == set(now["problem"]), path.name
        assert set(up["view"]) == set(now["view"]), path.name
        assert set(up["playback"]) == set(now["playback"]), path.name
        for a, b in zip(up["runs"], now["runs"], strict=True):
            assert set(a) == set(b), path.name
