"""`gdstudio render`, its Qt-free half: the options, the checks made before any work, the session
to render and the progress line. The half that draws (Qt) is :mod:`gdstudio.ui.render_command`.

What to render: the trace options (``--problem``, ``--optimizer``, ``--start``, ``--set``, …,
exactly as ``gdstudio trace``), or ``--session FILE`` / ``--preset NAME``. Steps: ``--steps N``
(default: 100 for the trace options, a preset's ``max_steps``, a session's saved computed steps
or else its ``max_steps``); runs that all stop earlier end the animation at their last step.
Frames: one per step (steps + 1 frames), or ``--frames K`` spread evenly (see
:mod:`gdstudio.export.schedule`; ``--frame-mode article`` uses the articles' formula).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass

from gdstudio import limits
from gdstudio.atomic import OutputTarget
from gdstudio.cli_common import CliError, output_target, say
from gdstudio.engine.problems import DataProblem
from gdstudio.export.frames import Progress, parse_size
from gdstudio.export.schedule import FRAME_MODES, frame_steps
from gdstudio.export.trace_command import add_run_options, build_run
from gdstudio.export.writers import ExportError, FrameWriter, output_kind, writer_for
from gdstudio.interrupts import check
from gdstudio.model.persistence import SessionError, read_session_file
from gdstudio.model.presets import preset_document
from gdstudio.model.session import MAX_STEPS_LIMIT, ProblemSettings, Session

__all__ = [
    "DEFAULT_GIF_SIZE",
    "DEFAULT_SIZE",
    "HELP",
    "MAX_FRAMES",
    "NO_DISPLAY_MESSAGE",
    "ProgressLine",
    "RenderPlan",
    "add_render_arguments",
    "check_frame_memory",
    "check_output_options",
    "check_sources",
    "compute",
    "plan_frames",
    "session_from_args",
]

HELP = "render the contour / 3-D views to an MP4, a GIF or PNG frames (headless)"
DESCRIPTION = ("Render an animation of the runs: from the trace options (like 'gdstudio trace'), a saved "
               "session or a preset. --view contour works without a display; the 3-D view needs one "
               "(e.g. xvfb-run).")
NO_DISPLAY_MESSAGE = "the 3-D view needs an X display (e.g. run under xvfb-run); --view contour works without one"
DEFAULT_SIZE = (1280, 720)
DEFAULT_GIF_SIZE = (800, 450)
_TRACE_DEFAULT_STEPS = 100
#: The most frames one render may ask for (over 9 hours of video at 30 fps).
MAX_FRAMES = 1_000_000
#: Run options that only make sense with --problem (name, default).
_RUN_ONLY: tuple[tuple[str, object], ...] = (
    ("optimizer", None), ("start", None), ("sets", []), ("batch_size", None), ("no_shuffle", False),
    ("noise", 0.0), ("seed", 0), ("tol", 1e-8), ("data_x", None), ("data_y", None), ("dataset", None),
    ("expr", None), ("schedule", None), ("schedule_sets", []), ("warmup", 0))
#: Bytes per pixel a render holds: the frame ring and queue (9 RGB buffers), Qt's ARGB images of
#: each view and the OpenGL framebuffer (~6 more at 4 bytes): ~64 bytes, rounded up.
_BYTES_PER_PIXEL = 64


def add_render_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``gdstudio render``."""
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
    p.set_defaults(steps=None)


# --------------------------------------------------------------------------------------------
# checks before any work
# --------------------------------------------------------------------------------------------
def check_sources(args: argparse.Namespace) -> str:
    """Which of ``--problem``, ``--session``, ``--preset`` was given (exactly one, and the run
    options only with --problem), else CliError."""
    given = [name for name, value in (("--problem", args.problem), ("--session", args.render_session),
                                      ("--preset", args.render_preset)) if value]
    if len(given) != 1:
        what = "none was given" if not given else f"got {' and '.join(given)}"
        raise CliError(f"give exactly one of --problem, --session or --preset ({what})")
    if given[0] != "--problem":
        extra = [name for name, default in _RUN_ONLY if getattr(args, name) != default]
        if args.log_scale:
            extra.append("log_scale")
        if extra:
            flag = "--" + extra[0].replace("_", "-").replace("sets", "set")
            raise CliError(f"{flag} applies only with --problem ({given[0]} defines its own runs)")
    elif not args.optimizer:
        raise CliError("--optimizer is required with --problem")
    return given[0]


def check_frame_memory(size: tuple[int, int]) -> None:
    """ValueError when frames of ``size`` need more than the memory available (with its margin)."""
    need = size[0] * size[1] * _BYTES_PER_PIXEL
    budget = limits.MEMORY_MARGIN * limits.available_memory()
    if need > budget:
        raise ValueError(f"--size {size[0]}x{size[1]} needs ~{limits.format_bytes(need)} of frame buffers; the "
                         f"memory available holds ~{limits.format_bytes(budget)}")


def session_from_args(args: argparse.Namespace, source: str) -> tuple[Session, int]:
    """The session to render and the steps asked for."""
    session = Session()
    try:
        if source == "--problem":
            steps = _TRACE_DEFAULT_STEPS if args.steps is None else args.steps
            args.steps = steps
            run = build_run(args)
            problem = run.problem
            data_x = data_y = None
            if (args.data_x or args.data_y) and isinstance(problem, DataProblem):
                data_x = tuple(float(v) for v in problem.x)
                data_y = tuple(float(v) for v in problem.y)
            session.set_problem(ProblemSettings(name=problem.name, dataset=args.dataset, expr=args.expr,
                                                log_scale=bool(args.log_scale), data_x=data_x, data_y=data_y))
            session.replace_runs([run.config])
            return session, steps
        doc = read_session_file(args.render_session) if source == "--session" else preset_document(args.render_preset)
        session.apply_dict(doc)
    except (SessionError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if args.steps is not None:
        steps = args.steps
    elif source == "--session" and session.computed_steps > 0:
        steps = session.computed_steps
    else:
        steps = session.max_steps
    return session, steps


def compute(session: Session, steps: int) -> int:
    """Compute the runs up to ``steps``; returns the last step to show (≤ steps when every run
    stopped earlier)."""
    if steps < 0 or steps > MAX_STEPS_LIMIT:
        raise CliError(f"Invalid --steps: {steps} (must be in [0, {MAX_STEPS_LIMIT}])")
    if not session.runs:
        raise CliError("the session has no runs to render")
    if steps > session.computed_steps:
        session.set_max_steps(max(session.max_steps, steps))
        session.seek(session.computed_steps)
        session.forward(steps - session.position)
    return min(steps, session.computed_steps)


def check_output_options(args: argparse.Namespace) -> tuple[str, tuple[int, int], OutputTarget]:
    """The output kind (``mp4``, ``gif``, ``png``), the frame size and the resolved output, with
    ``--fps`` and ``--frames`` checked and the frame buffers checked against the memory available;
    CliError if bad. Nothing is computed yet."""
    try:
        kind = output_kind(args.out)
        size = parse_size(args.size) if args.size is not None else (
            DEFAULT_GIF_SIZE if kind == "gif" else DEFAULT_SIZE)
        if not 0 < args.fps <= 240:
            raise ValueError(f"Invalid --fps: {args.fps:g} (must be in (0, 240])")
        if args.frames is not None and not 1 <= args.frames <= MAX_FRAMES:
            raise ValueError(f"Invalid --frames: {args.frames} (must be in [1, {MAX_FRAMES:,}]; at most "
                             f"{MAX_FRAMES / 30 / 3600:.1f} hours of video at 30 fps)")
        check_frame_memory(size)
    except (ValueError, ExportError) as exc:
        raise CliError(str(exc)) from None
    target = output_target(args.out, folder=kind == "png")  # before any work: a folder, a read-only folder …
    if kind == "png" and target.path.is_dir() and any(target.path.iterdir()):
        raise CliError(f"Invalid --out path: {args.out} (already exists and is not an empty folder)")
    return kind, size, target


@dataclass
class RenderPlan:
    """What ``gdstudio render`` draws: the session computed up to ``last`` (≤ the ``steps``
    asked), the step each frame shows, and the writer (open; finish or abort it)."""

    session: Session
    steps: int
    last: int
    schedule: list[int]
    writer: FrameWriter


def plan_frames(args: argparse.Namespace, source: str, kind: str, size: tuple[int, int]) -> RenderPlan:
    """Build and compute the session, choose the frames and open the writer; CliError if bad.
    Says so on stderr when every run stopped before the steps asked."""
    session, steps = session_from_args(args, source)
    last = compute(session, steps)
    try:
        schedule = frame_steps(last, args.frames, mode=args.frame_mode)
        writer = writer_for(args.out, args.fps, **({"max_width": size[0]} if kind == "gif" else {}))
    except (ValueError, ExportError) as exc:
        raise CliError(str(exc)) from None
    if last < steps:
        say(f"gdstudio render: every run stopped by step {last}: rendering steps 0 to {last}")
    return RenderPlan(session, steps, last, schedule, writer)


class ProgressLine:
    """Progress on stderr: rewritten in place on a terminal, a line every few seconds otherwise.
    :meth:`update` is also where a signal received while a frame was drawn stops the render."""

    def __init__(self, total: int) -> None:
        self.progress = Progress(total)
        try:
            self.tty = sys.stderr.isatty()
        except (OSError, ValueError, AttributeError):
            self.tty = False
        self._last = 0.0

    def update(self, done: int) -> None:
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
            say("")
