"""Helpers for the session-model tests (the ``h`` fixture): a signal recorder, state snapshots,
hand-written loops on the bowl x²/20 + y² that do not use the engine."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gdstudio.model import Session

SIGNALS = ("problem_changed", "runs_changed", "runs_advanced", "position_changed", "selection_changed",
           "playing_changed", "options_changed", "message")
#: Playback fields recorded too, under their own names (they replaced the coarse speed_changed).
SPEED_FIELDS = ("steps_per_tick", "ticks_per_second", "max_steps")


class Recorder:
    """Records every coarse signal a session emits, and its speed fields' signals, as ``(name, args)``."""

    def __init__(self, session: Session) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        for name in SIGNALS:
            getattr(session, name).connect(lambda *args, _n=name: self.events.append((_n, args)))
        for name in SPEED_FIELDS:
            session.playback.events[name].connect(lambda *args, _n=name: self.events.append((_n, args)))

    def names(self) -> list[str]:
        return [n for n, _ in self.events]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        return [a for n, a in self.events if n == name]

    def messages(self) -> list[str]:
        return [a[0] for a in self.args("message")]

    def clear(self) -> None:
        self.events.clear()


def snapshot(s: Session) -> dict[str, Any]:
    """Everything observable about a session, histories included (arrays copied)."""
    return {
        "doc": s.to_dict(),
        "ids": [e.id for e in s.runs],
        "selected": s.selected_id,
        "position": s.position,
        "playing": s.playing,
        "settings": s.problem_settings.copy(),  # the live models are copied: later edits must show
        "problem": s.problem,
        "options": s.options.copy(),
        "speed": (s.steps_per_tick, s.ticks_per_second, s.max_steps),
        "configs": [e.config for e in s.runs],
        "colors": [e.color for e in s.runs],
        "visible": [e.visible for e in s.runs],
        "run_objects": [id(e.run) for e in s.runs],
        "status": [e.status for e in s.runs],
        "points": [e.run.history.points.copy() for e in s.runs],
        "loss": [e.run.history.loss.copy() for e in s.runs],
    }


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in a:
        if key in ("points", "loss"):
            assert len(a[key]) == len(b[key])
            for x, y in zip(a[key], b[key], strict=True):
                np.testing.assert_array_equal(x, y)
        else:
            assert a[key] == b[key], key


def bowl_grad(p: np.ndarray) -> np.ndarray:
    """∇(x²/20 + y²), written out independently of the engine."""
    return np.array([p[0] / 10.0, 2.0 * p[1]])


def bowl_loss(p: np.ndarray) -> float:
    return float(p[0] ** 2 / 20.0 + p[1] ** 2)


def hand_gd(start: tuple[float, ...], lr: float, steps: int, momentum: float = 0.0) -> np.ndarray:
    """GD (optionally heavy-ball momentum, torch's convention b ← μb + g) on the bowl."""
    p = np.array(start, dtype=float)
    b = None
    out = [p.copy()]
    for _ in range(steps):
        g = bowl_grad(p)
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = b
        p = p - lr * g
        out.append(p.copy())
    return np.array(out)


@pytest.fixture
def h() -> SimpleNamespace:
    return SimpleNamespace(Recorder=Recorder, snapshot=snapshot, assert_same_state=assert_same_state,
                           bowl_grad=bowl_grad, bowl_loss=bowl_loss, hand_gd=hand_gd)
