"""Basin maps: every pixel equals the single Run from that start (what `gdstudio trace` runs), to 1e-12."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import gdstudio.engine.explore.rows as rows_module
from gdstudio.engine.explore import (
    STATUS_NAMES,
    Cancelled,
    basin_map,
    check_memory,
    estimate_bytes,
    grid_starts,
    run_rows,
)
from gdstudio.engine.optimizers import OPTIMIZERS
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import RunConfig
from tests.engine.explore_helpers import close, single


def assert_pixels_equal_runs(problem_name: str, config: RunConfig, steps: int, grid: int,
                             bounds: tuple[float, float, float, float] | None = None, sample: int | None = None,
                             seed: int = 0) -> np.ndarray:
    """Check every pixel (or ``sample`` random ones) against its single Run; returns the status names."""
    problem = make_problem(problem_name)
    b = basin_map(problem, config, bounds, grid, steps)
    assert b.xs is not None and b.ys is not None
    pixels = [(j, i) for j in range(grid) for i in range(grid)]
    if sample is not None:
        rng = np.random.default_rng(seed)
        pixels = [pixels[k] for k in rng.choice(len(pixels), sample, replace=False)]
    for j, i in pixels:
        ref = single(problem, config.with_(start=(float(b.xs[i]), float(b.ys[j]))), steps)
        where = f"{config.optimizer} pixel {(j, i)} from {(b.xs[i], b.ys[j])}"
        assert STATUS_NAMES[b.status[j, i]] == ref["status"], where
        assert b.steps[j, i] == ref["steps"], where
        np.testing.assert_allclose(b.final_points[j, i], ref["point"], rtol=0, atol=1e-12, err_msg=where)
        assert close(b.final_loss[j, i], ref["loss"]), where
        assert close(b.best_loss[j, i], ref["best"]), where
    return np.array([STATUS_NAMES[c] for c in b.status.ravel()])


def test_starts_are_linspace_pairs_in_image_order() -> None:
    xs, ys, starts = grid_starts((-5, 5, -2, 3), (4, 3))
    np.testing.assert_array_equal(xs, np.linspace(-5, 5, 4))
    np.testing.assert_array_equal(ys, np.linspace(-2, 3, 3))
    assert starts.shape == (12, 2)
    np.testing.assert_array_equal(starts[5], [xs[1], ys[1]])  # [j, i] = (x_i, y_j), j-major


def test_every_pixel_equals_its_run_with_ok_converged_and_diverged_pixels() -> None:
    config = RunConfig("sgd", (0.0, 0.0), {"lr": 0.02}, tol=1e-6)
    statuses = assert_pixels_equal_runs("himmelblau", config, 200, 14, bounds=(-6, 6, -6, 6))
    assert {"ok", "converged", "diverged"} <= set(statuses)  # the map has all three kinds


def test_momentum_on_rosenbrock_with_divergence() -> None:
    statuses = assert_pixels_equal_runs("rosenbrock", RunConfig("sgd", (0, 0), {"lr": 0.003, "momentum": 0.9}),
                                        300, 10)
    assert "diverged" in statuses and "ok" in statuses


def test_gradient_noise_uses_the_runs_draws() -> None:
    config = RunConfig("rmsprop", (0, 0), {"lr": 0.1}, noise=0.5, seed=3, tol=1e-2)
    statuses = assert_pixels_equal_runs("bowl", config, 100, 9)
    assert "converged" in statuses


def test_mini_batches_of_a_data_problem_use_the_runs_seed() -> None:
    config = RunConfig("sgd", (0, 0), {"lr": 0.5, "momentum": 0.5}, batch_size=3, seed=7)
    assert_pixels_equal_runs("sigmoid-neuron", config, 60, 6)


def test_many_blocks_on_two_threads_equal_their_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_module, "BLOCK", 500)  # 9 blocks of a 67x67 map, on every core
    config = RunConfig("adam", (0, 0), {"lr": 0.1}, tol=1e-3)
    statuses = assert_pixels_equal_runs("himmelblau", config, 150, 67, sample=80)
    assert "converged" in statuses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_pixel_equals_its_run(name: str) -> None:
    """The whole registry (rules that evaluate the objective run one Run per row)."""
    assert_pixels_equal_runs("himmelblau", RunConfig(name, (0, 0), tol=1e-6), 25, 4, bounds=(-4, 4, -4, 4))


def test_schedule_runs_each_row_as_its_run() -> None:
    config = RunConfig("sgd", (0, 0), {"lr": 0.01}, schedule="cosine")
    assert_pixels_equal_runs("himmelblau", config, 40, 4)


def test_minima_labels_are_one_to_one_with_the_known_minima() -> None:
    problem = make_problem("himmelblau")
    config = RunConfig("adam", (0, 0), {"lr": 0.1})
    b = basin_map(problem, config, None, 40, 300)
    minima = problem.minima
    assert sorted(set(b.minimum.ravel().tolist()) - {-1}) == [0, 1, 2, 3]  # each of the four is reached
    # brute force: the label is the index of the known minimum within 1e-2 of the final point, else -1
    d = np.linalg.norm(b.final_points[:, :, None, :] - minima[None, None], axis=-1)
    within = d < 1e-2
    assert (within.sum(axis=-1) <= 1).all()
    expected = np.where(within.any(axis=-1), np.argmax(within, axis=-1), -1)
    np.testing.assert_array_equal(b.minimum, expected)
    for k, m in enumerate(minima):  # starting at a minimum labels it with its own index
        at = basin_map(problem, config, None, 1, 5, starts=[m])
        assert at.minimum[0] == k and at.steps_to_minimum[0] == 0


def test_steps_to_minimum_is_the_first_step_within_tol() -> None:
    problem = make_problem("himmelblau")
    config = RunConfig("adam", (0, 0), {"lr": 0.1})
    b = basin_map(problem, config, None, 6, 200, tol=1e-2)
    assert b.xs is not None and b.ys is not None
    for j in range(6):
        for i in range(6):
            ref = single(problem, config.with_(start=(float(b.xs[i]), float(b.ys[j]))), 200)["history"]
            d = np.linalg.norm(ref[:, None, :] - problem.minima[None], axis=-1).min(axis=1)
            hit = np.flatnonzero(d < 1e-2)
            assert b.steps_to_minimum[j, i] == (int(hit[0]) if hit.size else -1)


def test_a_start_with_a_non_finite_loss_is_diverged_at_step_0() -> None:
    problem = make_problem("himmelblau")
    res = run_rows(problem, RunConfig("sgd", (0, 0)), 10, starts=[[1e200, 1e200], [1.0, 1.0]])
    assert STATUS_NAMES[res.status[0]] == "diverged" and res.steps[0] == 0 and math.isnan(res.final_loss[0])
    assert STATUS_NAMES[res.status[1]] == "ok" and res.steps[1] == 10


def test_memory_refusal_names_what_fits() -> None:
    per = estimate_bytes(1, 2, "adam")
    memory = 4 << 30
    with pytest.raises(ValueError, match=r"^a 4096×4096 grid needs ~\d+(?:\.\d)? GiB; at most (\d+)×\1 fits in "
                                         r"the 4\.0 GiB available$") as info:
        check_memory((4096, 4096), 2, "adam", memory=memory)
    side = int(str(info.value).split("at most ")[1].split("×")[0])
    assert side * side * per <= 0.75 * memory < (side + 1) ** 2 * per
    check_memory((side, side), 2, "adam", memory=memory)  # what it names does fit


def test_a_grid_too_large_is_refused_before_anything_is_allocated() -> None:
    with pytest.raises(ValueError, match=r"a 10000000×10000000 grid needs .*; at most \d+×\d+ fits"):
        basin_map(make_problem("himmelblau"), RunConfig("adam", (0, 0)), None, 10_000_000, 10)


@pytest.mark.parametrize("block", [8000, 500], ids=["one-block", "threads"])
def test_cancel_before_and_during_raises_and_returns_nothing(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_module, "BLOCK", block)
    problem = make_problem("himmelblau")
    config = RunConfig("adam", (0, 0), {"lr": 0.01}, tol=0.0)
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        basin_map(problem, config, None, 64, 500, cancel=event)
    seen: list[float] = []
    event = threading.Event()

    def progress(fraction: float) -> None:
        seen.append(fraction)
        event.set()  # cancel as soon as the first progress arrives

    with pytest.raises(Cancelled):
        basin_map(problem, config, None, 64, 100_000, progress=progress, cancel=event)
    assert seen and max(seen) < 0.5  # it stopped early


def test_progress_rises_to_one() -> None:
    seen: list[float] = []
    basin_map(make_problem("himmelblau"), RunConfig("adam", (0, 0)), None, 16, 120, progress=seen.append,
              cancel=lambda: False)
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen) and seen == sorted(seen)


def test_the_configs_own_start_is_not_used() -> None:
    problem = make_problem("himmelblau")
    a = basin_map(problem, RunConfig("adam", (), {"lr": 0.1}), None, 3, 20)
    b = basin_map(problem, RunConfig("adam", (9.0, 9.0), {"lr": 0.1}), None, 3, 20)
    np.testing.assert_array_equal(a.final_points, b.final_points)


def test_bad_input_is_a_value_error() -> None:
    problem = make_problem("himmelblau")
    config = RunConfig("adam", (0, 0))
    with pytest.raises(ValueError, match="Invalid bounds"):
        basin_map(problem, config, (1, 0, 0, 1), 4, 10)
    with pytest.raises(ValueError, match="Invalid grid"):
        basin_map(problem, config, None, 0, 10)
    with pytest.raises(ValueError, match="a basin map needs 2"):
        basin_map(make_problem("line-through-origin"), RunConfig("sgd", (0,)), None, 4, 10)
