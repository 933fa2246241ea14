"""Undo and redo (issue 9 item 6): every kind of model edit is one named command; undoing it
restores the exact state before (the saved document, run ids, the Run objects themselves and
their points, selection, problem), redoing it the exact state after. Playback is not an edit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gdstudio.engine.runs import RunConfig
from gdstudio.model import Session, UndoStack, load_preset
from gdstudio.model.undo import Command
from gdstudio.resources import resource_path

GD = RunConfig("gd", (-7.0, 2.0), {"lr": 0.1})
MOM = RunConfig("momentum", (-7.0, 2.0), {"lr": 0.05, "momentum": 0.9})
BOOK_BOWL_TITLE = __import__("json").loads(
    resource_path("presets", "book-bowl.json").read_text())["title"]
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "sessions" / "v1" / "line-minibatch.json"


def bowl(*configs: RunConfig, steps: int = 7) -> Session:
    s = Session()
    s.set_problem(name="bowl")
    for cfg in configs:
        s.add_run(cfg)
    s.forward(steps)
    s.undo_stack.clear()
    return s


def line() -> Session:
    s = Session()
    s.set_problem(name="linear-regression")
    s.add_run(RunConfig("gd", tuple(s.problem.start), {"lr": 0.05}, batch_size=2))
    s.forward(4)
    s.undo_stack.clear()
    return s


def _ids(s: Session) -> list[int]:
    return [e.id for e in s.runs]


EDITS = [
    # (session factory, the edit, its undo label)
    (lambda: bowl(GD), lambda s: s.add_run(MOM), "add Run 2 (Momentum)"),
    (lambda: bowl(GD, MOM), lambda s: s.duplicate_run(1), "duplicate Run 1"),
    (lambda: bowl(GD, MOM), lambda s: s.remove_run(2), "remove Run 2"),
    (lambda: bowl(GD, MOM), lambda s: s.remove_run(1), "remove Run 1"),  # the selection moves
    (lambda: bowl(GD, MOM), lambda s: s.clear_runs(), "remove every run"),
    (lambda: bowl(GD, MOM), lambda s: s.update_run(2, hyperparameters={"lr": 0.03, "momentum": 0.9}),
     "set η of Run 2 to 0.03"),
    (lambda: bowl(GD, MOM), lambda s: s.update_run(2, hyperparameters={"lr": 0.05}), "reset γ of Run 2"),
    (lambda: bowl(GD, MOM), lambda s: s.update_run(1, optimizer="adam"), "change optimizer of Run 1 to Adam"),
    (lambda: bowl(GD, MOM), lambda s: s.set_start(1, (3.0, -1.0)), "move start of Run 1"),
    (lambda: bowl(GD), lambda s: s.update_run(1, noise=0.5, seed=3), "change Run 1"),
    (lambda: line(), lambda s: s.update_run(1, batch_size=None), "set batch size of Run 1 to all"),
    (lambda: bowl(GD, MOM), lambda s: s.set_visible(2, False), "hide Run 2"),
    (lambda: bowl(GD, MOM), lambda s: s.set_color(1, "#123456"), "recolour Run 1"),
    (lambda: bowl(GD, MOM), lambda s: s.set_problem(name="rosenbrock"), "change problem to Rosenbrock"),
    (lambda: bowl(GD, MOM), lambda s: s.set_problem(name="line-through-origin"),
     "change problem to Line through the origin"),  # starts change dimension
    (lambda: bowl(GD), lambda s: s.set_problem(resolution=64), "set grid resolution to 64"),
    (lambda: bowl(GD), lambda s: s.set_problem(log_scale=True), "use log colour scale"),
    (lambda: bowl(GD), lambda s: s.set_problem(bounds=((-9, 9), (-3, 3))), "set the view bounds"),
    (lambda: bowl(GD, MOM), lambda s: s.race_all(tune=False, optimizers=("adam", "nag")), "race all (2 runs)"),
    (lambda: bowl(GD, MOM), lambda s: load_preset(s, "book-bowl"), "load preset " + BOOK_BOWL_TITLE),
    (lambda: bowl(GD, MOM), lambda s: s.apply_dict(__import__("json").loads(FIXTURE.read_text()),
                                                  label="open session line-minibatch.json"),
     "open session line-minibatch.json"),
    (lambda: bowl(GD, MOM), lambda s: _compound(s), "change problem to Beale"),
]


def _compound(s: Session) -> None:
    with s.edit("change problem to Beale"):
        s.set_problem(name="beale")
        for e in s.runs:
            s.set_start(e.id, s.problem.start)


@pytest.mark.parametrize(("make", "edit", "label"), EDITS, ids=[e[2] for e in EDITS])
def test_each_edit_undoes_and_redoes_exactly(h, make, edit, label):
    s = make()
    s.select(s.runs[-1].id) if s.runs else None
    before = h.snapshot(s)
    edit(s)
    after = h.snapshot(s)
    assert s.undo_stack.undo_text == label and len(s.undo_stack) == 1
    assert s.undo_stack.undo()
    h.assert_same_state(before, h.snapshot(s))
    assert s.undo_stack.redo_text == label and not s.undo_stack.can_undo
    assert s.undo_stack.redo()
    h.assert_same_state(after, h.snapshot(s))
    s.undo_stack.undo()
    h.assert_same_state(before, h.snapshot(s))
    s.forward(5)  # the restored runs play on like the originals
    assert s.position == min(before["position"] + 5, s.computed_steps)


def test_undo_after_playing_on_keeps_the_position_and_the_history():
    s = bowl(GD, MOM, steps=3)
    s.update_run(1, hyperparameters={"lr": 0.2})
    s.forward(10)
    pos = s.position
    s.undo_stack.undo()  # Run 1 is back to η = 0.1, caught up to the position shown
    assert s.position == pos and s.entry(1).run.steps >= pos
    ref = bowl(GD, steps=pos)
    np.testing.assert_array_equal(s.entry(1).run.history.points[: pos + 1], ref.entry(1).run.history.points)


def test_playback_options_speed_and_selection_are_not_edits():
    s = bowl(GD, MOM)
    s.set_options(show_gradient=True)
    s.set_speed(steps_per_tick=3)
    s.set_max_steps(500)
    s.select(1)
    s.set_playing(True)
    s.tick()
    s.set_playing(False)
    s.seek(2)
    s.step_back()
    s.reset()
    assert len(s.undo_stack) == 0 and not s.undo_stack.can_undo


def test_a_refused_edit_records_nothing():
    s = bowl(GD)
    for bad in (lambda: s.update_run(1, hyperparameters={"lr": -1}), lambda: s.set_problem(name="nope"),
                lambda: s.add_run(RunConfig("gd", (1.0,))), lambda: s.set_color(1, "blue")):
        with pytest.raises(ValueError):
            bad()
    s.set_color(1, s.entry(1).color)  # no change, no command
    assert len(s.undo_stack) == 0


def test_quick_repeats_of_one_setting_merge():
    now = [0.0]
    s = bowl(GD, MOM)
    s.undo_stack = UndoStack(clock=lambda: now[0])
    before = s.to_dict()
    for k in range(1, 20):  # a start-ring drag: 19 moves, 20 ms apart
        now[0] = 0.02 * k
        s.set_start(1, (-7.0 + 0.1 * k, 2.0))
    assert s.undo_stack.labels == ["move start of Run 1"]
    now[0] += 5.0
    s.set_start(1, (0.0, 0.0))  # later: its own command
    s.set_start(2, (0.0, 0.0))  # another run: its own command
    assert s.undo_stack.labels == ["move start of Run 1"] * 2 + ["move start of Run 2"]
    s.undo_stack.undo()
    s.undo_stack.undo()
    s.undo_stack.undo()
    assert s.to_dict() == before


def test_merging_stops_at_undo_and_at_the_clean_mark_and_a_round_trip_drops_out():
    now = [0.0]
    s = bowl(GD)
    s.undo_stack = UndoStack(clock=lambda: now[0])
    s.update_run(1, hyperparameters={"lr": 0.2})
    s.undo_stack.mark_clean()
    s.update_run(1, hyperparameters={"lr": 0.3})
    assert s.undo_stack.labels == ["set η of Run 1 to 0.2", "set η of Run 1 to 0.3"]
    s.update_run(1, hyperparameters={"lr": 0.2})  # merges with 0.3 and ends where it began: dropped
    assert s.undo_stack.labels == ["set η of Run 1 to 0.2"] and s.undo_stack.is_clean
    s.undo_stack.undo()
    s.update_run(1, hyperparameters={"lr": 0.4})
    assert s.undo_stack.labels == ["set η of Run 1 to 0.4"]


def test_clean_mark_follows_undo_and_redo():
    s = bowl(GD)
    stack = s.undo_stack
    events = []
    stack.changed.connect(lambda: events.append(stack.undo_text))
    assert stack.is_clean
    s.add_run(MOM)
    assert not stack.is_clean and events == ["add Run 2 (Momentum)"]
    stack.mark_clean()
    s.remove_run(1)
    assert not stack.is_clean
    stack.undo()
    assert stack.is_clean
    stack.undo()
    assert not stack.is_clean
    s.set_color(1, "#123456")  # the redo tail (and the clean state in it) is gone
    assert not stack.can_redo and not stack.is_clean
    assert stack.undo() and not stack.is_clean and stack.undo_text == ""


def test_the_stack_keeps_a_limit():
    stack = UndoStack(limit=3)
    for k in range(5):
        stack.push(Command(f"c{k}", undo=lambda: None, redo=lambda: None))
    assert stack.labels == ["c2", "c3", "c4"] and stack.undo_text == "c4" and not stack.is_clean


def test_snapshot_restore_drops_the_commands_since():
    s = bowl(GD, MOM)
    s.set_color(1, "#123456")
    snap = s.snapshot()
    before = s.to_dict()
    load_preset(s, "book-bowl")
    assert s.undo_stack.undo_text == "load preset " + BOOK_BOWL_TITLE
    s.restore(snap)
    assert s.to_dict() == before and s.undo_stack.labels == ["recolour Run 1"]


def test_field_events_are_fine_grained():
    s = bowl(GD, MOM)
    e = s.entry(2)
    seen = []
    for name in ("config", "color", "visible", "run"):
        e.events[name].connect(lambda new, old, _n=name: seen.append(_n))
    s.run_list.events.inserted.connect(lambda i, v: seen.append(("inserted", i)))
    s.run_list.events.removed.connect(lambda i, v: seen.append(("removed", i)))
    s.set_color(2, "#123456")
    assert seen == ["color"]
    seen.clear()
    s.set_visible(2, False)
    assert seen == ["visible"]
    seen.clear()
    s.update_run(2, hyperparameters={"lr": 0.01, "momentum": 0.9})
    assert seen == ["config", "run"]
    seen.clear()
    s.add_run(GD)
    s.remove_run(1)
    assert seen == [("inserted", 2), ("removed", 0)]
    seen.clear()
    s.undo_stack.undo()  # Run 1 comes back where it was
    assert seen == [("inserted", 0)]


def test_models_validate_on_assignment_and_emit_only_changes():
    s = Session()
    got = []
    s.options.events.log_loss.connect(lambda new, old: got.append((new, old)))
    with pytest.raises(ValueError, match="Invalid log_loss value: 1"):
        s.options.log_loss = 1
    s.options.log_loss = True  # unchanged
    s.set_options(log_loss=False)
    assert got == [(False, True)]
    with pytest.raises(ValueError, match=r"Invalid resolution value: 8 \(must be a whole number in \[16, 1024\]\)"):
        s.problem_settings.resolution = 8
    with pytest.raises(ValueError, match="Invalid ticks per second value: 500"):
        s.playback.ticks_per_second = 500
    assert s.problem_settings.resolution == 256 and s.ticks_per_second == 30
    seen = []
    s.options_changed.connect(lambda: seen.append("options"))
    s.options.show_field = True  # a direct field write still reaches the coarse signal
    assert seen == ["options"] and s.options.show_field


def test_old_commands_keep_configurations_only_and_recompute_the_same_runs(h):
    from gdstudio.model.session import KEEP_RUNS

    s = bowl(GD, MOM, steps=5)
    first = h.snapshot(s)
    for k in range(KEEP_RUNS + 5):
        s.update_run(1, hyperparameters={"lr": 0.01 * (k + 1)})
        s.undo_stack._no_merge_below = s.undo_stack.index  # separate commands, as if seconds apart
    light = [c for c in s.undo_stack.commands if c.data.get("light")]
    assert len(light) == 5 and all(r.run is None for c in light for r in c.data["before"].runs)
    while s.undo_stack.undo():
        pass
    now = h.snapshot(s)
    assert now["doc"] == first["doc"]
    for a, b in zip(first["points"], now["points"], strict=True):
        np.testing.assert_array_equal(a, b)  # recomputed from the configuration: identical
