"""Loss landscapes (gdstudio.train.landscape): planes, projection, the batched grid, the result.

References are independent: NumPy's SVD for the PCA, a per-row loop written from Li et al.'s
``normalize_direction`` for the filter normalization, :meth:`MLP.loss` at explicitly built
weights for every loss, and points built inside a plane for the projection.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from gdstudio.train import landscape as lsmod
from gdstudio.train.compare import TrainConfig, compare_optimizers, make_entry
from gdstudio.train.datasets import load_dataset
from gdstudio.train.landscape import (
    Landscape,
    LandscapeCancelled,
    LandscapeOptions,
    SurfaceEvaluator,
    compute_landscape,
    endpoints_plane,
    filter_normalize,
    grid_axes,
    landscape_from_result,
    pca_plane,
    random_plane,
    subset_indices,
)
from gdstudio.train.mlp import MLP

CONFIG = TrainConfig(hidden=(12, 9), iterations=24, batch_size=32, seed=3)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def race(digits):
    return compare_optimizers(digits, ["sgd", "momentum", "adam"], CONFIG, record_every=5)


def unflatten(flat: np.ndarray, net: MLP) -> list[np.ndarray]:
    out, start = [], 0
    for a, b in net.shapes:
        out.append(np.asarray(flat[start : start + a * b], dtype=net.dtype).reshape(a, b))
        start += a * b
    return out


def network(digits, hidden=CONFIG.hidden, dtype="float32") -> MLP:
    return MLP(digits.n_features, hidden, digits.n_classes, dtype=dtype)


# -- recording ------------------------------------------------------------------------------------
def test_recording_iterations_start_and_no_change_to_training(digits, race):
    plain = compare_optimizers(digits, ["sgd", "momentum", "adam"], CONFIG)
    assert race.weight_iterations.tolist() == [0, 5, 10, 15, 20, 24]
    net = network(digits)
    size = sum(a * b for a, b in net.shapes)
    for label in race.labels:
        assert race.weights[label].shape == (6, size)
        np.testing.assert_array_equal(race.losses[label], plain.losses[label])  # recording changes nothing
        np.testing.assert_array_equal(race.weights[label][0], race.weights["sgd"][0])  # one shared start
    start = np.concatenate([p.ravel() for p in net.init_params(np.random.default_rng(CONFIG.seed))])
    np.testing.assert_array_equal(race.weights["adam"][0], start)
    assert plain.weights is None and plain.weight_iterations is None


def test_recorded_row_is_the_weights_after_that_many_updates(digits, race):
    short = compare_optimizers(digits, ["sgd", "momentum", "adam"],
                               TrainConfig(hidden=CONFIG.hidden, iterations=10, batch_size=32, seed=3), record_every=10)
    assert short.weight_iterations.tolist() == [0, 10]
    # the first 10 mini-batches are the same in both runs (one seeded sampler), so the weights are too
    for label in race.labels:
        np.testing.assert_array_equal(short.weights[label][1], race.weights[label][2])


def test_diverged_entry_records_nan_and_its_path_is_nan(digits):
    entries = [make_entry("sgd"), make_entry("sgd", {"lr": 1e6}, label="wild")]
    result = compare_optimizers(digits, entries, CONFIG, record_every=6)
    assert result.diverged["wild"] is not None
    assert np.isnan(result.weights["wild"][-1]).all()
    ls = landscape_from_result(result, digits, LandscapeOptions(plane="pca", grid=3, subset=50))
    assert np.isnan(ls.paths["wild"][-1]).all() and np.isnan(ls.path_loss["wild"][-1])
    doc = json.loads(ls.to_json())
    assert doc["paths"]["wild"][-1] == [None, None] and doc["path_loss"]["wild"][-1] is None


def test_record_every_must_be_whole(digits):
    with pytest.raises(ValueError, match="Invalid record_every value: -1"):
        compare_optimizers(digits, ["sgd"], CONFIG, record_every=-1)


# -- planes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["pca", "random", "endpoints"])
def test_a_path_lying_in_the_plane_projects_exactly(race, digits, kind):
    net = network(digits)
    w = {l: v.astype(np.float64) for l, v in race.weights.items()}
    if kind == "pca":
        plane = pca_plane(w)
    elif kind == "random":
        plane = random_plane(w["adam"][-1], net.shapes, seed=4)
    else:
        plane = endpoints_plane(w["sgd"][0], w["sgd"][-1], w["adam"][-1], ("sgd", "adam"))
    coords = np.array([[0.0, 0.0], [1.5, -0.25], [-3.0, 2.0], [0.125, 7.0]])
    path = np.stack([plane.center + a * plane.d1 + b * plane.d2 for a, b in coords])
    np.testing.assert_allclose(plane.project(path), coords, rtol=0, atol=1e-9)
    # a point off the plane projects to the foot of the perpendicular: the residual is orthogonal to the plane
    off = race.weights["momentum"][3].astype(np.float64)
    a, b = plane.project(off[None])[0]
    residual = off - plane.point(a, b)
    scale = 1e-8 * np.linalg.norm(off)
    assert abs(residual @ plane.d1) < scale and abs(residual @ plane.d2) < scale


def test_pca_explained_variance_and_directions_against_numpy_svd(race):
    plane = pca_plane(race.weights)
    x = np.concatenate([w.astype(np.float64) for w in race.weights.values()])
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    np.testing.assert_allclose(plane.center, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(plane.explained_variance, (s[:2] ** 2) / np.sum(s ** 2), rtol=1e-9)
    np.testing.assert_allclose(abs(plane.d1 @ vt[0]), 1.0, atol=1e-9)
    np.testing.assert_allclose(abs(plane.d2 @ vt[1]), 1.0, atol=1e-9)
    assert plane.titles == (f"PC1 {plane.explained_variance[0]:.0%}", f"PC2 {plane.explained_variance[1]:.0%}")
    start = plane.project(race.weights["sgd"][:1])[0]
    assert (start <= 0).all()  # signs: the paths start left / bottom


def test_pca_randomized_route_for_many_rows_matches_svd(race, monkeypatch):
    monkeypatch.setattr(lsmod, "GRAM_ROWS", 5)
    plane = pca_plane(race.weights)
    x = np.concatenate([w.astype(np.float64) for w in race.weights.values()])
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(plane.explained_variance, (s[:2] ** 2) / np.sum(s ** 2), rtol=1e-6)
    np.testing.assert_allclose(abs(plane.d1 @ vt[0]), 1.0, atol=1e-6)


def li_filter_normalize(d: np.ndarray, w: np.ndarray, shapes) -> np.ndarray:
    """Li et al.'s loop in torch's (out, in) layout: each row d_i ← d_i · ‖w_i‖ / (‖d_i‖ + 1e-10); biases 0."""
    out, start = [], 0
    for k, (a, b) in enumerate(shapes):
        dk = d[start : start + a * b].reshape(a, b).T.copy()  # (out, in)
        wk = w[start : start + a * b].reshape(a, b).T
        if k % 2:
            dk[:] = 0
        else:
            for i in range(dk.shape[0]):
                dk[i] = dk[i] * (np.sqrt(np.sum(wk[i] ** 2)) / (np.sqrt(np.sum(dk[i] ** 2)) + 1e-10))
        out.append(dk.T.ravel())
        start += a * b
    return np.concatenate(out)


def test_filter_normalization_matches_li_et_al(race, digits):
    net = network(digits)
    w = race.weights["adam"][-1].astype(np.float64)
    plane = random_plane(w, net.shapes, seed=7)
    start = 0
    for k, (a, b) in enumerate(net.shapes):
        dk, wk = (v[start : start + a * b].reshape(a, b) for v in (plane.d1, w))
        if k % 2:
            assert not dk.any()  # bias directions are zero
        else:  # each filter (output neuron = column here) has the norm of the weights' filter
            np.testing.assert_allclose(np.linalg.norm(dk, axis=0), np.linalg.norm(wk, axis=0), rtol=1e-8)
        start += a * b
    d = np.random.default_rng(1).standard_normal(w.size)
    np.testing.assert_allclose(filter_normalize(d, w, net.shapes), li_filter_normalize(d, w, net.shapes),
                               rtol=1e-12, atol=1e-15)
    # a dead filter (all-zero weights) gets a zero direction, not NaN
    dead = w.copy()
    dead[: net.shapes[0][0] * net.shapes[0][1]].reshape(net.shapes[0])[:, 2] = 0
    nd = filter_normalize(d, dead, net.shapes)
    assert np.isfinite(nd).all() and not nd[: net.shapes[0][0] * net.shapes[0][1]].reshape(net.shapes[0])[:, 2].any()
    # seeded: the same seed gives the same directions, another seed others
    again = random_plane(w, net.shapes, seed=7)
    np.testing.assert_array_equal(again.d1, plane.d1)
    assert not np.array_equal(random_plane(w, net.shapes, seed=8).d1, plane.d1)


def test_endpoints_put_the_three_points_at_their_distances(race):
    w = {l: v.astype(np.float64) for l, v in race.weights.items()}
    w0, wa, wb = w["sgd"][0], w["sgd"][-1], w["adam"][-1]
    plane = endpoints_plane(w0, wa, wb, ("sgd", "adam"))
    got = plane.project(np.stack([w0, wa, wb]))
    e1 = (wa - w0) / np.linalg.norm(wa - w0)
    along = (wb - w0) @ e1
    expected = [[0, 0], [np.linalg.norm(wa - w0), 0], [along, np.linalg.norm(wb - w0 - along * e1)]]
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert abs(plane.d1 @ plane.d2) < 1e-12
    with pytest.raises(ValueError, match="one line"):
        endpoints_plane(w0, wa, w0 + 2 * (wa - w0), ("sgd", "sgd2"))


# -- the grid ---------------------------------------------------------------------------------------
def test_grid_value_at_the_plane_centre_is_the_loss_at_the_centre_weights(race, digits):
    ls = landscape_from_result(race, digits, LandscapeOptions(plane="random", center="momentum", grid=5, subset=300,
                                                              seed=2))
    net = network(digits)
    idx = subset_indices(len(digits.y_train), 300, 2)
    centre = unflatten(race.weights["momentum"][-1], net)
    expected = net.loss(centre, digits.x_train[idx], digits.y_train[idx])
    assert ls.axis_a[2] == 0 and ls.axis_b[2] == 0
    assert ls.loss[2, 2] == pytest.approx(expected, rel=1e-5)
    assert ls.path_loss["momentum"][-1] == pytest.approx(expected, rel=1e-5)
    assert ls.center_label == "momentum" and ls.axis_titles == ("random direction 1", "random direction 2")


def test_every_grid_point_equals_a_forward_pass_at_its_weights(race, digits):
    net = network(digits)
    plane = pca_plane(race.weights)
    x, y = digits.x_train[:97], digits.y_train[:97]
    a = np.array([-1.0, 0.0, 0.5, 2.0, 3.0, -0.25, 1.0, 4.0, -2.0, 0.3, 0.7])
    b = np.array([0.5, 0.0, -1.0, 2.0, 0.1, 0.2, -0.3, 0.0, 1.0, -2.0, 0.6])
    # images in blocks of 40 (three blocks), chunks of 4 points, on 1 and 2 workers: all equal the loop
    for workers in (1, 2):
        ev = SurfaceEvaluator(net, x, y, workers=workers, chunk=4, image_block=40)
        got = ev.plane_losses(plane, a, b)
        expected = [net.loss(unflatten(plane.point(ai, bi), net), x, y) for ai, bi in zip(a, b, strict=True)]
        np.testing.assert_allclose(got, expected, rtol=2e-5)
        rows = np.stack([plane.point(ai, bi) for ai, bi in zip(a, b, strict=True)])
        np.testing.assert_allclose(ev.row_losses(rows), expected, rtol=2e-5)


def test_one_evaluator_serves_several_planes(race, digits):
    """The grid row kept between points (U₀ + b U₂) belongs to one call: a second plane with the
    same b values on the same thread must not reuse the first plane's."""
    net = network(digits)
    x, y = digits.x_train[:64], digits.y_train[:64]
    ev = SurfaceEvaluator(net, x, y, workers=1)
    a, b = np.array([0.5, 1.0, -1.0]), np.full(3, 0.75)
    for plane in (pca_plane(race.weights), random_plane(race.weights["sgd"][-1], net.shapes, seed=1)):
        got = ev.plane_losses(plane, a, b)
        expected = [net.loss(unflatten(plane.point(ai, bi), net), x, y) for ai, bi in zip(a, b, strict=True)]
        np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_softmax_regression_and_float64(digits):
    net = network(digits, hidden=(), dtype="float64")
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((5, sum(a * b for a, b in net.shapes))) * 0.1
    rows[3, 7] = np.nan
    x, y = digits.x_train[:50].astype(np.float64), digits.y_train[:50]
    got = SurfaceEvaluator(net, x, y, workers=1).row_losses(rows)
    assert np.isnan(got[3])
    for k in (0, 1, 2, 4):
        assert got[k] == pytest.approx(net.loss(unflatten(rows[k], net), x, y), rel=1e-12)


def test_cancel_stops_between_chunks(race, digits):
    net = network(digits)
    plane = pca_plane(race.weights)
    ev = SurfaceEvaluator(net, digits.x_train[:20], digits.y_train[:20], workers=2, chunk=2)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    seen = []
    with pytest.raises(LandscapeCancelled):
        ev.plane_losses(plane, np.zeros(40), np.zeros(40), progress=lambda d, t: seen.append(d), cancel=cancel)
    assert len(seen) < 20


def test_grid_axes_span_definitions(race):
    plane = pca_plane(race.weights)
    coords = np.array([[-2.0, -1.0], [4.0, 0.5], [np.nan, np.nan]])
    a, b = grid_axes(plane, coords, 5, 1.5)
    np.testing.assert_allclose([a[0], a[-1]], [1 - 1.5 * 3, 1 + 1.5 * 3])
    np.testing.assert_allclose([b[0], b[-1]], [-0.25 - 1.5 * 0.75, -0.25 + 1.5 * 0.75])
    flat = grid_axes(plane, np.array([[-2.0, 0.0], [2.0, 0.0]]), 3, 1.0)[1]
    np.testing.assert_allclose(flat, [-0.1, 0.0, 0.1])  # at least 5 % of the other axis
    rnd = random_plane(plane.center, [(plane.center.size, 1)], seed=0)
    a, b = grid_axes(rnd, np.array([[0.2, -0.3]]), 5, 1.0)
    np.testing.assert_allclose(a, [-1, -0.5, 0, 0.5, 1])  # Li et al.'s [-1, 1]
    a, _ = grid_axes(rnd, np.array([[3.0, -0.3]]), 3, 2.0)
    np.testing.assert_allclose(a, [-6, 0, 6])


# -- the whole computation and the result ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["pca", "random", "endpoints"])
def test_shared_start_projects_to_one_point_for_every_optimizer(race, digits, kind):
    ls = landscape_from_result(race, digits, LandscapeOptions(plane=kind, grid=3, subset=60))
    firsts = np.stack([ls.paths[l][0] for l in ls.labels])
    np.testing.assert_array_equal(firsts, np.repeat(firsts[:1], len(ls.labels), axis=0))
    np.testing.assert_array_equal([ls.path_loss[l][0] for l in ls.labels], [ls.path_loss["sgd"][0]] * 3)
    if kind == "endpoints":
        np.testing.assert_allclose(ls.paths["sgd"][0], [0, 0], atol=1e-9)
        assert ls.paths["momentum"][-1][1] > 0  # B above the a axis
    assert ls.loss.shape == (3, 3) and ls.iterations.tolist() == [0, 5, 10, 15, 20, 24]


def test_same_seed_gives_identical_json_bytes(digits):
    def options(seed: int, workers: int | None = None) -> LandscapeOptions:
        return LandscapeOptions(plane="random", grid=4, subset=80, seed=seed, record_every=4, workers=workers)

    one = compute_landscape(digits, ["sgd", "adam"], CONFIG, options(5, workers=2)).to_json()
    two = compute_landscape(digits, ["sgd", "adam"], CONFIG, options(5, workers=1)).to_json()
    assert one.encode() == two.encode()
    other = compute_landscape(digits, ["sgd", "adam"], CONFIG, options(6)).to_json()
    assert other != one


def test_json_npz_round_trip(race, digits):
    ls = landscape_from_result(race, digits, LandscapeOptions(plane="pca", grid=4, subset=100, seed=1))
    doc = json.loads(ls.to_json())
    assert {"plane", "explained_variance", "axes", "loss", "paths", "path_loss", "iterations"} <= set(doc)
    assert len(doc["loss"]) == 4 and len(doc["loss"][0]) == 4
    assert doc["subset"] == f"loss over 100 of {len(digits.y_train):,} training images (seed 1)"
    assert doc["optimizers"] == ["sgd", "momentum", "adam"] and doc["iterations"] == [0, 5, 10, 15, 20, 24]
    assert np.array(doc["paths"]["adam"]).shape == (6, 2) and len(doc["path_loss"]["adam"]) == 6
    back = Landscape.from_dict(doc)
    assert back.to_json() == ls.to_json()
    buf = io.BytesIO()
    ls.to_npz(buf)
    buf.seek(0)
    again = Landscape.from_npz(buf)
    assert again.to_json() == ls.to_json()
    random_ls = landscape_from_result(race, digits, LandscapeOptions(plane="random", grid=3, subset=30))
    assert json.loads(random_ls.to_json())["explained_variance"] is None


def test_subset_text_and_indices(digits):
    n = len(digits.y_train)
    idx = subset_indices(n, 100, 0)
    assert len(idx) == 100 and len(set(idx.tolist())) == 100 and (np.diff(idx) > 0).all()
    np.testing.assert_array_equal(idx, subset_indices(n, 100, 0))
    np.testing.assert_array_equal(subset_indices(n, 10 * n, 0), np.arange(n))
    assert lsmod._subset_text(100, n, 100, 0) == f"loss over 100 of {n:,} training images (seed 0)"
    assert lsmod._subset_text(n, n, None, 0) == f"loss over all {n:,} training images"


@pytest.mark.parametrize(("options", "message"), [
    (LandscapeOptions(plane="nope"), "Invalid plane value"),
    (LandscapeOptions(grid=1), "Invalid grid value"),
    (LandscapeOptions(span=float("nan")), "Invalid span value"),
    (LandscapeOptions(subset=0), "Invalid subset value"),
    (LandscapeOptions(plane="random", center="zzz"), "Invalid center value"),
    (LandscapeOptions(plane="endpoints", endpoints=("sgd", "sgd")), "Invalid endpoints value"),
])
def test_bad_options(race, digits, options, message):
    with pytest.raises(ValueError, match=message):
        landscape_from_result(race, digits, options)
