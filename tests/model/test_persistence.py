"""Sessions as versioned JSON: round trips reproduce identical histories and the same view,
saves are atomic, and every kind of corrupt file gives a SessionError saying what is wrong
while leaving the open session exactly as it was."""

from __future__ import annotations

import copy
import errno
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from gdstudio.engine.runs import History, RunConfig
from gdstudio.model import MAX_STEPS_LIMIT, Session, SessionError, ViewOptions, load_session, save_session
from gdstudio.model.persistence import FORMAT, VERSION, session_from_dict


def sigmoid_session() -> Session:
    """A session touching every setting: data problem, batches, noise, pairs, bools, view."""
    s = Session()
    s.set_problem(name="sigmoid-neuron", dataset="six-point", bounds=((-8.0, 3.0), (-3.0, 6.0)), resolution=96,
                  log_scale=True)
    s.add_run(RunConfig("gd", (-6.0, 4.0), {"lr": 1.0}))
    s.add_run(RunConfig("adam", (-6.0, 4.0), {"lr": 0.5, "betas": (0.9, 0.9)}, batch_size=1, shuffle=False))
    s.add_run(RunConfig("nag", (-5.0, 3.0), {"lr": 2.0, "momentum": 0.9, "nesterov": True}, noise=0.05, seed=11),
              color="#123456", visible=False)
    s.add_run(RunConfig("rmsprop", (-6.0, 4.0), {"lr": 0.1, "alpha": 0.9}, batch_size=4, seed=3))
    s.set_speed(steps_per_tick=5, ticks_per_second=24)
    s.max_steps = 500
    s.set_options(show_gradient=True, show_velocity=True, log_loss=False)
    s.set_playing(True)
    for _ in range(7):
        s.tick()
    s.set_playing(False)
    s.seek(12)  # scrubbed back: 35 steps computed, step 12 shown
    s.select(s.runs[2].id)
    return s


def histories_equal(a: Session, b: Session) -> None:
    assert len(a.runs) == len(b.runs)
    for ea, eb in zip(a.runs, b.runs, strict=True):
        ha, hb = ea.run.history, eb.run.history
        assert ea.status == eb.status and ea.run.steps == eb.run.steps
        np.testing.assert_array_equal(ha.points, hb.points)
        np.testing.assert_array_equal(ha.loss, hb.loss)
        np.testing.assert_array_equal(ha.grad_norm, hb.grad_norm)
        for name in History.STEP_FIELDS:
            np.testing.assert_array_equal(ha.step_array(name), hb.step_array(name))


def view_state(s: Session) -> tuple:
    return (s.problem_settings, s.bounds, s.options, s.steps_per_tick, s.ticks_per_second, s.max_steps,
            s.position, s.computed_steps, [e.id for e in s.runs].index(s.selected_id),
            [(e.config, e.color, e.visible) for e in s.runs])


# ---------------------------------------------------------------------------------- round trips
def test_round_trip_reproduces_histories_and_view(tmp_path, h):
    s = sigmoid_session()
    path = tmp_path / "race.gdsession"
    save_session(s, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert doc["playback"]["position"] == 12 and doc["playback"]["computed_steps"] == 35

    t = Session()
    t.add_run(RunConfig("gd", (0.0, 0.0)))  # content that the file replaces
    t.forward(3)
    rec = h.Recorder(t)
    load_session(t, path)
    assert view_state(t) == view_state(s)
    assert t.options == ViewOptions(show_gradient=True, show_velocity=True, log_loss=False)
    assert t.position == 12 and t.computed_steps == 35 and not t.playing
    histories_equal(s, t)
    assert t.to_dict() == s.to_dict()
    assert {"problem_changed", "runs_changed", "selection_changed", "position_changed"} <= set(rec.names())
    # Playing on from the loaded session continues exactly like the original.
    s.seek(35)
    t.seek(35)
    s.forward(10)
    t.forward(10)
    histories_equal(s, t)


@pytest.mark.parametrize("settings", [
    {"name": "custom", "expr": "sin(x)*cos(y) + 0.1*(x**2 + y**2)"},
    {"name": "line-through-origin", "data_x": (1.0, 2.0, 4.0), "data_y": (1.5, 4.5, 7.0)},
    {"name": "rosenbrock"},
])
def test_round_trip_other_problems(tmp_path, settings):
    s = Session()
    s.set_problem(**settings)
    s.add_run(RunConfig("adam", tuple(s.problem.start), {"lr": 0.05}))
    s.add_run(RunConfig("momentum", tuple(s.problem.start), {"lr": 0.001}))
    s.forward(15)
    save_session(s, tmp_path / "s.json")
    t = Session()
    load_session(t, tmp_path / "s.json")
    assert view_state(t) == view_state(s)
    histories_equal(s, t)


def test_empty_session_round_trips(tmp_path):
    s = Session()
    save_session(s, tmp_path / "e.json")
    t = Session()
    load_session(t, tmp_path / "e.json")
    assert t.runs == [] and t.selected_id is None and t.to_dict() == s.to_dict()


# ---------------------------------------------------------------------------------- atomic saves
def _folder_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("where", ["json.dumps", "Path.write_bytes", "os.replace"])
def test_failed_save_leaves_old_file_and_no_temp(tmp_path, monkeypatch, where):
    path = tmp_path / "keep.json"
    save_session(sigmoid_session(), path)
    old = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "json.dumps":
        monkeypatch.setattr(json, "dumps", lambda *a, **k: (_ for _ in ()).throw(ValueError("cannot encode")))
    elif where == "Path.write_bytes":
        monkeypatch.setattr(Path, "write_bytes", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    s = Session()
    s.add_run(RunConfig("gd", (1.0, 1.0)))
    with pytest.raises(SessionError, match=r"Cannot save .*keep\.json"):
        save_session(s, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert _folder_listing(tmp_path) == ["keep.json"]


def test_save_to_missing_or_unwritable_folder(tmp_path, monkeypatch):
    missing = tmp_path / "nope" / "s.json"
    with pytest.raises(SessionError, match=r"Cannot save: Invalid session path: .*s\.json \(folder .*nope does not "
                                           r"exist\)") as info:
        save_session(Session(), missing)
    assert "nope" in str(info.value)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # the folder refuses new files (root ignores chmod)
    with pytest.raises(SessionError, match=r"Cannot save .*s\.json: Permission denied"):
        save_session(Session(), tmp_path / "s.json")
    monkeypatch.undo()
    assert _folder_listing(tmp_path) == []
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(SessionError, match="Cannot save"):
        save_session(Session(), tmp_path / "dir.json")
    assert _folder_listing(tmp_path) == ["dir.json"] and (tmp_path / "dir.json").is_dir()


def test_saved_file_is_plain_json_without_nan(tmp_path):
    s = Session()
    s.set_problem(name="bowl")
    s.add_run(RunConfig("gd", (1.0, 1.0), {"lr": 1e100}))  # diverges: histories hold no NaN in the file
    s.forward(5)
    save_session(s, tmp_path / "d.json")
    text = (tmp_path / "d.json").read_text(encoding="utf-8")
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


# ---------------------------------------------------------------------------------- corrupt files
def _base_doc() -> dict:
    s = Session()
    s.set_problem(name="bowl")
    s.add_run(RunConfig("adam", (-7.0, 2.0), {"lr": 0.3, "betas": (0.9, 0.99)}))
    s.add_run(RunConfig("nag", (-7.0, 2.0), {"lr": 0.1, "momentum": 0.9, "nesterov": True}))
    return s.to_dict()


def _set(path: str, value):
    def mutate(doc):
        *parents, last = path.split(".")
        obj = doc
        for p in parents:
            obj = obj[int(p)] if isinstance(obj, list) else obj[p]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value
    return mutate


def _delete(path: str):
    def mutate(doc):
        *parents, last = path.split(".")
        obj = doc
        for p in parents:
            obj = obj[int(p)] if isinstance(obj, list) else obj[p]
        del obj[last]
    return mutate


CORRUPT = [
    # (label, mutation of the base document, expected message fragment)
    ("wrong format", _set("format", "other-app"), "Not a gdstudio session: 'format' is 'other-app'"),
    ("no version", _delete("version"), "'version' is None"),
    ("version text", _set("version", "1"), "'version' is '1'"),
    ("version zero", _set("version", 0), "'version' is 0"),
    ("newer version", _set("version", VERSION + 1), f"newer gdstudio (version {VERSION + 1}"),
    ("unknown top key", _set("runz", []), "session: unknown key 'runz'"),
    ("problem not object", _set("problem", []), "session.problem: expected an object"),
    ("no problem", _delete("problem"), "session: missing 'problem'"),
    ("unknown problem", _set("problem.name", "nope"), "problem: Unknown problem: 'nope'"),
    ("problem name type", _set("problem.name", 3), "problem.name: expected text, got 3"),
    ("dataset on analytic", _set("problem.dataset", "two-point"), "problem: Problem 'bowl' is analytic"),
    ("resolution text", _set("problem.resolution", "256"), "problem.resolution: expected a whole number"),
    ("resolution float", _set("problem.resolution", 256.0), "problem.resolution: expected a whole number"),
    ("resolution range", _set("problem.resolution", 8), "problem: Invalid resolution value: 8"),
    ("log_scale type", _set("problem.log_scale", 1), "problem.log_scale: expected true/false, got 1"),
    ("bounds reversed", _set("problem.bounds", [[1, 0], [0, 1]]), "problem: Invalid bounds for axis 0"),
    ("bounds dimension", _set("problem.bounds", [[0, 1], [0, 1], [0, 1]]), "problem: Invalid bounds value"),
    ("bounds not pairs", _set("problem.bounds", [[0, 1, 2], [0, 1]]), "each axis needs [low, high]"),
    ("bounds inf", _set("problem.bounds", [[0, math.inf], [0, 1]]), "problem.bounds[0]: expected a list of finite"),
    ("bounds text", _set("problem.bounds", [["a", 1], [0, 1]]), "problem.bounds[0]: expected a list of finite"),
    ("data nan", _set("problem.data_x", [1, math.nan]), "problem.data_x: expected a list of finite"),
    ("runs not list", _set("runs", {}), "session.runs: expected a list"),
    ("run not object", _set("runs.0", 3), "runs[0]: expected an object, got 3"),
    ("unknown run key", _set("runs.0.lr", 0.1), "runs[0]: unknown key 'lr'"),
    ("no optimizer", _delete("runs.1.optimizer"), "runs[1]: missing 'optimizer'"),
    ("unknown optimizer", _set("runs.1.optimizer", "adamz"), "runs[1].optimizer: Unknown optimizer: 'adamz'"),
    ("unknown hyperparameter", _set("runs.0.hyperparameters.momentum", 0.9),
     "runs[0].hyperparameters: Unknown hyperparameter for adam: momentum"),
    ("bad lr value", _set("runs.0.hyperparameters.lr", -0.3), "runs[0].hyperparameters.lr: Invalid lr value: -0.3"),
    ("lr as text", _set("runs.0.hyperparameters.lr", "0.3"), "runs[0].hyperparameters.lr: expected a finite number"),
    ("lr nan", _set("runs.0.hyperparameters.lr", math.nan), "runs[0].hyperparameters.lr: expected a finite number"),
    ("betas length", _set("runs.0.hyperparameters.betas", [0.9]), "hyperparameters.betas: expected a list of two"),
    ("betas range", _set("runs.0.hyperparameters.betas", [0.9, 1.5]), "Invalid betas[1] value: 1.5"),
    ("nesterov number", _set("runs.1.hyperparameters.nesterov", 1), "hyperparameters.nesterov: expected true/false"),
    ("nesterov no momentum", _set("runs.1.hyperparameters.momentum", 0.0),
     "runs[1].hyperparameters.nesterov: Invalid nesterov value: True"),
    ("start dimension", _set("runs.0.start", [1.0, 2.0, 3.0]), r"runs[0]: Invalid start: 3 value(s) for 2"),
    ("start text", _set("runs.0.start", "1,2"), "runs[0].start: expected a list, got '1,2'"),
    ("start nan", _set("runs.0.start", [math.nan, 1.0]), "runs[0].start: expected a list of finite numbers"),
    ("start infinity", _set("runs.0.start", [math.inf, 1.0]), "runs[0].start: expected a list of finite numbers"),
    ("start bool", _set("runs.0.start", [True, 1.0]), "runs[0].start: expected a list of finite numbers"),
    ("batch on analytic", _set("runs.0.batch_size", 2), "runs[0]: Invalid batch_size value: 2"),
    ("batch bool", _set("runs.0.batch_size", True), "runs[0].batch_size: expected a whole number, got True"),
    ("seed float", _set("runs.0.seed", 1.5), "runs[0].seed: expected a whole number, got 1.5"),
    ("seed negative", _set("runs.0.seed", -1), "runs[0]: Invalid seed value: -1"),
    ("noise nan", _set("runs.0.noise", math.nan), "runs[0].noise: expected a finite number"),
    ("noise negative", _set("runs.0.noise", -1), "runs[0]: Invalid noise value"),
    ("tol text", _set("runs.0.tol", "small"), "runs[0].tol: expected a finite number, got 'small'"),
    ("shuffle text", _set("runs.0.shuffle", "yes"), "runs[0].shuffle: expected true/false"),
    ("visible number", _set("runs.0.visible", 1), "runs[0].visible: expected true/false"),
    ("colour", _set("runs.0.color", "blue"), "runs[0].color: Invalid color value: 'blue'"),
    ("playback type", _set("playback", []), "session.playback: expected an object"),
    ("position > max", _set("playback.position", 20_000), "playback: position must be in [0, max_steps = 10000]"),
    ("position float", _set("playback.position", 1.5), "playback.position: expected a whole number"),
    ("computed < position", _set("playback.position", 4), "playback: computed_steps must be in [position = 4"),
    ("spt zero", _set("playback.steps_per_tick", 0), "playback: steps_per_tick must be ≥ 1, got 0"),
    ("tps range", _set("playback.ticks_per_second", 500), "playback: ticks_per_second must be in [1, 240]"),
    ("max steps huge", _set("playback.max_steps", 10**12), f"max_steps must be in [1, {MAX_STEPS_LIMIT}]"),
    ("selected range", _set("playback.selected", 5), "playback: selected must be the index of a run (0 to 1)"),
    ("unknown playback key", _set("playback.speed", 2), "playback: unknown key 'speed'"),
    ("view type", _set("view.show_gradient", "no"), "view.show_gradient: expected true/false, got 'no'"),
    ("unknown view key", _set("view.show_stars", True), "view: unknown key 'show_stars'"),
    ("title type", _set("title", 5), "session.title: expected text"),
]


@pytest.mark.parametrize(("label", "mutate", "fragment"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_document_gives_clear_error_and_changes_nothing(tmp_path, h, label, mutate, fragment):
    doc = copy.deepcopy(_base_doc())
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")  # NaN/Infinity written as JSON5-style constants
    s = sigmoid_session()
    before = h.snapshot(s)
    rec = h.Recorder(s)
    with pytest.raises(SessionError) as info:
        load_session(s, path)
    assert fragment in str(info.value), str(info.value)
    h.assert_same_state(before, h.snapshot(s))
    assert rec.events == []
    with pytest.raises(SessionError):
        session_from_dict(doc)


@pytest.mark.parametrize(("content", "fragment"), [
    (b"{", "bad.json is not a gdstudio session: invalid JSON at line 1, column 2"),
    (b"", "invalid JSON at line 1, column 1"),
    (b'{"format": "gdstudio-session",\n "version": 1,,}', "invalid JSON at line 2"),
    (b"[]", "Not a gdstudio session: the document is not a JSON object"),
    (b'"hello"', "the document is not a JSON object"),
    (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "unreadable JSON"),
    (b'{"format": "gdstudio-session", "version": ' + b"9" * 5000 + b"}", "unreadable JSON"),
])
def test_unreadable_files(tmp_path, h, content, fragment):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    s = sigmoid_session()
    before = h.snapshot(s)
    with pytest.raises(SessionError) as info:
        load_session(s, path)
    assert fragment in str(info.value)
    h.assert_same_state(before, h.snapshot(s))


def test_missing_file_and_directory(tmp_path):
    s = Session()
    with pytest.raises(SessionError, match=r"No such file: .*missing\.json"):
        load_session(s, tmp_path / "missing.json")
    with pytest.raises(SessionError, match="is a folder, not a session file"):
        load_session(s, tmp_path)


def test_huge_integer_start_is_rejected_not_overflowing(tmp_path):
    text = json.dumps(_base_doc()).replace('"start": [-7.0, 2.0]', '"start": [' + "9" * 400 + ", 2.0]", 1)
    path = tmp_path / "big.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SessionError, match=r"runs\[0\].start: expected a list of finite numbers"):
        load_session(Session(), path)


def test_optional_fields_take_defaults():
    doc = {"format": FORMAT, "version": 1, "problem": {"name": "bowl"},
           "runs": [{"optimizer": "Adam", "start": [1, 2]}, {"optimizer": "gd", "start": [0, 1]}]}
    parsed = session_from_dict(doc)
    assert [r.config for r in parsed.runs] == [RunConfig("adam", (1.0, 2.0)), RunConfig("gd", (0.0, 1.0))]
    assert len({r.color for r in parsed.runs}) == 2 and all(r.visible for r in parsed.runs)
    assert (parsed.position, parsed.computed_steps, parsed.steps_per_tick, parsed.max_steps) == (0, 0, 1, 10_000)
    assert parsed.options == ViewOptions()
    s = Session()
    s.apply_dict(doc)
    assert s.selected_id == s.runs[0].id and s.position == 0


def test_a_scheduled_run_round_trips_and_a_bad_schedule_is_named(tmp_path):
    s = Session()
    s.set_problem(name="bowl")
    s.add_run(RunConfig("sgd", (-7.0, 2.0), {"lr": 0.1}, schedule="multistep",
                        schedule_settings={"milestones": (3, 6), "gamma": 0.5}, warmup=2))
    s.forward(10)
    save_session(s, tmp_path / "sched.json")
    t = Session()
    load_session(t, tmp_path / "sched.json")
    assert t.to_dict() == s.to_dict()
    np.testing.assert_array_equal(t.runs[0].run.history.points, s.runs[0].run.history.points)
    doc = s.to_dict()
    doc["runs"][0]["schedule_settings"] = {"milestones": [3, 6], "gama": 0.5}
    with pytest.raises(SessionError, match=r"runs\[0\].schedule: Unknown keyword for multistep: gama"):
        session_from_dict(doc)
