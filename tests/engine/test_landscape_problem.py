"""LandscapeProblem (a network landscape's grid as a problem) and RecordedRun (a recorded path on the clock)."""

from __future__ import annotations

import gdstudio_landscape_fixture as fx
import numpy as np
import pytest

from gdstudio.engine.problems.landscape import LandscapeData, LandscapeProblem, RecordedPath, landscape_from_json
from gdstudio.engine.recorded import SLICE_LOSS, RecordedRun, make_run
from gdstudio.engine.runs import Run, RunConfig, Status


@pytest.fixture
def data() -> LandscapeData:
    return fx.make_landscape()


def test_grid_is_the_stored_values_exactly_at_its_own_resolution(data):
    p = LandscapeProblem(data)
    surf = p.grid(256)
    assert np.array_equal(surf.xs, data.a) and np.array_equal(surf.ys, data.b) and np.array_equal(surf.z, data.loss)
    assert p.bounds == ((-2.0, 2.0), (-1.5, 1.5))
    assert p.params == ("PC1 38%", "PC2 12%")
    aa, bb = np.meshgrid(data.a, data.b)  # the loss at every node is the node's value (row b, column a)
    assert np.array_equal(p.loss(np.stack([aa, bb], -1)), data.loss)
    j, i = np.unravel_index(np.argmin(data.loss), data.loss.shape)
    assert np.array_equal(p.minima, [[data.a[i], data.b[j]]])


def test_interpolation_is_bilinear_between_nodes(data):
    p = LandscapeProblem(data)
    rng = np.random.default_rng(3)
    pts = np.column_stack([rng.uniform(-2, 2, 200), rng.uniform(-1.5, 1.5, 200)])
    a, b, z = data.a, data.b, data.loss
    for x, y in pts[:40]:
        i = min(np.searchsorted(a, x, "right") - 1, len(a) - 2)
        j = min(np.searchsorted(b, y, "right") - 1, len(b) - 2)
        s, t = (x - a[i]) / (a[i + 1] - a[i]), (y - b[j]) / (b[j + 1] - b[j])
        want = ((1 - s) * (1 - t) * z[j, i] + s * (1 - t) * z[j, i + 1] + (1 - s) * t * z[j + 1, i]
                + s * t * z[j + 1, i + 1])
        assert p.loss(np.array([x, y])) == pytest.approx(want, rel=1e-13)
    # a fine grid of a smooth function: the interpolation is close to the function itself
    fine = fx.bowl(np.array([0.33]), np.array([-0.41]))[0, 0]
    assert p.loss(np.array([0.33, -0.41])) == pytest.approx(fine, abs=0.02)
    # outside the grid: nothing was computed there
    assert np.isnan(p.loss(np.array([2.5, 0.0]))) and np.isnan(p.gradient(np.array([[0.0, -1.6]]))).all()
    # another view window is interpolated (NaN beyond the grid)
    other = p.grid(32, ((-3.0, 1.0), (-1.0, 1.0)))
    assert other.z.shape == (32, 32) and np.isnan(other.z[:, 0]).all() and np.isfinite(other.z[:, -1]).all()


def test_gradient_matches_finite_differences_inside_cells(data):
    p = LandscapeProblem(data)
    rng = np.random.default_rng(5)
    pts = np.column_stack([rng.uniform(-1.9, 1.9, 50), rng.uniform(-1.4, 1.4, 50)])
    g = p.gradient(pts)
    h = 1e-6
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        fd = (p.loss(pts + e) - p.loss(pts - e)) / (2 * h)
        # a point within h of a cell edge has a one-sided derivative: skip those few
        cell = data.a if k == 0 else data.b
        away = np.min(np.abs(pts[:, k, None] - cell[None, :]), axis=1) > 10 * h
        assert away.sum() > 40
        np.testing.assert_allclose(g[away, k], fd[away], rtol=1e-5, atol=1e-7)


def test_json_round_trip_is_exact(data):
    back = landscape_from_json(data.to_json())
    assert back == data
    assert back.paths[2].hyperparameters == {"lr": 0.001}
    bad = data.to_json()
    bad["loss"] = bad["loss"][:-1]
    with pytest.raises(ValueError, match="landscape loss"):
        landscape_from_json(bad)


def test_recorded_run_reveals_the_path_with_its_true_loss(data):
    p = LandscapeProblem(data)
    path = data.paths[1]
    run = make_run(p, RunConfig("momentum", tuple(path.points[0]), {"lr": 0.01}, seed=1))
    assert isinstance(run, RecordedRun) and run.label == "Momentum" and run.steps == 0 and run.running
    assert run.advance(4) == 4 and run.steps == 4
    np.testing.assert_array_equal(run.history.points, path.points[:5])
    np.testing.assert_array_equal(run.history.loss, path.loss[:5])  # the TRUE loss, not the slice's
    np.testing.assert_array_equal(run.history.step_array(SLICE_LOSS), p.loss(path.points[1:5]))
    np.testing.assert_array_equal(run.history.grad, p.gradient(path.points[:4]))
    np.testing.assert_allclose(run.history.update, np.diff(path.points[:5], axis=0))
    assert run.advance(100) == 6 and run.status is Status.STOPPED
    assert run.stop_reason == "end of the recorded path (training iteration 100)"
    assert run.advance(1) == 0 and run.preview() is None


def test_recorded_run_refuses_other_settings_and_a_diverged_path_stops(data):
    p = LandscapeProblem(data)
    start = tuple(data.paths[0].points[0])
    with pytest.raises(ValueError, match="recorded training path"):
        make_run(p, RunConfig("gd", start, {"lr": 0.5}, seed=0))
    with pytest.raises(ValueError, match="seed"):
        make_run(p, RunConfig("gd", start, {"lr": 0.1}, seed=7))
    loss = data.paths[0].loss.copy()
    loss[3] = np.nan
    bad = RecordedPath("SGD", "gd", data.paths[0].points, loss, data.paths[0].iterations, {"lr": 0.1})
    q = LandscapeProblem(LandscapeData(data.a, data.b, data.loss, paths=(bad,)))
    run = make_run(q, RunConfig("gd", start, {"lr": 0.1}))
    run.advance(10)
    assert run.status is Status.DIVERGED and run.diverged_at == 3 and len(run.history) == 3
    assert type(make_run(_himmelblau(), RunConfig("gd", (0.0, 0.0)))) is Run


def _himmelblau():
    from gdstudio.engine.problems import make_problem

    return make_problem("himmelblau")
