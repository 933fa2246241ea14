"""`gdstudio render`, its Qt half: the display check, the QApplication and the drawing.

The options, the checks before any work and the session are :mod:`gdstudio.export.render_options`
(Qt-free); the frames come from :class:`gdstudio.ui.frames.FrameRenderer` through the Qt-free
pipeline :func:`gdstudio.export.frames.export_frames`.

The contour view renders without a display (``QT_QPA_PLATFORM=offscreen`` is set when there is
no DISPLAY); the 3-D view needs OpenGL on an X display (e.g. ``xvfb-run``): without one the
command says so in one line and exits 2. Progress goes to stderr (a full or closed stderr only
silences it). Qt is imported only when the command draws, after every check (so bad input costs
no Qt start-up, and a missing Qt is one line).

The output path is checked before anything is computed (a folder given for a file, a folder that
is missing or read-only); a device, FIFO or ``--out -`` (standard output) receives a fragmented
MP4 (see :mod:`gdstudio.export.writers`). Ctrl+C or SIGTERM stop between two frames: the encoder
thread is joined, the temporary removed, one line printed, exit 130 / 143.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdstudio.cli_common import EXIT_OK, CliError, say
from gdstudio.export.frames import export_frames
from gdstudio.export.render_options import (
    DEFAULT_SIZE,
    NO_DISPLAY_MESSAGE,
    ProgressLine,
    check_output_options,
    check_sources,
    plan_frames,
)
from gdstudio.export.writers import ExportError, FrameWriter
from gdstudio.interrupts import deferred

__all__ = ["render", "run_render"]


def platform_for(view: str) -> str | None:
    """The Qt platform to force (``"offscreen"`` for the contour view without a usable display),
    or None; CliError when the 3-D view has no X display. Changes nothing."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not sys.platform.startswith("linux"):
        return None
    from gdstudio.ui.app import _display_problem  # no Qt import: it only checks the X connection

    if view not in ("contour", "multiples"):
        if platform.startswith(("offscreen", "minimal")):
            raise CliError(f"the 3-D view needs an X display: QT_QPA_PLATFORM={platform} cannot draw OpenGL "
                           "(unset it; --view contour works offscreen)")
        if not has_display:
            raise CliError(NO_DISPLAY_MESSAGE)
        problem = _display_problem()
        if problem:
            raise CliError(f"the 3-D view needs an X display: {problem}")
        return None
    if platform:
        return None
    if not has_display or _display_problem():  # no display, or one that does not answer
        return "offscreen"
    return None


def _application(platform: str | None = None) -> Any:
    """The QApplication (made on first use, with the window's look), on ``platform`` if given."""
    if platform and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = platform
    try:
        from gdstudio.ui.qt_setup import configure_qt

        configure_qt()
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        raise CliError(f"rendering needs the window's libraries: {exc}") from None
    app = QApplication.instance()
    if app is None:
        _quiet_qt_warnings()
        app = QApplication(["gdstudio render"])
        from gdstudio.ui.app import apply_color_scheme

        apply_color_scheme(app)  # the same look as the window on this machine
    return app


def _quiet_qt_warnings() -> None:
    """Drop the offscreen platform's harmless "does not support propagateSizeHints()" notice."""
    from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

    def handler(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        if "propagateSizeHints" in message:
            return
        if kind != QtMsgType.QtDebugMsg:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def render(session: Any, writer: FrameWriter, *, view: str = "contour", size: tuple[int, int] = DEFAULT_SIZE,
           steps: list[int], caption: bool = True, last_step: int | None = None,
           progress: Callable[[int], None] | None = None, threaded: bool = True) -> Path:
    """Render ``steps`` of ``session`` into ``writer`` (needs a QApplication); returns the path.

    The in-process core of ``gdstudio render`` (bench/export.py times this). The writer is
    finished on success and aborted on any error or interruption. Raises ExportError.
    """
    from gdstudio.ui.frames import FrameRenderer

    try:
        renderer = FrameRenderer(session, view, size, caption=caption, last_step=last_step)
    except BaseException:
        writer.abort()
        raise
    gen = export_frames(renderer, steps, writer, threaded=threaded)
    try:
        for done in gen:
            if progress is not None:
                progress(done)
    finally:
        gen.close()
        renderer.close()
    return Path(writer.target)


def run_render(args: argparse.Namespace) -> int:
    """``gdstudio render``: every check first (options, output, display), then compute, then draw."""
    source = check_sources(args)
    kind, size, target = check_output_options(args)
    platform = platform_for(args.view)
    plan = plan_frames(args, source, kind, size)
    started = time.perf_counter()
    line: ProgressLine | None = None
    # Qt draws and a thread encodes: a signal only sets a flag here, and the progress callback
    # raises it between two frames, so the encoder thread is joined and the temporary removed.
    with deferred():
        try:
            _application(platform)
            line = ProgressLine(len(plan.schedule))
            path = render(plan.session, plan.writer, view=args.view, size=size, steps=plan.schedule,
                          caption=args.caption, last_step=plan.last, progress=line.update)
        except (ExportError, ValueError) as exc:
            raise CliError(str(exc)) from None
        finally:
            plan.writer.abort()  # no-op once finished; removes the temporary output otherwise
            if line is not None:
                line.end()
    took = time.perf_counter() - started
    where = "standard output" if target.mode == "stdout" else path
    say(f"gdstudio render: wrote {where} ({len(plan.schedule)} frames, {size[0]}×{size[1]}, {args.fps:g} fps, "
        f"steps 0–{plan.last}) in {took:.1f} s")
    return EXIT_OK
