"""The background-work helper (generations, stale results dropped, cancel, progress) and the
throttled status signal."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject

from gdstudio.ui.background import Background, Job
from gdstudio.ui.status import Throttle, ThrottledSignal


def _on_main() -> bool:
    return threading.current_thread() is threading.main_thread()


@pytest.fixture
def owner(qtbot):
    o = QObject()
    yield o
    o.deleteLater()


@pytest.mark.parametrize("daemon", [False, True])
def test_result_arrives_on_the_ui_thread(qtbot, owner, daemon):
    work = Background(owner, daemon=daemon)
    seen: list[tuple[object, object, bool]] = []
    work.done.connect(lambda job, r: seen.append((job.context, r, _on_main())))
    with qtbot.waitSignal(work.done, timeout=5000):
        job = work.start(lambda j: _on_main(), context="ctx")
    assert seen == [("ctx", False, True)]  # computed off the UI thread, delivered on it
    assert job.result is False and not work.busy
    assert work.close()


@pytest.mark.parametrize("daemon", [False, True])
def test_a_superseded_request_is_dropped(qtbot, owner, daemon):
    work = Background(owner, daemon=daemon)
    gate = threading.Event()
    results: list[object] = []
    work.done.connect(lambda job, r: results.append(r))

    def slow(job: Job) -> str:
        gate.wait(5)
        return "old"

    first = work.start(slow)
    second = work.start(lambda j: (gate.wait(5), "new")[1])
    assert first.cancelled() and not second.cancelled()
    assert second.generation == first.generation + 1
    gate.set()
    qtbot.waitUntil(lambda: results == ["new"], timeout=5000)
    assert work.wait(5000)
    qtbot.wait(50)  # let any queued outcome of the first job arrive
    assert results == ["new"]


def test_generation_counts_starts_and_cancels(owner):
    work = Background(owner)
    g0 = work.generation
    job = work.start(lambda j: None)
    assert job.generation == work.generation == g0 + 1
    assert work.cancel() is job and job.cancelled()
    assert work.generation == g0 + 2 and work.job is None and not work.busy
    assert work.cancel() is None  # idle: nothing to cancel, still a new generation
    assert work.generation == g0 + 3
    work.close()


def test_cancelled_result_never_arrives(qtbot, owner):
    work = Background(owner)
    gate = threading.Event()
    stopped = threading.Event()
    got: list[object] = []
    work.done.connect(lambda job, r: got.append(r))
    work.failed.connect(lambda job, r: got.append(r))

    def loop(job: Job) -> str:
        gate.set()
        while not job.cancelled():
            job.cancel_event.wait(0.01)
        stopped.set()
        return "finished anyway"

    work.start(loop)
    assert gate.wait(5)
    work.cancel()
    assert stopped.wait(5)  # the worker saw the flag
    assert work.wait(5000)
    qtbot.wait(50)
    assert got == []


def test_an_exception_is_reported_not_raised(qtbot, owner):
    work = Background(owner)

    def bad(job: Job) -> None:
        raise ValueError("no grid for you")

    with qtbot.waitSignal(work.failed, timeout=5000) as blocker:
        work.start(bad)
    job, exc = blocker.args
    assert isinstance(exc, ValueError) and str(exc) == "no grid for you"
    assert isinstance(job, Job) and not work.busy
    work.close()


def test_progress_of_the_current_job_only(qtbot, owner):
    work = Background(owner)
    values: list[object] = []
    work.progress.connect(lambda job, v: values.append(v))

    def counting(job: Job) -> int:
        for k in range(3):
            job.report(k)
        return 3

    with qtbot.waitSignal(work.done, timeout=5000):
        work.start(counting)
    assert values == [0, 1, 2]
    # a cancelled job's progress is dropped
    gate = threading.Event()
    running = threading.Event()
    reported = threading.Event()

    def late(job: Job) -> None:
        running.set()
        gate.wait(5)
        job.report("late")
        reported.set()

    work.start(late)
    assert running.wait(5)
    work.cancel()
    gate.set()
    assert reported.wait(5) and work.wait(5000)
    qtbot.wait(50)
    assert values == [0, 1, 2]


def test_queued_stale_jobs_never_start(qtbot, owner):
    work = Background(owner, max_threads=1)
    gate = threading.Event()
    running = threading.Event()
    ran: list[str] = []
    work.start(lambda j: (running.set(), gate.wait(5), ran.append("first")))
    assert running.wait(5)
    for name in ("a", "b", "c"):
        work.start(lambda j, n=name: ran.append(n))
    gate.set()
    qtbot.waitUntil(lambda: not work.busy, timeout=5000)
    assert work.wait(5000)
    assert ran == ["first", "c"]  # a and b were superseded while queued


def test_close_walks_away_from_a_stuck_daemon_thread(owner):
    work = Background(owner, daemon=True)
    release = threading.Event()
    job = work.start(lambda j: release.wait(10))
    assert work.close(timeout_ms=50) is False  # still running: left behind, not joined forever
    assert job.cancelled()
    release.set()
    assert work.wait(5000)


def test_throttle_with_a_fake_clock():
    now = [10.0]
    t = Throttle(0.1, clock=lambda: now[0])
    assert t.ready() and not t.ready()
    now[0] += 0.05
    assert not t.ready() and t.remaining() == pytest.approx(0.05)
    now[0] += 0.05
    assert t.ready()
    t.reset()
    assert t.ready()
    with pytest.raises(ValueError, match="Invalid throttle interval: -1"):
        Throttle(-1)


def test_throttled_signal_fires_once_then_trails(qtbot, owner):
    now = [0.0]
    sig = ThrottledSignal(0.05, owner, clock=lambda: now[0])
    fired: list[float] = []
    sig.fired.connect(lambda: fired.append(now[0]))
    assert sig.request()  # the first request fires at once
    assert not sig.request() and not sig.request()  # too soon: one trailing emit scheduled
    assert sig.pending and fired == [0.0]
    now[0] = 0.05
    qtbot.waitUntil(lambda: len(fired) == 2, timeout=2000)
    assert not sig.pending
    assert sig.request(force=True) and len(fired) == 3  # forced: at once, even within the interval
    sig.request()
    sig.cancel()
    qtbot.wait(100)
    assert len(fired) == 3 and sig.count == 3


def test_throttled_signal_without_trailing_drops(qtbot, owner):
    now = [0.0]
    sig = ThrottledSignal(0.01, owner, trailing=False, clock=lambda: now[0])
    fired: list[int] = []
    sig.fired.connect(lambda: fired.append(1))
    sig.request()
    sig.request()
    assert not sig.pending
    qtbot.wait(50)
    assert fired == [1]
    sig.request()
    sig.flush()  # nothing pending: nothing fires
    assert fired == [1]
