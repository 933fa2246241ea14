"""Mini-batch sampling: each optimizer step takes the next batch of an epoch.

Batch size B = n (or None) is full-batch gradient descent, B = 1 is SGD, anything else is
mini-batch. An epoch is a permutation of the data drawn from a seeded ``numpy.random.Generator``
(or the data order when shuffling is off), cut into batches of B; the last partial batch is used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BatchSampler", "check_batch_size"]


def check_batch_size(batch_size: int | None, n: int) -> int:
    """The effective batch size for ``n`` samples, or ValueError."""
    if batch_size is None:
        return n
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Invalid batch_size value: {batch_size!r} (must be a whole number ≥ 1)")
    return min(int(batch_size), n)


class BatchSampler:
    """Yields the index array of each step's mini-batch, epoch after epoch."""

    def __init__(self, n: int, batch_size: int | None, *, shuffle: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"Invalid n value: {n!r} (must be a whole number ≥ 1)")
        self.n = int(n)
        self.batch_size = check_batch_size(batch_size, n)
        self.shuffle = shuffle
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.epoch = 0
        self._order = np.arange(n)
        self._pos = n  # start a new epoch on the first call

    @property
    def full_batch(self) -> bool:
        return self.batch_size >= self.n

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n // self.batch_size)

    def next(self) -> np.ndarray | None:
        """The next batch's indices; None means all the data, in order (full batch)."""
        if self.full_batch:
            self.epoch += 1
            return None
        if self._pos >= self.n:
            self._order = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)
            self._pos = 0
            self.epoch += 1
        batch = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return batch
