"""Recorded runs: an optimizer's path on a network's loss landscape, replayed on the one clock.

A :class:`RecordedRun` is a :class:`~gdstudio.engine.runs.Run` whose :meth:`~RecordedRun.advance`
reveals the next recorded iterates of a :class:`~gdstudio.engine.problems.landscape.RecordedPath`
instead of computing steps: step k of the clock is the k-th recorded iterate (training iteration
``path.iterations[k]``). Its history holds:

* ``points``: the path projected onto the landscape's plane;
* ``loss``: the TRUE network loss at each recorded iterate (not the slice's value there);
* ``grad`` / ``grad_norm``: the slice's (bilinear) gradient at the point a step leaves, for the
  views' arrows; ``lr``, moments and effective η: NaN (the training rule's state is not recorded);
* the internal ``slice_loss``: the slice's loss at the point after each step, so the history
  shows how far the slice is from the path beside the true loss.

It stops (``stopped``, with ``stop_reason``) at the end of the recording, and ``diverged`` at the
first non-finite point or true loss. :func:`make_run` is how the model builds runs: a recorded one
on a landscape (the run's ``seed`` is the index of its path), an ordinary :class:`Run` elsewhere.
"""

from __future__ import annotations

import math

import numpy as np

from gdstudio.engine.problems import Problem
from gdstudio.engine.problems.landscape import LandscapeProblem, RecordedPath
from gdstudio.engine.runs import History, Run, RunConfig, Status

__all__ = ["SLICE_LOSS", "RecordedRun", "make_run"]

#: The internal of a recorded run: the slice's loss after each step (beside the true loss).
SLICE_LOSS = "slice_loss"


def make_run(problem: Problem, config: RunConfig) -> Run:
    """A run of ``config`` on ``problem``: a :class:`RecordedRun` on a landscape, else a :class:`Run`."""
    if isinstance(problem, LandscapeProblem):
        return RecordedRun(problem, config)
    return Run(problem, config)


def path_of(problem: LandscapeProblem, config: RunConfig) -> RecordedPath:
    """The recorded path ``config`` replays (``config.seed`` is its index), or ValueError."""
    paths = problem.data.paths
    seed = config.seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < len(paths):
        raise ValueError(f"Invalid seed value: {seed!r} (a run on a landscape replays recorded path number "
                         f"seed: 0 to {len(paths) - 1})")
    return paths[int(seed)]


class RecordedRun(Run):
    """A recorded path replayed as a run (see the module doc). Its configuration must be the
    path's (optimizer, hyperparameters, start): a recorded run cannot be re-run with other settings."""

    def __init__(self, problem: LandscapeProblem, config: RunConfig) -> None:
        path = path_of(problem, config)
        start = tuple(float(v) for v in path.points[0])
        if config.optimizer != path.optimizer or dict(config.hyperparameters) != dict(path.hyperparameters) \
                or tuple(float(v) for v in config.start) != start or config.batch_size is not None \
                or config.noise or config.schedule is not None:
            raise ValueError(f"Run of {path.label!r} is a recorded training path: it cannot be re-run with "
                             "other settings (train again in the Training lab)")
        with np.errstate(all="ignore"):
            super().__init__(problem, config)
        self.path = path
        self.label = path.label
        self.schedule = None
        self.history = History(2, (SLICE_LOSS,))
        self.history._reserve(1)
        self.status = Status.RUNNING
        self.diverged_at = None
        self.stop_reason = None
        self._record_point(path.points[0], float(path.loss[0]))
        if not math.isfinite(float(path.loss[0])):
            self._diverge(0)
        elif len(path.points) == 1:
            self._finish()

    @property
    def total_steps(self) -> int:
        """The steps the recording holds (recorded iterates − 1)."""
        return len(self.path.points) - 1

    def _finish(self) -> None:
        self.status = Status.STOPPED
        self.stop_reason = f"end of the recorded path (training iteration {int(self.path.iterations[-1])})"

    def advance(self, k: int = 1) -> int:
        """Reveal up to ``k`` more recorded iterates; returns how many."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ValueError(f"Invalid k value: {k!r} (must be a whole number)")
        if k <= 0 or self.status is not Status.RUNNING:
            return 0
        h, path, problem = self.history, self.path, self.problem
        first = h._points.n
        last = min(first + int(k), len(path.points))  # exclusive index of the last point revealed
        h._reserve(last - first)
        pts, true_loss = path.points, path.loss
        with np.errstate(all="ignore"):
            grads = problem.gradient(pts[first - 1 : last - 1])
            slice_loss = problem.loss(pts[first:last])
        step_fields = h._step
        taken = 0
        for m in range(first, last):
            i = m - 1  # the step row from point m − 1 to point m
            if not (np.isfinite(pts[m]).all() and math.isfinite(float(true_loss[m]))):
                self.status = Status.DIVERGED
                self.diverged_at = m
                break
            g = grads[i - (first - 1)]
            h._grad_norm.data[i] = math.sqrt(float(np.dot(g, g)))
            h._lr.data[i] = math.nan
            step_fields["grad"].data[i] = g
            for name in ("first_moment", "second_moment", "effective_lr"):
                step_fields[name].data[i] = math.nan
            step_fields["update"].data[i] = pts[m] - pts[m - 1]
            h._record_internal(SLICE_LOSS, i, np.array([[slice_loss[m - first]]]))
            h._grad_norm.n = h._lr.n = i + 1
            for grow in step_fields.values():
                grow.n = i + 1
            self._record_point(pts[m], float(true_loss[m]))
            taken += 1
        if self.status is Status.RUNNING and h._points.n == len(pts):
            self._finish()
        self.params[0] = h.points[-1]
        return taken

    def preview(self) -> dict[str, np.ndarray] | None:
        """No preview: the training rule's state was not recorded."""
        return None
