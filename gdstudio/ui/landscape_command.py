"""`gdstudio landscape`, its drawing half: PNG / MP4 / GIF of a network's loss landscape.

The computation and the JSON / NPZ outputs are :mod:`gdstudio.train.landscape_cli` (Qt-free). For
``--format png|mp4|gif`` this module turns the computed landscape into a session
(:func:`landscape_data` → :func:`gdstudio.model.landscape.landscape_document`: the grid is the
problem, each optimizer's recorded path a run in its colour) and draws it through the same pipeline
as ``gdstudio render`` (:class:`gdstudio.ui.frames.FrameRenderer`, :func:`gdstudio.ui.render_command.render`):

* ``png``: one picture, every path whole (the last recorded iterate);
* ``mp4`` / ``gif``: one frame per recorded iterate (``--frames`` K spreads K frames), the paths
  growing on the one clock, the caption giving each optimizer's TRUE loss at the iterate shown.

The view is the contour (works without a display) unless ``--view surface|both`` is given (the
3-D view needs an X display, as for ``gdstudio render``).
"""

from __future__ import annotations

import argparse
import importlib
import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gdstudio.cli_common import EXIT_OK, CliError, say
from gdstudio.engine.problems.landscape import LandscapeData
from gdstudio.model.landscape import landscape_data, landscape_document
from gdstudio.model.palette import PALETTE
from gdstudio.model.session import Session

__all__ = ["landscape_data", "landscape_session", "render_landscape", "run_landscape"]

#: The default frame size of each format (GIFs are smaller, as for ``gdstudio render``).
DEFAULT_SIZES = {"png": (1280, 720), "mp4": (1280, 720), "gif": (800, 450)}


def landscape_session(data: LandscapeData, colors: Sequence[str] | None = None) -> Session:
    """A session showing ``data`` with every recorded path revealed (position at the last iterate)."""
    session = Session()
    session.apply_dict(landscape_document(data, colors=colors), label="open landscape")
    session.forward(session.max_steps)
    return session


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, "PNG")
    return buf.getvalue()


def render_landscape(data: LandscapeData, out: str | Path, *, fmt: str | None = None, view: str = "contour",
                     size: tuple[int, int] | None = None, fps: float = 10.0, frames: int | None = None,
                     caption: bool = True, colors: Sequence[str] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Path:
    """Draw ``data`` with every path to ``out`` (``fmt`` png / mp4 / gif, default from the suffix).
    Needs a QApplication. Returns the path written; ValueError / ExportError if it cannot."""
    from gdstudio.atomic import write_output
    from gdstudio.export.schedule import frame_steps
    from gdstudio.export.writers import writer_for
    from gdstudio.ui.frames import FrameRenderer
    from gdstudio.ui.render_command import render

    fmt = (fmt or Path(out).suffix.lstrip(".")).lower()
    if fmt not in DEFAULT_SIZES:
        raise ValueError(f"Invalid format value: {fmt!r} (must be png, mp4 or gif)")
    size = size or DEFAULT_SIZES[fmt]
    session = landscape_session(data, colors)
    last = session.computed_steps
    if fmt == "png":
        renderer = FrameRenderer(session, view, size, caption=caption, last_step=last)
        try:
            rgb = renderer.frame(last)
        finally:
            renderer.close()
        write_output(out, _png(rgb), what="image")
        if progress is not None:
            progress(1, 1)
        return Path(out)
    steps = frame_steps(last, frames)
    writer = writer_for(out, fps, **({"max_width": size[0]} if fmt == "gif" else {}))
    return render(session, writer, view=view, size=size, steps=steps, caption=caption, last_step=last,
                  progress=None if progress is None else (lambda done: progress(done, len(steps))))


def _optimizers(prepared: Any) -> dict[str, str]:
    """label → registry name of the prepared entries (empty if they are not there)."""
    out: dict[str, str] = {}
    for e in getattr(prepared, "entries", None) or []:
        label, name = getattr(e, "label", None), getattr(e, "optimizer", None)
        if isinstance(label, str) and isinstance(name, str):
            out[label] = name
    return out


def run_landscape(args: argparse.Namespace) -> int:
    """``gdstudio landscape``: JSON / NPZ by :mod:`gdstudio.train.landscape_cli`; PNG / MP4 / GIF drawn here."""
    landscape_cli: Any = importlib.import_module("gdstudio.train.landscape_cli")  # L1's module (Qt-free)
    fmt = getattr(args, "format", None) or "json"
    if fmt not in ("png", "mp4", "gif"):
        return int(landscape_cli.run_landscape(args))
    prepared = landscape_cli.prepare(args)  # every check first (CliError, exit 2, one line)
    view = getattr(args, "view", None) or "contour"
    from gdstudio.ui.render_command import _application, platform_for

    platform = platform_for(view)  # the 3-D view without a display: one line, before any work
    started = time.perf_counter()
    landscape = landscape_cli.compute(prepared)
    try:
        data = landscape_data(landscape, _optimizers(prepared) or None)
    except ValueError as exc:
        raise CliError(f"cannot draw this landscape: {exc}") from None
    from gdstudio.export.writers import ExportError
    from gdstudio.interrupts import deferred

    colors = [PALETTE[i % len(PALETTE)] for i in range(len(data.paths))]
    with deferred():
        try:
            _application(platform)
            path = render_landscape(data, args.out, fmt=fmt, view=view, fps=float(getattr(args, "fps", 10.0) or 10.0),
                                    frames=getattr(args, "frames", None), colors=colors)
        except (ExportError, ValueError) as exc:
            raise CliError(str(exc)) from None
    steps = max(len(p.points) for p in data.paths) - 1
    took = time.perf_counter() - started
    say(f"gdstudio landscape: wrote {path} ({fmt}, {data.plane or 'plane'}, {len(data.a)}×{len(data.b)} grid, "
        f"{len(data.paths)} paths, {steps} recorded steps; {data.note}) in {took:.1f} s")
    return EXIT_OK
