"""Slow-motion steps: stages from the rule's roles, the velocity drawn as a true vector sum, the
preconditioner's per-axis scale, θ landing on the next point, speed and loop, the window's action,
and an export that writes one frame per sub-stage."""

from __future__ import annotations

from pathlib import Path

import gdstudio_window_fixtures as wf  # registered by conftest.py
import numpy as np
import pytest

from gdstudio.engine.explain import explain_run
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.ui.export_dialog import VideoSettings
from gdstudio.ui.panels.inspector import inspector_of, plan_from
from gdstudio.ui.slow_motion import SlowMotion, scales_for, scene_at, stages_of
from gdstudio.ui.views.step_overlay import StepOverlay


def _run(optimizer: str, hp: dict, steps: int = 12, start=(-0.5, -0.5)) -> Run:
    return Run(make_problem("himmelblau"), RunConfig(optimizer, start, hp)).run(steps)


@pytest.fixture
def overlay(contour_view, himmelblau):
    contour_view.set_surface(himmelblau.grid(64), himmelblau.bounds)
    made = StepOverlay(contour_view)
    yield made
    made.close()


@pytest.mark.parametrize(("optimizer", "hp", "stages"), [
    ("gd", {"lr": 0.01}, ("gradient", "step", "move")),
    ("momentum", {"lr": 0.005}, ("gradient", "velocity", "step", "move")),
    ("nag", {"lr": 0.005}, ("gradient", "velocity", "step", "move")),
    ("rmsprop", {"lr": 0.01}, ("gradient", "precondition", "step", "move")),
    ("adagrad", {"lr": 0.5}, ("gradient", "precondition", "step", "move")),
    ("adam", {"lr": 0.1}, ("gradient", "velocity", "precondition", "step", "move")),
])
def test_stages_come_from_the_declared_roles(optimizer, hp, stages):
    run = _run(optimizer, hp)
    plan = plan_from(explain_run(run, 6))
    assert stages_of(plan) == stages
    h = run.history
    np.testing.assert_array_equal(plan.theta, h.points[5])
    np.testing.assert_array_equal(plan.theta_next, h.points[6])
    np.testing.assert_array_equal(plan.grad, h.grad[5])
    np.testing.assert_array_equal(plan.update, h.update[5])


@pytest.mark.parametrize(("optimizer", "hp", "gamma", "add"), [
    ("momentum", {"lr": 0.005}, 0.9, 1.0),   # b_t = γ b_{t−1} + g_t (torch's SGD, τ = 0)
    ("nag", {"lr": 0.005}, 0.9, 1.0),
    ("adam", {"lr": 0.1}, 0.9, 0.1),         # m_t = β₁ m_{t−1} + (1 − β₁) g_t
])
def test_velocity_is_drawn_as_a_vector_sum(overlay, optimizer, hp, gamma, add):
    run = _run(optimizer, hp)
    h = run.history
    k = 7
    plan = plan_from(explain_run(run, k))
    # The engine's velocities against the closed form of the rule, from the History alone.
    np.testing.assert_allclose(plan.velocity, h.first_moment[k - 1], rtol=1e-15)
    np.testing.assert_allclose(plan.old_term, gamma * h.first_moment[k - 2], rtol=1e-14)
    np.testing.assert_allclose(plan.grad_term, add * h.grad[k - 1], rtol=1e-14)
    np.testing.assert_allclose(plan.old_term + plan.grad_term, plan.velocity, rtol=1e-12, atol=1e-12)
    scales = scales_for(plan, overlay)
    stage = stages_of(plan).index("velocity")
    frame = scene_at(plan, stage + 1.0 - 1e-12, scales)  # the end of the velocity stage
    overlay.show_frame(frame)
    old, add_seg, new = (overlay.arrow_segments(n) for n in ("old", "scaled_grad", "velocity"))
    assert len(old) == len(add_seg) == len(new) == 6
    # Tip to tail: the scaled gradient starts where the old velocity ends, and ends where the new one does.
    np.testing.assert_allclose(add_seg[0], old[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(add_seg[1], new[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(old[0], plan.theta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(new[0], plan.theta, rtol=0, atol=1e-12)
    # …and the drawn vectors are −(old velocity), −(scaled gradient), −(new velocity) at one scale.
    s = scales.grad
    np.testing.assert_allclose(old[1] - old[0], -s * plan.old_term, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(new[1] - new[0], -s * plan.velocity, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose((old[1] - old[0]) + (add_seg[1] - add_seg[0]), new[1] - new[0], rtol=0, atol=1e-12)
    assert "velocity" in frame.caption or "=" in frame.caption


def test_adam_preconditioner_is_sqrt_vhat_per_axis(overlay):
    run = _run("adam", {"lr": 0.1})
    h = run.history
    k = 9
    plan = plan_from(explain_run(run, k))
    # √v̂ + ε from the History's second moment and the bias correction (independent of explain).
    vhat = h.second_moment[k - 1] / (1 - 0.999 ** k)
    np.testing.assert_allclose(plan.scale, np.sqrt(vhat) + 1e-8, rtol=1e-12)
    scales = scales_for(plan, overlay)
    stage = stages_of(plan).index("precondition")
    frame = scene_at(plan, stage + 1.0 - 1e-12, scales)
    centre, half = frame.ellipse
    np.testing.assert_array_equal(centre, plan.theta)
    inv = 1 / plan.scale
    rel = inv / inv.max()
    np.testing.assert_allclose(half / np.array(scales.radius), rel, rtol=1e-9)  # half-axes ∝ 1/scale
    direction = next(a for a in frame.arrows if a.name == "direction")
    np.testing.assert_allclose(direction.vector, -(plan.velocity / plan.scale) * scales.direction, rtol=1e-9)
    assert "x ÷" in frame.ellipse_label and "y ÷" in frame.ellipse_label


def test_theta_moves_onto_the_next_point(overlay):
    run = _run("nag", {"lr": 0.005})
    plan = plan_from(explain_run(run, 4))
    n = len(stages_of(plan))
    start = scene_at(plan, n - 1, scales_for(plan, overlay))
    end = scene_at(plan, n, scales_for(plan, overlay))
    np.testing.assert_array_equal(start.point, run.history.points[3])
    np.testing.assert_allclose(end.point, run.history.points[4], rtol=0, atol=1e-12)
    overlay.show_frame(end)
    step = overlay.arrow_segments("step")
    np.testing.assert_allclose(step[0], run.history.points[3], atol=1e-12)
    assert end.caption.startswith("Slow motion · step 4 · stage 4/4\nθ moves")
    assert "lookahead" in scene_at(plan, 0.5, scales_for(plan, overlay)).caption  # NAG's declared point


def test_speed_and_loop(overlay):
    run = _run("momentum", {"lr": 0.005})
    plan = plan_from(explain_run(run, 3))
    sm = SlowMotion(overlay, lambda: plan)
    sm.seconds_per_stage = 0.2
    sm.set_active(True)
    assert sm.active and sm.playing and sm.t == 0.0
    ticks_per_stage = round(0.2 * 30)
    for _ in range(ticks_per_stage):
        sm._tick()
    assert sm.t == pytest.approx(1.0)  # 0.2 s per stage at 30 ticks a second: one stage in 6 ticks
    sm._tick()
    assert overlay.frame.extra["stage_index"] == 1  # the second stage has begun
    sm.loop = True
    for _ in range(ticks_per_stage * 10):
        sm._tick()
    assert sm.t < sm.duration  # looped back
    sm.loop = False
    for _ in range(ticks_per_stage * 10):
        sm._tick()
    assert not sm.playing and sm.t == sm.duration  # stopped on the last picture
    np.testing.assert_allclose(overlay.frame.point, run.history.points[3], atol=1e-12)
    sm.set_active(False)
    assert overlay.frame is None
    sm.close()


def test_window_action_position_and_export(qtbot, studio_settings, tmp_path: Path):
    w = wf.make_window(qtbot, studio_settings)
    s = w.session
    s.replace_runs([RunConfig("nag", (-0.5, -0.5), {"lr": 0.005})])
    s.select(s.runs[0].id)
    s.forward(8)
    wf.settle(qtbot, w)
    panel = inspector_of(w)
    w.docks["inspector"].hide()
    w.actions["slow_motion"].trigger()  # opens the dock with its controls
    assert w.docks["inspector"].isVisible() and panel.slow_box.isChecked() and panel.slow_motion.active
    assert panel.slow_motion.plan.step == 8
    s.seek(5)
    assert panel.slow_motion.plan.step == 5 and panel.slow_motion.t == 0.0  # restarted on the new step
    # Export while slow motion is on: its stages as frames (0.2 s per stage at 10 fps = 2 frames each).
    panel.speed.setValue(0.2)
    target = tmp_path / "frames"
    settings = VideoSettings(path=target, view="contour", size=(160, 120), fps=10, first=0, last=s.computed_steps,
                             caption=False)
    job = w.exports.start_video(settings)
    assert job is not None and job.wait(120) and job.state == "finished", job.message if job else None
    stages = len(stages_of(panel.slow_motion.plan))
    assert len(list(target.glob("*.png"))) == 2 * stages + 1
    w.actions["slow_motion"].trigger()
    assert not panel.slow_motion.active and not panel.slow_box.isChecked() and panel.overlay.frame is None
    # Off: a normal export of the steps again.
    target2 = tmp_path / "frames2"
    job = w.exports.start_video(VideoSettings(path=target2, view="contour", size=(160, 120), fps=10, first=0,
                                              last=3, caption=False))
    assert job.wait(120) and len(list(target2.glob("*.png"))) == 4
    w.close()
