"""The fair race: every optimizer learns, runs are reproducible, entries share inits and
batches, cancel and divergence are results, and the smoothing is the book's."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

from gdstudio.engine.optimizers.registry import OPTIMIZERS
from gdstudio.train.blas import blas_threads, get_blas_threads
from gdstudio.train.compare import (
    Entry,
    TrainConfig,
    compare_optimizers,
    ema,
    make_entry,
    smooth_curve,
    training_defaults,
)
from gdstudio.train.datasets import load_dataset
from gdstudio.train.mlp import MLP

SMALL = TrainConfig(hidden=(24, 24), iterations=40, batch_size=32, seed=5, eval_every=10)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_every_registry_optimizer_lowers_the_loss(digits):
    cfg = TrainConfig(hidden=(32, 32), iterations=150, batch_size=64, seed=1, eval_every=0)
    # Newton needs an exact Hessian, which the networks do not provide (gdstudio/engine/optimizers/newton.py)
    names = [n for n, spec in OPTIMIZERS.items() if not getattr(spec.rule, "needs_hessian", False)]
    result = compare_optimizers(digits, names, cfg)
    chance = -np.log(0.1)
    for label in result.labels:
        loss = result.losses[label]
        assert result.diverged[label] is None, label
        assert loss[-20:].mean() < 0.9 * loss[:10].mean(), label
        assert loss[-20:].mean() < chance, label
        assert result.final_accuracy(label) > 0.2, label  # better than chance (0.1)


def test_same_seed_same_curves_and_other_seed_differs(digits):
    a = compare_optimizers(digits, ["sgd", "adam"], SMALL)
    b = compare_optimizers(digits, ["sgd", "adam"], SMALL)
    c = compare_optimizers(digits, ["sgd", "adam"], TrainConfig(**{**SMALL.__dict__, "seed": 6}))
    for label in a.labels:
        np.testing.assert_array_equal(a.losses[label], b.losses[label])
        np.testing.assert_array_equal(a.accuracies[label], b.accuracies[label])
        assert not np.array_equal(a.losses[label], c.losses[label])


def test_identical_entries_give_identical_curves_wherever_they_stand(digits):
    """Same batches and same initial weights for every entry: two Adam entries with the same
    hyperparameters, at different positions and with other optimizers in between, coincide,
    and each equals a run of that optimizer alone."""
    entries = [Entry("adam_a", "adam"), Entry("sgd", "sgd"), Entry("rms", "rmsprop"), Entry("adam_b", "adam")]
    result = compare_optimizers(digits, entries, SMALL)
    np.testing.assert_array_equal(result.losses["adam_a"], result.losses["adam_b"])
    np.testing.assert_array_equal(result.accuracies["adam_a"], result.accuracies["adam_b"])
    first = {label: result.losses[label][0] for label in result.labels}
    assert len(set(first.values())) == 1  # same start on the same first batch
    alone = compare_optimizers(digits, ["rmsprop"], SMALL)
    np.testing.assert_array_equal(alone.losses["rmsprop"], result.losses["rms"])
    # different hyperparameters do change the curve
    faster = compare_optimizers(digits, [make_entry("adam", {"lr": 0.01})], SMALL)
    assert not np.array_equal(faster.losses["adam"], result.losses["adam_a"])


def test_losses_follow_a_hand_written_training_loop(digits):
    """The race reproduces an explicit loop: batches from the seeded sampler, SGD by hand."""
    from gdstudio.engine.sampling import BatchSampler

    cfg = TrainConfig(hidden=(16,), iterations=12, batch_size=50, seed=9, eval_every=0, dtype="float64")
    result = compare_optimizers(digits, [make_entry("sgd", {"lr": 0.05})], cfg)
    net = MLP(64, (16,), 10, dtype=np.float64)
    rng = np.random.default_rng(9)
    params = net.init_params(rng)
    sampler = BatchSampler(len(digits.y_train), 50, rng=rng)
    x_all = digits.x_train.astype(np.float64)
    expected = []
    for _ in range(12):
        idx = sampler.next()
        loss, grads = net.loss_and_grad(params, x_all[idx], digits.y_train[idx])
        expected.append(loss)
        for p, g in zip(params, grads, strict=True):
            p -= 0.05 * g
    np.testing.assert_allclose(result.losses["sgd"], expected, rtol=1e-12)
    assert result.accuracies["sgd"][-1] == pytest.approx(net.accuracy(params, digits.x_test, digits.y_test))


def test_evaluation_schedule_and_table(digits):
    cfg = TrainConfig(**{**SMALL.__dict__, "iterations": 25, "eval_every": 10})
    result = compare_optimizers(digits, ["sgd", "adagrad"], cfg)
    assert result.eval_iterations.tolist() == [10, 20, 25]
    header, rows = result.table()
    assert header == ["iteration", "loss_sgd", "loss_adagrad", "test_accuracy_sgd", "test_accuracy_adagrad"]
    assert len(rows) == 25 and rows[0][0] == "1" and rows[-1][0] == "25"
    assert rows[0][3:] == ["", ""] and rows[9][3] != "" and rows[24][4] != ""
    assert float(rows[4][1]) == result.losses["sgd"][4]


def test_training_defaults_are_the_books():
    assert training_defaults("sgd") == {"lr": 0.01}
    assert training_defaults("Momentum") == {"lr": 0.01}
    assert training_defaults("adagrad") == {"lr": 0.01}
    assert training_defaults("adam") == {"lr": 0.001}
    assert training_defaults("rmsprop") == {"lr": 0.01}
    assert Entry("m", "momentum").create().hp["momentum"] == 0.9
    assert make_entry("adam", {"lr": "0.02"}).create().hp["lr"] == 0.02
    with pytest.raises(ValueError, match="Invalid lr value: -1"):
        make_entry("sgd", {"lr": -1})


def test_cancel_from_progress_and_from_another_thread(digits):
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p.iteration)
        if p.iteration == 7:
            cancel.set()

    result = compare_optimizers(digits, ["sgd", "adam"], SMALL, progress=progress, cancel=cancel)
    assert result.cancelled and result.completed == 7 and seen == list(range(1, 8))
    assert len(result.losses["sgd"]) == 7
    assert result.eval_iterations[-1] == 7  # the state reached is still evaluated

    cancel2 = threading.Event()
    started = threading.Event()
    box = {}
    cfg = TrainConfig(**{**SMALL.__dict__, "iterations": 100000})

    def work():
        box["r"] = compare_optimizers(digits, ["sgd"], cfg, progress=lambda p: started.set(), cancel=cancel2)

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(30)
    cancel2.set()
    worker.join(30)
    assert not worker.is_alive()
    assert box["r"].cancelled and 0 < box["r"].completed < 100000


def test_divergence_is_a_result_without_warnings(digits):
    entries = [make_entry("sgd", {"lr": 1e20}, label="wild"), Entry("adam", "adam")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare_optimizers(digits, entries, SMALL)
    it = result.diverged["wild"]
    assert it is not None and 1 < it <= SMALL.iterations  # float32 weights overflow to inf, loss NaN
    assert np.isnan(result.losses["wild"][it - 1:]).all()
    assert np.isfinite(result.losses["wild"][: it - 1]).all()
    assert np.isnan(result.accuracies["wild"][-1])
    assert result.diverged["adam"] is None and np.isfinite(result.losses["adam"]).all()


@pytest.mark.parametrize("entries, cfg, message", [
    ([], SMALL, "give at least one optimizer"),
    ([Entry("a", "sgd"), Entry("a", "adam")], SMALL, "label 'a' appears twice"),
    (["sgd"], TrainConfig(iterations=0), "Invalid iterations value: 0"),
    (["sgd"], TrainConfig(batch_size=0), "Invalid batch_size value: 0"),
    (["sgd"], TrainConfig(hidden=(10, -1)), "Invalid hidden value"),
    (["sgd"], TrainConfig(dtype="float16"), "Invalid dtype value"),
    (["nonsense"], SMALL, "Unknown optimizer: 'nonsense'"),
])
def test_bad_arguments(digits, entries, cfg, message):
    with pytest.raises(ValueError, match=message):
        compare_optimizers(digits, entries, cfg)


def _book_smooth_curve(x):
    """common/util.py of the book (seed 001), verbatim apart from names."""
    window_len = 11
    s = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def test_smooth_curve_is_the_books():
    x = np.random.default_rng(0).random(300) * np.linspace(3, 0.1, 300)
    np.testing.assert_allclose(smooth_curve(x), _book_smooth_curve(x), rtol=1e-14)
    np.testing.assert_allclose(smooth_curve(np.full(50, 2.5)), 2.5)
    assert len(smooth_curve(x[:4])) == 4 and len(smooth_curve([])) == 0
    with pytest.raises(ValueError, match="Invalid window value: 4"):
        smooth_curve(x, window=4)


def test_ema_is_debiased():
    np.testing.assert_allclose(ema(np.full(20, 3.0), 0.9), 3.0)
    x = np.array([1.0, 3.0])
    assert ema(x, 0.5)[1] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25))
    out = ema([1.0, np.nan, 1.0], 0.5)
    assert np.isnan(out[1]) and out[2] == pytest.approx(1.0)


def test_blas_threads_context_restores():
    before = get_blas_threads()
    with blas_threads(1) as inside:
        assert inside in (1, None)
        assert (get_blas_threads() is None) == (before is None)
    assert get_blas_threads() == before
    with pytest.raises(ValueError, match="Invalid threads value: 0"), blas_threads(0):
        pass
