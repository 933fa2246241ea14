"""Mini-batch sampling: epochs, order, the last partial batch, seeding and validation."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.engine.sampling import BatchSampler, check_batch_size


def _take(sampler: BatchSampler, k: int) -> list[np.ndarray | None]:
    return [sampler.next() for _ in range(k)]


def _reference_epochs(n: int, b: int, rng: np.random.Generator | None, epochs: int) -> list[np.ndarray]:
    """Seed 003's loop: permute (or keep order), then cut ``idx[k:k+B]`` for k in range(0, n, B)."""
    out = []
    for _ in range(epochs):
        idx = rng.permutation(n) if rng is not None else np.arange(n)
        out.extend(idx[k : k + b] for k in range(0, n, b))
    return out


@pytest.mark.parametrize(("n", "b"), [(10, 3), (10, 5), (7, 1), (100, 32), (5, 4)])
def test_unshuffled_batches_follow_the_data_order(n, b):
    s = BatchSampler(n, b, shuffle=False)
    per_epoch = -(-n // b)
    assert s.batches_per_epoch == per_epoch
    got = _take(s, 3 * per_epoch)
    want = _reference_epochs(n, b, None, 3)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert s.epoch == 3


def test_last_partial_batch_is_used():
    s = BatchSampler(10, 3, shuffle=True, rng=np.random.default_rng(1))
    sizes = [len(b) for b in _take(s, 8)]
    assert sizes == [3, 3, 3, 1, 3, 3, 3, 1]


@pytest.mark.parametrize(("n", "b"), [(10, 3), (100, 32), (6, 1), (9, 8)])
def test_each_epoch_is_a_permutation_drawn_from_the_generator(n, b):
    s = BatchSampler(n, b, shuffle=True, rng=np.random.default_rng(42))
    per_epoch = s.batches_per_epoch
    got = _take(s, 4 * per_epoch)
    for e in range(4):
        epoch = np.concatenate(got[e * per_epoch : (e + 1) * per_epoch])
        np.testing.assert_array_equal(np.sort(epoch), np.arange(n))
    want = _reference_epochs(n, b, np.random.default_rng(42), 4)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    # Shuffling actually happens, and epochs differ from one another.
    orders = [np.concatenate(got[e * per_epoch : (e + 1) * per_epoch]) for e in range(4)]
    if n > 6:
        assert any(not np.array_equal(o, np.arange(n)) for o in orders)
        assert not all(np.array_equal(orders[0], o) for o in orders[1:])


def test_seeded_determinism():
    a = _take(BatchSampler(50, 7, rng=np.random.default_rng(3)), 40)
    b = _take(BatchSampler(50, 7, rng=np.random.default_rng(3)), 40)
    c = _take(BatchSampler(50, 7, rng=np.random.default_rng(4)), 40)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    # The default generator is seeded too.
    d = _take(BatchSampler(50, 7), 20)
    e = _take(BatchSampler(50, 7), 20)
    assert all(np.array_equal(x, y) for x, y in zip(d, e, strict=True))


def test_unshuffled_sampler_ignores_the_generator():
    a = _take(BatchSampler(20, 6, shuffle=False, rng=np.random.default_rng(1)), 9)
    b = _take(BatchSampler(20, 6, shuffle=False, rng=np.random.default_rng(2)), 9)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("b", [None, 10, 11, 10**9])
def test_full_batch_means_all_the_data(b):
    s = BatchSampler(10, b, rng=np.random.default_rng(0))
    assert s.full_batch
    assert s.batch_size == 10
    assert s.batches_per_epoch == 1
    assert _take(s, 3) == [None, None, None]
    assert s.epoch == 3


def test_sgd_is_batch_size_one():
    s = BatchSampler(5, 1, rng=np.random.default_rng(0))
    got = _take(s, 10)
    assert all(len(b) == 1 for b in got)
    assert sorted(int(b[0]) for b in got[:5]) == [0, 1, 2, 3, 4]
    assert sorted(int(b[0]) for b in got[5:]) == [0, 1, 2, 3, 4]


def test_epoch_counter_counts_started_epochs():
    s = BatchSampler(10, 4, shuffle=False)
    assert s.epoch == 0
    s.next()
    assert s.epoch == 1
    s.next()
    s.next()
    assert s.epoch == 1
    s.next()
    assert s.epoch == 2


@pytest.mark.parametrize("bad", [0, -1, 2.5, 3.0, True, "3", [2]])
def test_batch_size_validation(bad):
    with pytest.raises(ValueError, match=r"Invalid batch_size value: .* \(must be a whole number ≥ 1\)"):
        check_batch_size(bad, 10)
    with pytest.raises(ValueError, match="Invalid batch_size value"):
        BatchSampler(10, bad)


def test_batch_size_values():
    assert check_batch_size(None, 7) == 7
    assert check_batch_size(3, 7) == 3
    assert check_batch_size(np.int64(3), 7) == 3
    assert check_batch_size(70, 7) == 7


@pytest.mark.parametrize("bad", [0, -3, 1.5, None])
def test_sample_count_validation(bad):
    with pytest.raises(ValueError, match="Invalid n value"):
        BatchSampler(bad, 1)  # type: ignore[arg-type]
