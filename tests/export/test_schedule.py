"""Frame schedules against the articles' formula and the even spacing; captions from real runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gdstudio.export.schedule import caption, format_loss, frame_steps, span_steps


def article_frames(epochs: int, animation_frames: int) -> list[int]:
    """Seed 000's loop, verbatim: ``for i in range(animation_frames): i = int(i*(epochs/animation_frames))``."""
    shown = []
    for i in range(animation_frames):
        i = int(i * (epochs / animation_frames))  # the article rebinds its loop variable
        shown.append(i)
    return shown


def test_default_is_every_step_steps_plus_one_frames() -> None:
    assert frame_steps(300) == list(range(301))
    assert frame_steps(0) == [0]
    assert frame_steps(12, first=5) == list(range(5, 13))


@pytest.mark.parametrize(("epochs", "k"), [(200, 20), (1000, 20), (300, 7), (10, 3), (7, 7), (5, 9), (1, 1)])
def test_article_mode_is_the_seed_formula(epochs: int, k: int) -> None:
    assert frame_steps(epochs, k, mode="article") == article_frames(epochs, k)


def test_article_mode_never_reaches_the_last_step_but_even_does() -> None:
    article = frame_steps(200, 20, mode="article")
    even = frame_steps(200, 20)
    assert article[-1] == 190 and even[-1] == 200
    assert article[0] == even[0] == 0


@given(span=st.integers(0, 5000), k=st.integers(2, 400), first=st.integers(0, 50))
def test_even_mode_spreads_k_frames_from_first_to_last(span: int, k: int, first: int) -> None:
    last = first + span
    steps = frame_steps(last, k, first=first)
    assert len(steps) == k
    assert steps[0] == first and steps[-1] == last
    gaps = np.diff(steps)
    assert (gaps >= 0).all()
    # each frame is the nearest step to the ideal (real-valued) position, halves rounded up
    ideal = first + np.arange(k) * span / (k - 1)
    assert np.all(np.abs(np.array(steps) - ideal) <= 0.5 + 1e-9)
    assert [first + math.floor(i * span / (k - 1) + 0.5) for i in range(k)] == steps
    if k <= span + 1:
        assert gaps.min() >= math.floor(span / (k - 1)) and gaps.max() <= math.ceil(span / (k - 1))
        assert len(set(steps)) == k  # no repeated frame when there are enough steps


def test_one_frame_shows_the_final_step() -> None:
    assert frame_steps(40, 1) == [40]
    assert frame_steps(40, 1, mode="article") == [0]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"last": -1}, "last step"),
    ({"last": 10, "frames": 0}, "frames"),
    ({"last": 10, "frames": 2.5}, "frames"),
    ({"last": 10, "first": 11}, "step range"),
    ({"last": 10, "frames": 3, "mode": "fast"}, "frame mode"),
    ({"last": True}, "last step"),
])
def test_bad_input_names_the_parameter(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        frame_steps(**kwargs)


def test_span_steps_clamps_to_what_is_computed() -> None:
    assert span_steps(None, None, 80) == (0, 80)
    assert span_steps(10, 500, 80) == (10, 80)
    with pytest.raises(ValueError, match="only steps 0 to 80"):
        span_steps(90, None, 80)


def test_format_loss() -> None:
    assert format_loss(0.012345) == "0.01235"
    assert format_loss(1.5e-7) == "1.500e-07"
    assert format_loss(float("inf")) == "inf"


def _session(preset: str, steps: int):
    from gdstudio.model.presets import load_preset
    from gdstudio.model.session import Session

    s = Session()
    load_preset(s, preset)
    s.set_max_steps(max(s.max_steps, steps))
    s.forward(steps)
    return s


def test_caption_names_the_problem_step_runs_and_their_losses() -> None:
    s = _session("himmelblau", 40)
    cap = caption(s.problem.title, s.runs, 25, 40)
    assert cap.title == f"{s.problem.title} · step 25 / 40"
    assert [r.label for r in cap.runs] == [e.label for e in s.runs]
    assert [r.color for r in cap.runs] == [e.color for e in s.runs]
    for r, e in zip(cap.runs, s.runs, strict=True):
        assert r.value == f"loss {format_loss(float(e.run.history.loss[25]))}"
    assert "Adam" in cap.text() and "loss" in cap.text()


def test_caption_of_hidden_stopped_and_diverged_runs() -> None:
    from gdstudio.engine.runs import RunConfig
    from gdstudio.model.session import Session

    s = Session()
    s.set_problem(name="rosenbrock")
    a = s.add_run(RunConfig("gd", (-1.5, 2.0), {"lr": 0.05}))  # diverges within a few steps
    b = s.add_run(RunConfig("adam", (-1.5, 2.0), {"lr": 0.01}))
    c = s.add_run(RunConfig("adam", (-1.5, 2.0), {"lr": 0.02}), visible=False)
    s.set_max_steps(60)
    s.forward(60)
    gd = s.entry(a).run
    assert gd.diverged_at is not None and gd.diverged_at < 60
    d = gd.diverged_at
    cap = caption("Rosenbrock", s.runs, 60)
    assert [r.label for r in cap.runs] == [s.entry(a).label, s.entry(b).label]  # the hidden run is left out
    assert cap.runs[0].value == f"diverged at step {d}"
    early = caption("Rosenbrock", s.runs, 0)
    assert early.runs[0].value.startswith("loss ")
    assert s.entry(c).visible is False
