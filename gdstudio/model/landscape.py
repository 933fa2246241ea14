"""A network landscape as a session document: the grid as the problem, each recorded path a run.

:func:`landscape_document` makes the document :meth:`Session.apply_dict` opens (one undoable
command, like opening a session file), so a landscape is saved, loaded and undone like any session.
Each run replays the recorded path whose index is its ``seed`` (:mod:`gdstudio.engine.recorded`).
The history's loss plot shows each path's TRUE loss; ``show_internals`` is on, so its internals plot
shows the slice's loss at the same iterates (``slice_loss``): how far the slice is from the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gdstudio.engine.problems.landscape import LANDSCAPE, LandscapeData, RecordedPath
from gdstudio.model.palette import PALETTE
from gdstudio.model.persistence import FORMAT, VERSION, _jsonable

__all__ = ["landscape_data", "landscape_document"]


def landscape_document(data: LandscapeData, *, colors: Sequence[str] | None = None, title: str = "",
                       ticks_per_second: int = 10) -> dict[str, Any]:
    """The session document of ``data``: problem ``landscape``, one run per recorded path (its
    optimizer, hyperparameters and projected start; ``seed`` = the path's index) in ``colors``
    (default: the palette in order), at step 0. ValueError if ``data`` is not a landscape."""
    if not isinstance(data, LandscapeData):
        raise ValueError(f"Invalid landscape value: {data!r} (must be LandscapeData)")
    if not data.paths:
        raise ValueError("Invalid landscape value: it has no recorded paths to show")
    colors = list(colors) if colors is not None else [PALETTE[i % len(PALETTE)] for i in range(len(data.paths))]
    if len(colors) < len(data.paths):
        raise ValueError(f"Invalid colors value: {len(colors)} colour(s) for {len(data.paths)} paths")
    steps = max(len(p.points) for p in data.paths) - 1
    runs = [{"optimizer": p.optimizer, "start": [float(v) for v in p.points[0]],
             "hyperparameters": _jsonable(dict(p.hyperparameters)), "seed": i, "color": colors[i]}
            for i, p in enumerate(data.paths)]
    return {
        "format": FORMAT, "version": VERSION,
        "title": title or (f"Network landscape: {data.note}" if data.note else "Network landscape"),
        # log colours: a network's loss spans decades between the start and the minimum
        "problem": {"name": LANDSCAPE, "landscape": data.to_json(), "log_scale": True},
        "runs": runs,
        "playback": {"position": 0, "computed_steps": 0, "steps_per_tick": 1, "ticks_per_second": ticks_per_second,
                     "max_steps": max(1, steps)},
        # the history's internals plot: each path's slice loss, beside its true loss in the loss plot
        "view": {"show_internals": True},
    }


def landscape_data(landscape: Any, optimizers: Mapping[str, str] | None = None) -> LandscapeData:
    """A :class:`LandscapeData` from a computed :class:`gdstudio.train.landscape.Landscape`.

    ``optimizers``: label → registry name of each path's optimizer (the entries'; default: the label
    itself). The hyperparameters each was trained with come from the landscape's
    ``meta["hyperparameters"]`` (all of them, the Training lab's defaults included). ValueError if
    the landscape cannot be shown (a label that names no optimizer, a bad shape).
    """
    meta: Any = getattr(landscape, "meta", None) or {}
    hps: Any = meta.get("hyperparameters") if isinstance(meta.get("hyperparameters"), Mapping) else {}
    names = dict(optimizers or {})
    iterations = np.asarray(landscape.iterations, dtype=np.float64)
    paths = []
    for label in landscape.labels:
        hp = hps.get(label, {})
        hp = {k: (float(v) if isinstance(v, str) and v in ("inf", "-inf") else v) for k, v in dict(hp).items()}
        paths.append(RecordedPath(label, names.get(label, label), landscape.paths[label], landscape.path_loss[label],
                                  iterations, hp))
    return LandscapeData(landscape.axis_a, landscape.axis_b, landscape.loss, tuple(landscape.axis_titles),
                         str(landscape.subset), str(landscape.plane), tuple(paths))
