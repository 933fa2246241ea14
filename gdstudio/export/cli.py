"""`gdstudio render`: the studio's views as an MP4, a GIF or a folder of PNG frames, headless.

What to render: the trace options (``--problem``, ``--optimizer``, ``--start``, ``--set``, …,
exactly as ``gdstudio trace``), or ``--session FILE`` / ``--preset NAME``. Steps: ``--steps N``
(default: 100 for the trace options, a preset's ``max_steps``, a session's saved computed steps
or else its ``max_steps``); runs that all stop earlier end the animation at their last step.
Frames: one per step (steps + 1 frames), or ``--frames K`` spread evenly (see
:mod:`gdstudio.export.schedule`; ``--frame-mode article`` uses the articles' formula).

The contour view renders without a display (``QT_QPA_PLATFORM=offscreen`` is set when there is
no DISPLAY); the 3-D view needs OpenGL on an X display (e.g. ``xvfb-run``): without one the
command says so in one line and exits 2. Progress goes to stderr (a full or closed stderr only
silences it). Qt is imported only when the command runs (this module stays importable without it).

The output path is checked before anything is computed (a folder given for a file, a folder that
is missing or read-only); a device, FIFO or ``--out -`` (standard output) receives a fragmented
MP4 (see :mod:`gdstudio.export.writers`). Ctrl+C or SIGTERM stop between two frames: the encoder
thread is joined, the temporary removed, one line printed, exit 130 / 143.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from gdstudio.export.schedule import FRAME_MODES, frame_steps

__all__ = ["NO_DISPLAY_MESSAGE", "add_render_parser", "parse_size"]

NO_DISPLAY_MESSAGE = "the 3-D view needs an X display (e.g. run under xvfb-run); --view contour works without one"
DEFAULT_SIZE = (1280, 720)
DEFAULT_GIF_SIZE = (800, 450)
_TRACE_DEFAULT_STEPS = 100
#: The most frames one render may ask for (over 9 hours of video at 30 fps).
MAX_FRAMES = 1_000_000
#: Run options that only make sense with --problem (name, default).
_RUN_ONLY = (("optimizer", None), ("start", None), ("sets", []), ("batch_size", None), ("no_shuffle", False),
             ("noise", 0.0), ("seed", 0), ("tol", 1e-8), ("data_x", None), ("data_y", None), ("dataset", None),
             ("expr", None))


def _cli_error(message: str) -> Exception:
    from gdstudio.cli import CliError

    return CliError(message)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` (or ``1280×720``) -> (1280, 720); ValueError with a clear message."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"Invalid --size: {text!r} (expected WIDTHxHEIGHT, e.g. 1280x720)") from None
    if not (64 <= w <= 7680 and 64 <= h <= 7680):
        raise ValueError(f"Invalid --size: {text!r} (width and height must be in [64, 7680])")
    return w, h


def add_render_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``render`` on the `gdstudio` command's subparsers."""
    from gdstudio.cli import add_run_options

    p = subparsers.add_parser(
        "render", help="render the contour / 3-D views to an MP4, a GIF or PNG frames (headless)",
        description="Render an animation of the runs: from the trace options (like 'gdstudio trace'), a saved "
                    "session or a preset. --view contour works without a display; the 3-D view needs one "
                    "(e.g. xvfb-run).")
    source = p.add_argument_group("what to render (one of --problem, --session, --preset)")
    source.add_argument("--session", dest="render_session", metavar="FILE", help="a saved session file (.json)")
    source.add_argument("--preset", dest="render_preset", metavar="NAME", help="a preset (see the window's Presets "
                                                                              "menu, e.g. himmelblau)")
    add_run_options(p, required=False)
    for action in p._actions:  # the shared option, with render's own default
        if action.dest == "steps":
            action.help = ("steps to show (default: 100 with --problem, a preset's step limit, a session's saved "
                           "steps)")
    p.add_argument("--log-scale", action="store_true", help="with --problem: colour (and 3-D height) by "
                                                            "log(loss − min)")
    out = p.add_argument_group("output")
    out.add_argument("--out", required=True, help="FILE.mp4, FILE.gif, or a FOLDER (new or empty) for PNG frames; "
                                                  "'-': an MP4 stream on stdout")
    out.add_argument("--view", choices=("contour", "surface", "both", "multiples"), default="contour",
                     help="the contour view, the 3-D surface, both side by side, or one contour per run "
                          "(multiples) (default contour)")
    out.add_argument("--size", default=None, help="frame size WIDTHxHEIGHT (default 1280x720; GIF 800x450)")
    out.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    out.add_argument("--frames", type=int, default=None,
                     help="K frames spread evenly over the steps (default: one frame per step)")
    out.add_argument("--frame-mode", choices=FRAME_MODES, default="even",
                     help="with --frames: 'even' = round(i·S/(K−1)), first and last step included (default); "
                          "'article' = int(i·S/K) as in the articles")
    out.add_argument("--caption", action=argparse.BooleanOptionalAction, default=True,
                     help="a caption with the problem, the step and each run's loss (default on)")
    p.set_defaults(handler=_cmd_render, steps=None)
    return p


# --------------------------------------------------------------------------------------------
# building the session
# --------------------------------------------------------------------------------------------
def _check_sources(args: argparse.Namespace) -> str:
    given = [name for name, value in (("--problem", args.problem), ("--session", args.render_session),
                                      ("--preset", args.render_preset)) if value]
    if len(given) != 1:
        what = "none was given" if not given else f"got {' and '.join(given)}"
        raise _cli_error(f"give exactly one of --problem, --session or --preset ({what})")
    if given[0] != "--problem":
        extra = [name for name, default in _RUN_ONLY if getattr(args, name) != default]
        if args.log_scale:
            extra.append("log_scale")
        if extra:
            flag = "--" + extra[0].replace("_", "-").replace("sets", "set")
            raise _cli_error(f"{flag} applies only with --problem ({given[0]} defines its own runs)")
    elif not args.optimizer:
        raise _cli_error("--optimizer is required with --problem")
    return given[0]


def _session_from_args(args: argparse.Namespace, source: str) -> tuple[Any, int]:
    """The session to render and the steps asked for."""
    from gdstudio.model.persistence import SessionError, read_session_file
    from gdstudio.model.presets import preset_document
    from gdstudio.model.session import ProblemSettings, Session

    session = Session()
    try:
        if source == "--problem":
            steps = _TRACE_DEFAULT_STEPS if args.steps is None else args.steps
            args.steps = steps
            from gdstudio.cli import build_run

            run = build_run(args)
            problem = run.problem
            data = {}
            if args.data_x or args.data_y:
                data = {"data_x": tuple(float(v) for v in problem.x), "data_y": tuple(float(v) for v in problem.y)}
            session.set_problem(ProblemSettings(name=problem.name, dataset=args.dataset, expr=args.expr,
                                                log_scale=bool(args.log_scale), **data))
            session.replace_runs([run.config])
            return session, steps
        doc = read_session_file(args.render_session) if source == "--session" else preset_document(args.render_preset)
        session.apply_dict(doc)
    except (SessionError, ValueError) as exc:
        raise _cli_error(str(exc)) from None
    if args.steps is not None:
        steps = args.steps
    elif source == "--session" and session.computed_steps > 0:
        steps = session.computed_steps
    else:
        steps = session.max_steps
    return session, steps


def _compute(session: Any, steps: int) -> int:
    """Compute the runs up to ``steps``; returns the last step to show (≤ steps when every run
    stopped earlier)."""
    from gdstudio.model.session import MAX_STEPS_LIMIT

    if steps < 0 or steps > MAX_STEPS_LIMIT:
        raise _cli_error(f"Invalid --steps: {steps} (must be in [0, {MAX_STEPS_LIMIT}])")
    if not session.runs:
        raise _cli_error("the session has no runs to render")
    if steps > session.computed_steps:
        session.set_max_steps(max(session.max_steps, steps))
        session.seek(session.computed_steps)
        session.forward(steps - session.position)
    return min(steps, session.computed_steps)


# --------------------------------------------------------------------------------------------
# display and Qt
# --------------------------------------------------------------------------------------------
def _platform_for(view: str) -> str | None:
    """The Qt platform to force (``"offscreen"`` for the contour view without a usable display),
    or None; CliError when the 3-D view has no X display. Changes nothing."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not sys.platform.startswith("linux"):
        return None
    from gdstudio.ui.app import _display_problem  # no Qt import: it only checks the X connection

    if view not in ("contour", "multiples"):
        if platform.startswith(("offscreen", "minimal")):
            raise _cli_error(f"the 3-D view needs an X display: QT_QPA_PLATFORM={platform} cannot draw OpenGL "
                             "(unset it; --view contour works offscreen)")
        if not has_display:
            raise _cli_error(NO_DISPLAY_MESSAGE)
        problem = _display_problem()
        if problem:
            raise _cli_error(f"the 3-D view needs an X display: {problem}")
        return None
    if platform:
        return None
    if not has_display or _display_problem():  # no display, or one that does not answer
        return "offscreen"
    return None


def _application(platform: str | None = None) -> Any:
    if platform and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = platform
    try:
        from gdstudio.ui.qt_setup import configure_qt

        configure_qt()
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        raise _cli_error(f"rendering needs the window's libraries: {exc}") from None
    app = QApplication.instance()
    if app is None:
        _quiet_qt_warnings()
        app = QApplication(["gdstudio render"])
        from gdstudio.ui.app import apply_color_scheme

        apply_color_scheme(app)  # the same look as the window on this machine
    return app


def _quiet_qt_warnings() -> None:
    """Drop the offscreen platform's harmless "does not support propagateSizeHints()" notice."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def handler(kind: QtMsgType, _context: object, message: str) -> None:
        if "propagateSizeHints" in message:
            return
        if kind != QtMsgType.QtDebugMsg:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


# --------------------------------------------------------------------------------------------
class _ProgressLine:
    """Progress on stderr: rewritten in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, total: int) -> None:
        from gdstudio.ui.frames import Progress

        self.progress = Progress(total)
        try:
            self.tty = sys.stderr.isatty()
        except (OSError, ValueError, AttributeError):
            self.tty = False
        self._last = 0.0

    def update(self, done: int) -> None:
        from gdstudio.interrupts import check

        check()  # a signal received while a frame was drawn stops here, between two frames
        self.progress.update(done)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._show(done)  # progress never decides success: a full or closed stderr only silences it

    def _show(self, done: int) -> None:
        now = time.perf_counter()
        interval = 0.1 if self.tty else 2.0
        if now - self._last < interval and done < self.progress.total:
            return
        self._last = now
        line = f"gdstudio render: {self.progress.text()}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def end(self) -> None:
        if self.tty:
            from gdstudio.cli import say

            say("")


def render(session: Any, writer: Any, *, view: str = "contour", size: tuple[int, int] = DEFAULT_SIZE,
           steps: list[int], caption: bool = True, last_step: int | None = None, progress: Any = None,
           threaded: bool = True) -> Path:
    """Render ``steps`` of ``session`` into ``writer`` (needs a QApplication); returns the path.

    The in-process core of ``gdstudio render`` (the benchmark times this). The writer is
    finished on success and aborted on any error or interruption. Raises ExportError.
    """
    from gdstudio.ui.frames import FrameRenderer, export_frames

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


#: Bytes per pixel a render holds: the frame ring and queue (9 RGB buffers), Qt's ARGB images of
#: each view and the OpenGL framebuffer (~6 more at 4 bytes): ~64 bytes, rounded up.
_BYTES_PER_PIXEL = 64


def _check_frame_memory(size: tuple[int, int]) -> None:
    """ValueError when frames of ``size`` need more than the memory available (with its margin)."""
    from gdstudio.limits import MEMORY_MARGIN, available_memory, format_bytes

    need = size[0] * size[1] * _BYTES_PER_PIXEL
    budget = MEMORY_MARGIN * available_memory()
    if need > budget:
        raise ValueError(f"--size {size[0]}x{size[1]} needs ~{format_bytes(need)} of frame buffers; the memory "
                         f"available holds ~{format_bytes(budget)}")


def _cmd_render(args: argparse.Namespace) -> int:
    from gdstudio.cli import output_target, say
    from gdstudio.export.writers import ExportError, output_kind, writer_for
    from gdstudio.interrupts import deferred

    source = _check_sources(args)
    try:
        kind = output_kind(args.out)
        size = parse_size(args.size) if args.size is not None else (
            DEFAULT_GIF_SIZE if kind == "gif" else DEFAULT_SIZE)
        if not 0 < args.fps <= 240:
            raise ValueError(f"Invalid --fps: {args.fps:g} (must be in (0, 240])")
        if args.frames is not None and not 1 <= args.frames <= MAX_FRAMES:
            raise ValueError(f"Invalid --frames: {args.frames} (must be in [1, {MAX_FRAMES:,}]; at most "
                             f"{MAX_FRAMES / 30 / 3600:.1f} hours of video at 30 fps)")
        _check_frame_memory(size)
    except (ValueError, ExportError) as exc:
        raise _cli_error(str(exc)) from None
    target = output_target(args.out, folder=kind == "png")  # before any work: a folder, a read-only folder …
    if kind == "png" and target.path.is_dir() and any(target.path.iterdir()):
        raise _cli_error(f"Invalid --out path: {args.out} (already exists and is not an empty folder)")
    platform = _platform_for(args.view)
    session, steps = _session_from_args(args, source)
    last = _compute(session, steps)
    try:
        schedule = frame_steps(last, args.frames, mode=args.frame_mode)
        writer = writer_for(args.out, args.fps, **({"max_width": size[0]} if kind == "gif" else {}))
    except (ValueError, ExportError) as exc:
        raise _cli_error(str(exc)) from None
    if last < steps:
        say(f"gdstudio render: every run stopped by step {last}: rendering steps 0 to {last}")
    started = time.perf_counter()
    line: _ProgressLine | None = None
    # Qt draws and a thread encodes: a signal only sets a flag here, and the progress callback
    # raises it between two frames, so the encoder thread is joined and the temporary removed.
    with deferred():
        try:
            _application(platform)
            line = _ProgressLine(len(schedule))
            path = render(session, writer, view=args.view, size=size, steps=schedule, caption=args.caption,
                          last_step=last, progress=line.update)
        except (ExportError, ValueError) as exc:
            raise _cli_error(str(exc)) from None
        finally:
            writer.abort()  # no-op once finished; removes the temporary output otherwise
            if line is not None:
                line.end()
    took = time.perf_counter() - started
    where = "standard output" if target.mode == "stdout" else path
    say(f"gdstudio render: wrote {where} ({len(schedule)} frames, {size[0]}×{size[1]}, {args.fps:g} fps, "
        f"steps 0–{last}) in {took:.1f} s")
    return 0
