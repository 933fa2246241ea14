"""The clock keeps to its schedule: tick k at t0 + k / ticks_per_second (not a fixed whole-ms
interval, which gives 58.8 ticks/s for 60), and a late tick drops what it missed. Time is a fake
clock here, so nothing depends on the machine's speed."""

from __future__ import annotations

import pytest

import gdstudio.ui.clock as clock_module
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import Session
from gdstudio.ui.clock import Clock


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def fake(monkeypatch, qapp):
    t = FakeTime()
    monkeypatch.setattr(clock_module.time, "perf_counter", t.perf_counter)
    s = Session()
    s.replace_runs([RunConfig("adam", (1.0, 1.0), {"lr": 0.01}, tol=0.0)])
    s.set_max_steps(100_000)
    c = Clock(s)
    yield t, s, c
    c.close()


def test_sixty_ticks_a_second_means_sixty(fake):
    t, s, c = fake
    s.set_speed(steps_per_tick=1, ticks_per_second=60)
    s.set_playing(True)
    assert c.active
    waits = []
    while c.ticks < 600:  # each timeout fired exactly when the timer asks
        waits.append(c._timer.interval())
        t.now += c._timer.interval() / 1000
        c._on_timeout()
    assert s.position == 600
    assert t.now - 100.0 == pytest.approx(10.0, abs=0.01)  # 600 ticks took 10 s (not 10.2 s at 17 ms)
    assert set(waits) <= {16, 17}  # whole-ms waits averaging 16.67 ms
    assert 1 / c._interval_avg == pytest.approx(60, rel=0.05)


def test_a_late_tick_drops_the_ticks_it_missed(fake):
    t, s, c = fake
    s.set_speed(steps_per_tick=1, ticks_per_second=50)
    s.set_playing(True)
    t.now += 0.5  # the UI thread was busy for half a second (25 periods)
    c._on_timeout()
    assert c.ticks == 1
    assert c._timer.interval() >= 19  # the next tick is a period away, not a burst of 24 at 0 ms
    assert c._due == pytest.approx(t.now + 0.02)


def test_pausing_stops_and_a_new_speed_reschedules(fake):
    _t, s, c = fake
    s.set_playing(True)
    s.set_speed(ticks_per_second=8)
    assert c._timer.interval() == 125 and c.interval_ms == 125
    s.set_playing(False)
    assert not c.active and not c._timer.isActive()
    c._on_timeout()  # a stale timeout after pausing does nothing
    assert c.ticks == 0
