"""History plots: ranges come from the runs that stay finite; diverging runs end with a ✕;
step-0 axes are readable and nothing carries over from the last runs; decimation is exact
in its envelope and incremental."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.engine.problems import make_problem
from gdstudio.ui.views.history import PLOTS, SeriesSummary, log10_masked, peak_decimate
from gdstudio.ui.views.types import TrajectoryView

LOG = {"loss": False, "parameters": False, "effective_lr": True, "grad_norm": True}


def _values(t: TrajectoryView, plot: str) -> list[np.ndarray]:
    """What a plot shows of a run, computed here independently of the view (log10 on log axes)."""
    raw = {"loss": [t.loss], "parameters": [t.points[:, i] for i in range(t.dim)],
           "effective_lr": [t.effective_lr[:, i] for i in range(t.dim)], "grad_norm": [t.grad_norm]}[plot]
    return [log10_masked(v) if LOG[plot] else v for v in raw]


def _extent(runs: list[TrajectoryView], plot: str) -> tuple[float, float]:
    vals = np.concatenate([v for t in runs for v in _values(t, plot)])
    vals = vals[np.isfinite(vals)]
    return float(vals.min()), float(vals.max())


def _prefix(t: TrajectoryView, n: int, status: str = "running") -> TrajectoryView:
    return TrajectoryView(t.key, t.points[:n], t.loss[:n], color=t.color, status=status, grad=t.grad[: n - 1],
                          effective_lr=t.effective_lr[: n - 1], grad_norm=t.grad_norm[: n - 1])


def _assert_range_fits(view, normal: list[TrajectoryView]) -> None:
    for plot in PLOTS:
        lo, hi = _extent(normal, plot)
        y0, y1 = view.plots[plot].vb.viewRange()[1]
        span = hi - lo
        if LOG[plot]:
            span = max(span, 2.0)  # log axes show at least two decades
        assert y0 <= lo and hi <= y1, plot
        assert (y1 - y0) <= 1.3 * span + 1e-12, (plot, (y0, y1), (lo, hi))


@pytest.fixture
def race(run_trajectory):
    """Three normal runs and one that diverges within six steps on Himmelblau."""
    p = make_problem("himmelblau")
    normal = [run_trajectory(p, "sgd", (-0.5, -0.5), 120, key="gd", lr=0.01),
              run_trajectory(p, "adam", (1.0, 1.0), 120, key="adam", lr=0.1),
              run_trajectory(p, "momentum", (0.5, -4.0), 120, key="mom", lr=0.005)]
    bad = run_trajectory(p, "sgd", (4.0, 4.0), 120, key="bad", lr=0.5)
    assert bad.status == "diverged" and bad.loss.max() > 1e200  # the premise: huge finite values
    return normal, bad


def test_a_diverged_run_does_not_set_the_ranges(history_view, race):
    normal, bad = race
    history_view.set_frame([*normal, bad], 120)
    history_view.flush()
    _assert_range_fits(history_view, normal)
    for plot in PLOTS:
        assert history_view.escaping_runs(plot) == {"bad"}
        y0, y1 = history_view.plots[plot].vb.viewRange()[1]
        # Its curve stays inside the plot and ends with a ✕ where it leaves (or at its last point).
        for _x, y in history_view.curve_data("bad", plot):
            assert np.all((y[np.isfinite(y)] >= y0) & (y[np.isfinite(y)] <= y1)), plot
        crosses = history_view.escape_points(plot)
        assert 1 <= len(crosses) <= (bad.dim if plot in ("parameters", "effective_lr") else 1), plot
        cx, cy = crosses[0]
        assert y0 <= cy <= y1 and 0 <= cx <= bad.last_index
    # On the loss plot it leaves through the top edge before its last point.
    (cx, cy), = history_view.escape_points("loss")
    top = history_view.plots["loss"].vb.viewRange()[1][1]
    assert cy >= top - 0.05 * np.ptp(history_view.plots["loss"].vb.viewRange()[1]) and cx < bad.last_index
    # The normal runs get no ✕ and are drawn in full.
    x, y = history_view.curve_data("gd", "loss")[0]
    assert np.array_equal(x, np.arange(len(normal[0].loss))) and np.allclose(y, normal[0].loss)


def test_a_run_blowing_up_before_it_diverges_does_not_set_the_ranges(history_view, run_trajectory):
    p = make_problem("ravine")
    normal = [run_trajectory(p, "sgd", (3.0, 1.0), 150, key="gd", lr=0.05),
              run_trajectory(p, "adam", (-4.0, 2.0), 150, key="adam", lr=0.1),
              run_trajectory(p, "momentum", (6.0, -2.0), 150, key="mom", lr=0.02)]
    full = run_trajectory(p, "sgd", (3.0, 1.0), 150, key="boom", lr=0.25)
    assert full.status == "running" and full.loss[-1] > 1e30  # still finite: not diverged yet
    history_view.set_frame([*normal, full], 150)
    history_view.flush()
    _assert_range_fits(history_view, normal)
    assert "boom" in history_view.escaping_runs("loss") and "boom" in history_view.escaping_runs("parameters")
    assert len(history_view.escape_points("loss")) == 1
    # Early on, before it blows up, it is an ordinary run and sets the range with the others.
    history_view.set_frame([*(_prefix(t, 4) for t in normal), _prefix(full, 4)], 3)
    history_view.flush()
    assert history_view.escaping_runs("loss") == set()
    _assert_range_fits(history_view, [*(_prefix(t, 4) for t in normal), _prefix(full, 4)])


def test_when_every_run_diverges_the_range_shows_their_start(history_view, race):
    _, bad = race
    history_view.set_frame([bad], 10)
    history_view.flush()
    y0, y1 = history_view.plots["loss"].vb.viewRange()[1]
    assert y0 <= bad.loss[0] <= y1 and y1 < 1e4 * bad.loss[0]
    assert len(history_view.escape_points("loss")) == 1


def test_step_zero_axes_are_round_and_readable(history_view, run_trajectory):
    p = make_problem("himmelblau")
    t = _prefix(run_trajectory(p, "adam", (1.0, 1.0), 5, key="a", lr=0.1), 1)  # one point, no steps yet
    history_view.set_frame([t], 0)
    history_view.flush()
    for plot in PLOTS:
        item = history_view.plots[plot]
        (x0, x1), (y0, y1) = item.vb.viewRange()
        assert -0.05 * x1 <= x0 <= 0 and x1 >= 10, plot  # whole steps, not 0 … 1.2
        assert item.getAxis("bottom").autoSIPrefixScale == 1.0  # no "step (×0.001)"
        assert math.isfinite(y0) and y1 > y0
        if plot in ("loss", "parameters"):
            values = np.concatenate(_values(t, plot))
            assert y0 <= values.min() and values.max() <= y1
            assert (y1 - y0) >= 0.1 * max(1.0, np.abs(values).max())  # flat data: a readable span
        axis = item.getAxis("left")
        levels = axis.tickValues(y0, y1, item.vb.height())
        for spacing, ticks in levels:
            for text in axis.tickStrings(ticks, 1.0, spacing or 1.0):
                assert len(text) <= 7, (plot, text)  # no −0.49999999999995
        if LOG[plot]:  # labelled log ticks (decades) never overlap, even with no data yet
            labelled = sorted(v for _s, ticks in levels[: axis.style["maxTextLevel"] + 1] for v in ticks)
            assert labelled, plot
            px = np.diff(labelled) / (y1 - y0) * item.vb.height()
            assert np.all(px >= 12), plot  # a label's height


def test_empty_view_and_new_runs_start_from_fresh_ranges(history_view, race, run_trajectory):
    normal, _bad = race
    (x0, x1), (y0, y1) = history_view.plots["loss"].vb.viewRange()
    assert x1 == pytest.approx(10 * 1.2) and -0.05 * x1 <= x0 <= 0
    assert (y0, y1) == (pytest.approx(0.0, abs=0.1), pytest.approx(1.0, abs=0.1))
    history_view.set_frame(normal, 120)
    history_view.flush()
    big = history_view.plots["loss"].vb.viewRange()[1]
    # New runs (another session or problem): nothing left from the old ranges.
    small = run_trajectory(make_problem("booth"), "adam", (-5.0, 5.0), 20, key="new", lr=0.01)
    history_view.set_frame([small], 0)
    history_view.flush()
    (x0, x1), (y0, y1) = history_view.plots["loss"].vb.viewRange()
    assert x1 < 30
    lo, hi = _extent([small], "loss")
    assert y0 <= lo and hi <= y1 and (y1 - y0) <= 1.3 * (hi - lo) and (y1 - y0) < (big[1] - big[0])


def xs_of(x: np.ndarray, step: int) -> int:
    return int(np.searchsorted(x, step))


def test_summary_is_incremental_and_restarts_on_new_data():
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.standard_normal(100_000))
    y[5000] = 1e4
    y[70_000:72_000] = np.inf
    s = SeriesSummary()
    for n in (1, 17, 500, 4096, 33_333, 100_000):  # grown in pieces …
        assert s.update(y[:n])
    whole = SeriesSummary()
    whole.update(y)  # … equals summarised at once
    xa, ya = s.decimate(y, 400)
    xb, yb = whole.decimate(y, 400)
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb, equal_nan=True)
    assert len(xa) <= 4 * 400
    finite = y[np.isfinite(y)]
    assert np.nanmax(ya) == 1e4 and np.nanmin(ya) == finite.min()
    assert np.isnan(ya).any()  # the inf stretch is a break, not a spike
    assert not np.isnan(ya[xs_of(xa, 69_000)])
    # The envelope: every block's drawn min/max equal the data's over that block.
    xs = xa.astype(int)
    for i in range(0, len(xs) - 1, 2):
        if xs[i + 1] > xs[i]:
            block = y[xs[i] : xs[i + 1] + 1]
            block = block[np.isfinite(block)]
            if block.size:
                assert ya[i] == block.min() and ya[i + 1] == block.max()
    # A restarted run (different values, same length) is summarised afresh.
    rev = y[::-1].copy()
    assert not s.update(rev)
    fresh = SeriesSummary()
    fresh.update(rev)
    assert np.array_equal(s.decimate(rev, 400)[1], fresh.decimate(rev, 400)[1], equal_nan=True)


def test_peak_decimate_short_series_is_exact():
    y = np.array([1.0, np.nan, 3.0, np.inf, -2.0])
    x, yy = peak_decimate(y, 400)
    assert np.array_equal(x, np.arange(5)) and np.array_equal(yy, [1.0, np.nan, 3.0, np.nan, -2.0], equal_nan=True)


def test_growing_runs_rarely_move_the_axes(history_view, race):
    """Ranges move only when the data leave them (axes are re-rendered only then)."""
    normal, _bad = race
    moves = {"n": 0}
    vb = history_view.plots["loss"].vb
    original = vb.setRange

    def counting(*args, **kwargs):
        moves["n"] += 1
        return original(*args, **kwargs)

    vb.setRange = counting
    for n in range(20, 100):
        history_view.set_frame([_prefix(t, min(n, len(t.loss))) for t in normal], n - 1)
        history_view.flush()
    assert moves["n"] <= 8  # 80 frames: x grows in round steps, y only when the data leave it
    _assert_range_fits(history_view, [_prefix(t, min(99, len(t.loss))) for t in normal])


def test_a_run_replaced_under_the_same_key_is_drawn_afresh(history_view, run_trajectory):
    """A loaded session reuses run ids: what was drawn of the old run must not survive."""
    p = make_problem("himmelblau")
    old = run_trajectory(p, "sgd", (-0.5, -0.5), 300, key=1, lr=0.001)
    history_view.set_frame([old], 300)
    history_view.flush()
    new = _prefix(run_trajectory(make_problem("booth"), "adam", (-5.0, 5.0), 5, key=1, lr=0.1), 1)
    history_view.set_frame([new], 0)
    history_view.flush()
    for plot in ("loss", "parameters"):
        for (x, y), v in zip(history_view.curve_data(1, plot), _values(new, plot), strict=True):
            assert np.array_equal(x, [0.0]) and np.allclose(y, v)
    assert history_view.plots["loss"].vb.viewRange()[0][1] < 30


def test_a_flat_curve_alone_is_drawn(history_view, run_trajectory, image_array, qtbot):
    """Plain GD's effective learning rate is one flat line: a zero-height extent must still paint."""
    p = make_problem("himmelblau")
    t = run_trajectory(p, "sgd", (-0.5, -0.5), 200, key="gd", lr=0.01, color="#E69F00")
    history_view.set_frame([t], 200)
    history_view.flush()
    qtbot.wait(30)
    plot = history_view.plots["effective_lr"]
    gv = history_view.layout_widget
    rect = gv.mapFromScene(plot.vb.sceneBoundingRect()).boundingRect()
    img = image_array(gv.grab(rect).toImage())
    r, g, b = (img[..., i].astype(int) for i in range(3))
    orange = (r > 90) & (r > b + 60) & (g > 0.4 * r) & (g < 0.9 * r)  # the run's hue, antialiased or not
    columns = np.flatnonzero(orange.any(axis=0))
    assert columns.size > 0.5 * rect.width() * t.last_index / np.ptp(plot.vb.viewRange()[0])  # its length
    rows = np.flatnonzero(orange.any(axis=1))
    assert rows.max() - rows.min() <= 10  # one flat line (and the dot at its end)


def test_hidden_runs_are_not_drawn_and_do_not_set_ranges(history_view, race):
    normal, _bad = race
    big = TrajectoryView("big", normal[0].points * 50, normal[0].loss * 1e3, color="#CC79A7", status="running",
                         grad=normal[0].grad, effective_lr=normal[0].effective_lr, grad_norm=normal[0].grad_norm)
    history_view.set_frame([*normal, big], 120)
    history_view.flush()
    shown = len(history_view.bodies["loss"]._paths)
    big.visible = False
    history_view.set_frame([*normal, big], 120)
    history_view.flush()
    assert len(history_view.bodies["loss"]._paths) == shown - 1
    assert len(history_view.markers["loss"].getData()[0]) == len(normal)
    _assert_range_fits(history_view, normal)
