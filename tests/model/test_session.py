"""The evented session: playback (play, step, step back, scrub, reset), runs, races, problem
switches, validation that changes nothing, and the signals the window listens to.

Trajectories are checked against hand-written loops on the bowl x²/20 + y² (conftest.py),
never against numbers copied from the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig, Status
from gdstudio.engine.tuning import tune_lr
from gdstudio.model import PALETTE, RACE_OPTIMIZERS, ProblemSettings, Session, ViewOptions


def bowl_session(*configs: RunConfig) -> Session:
    s = Session()
    s.set_problem(name="bowl")
    for cfg in configs:
        s.add_run(cfg)
    return s


GD = RunConfig("gd", (-7.0, 2.0), {"lr": 0.1})
MOM = RunConfig("momentum", (-7.0, 2.0), {"lr": 0.05, "momentum": 0.9})


def first_nonfinite(points: np.ndarray) -> int | None:
    """Index of the first point whose coordinates or bowl loss are not finite."""
    with np.errstate(all="ignore"):
        for k, p in enumerate(points):
            if not (np.isfinite(p).all() and math.isfinite(p[0] ** 2 / 20 + p[1] ** 2)):
                return k
    return None


# ---------------------------------------------------------------------------------- playback
def test_play_advances_every_running_run_by_k_per_tick(h):
    s = bowl_session(GD, MOM)
    rec = h.Recorder(s)
    s.set_speed(steps_per_tick=3)
    s.set_playing(True)
    for _ in range(4):
        assert s.tick()
    assert s.position == 12 and s.computed_steps == 12
    assert rec.args("position_changed") == [(3,), (6,), (9,), (12,)]
    gd, mom = s.runs
    np.testing.assert_allclose(gd.run.history.points, h.hand_gd(GD.start, 0.1, 12), rtol=1e-14, atol=0)
    np.testing.assert_allclose(mom.run.history.points, h.hand_gd(MOM.start, 0.05, 12, momentum=0.9),
                               rtol=1e-14, atol=0)
    np.testing.assert_allclose(gd.run.history.loss, [h.bowl_loss(p) for p in h.hand_gd(GD.start, 0.1, 12)],
                               rtol=1e-14)


def test_divergence_and_convergence_stop_runs_with_messages(h):
    diverging = RunConfig("gd", (1.0, 1.0), {"lr": 1e100})
    # From (0.01, 1) with η 0.5 the y step lands on 0 at once; the gradient is then tiny.
    converging = RunConfig("gd", (0.01, 1.0), {"lr": 0.5}, tol=1e-3)
    s = bowl_session(GD, diverging, converging)
    gd_id, div_id, conv_id = (e.id for e in s.runs)
    rec = h.Recorder(s)
    s.set_playing(True)
    for _ in range(10):
        s.tick()
    assert s.playing and s.position == 10

    # Independent expectations from the hand loops.
    with np.errstate(all="ignore"):
        div_points = h.hand_gd(diverging.start, 1e100, 10)
    k_div = first_nonfinite(div_points)
    conv_points = h.hand_gd(converging.start, 0.5, 10)
    k_conv = next(k for k, p in enumerate(conv_points) if np.linalg.norm(h.bowl_grad(p)) < 1e-3)
    assert k_div is not None and 1 <= k_div <= 10 and 1 <= k_conv <= 10

    div, conv = s.entry(div_id), s.entry(conv_id)
    assert div.status is Status.DIVERGED and div.run.diverged_at == k_div
    assert conv.status is Status.CONVERGED and conv.run.steps == k_conv
    np.testing.assert_allclose(div.run.history.points, div_points[:k_div], rtol=1e-14)
    np.testing.assert_allclose(conv.run.history.points, conv_points[: k_conv + 1], rtol=1e-14)
    assert s.entry(gd_id).run.steps == 10
    msgs = rec.messages()
    assert len(msgs) == 2  # one per stopped run, emitted when it stops
    (div_msg,) = [m for m in msgs if m.startswith(f"Run {div_id} ")]
    (conv_msg,) = [m for m in msgs if m.startswith(f"Run {conv_id} ")]
    assert "diverged" in div_msg and f"step {k_div}" in div_msg
    assert "converged" in conv_msg and f"step {k_conv}" in conv_msg
    # Views show each run at min(position, steps): the stopped runs' last points.
    for e in s.runs:
        shown = e.run.history.points[min(s.position, e.run.steps)]
        assert np.isfinite(shown).all()


def test_play_stops_when_every_run_has_stopped(h):
    s = bowl_session(RunConfig("gd", (0.01, 1.0), {"lr": 0.5}, tol=1e-3),
                     RunConfig("gd", (1.0, 1.0), {"lr": 1e100}))
    rec = h.Recorder(s)
    s.set_playing(True)
    ticks = 0
    while s.playing and ticks < 100:
        s.tick()
        ticks += 1
    assert not s.playing and ticks < 100
    assert rec.args("playing_changed") == [(True,), (False,)]
    assert s.position == s.computed_steps == max(e.run.steps for e in s.runs)
    assert not s.any_running and s.at_end
    assert "stopped" in rec.messages()[-1]
    # Play refuses to start again, saying why; the position stays.
    rec.clear()
    s.set_playing(True)
    assert not s.playing and rec.names() == ["message"] and "press R" in rec.messages()[0]


def test_play_stops_at_max_steps(h):
    s = bowl_session(GD)
    s.max_steps = 7
    s.set_speed(steps_per_tick=3)
    rec = h.Recorder(s)
    s.set_playing(True)
    positions = []
    while s.playing:
        s.tick()
        positions.append(s.position)
    assert positions == [3, 6, 7]
    assert s.runs[0].run.steps == 7 and s.runs[0].run.running
    assert "step limit (7)" in rec.messages()[-1]
    assert not s.forward(1) and s.position == 7


def test_step_step_back_seek_and_replay_before_computing(h):
    s = bowl_session(GD, MOM)
    for _ in range(10):
        assert s.step_forward()
    before = h.snapshot(s)
    rec = h.Recorder(s)
    s.seek(4)
    s.step_back()
    assert s.position == 3 and rec.args("position_changed") == [(4,), (3,)]
    rec.clear()
    # Replaying history computes nothing new: same run objects, same arrays, no runs_advanced.
    s.set_playing(True)
    for _ in range(7):
        s.tick()
    assert s.position == 10 and "runs_advanced" not in rec.names()
    after = h.snapshot(s)
    after["playing"] = before["playing"]
    h.assert_same_state(before, after)
    # Past the head, new steps are computed.
    s.tick()
    assert s.position == 11 and "runs_advanced" in rec.names()
    np.testing.assert_allclose(s.runs[0].run.history.points, h.hand_gd(GD.start, 0.1, 11), rtol=1e-14)


def test_seek_clamps_and_emits_only_on_change(h):
    s = bowl_session(GD)
    s.forward(5)
    rec = h.Recorder(s)
    s.seek(5)
    s.seek(99)  # clamped to 5: no change
    assert rec.events == []
    s.seek(-3)
    assert s.position == 0 and rec.args("position_changed") == [(0,)]
    rec.clear()
    s.step_back()
    s.seek(0)
    assert rec.events == []
    s.seek(2.9)
    assert s.position == 2
    with pytest.raises(ValueError, match="step"):
        s.seek("abc")
    assert s.position == 2


def test_run_added_after_scrubbing_keeps_up_with_the_position(h):
    s = bowl_session(GD)
    s.forward(10)
    s.seek(5)
    rid = s.add_run(MOM)
    new = s.entry(rid)
    assert new.run.steps == 5  # computed up to the position it is shown at
    s.forward(2)
    assert s.position == 7 and new.run.steps == 7  # stays in step while the others replay
    s.forward(10)
    assert s.position == 17 and new.run.steps == 17 and s.entry(s.runs[0].id).run.steps == 17
    np.testing.assert_allclose(new.run.history.points, h.hand_gd(MOM.start, 0.05, 17, momentum=0.9), rtol=1e-14)


def test_reset_restarts_from_the_starts_and_replays_identically(h):
    s = bowl_session(GD, MOM)
    s.set_playing(True)
    for _ in range(8):
        s.tick()
    histories = [e.run.history.points.copy() for e in s.runs]
    rec = h.Recorder(s)
    s.reset()
    assert not s.playing and s.position == 0
    assert rec.args("playing_changed") == [(False,)] and "runs_changed" in rec.names()
    for e in s.runs:
        assert e.run.steps == 0 and e.status is Status.RUNNING
        np.testing.assert_array_equal(e.run.history.points[0], e.config.start)
    s.forward(8)
    for e, old in zip(s.runs, histories, strict=True):
        np.testing.assert_array_equal(e.run.history.points, old)


def test_forward_and_step_validation():
    s = bowl_session(GD)
    assert not s.forward(0) and not s.forward(-2)
    with pytest.raises(ValueError, match="k"):
        s.forward(1.5)
    assert s.position == 0


def test_no_runs_play_refuses_with_message(h):
    s = Session()
    rec = h.Recorder(s)
    s.set_playing(True)
    assert not s.playing and "No runs" in rec.messages()[0]
    assert not s.tick()


# ---------------------------------------------------------------------------------- runs
def test_add_runs_distinct_colours_and_selection(h):
    s = Session()
    rec = h.Recorder(s)
    ids = [s.add_run(RunConfig("gd", (1.0, 0.5 * i), {"lr": 0.01})) for i in range(len(PALETTE))]
    colours = [s.entry(i).color for i in ids]
    assert colours == list(PALETTE) and len(set(colours)) == len(ids)
    assert s.selected_id == ids[-1]
    assert rec.args("selection_changed") == [(i,) for i in ids]
    extra = s.add_run(GD.with_(start=(0.0, 0.0)), select=False)
    assert s.selected_id == ids[-1] and s.entry(extra).color in PALETTE
    # A freed colour is reused first.
    s.remove_run(ids[3])
    assert s.entry(s.add_run(GD)).color == PALETTE[3]


def test_duplicate_remove_visibility_and_colour(h):
    s = bowl_session(GD)
    a = s.runs[0].id
    s.forward(4)
    s.set_visible(a, False)
    b = s.duplicate_run(a)
    ea, eb = s.entry(a), s.entry(b)
    assert eb.config == ea.config and eb.color != ea.color and not eb.visible and s.selected_id == b
    np.testing.assert_array_equal(eb.run.history.points, ea.run.history.points)
    rec = h.Recorder(s)
    s.set_visible(b, False)
    s.set_color(b, eb.color)
    assert rec.events == []  # nothing changed
    s.set_visible(b, True)
    s.set_color(b, "#123456")
    assert rec.names() == ["runs_changed", "runs_changed"] and eb.visible and eb.color == "#123456"
    rec.clear()
    s.remove_run(b)
    assert [e.id for e in s.runs] == [a] and s.selected_id == a
    assert rec.args("selection_changed") == [(a,)] and "runs_changed" in rec.names()
    with pytest.raises(ValueError, match=f"No run with id {b}"):
        s.remove_run(b)
    s.select(None)
    assert s.selected is None
    s.clear_runs()
    assert s.runs == [] and s.position == 0


def test_remove_keeps_position_within_computed_steps():
    s = bowl_session(GD, RunConfig("gd", (1.0, 1.0), {"lr": 1e100}))
    keep, stopped = (e.id for e in s.runs)
    s.forward(10)
    s.remove_run(keep)
    assert s.position == s.computed_steps == s.entry(stopped).run.steps < 10


def test_select_binds_and_validates(h):
    s = bowl_session(GD, MOM)
    a, b = (e.id for e in s.runs)
    assert s.selected_id == b  # the last run added is selected
    rec = h.Recorder(s)
    s.select(a)
    s.select(a)
    assert s.selected.id == a and rec.args("selection_changed") == [(a,)]
    with pytest.raises(ValueError, match="No run"):
        s.select(999)
    assert s.selected_id == a


def test_update_run_restarts_and_catches_up(h):
    s = bowl_session(GD)
    rid = s.runs[0].id
    s.forward(6)
    rec = h.Recorder(s)
    s.update_run(rid, hyperparameters={"lr": 0.2})
    e = s.entry(rid)
    assert e.run.steps == 6 and "runs_changed" in rec.names()
    np.testing.assert_allclose(e.run.history.points, h.hand_gd(GD.start, 0.2, 6), rtol=1e-14)
    # A new optimizer keeps the overrides it understands (lr) and drops the rest.
    s.update_run(rid, optimizer="momentum", hyperparameters={"lr": 0.05, "momentum": 0.5})
    s.update_run(rid, optimizer="adam")
    assert e.config.optimizer == "adam" and e.config.hyperparameters == {"lr": 0.05}
    s.update_run(rid, optimizer="GD")  # registry names are case-insensitive, stored canonically
    assert e.config.optimizer == "gd"


def test_set_start_restarts_at_the_new_start(h):
    s = bowl_session(GD)
    rid = s.runs[0].id
    s.forward(3)
    s.set_start(rid, [4, -1])
    e = s.entry(rid)
    assert e.config.start == (4.0, -1.0)
    np.testing.assert_allclose(e.run.history.points, h.hand_gd((4.0, -1.0), 0.1, 3), rtol=1e-14)


def _bad_calls(s: Session, rid: int):
    return [
        ("add_run wrong start dim", lambda: s.add_run(RunConfig("gd", (1.0,)))),
        ("add_run unknown optimizer", lambda: s.add_run(RunConfig("sgdx", (1.0, 1.0)))),
        ("add_run bad lr", lambda: s.add_run(RunConfig("gd", (1.0, 1.0), {"lr": -1.0}))),
        ("add_run unknown hp", lambda: s.add_run(RunConfig("gd", (1.0, 1.0), {"beta": 0.9}))),
        ("add_run batch on analytic", lambda: s.add_run(RunConfig("gd", (1.0, 1.0), batch_size=2))),
        ("add_run nan start", lambda: s.add_run(RunConfig("gd", (math.nan, 1.0)))),
        ("add_run bad colour", lambda: s.add_run(GD, color="not-a-colour")),
        ("add_run not a config", lambda: s.add_run({"optimizer": "gd"})),  # type: ignore[arg-type]
        ("update unknown field", lambda: s.update_run(rid, lr=0.1)),
        ("update bad momentum", lambda: s.update_run(rid, optimizer="momentum",
                                                     hyperparameters={"momentum": -0.5})),
        ("update nesterov without momentum", lambda: s.update_run(rid, hyperparameters={"nesterov": True})),
        ("update negative noise", lambda: s.update_run(rid, noise=-1.0)),
        ("update negative seed", lambda: s.update_run(rid, seed=-1)),
        ("update unknown id", lambda: s.update_run(999, seed=1)),
        ("set_start wrong dim", lambda: s.set_start(rid, (1.0, 2.0, 3.0))),
        ("set_start text", lambda: s.set_start(rid, "12")),
        ("set_start inf", lambda: s.set_start(rid, (math.inf, 0.0))),
        ("set_color", lambda: s.set_color(rid, "red")),
        ("set_visible non-bool", lambda: s.set_visible(rid, 1)),
        ("set_problem unknown", lambda: s.set_problem(name="nope")),
        ("set_problem unknown field", lambda: s.set_problem(colour="x")),
        ("set_problem resolution", lambda: s.set_problem(resolution=5)),
        ("set_problem resolution float", lambda: s.set_problem(resolution=64.5)),
        ("set_problem bounds dim", lambda: s.set_problem(bounds=((0.0, 1.0),))),
        ("set_problem bounds order", lambda: s.set_problem(bounds=((1.0, 0.0), (0.0, 1.0)))),
        ("set_problem bounds nan", lambda: s.set_problem(bounds=((0.0, math.nan), (0.0, 1.0)))),
        ("set_problem data on analytic", lambda: s.set_problem(name="bowl", dataset="two-point")),
        ("set_problem dataset unknown", lambda: s.set_problem(name="sigmoid-neuron", dataset="nope")),
        ("set_problem custom no expr", lambda: s.set_problem(name="custom")),
        ("set_problem bad expr", lambda: s.set_problem(name="custom", expr="__import__('os')")),
        ("set_problem log_scale", lambda: s.set_problem(log_scale="yes")),
        ("set_speed spt", lambda: s.set_speed(steps_per_tick=0)),
        ("set_speed spt float", lambda: s.set_speed(steps_per_tick=1.5)),
        ("set_speed both, second bad", lambda: s.set_speed(steps_per_tick=4, ticks_per_second=1000)),
        ("max_steps", lambda: s.set_max_steps(0)),
        ("max_steps huge", lambda: s.set_max_steps(10**9)),
        ("max_steps attr", lambda: setattr(s, "max_steps", -1)),
        ("spt attr", lambda: setattr(s, "steps_per_tick", 0)),
        ("options unknown", lambda: s.set_options(show_stars=True)),
        ("options non-bool", lambda: s.set_options(show_gradient=1)),
        ("race unknown optimizer", lambda: s.race_all(optimizers=("gd", "nope"), tune=False)),
        ("race bad start", lambda: s.race_all((1.0,), tune=False)),
        ("race string", lambda: s.race_all(optimizers="gd", tune=False)),
        ("select unknown", lambda: s.select(12345)),
        ("seek text", lambda: s.seek("x")),
    ]


def test_bad_settings_raise_value_error_and_change_nothing(h):
    s = bowl_session(GD, MOM)
    s.set_problem(bounds=((-8.0, 8.0), (-3.0, 3.0)))
    s.forward(5)
    s.seek(3)
    rid = s.runs[0].id
    for label, call in _bad_calls(s, rid):
        before = h.snapshot(s)
        rec = h.Recorder(s)
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value), label
        h.assert_same_state(before, h.snapshot(s))
        assert rec.events == [], label
        for name in ("problem_changed", "runs_changed", "runs_advanced", "position_changed", "selection_changed",
                     "playing_changed", "options_changed", "message"):
            getattr(s, name).disconnect()


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda s, r: s.update_run(r, lr=0.1), "Unknown run setting: 'lr'"),
    (lambda s, r: s.add_run(RunConfig("gd", (1.0, 1.0), {"lr": -1.0})), "Invalid lr value: -1.0"),
    (lambda s, r: s.set_start(r, (1.0,)), r"Invalid start: 1 value\(s\) for 2 parameter\(s\)"),
    (lambda s, r: s.set_problem(resolution=5), "Invalid resolution value: 5"),
    (lambda s, r: s.set_problem(name="nope"), "Unknown problem: 'nope'"),
    (lambda s, r: s.set_color(r, "red"), "Invalid color value: 'red'"),
    (lambda s, r: s.set_speed(ticks_per_second=0), "Invalid ticks per second value: 0"),
    (lambda s, r: s.set_options(show_stars=True), "Unknown view option: 'show_stars'"),
])
def test_error_messages_name_the_setting_and_value(call, pattern):
    s = bowl_session(GD)
    with pytest.raises(ValueError, match=pattern):
        call(s, s.runs[0].id)


# ---------------------------------------------------------------------------------- problems
def test_switching_to_a_1d_problem_fixes_starts_and_restarts(h):
    s = bowl_session(GD, MOM)
    s.forward(5)
    rec = h.Recorder(s)
    s.set_problem(name="line-through-origin")
    p = s.problem
    assert p.dim == 1 and s.problem_settings.dataset is None
    assert s.position == 0
    for e in s.runs:
        assert e.config.start == tuple(p.start) and e.run.steps == 0 and e.run.problem is p
    assert rec.names()[:3] == ["problem_changed", "position_changed", "runs_changed"]
    s.forward(3)
    # GD on mean (w·x − y)² over x = 1, 2, 3, y = 2x, written out: ∇ = mean 2x(wx − y).
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    w = p.start[0]
    for k in range(1, 4):
        w = w - 0.1 * np.mean(2 * x * (w * x - y))
        assert s.runs[0].run.history.points[k, 0] == pytest.approx(w, rel=1e-14)
    # Back to 2-D: starts get the new problem's suggested start.
    s.set_problem(name="rosenbrock")
    assert all(e.config.start == tuple(s.problem.start) for e in s.runs)


def test_switching_problem_resets_data_and_bounds_and_batch():
    s = Session()
    s.set_problem(name="sigmoid-neuron", dataset="six-point")
    s.add_run(RunConfig("gd", (-6.0, 4.0), {"lr": 1.0}, batch_size=6, shuffle=False))
    s.set_problem(dataset="two-point")  # batch 6 of 2 points: the sampler uses all the data
    assert s.problem.n_samples == 2 and s.runs[0].config.batch_size == 6
    s.set_problem(bounds=((-8.0, 2.0), (-2.0, 6.0)))
    s.set_problem(name="himmelblau")  # dataset and bounds are the old problem's: reset
    ps = s.problem_settings
    assert ps.dataset is None and ps.bounds is None and s.bounds == s.problem.bounds
    assert s.runs[0].config.batch_size is None and s.runs[0].config.start == (-6.0, 4.0)


def test_view_settings_change_redraws_without_restarting(h):
    s = bowl_session(GD)
    s.forward(4)
    run = s.runs[0].run
    rec = h.Recorder(s)
    s.set_problem(bounds=[[-9, 9], [-3, 3]], resolution=64, log_scale=True)
    assert rec.names() == ["problem_changed"]
    assert s.runs[0].run is run and s.position == 4
    assert s.problem_settings.bounds == s.bounds == ((-9.0, 9.0), (-3.0, 3.0))
    surf = s.surface()
    assert surf.z.shape == (64, 64) and surf.xs[0] == -9.0 and surf.ys[-1] == 3.0
    rec.clear()
    s.set_problem(bounds=((-9.0, 9.0), (-3.0, 3.0)), resolution=64, log_scale=True)  # same: no signal
    s.set_problem(ProblemSettings(name="BOWL", bounds=((-9, 9), (-3, 3)), resolution=64, log_scale=True))
    assert rec.events == []


# ---------------------------------------------------------------------------------- race
def test_race_all_one_tuned_run_per_optimizer(h):
    s = bowl_session(GD.with_(start=(-5.0, 1.5), noise=0.0, seed=3))
    rec = h.Recorder(s)
    ids = s.race_all(steps=20)
    assert len(ids) == len(RACE_OPTIMIZERS)
    assert [s.entry(i).config.optimizer for i in ids] == list(RACE_OPTIMIZERS)
    assert len({s.entry(i).color for i in ids}) == len(ids)
    assert s.selected_id == ids[0] and s.position == 0
    for i in ids:
        cfg = s.entry(i).config
        assert cfg.start == (-5.0, 1.5) and cfg.seed == 3 and set(cfg.hyperparameters) == {"lr"}
        assert cfg.hyperparameters["lr"] == tune_lr(s.problem, cfg.with_(hyperparameters={}), steps=20)
    assert rec.names().count("runs_changed") == 1 and rec.args("selection_changed") == [(ids[0],)]


def test_race_all_untuned_uses_defaults_and_given_start():
    s = bowl_session(GD)
    ids = s.race_all((1.0, 2.0), tune=False, optimizers=("adam", "nag"))
    assert [s.entry(i).config for i in ids] == [RunConfig("adam", (1.0, 2.0)), RunConfig("nag", (1.0, 2.0))]
    assert s.race_all(optimizers=(), tune=False) == [] and s.selected_id is None


def test_plan_race_changes_nothing_and_replace_runs_applies_it(h):
    s = bowl_session(GD, MOM)
    s.forward(4)
    before = h.snapshot(s)
    rec = h.Recorder(s)
    configs = s.plan_race((1.0, -1.0), steps=15, optimizers=("gd", "adam"))
    h.assert_same_state(before, h.snapshot(s))
    assert rec.events == []
    assert [c.optimizer for c in configs] == ["gd", "adam"] and all(c.start == (1.0, -1.0) for c in configs)
    with pytest.raises(ValueError, match="Invalid start"):
        s.replace_runs([*configs, RunConfig("gd", (1.0,))])
    h.assert_same_state(before, h.snapshot(s))
    ids = s.replace_runs(configs)
    assert [s.entry(i).config for i in ids] == configs and s.position == 0
    assert [s.entry(i).color for i in ids] == list(PALETTE[:2])


# ---------------------------------------------------------------------------------- options & speed
def test_speed_max_steps_and_options_emit_only_on_change(h):
    s = bowl_session(GD)
    rec = h.Recorder(s)
    s.set_speed(steps_per_tick=1, ticks_per_second=30)
    s.set_options(log_loss=True)
    s.max_steps = s.max_steps
    assert rec.events == []
    s.set_speed(steps_per_tick=4)
    s.ticks_per_second = 60
    s.set_options(show_gradient=True, log_loss=False)
    assert rec.names() == ["steps_per_tick", "ticks_per_second", "options_changed"]
    assert (s.steps_per_tick, s.ticks_per_second) == (4, 60)
    assert s.options == ViewOptions(show_gradient=True, log_loss=False)
    s.forward(20)
    rec.clear()
    s.set_max_steps(12)
    assert s.position == 12 and rec.names() == ["max_steps", "position_changed"]


def test_signal_argument_types(h):
    s = bowl_session(GD)
    rec = h.Recorder(s)
    s.toggle_playing()
    s.tick()
    s.toggle_playing()
    assert rec.args("playing_changed") == [(True,), (False,)]
    (pos,) = rec.args("position_changed")[0]
    assert type(pos) is int and pos == 1
    rid = s.add_run(MOM)
    (sel,) = rec.args("selection_changed")[-1]
    assert sel == rid and type(sel) is int


def test_runs_equal_a_standalone_engine_run_with_stochastic_settings():
    s = Session()
    s.set_problem(name="linear-regression")
    cfg = RunConfig("adam", (0.0, 0.0), {"lr": 0.1}, batch_size=20, noise=0.05, seed=7)
    s.add_run(cfg)
    s.set_speed(steps_per_tick=7)
    for _ in range(5):
        s.tick()
    ref = Run(make_problem("linear-regression"), cfg).run(35)
    np.testing.assert_array_equal(s.runs[0].run.history.points, ref.history.points)


def test_loading_a_session_numbers_its_runs_from_one_again() -> None:
    from gdstudio.model.presets import load_preset

    s = Session()
    load_preset(s, "book-bowl")
    load_preset(s, "himmelblau")
    assert [e.id for e in s.runs] == [1, 2]
    seen: list[object] = []
    s.selection_changed.connect(seen.append)
    load_preset(s, "himmelblau")  # same ids, new runs: the selection is announced again
    assert seen == [1]
    assert s.add_run(s.runs[0].config) == 3
