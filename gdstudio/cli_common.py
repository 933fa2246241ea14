"""The pieces every `gdstudio` subcommand shares: errors, exit codes, streams, argument helpers.

Qt-free, over the engine only (the schedule options read its registry), so the `trace` / `render`
/ `train` commands (in gdstudio.export, gdstudio.ui and gdstudio.train) and the command table
(:mod:`gdstudio.cli`) all use one copy.

Exit codes: :data:`EXIT_OK` 0; :data:`EXIT_FAILED` 1 (a write that failed: a full disk, a closed or
full standard output); :data:`EXIT_USAGE` 2 (bad input: one line on stderr, never a traceback);
128 + the signal number for Ctrl+C / SIGTERM (130 / 143, see :mod:`gdstudio.interrupts`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from gdstudio.atomic import OutputPathError, OutputTarget, resolve_output, write_output
from gdstudio.engine.schedules import ParamValue, check_warmup, get_schedule_spec, schedule_names, validate_schedule
from gdstudio.limits import brief
from gdstudio.parsing import EMPTY, NOT_A_NUMBER, NOT_FINITE, FloatListError, parse_floats

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "Command",
    "Parser",
    "ScheduleChoice",
    "add_schedule_options",
    "check_empty_values",
    "detach_stdout",
    "emit",
    "float_option",
    "flush_stdout",
    "output_target",
    "parse_key_values",
    "say",
    "schedule_from_args",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A user error: printed as one line, exit status ``status`` (:data:`EXIT_USAGE` for bad input,
    :data:`EXIT_FAILED` for a write that failed); ``prog`` names the command, if known."""

    def __init__(self, message: str, prog: str | None = None, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.prog = prog
        self.status = status


@dataclass(frozen=True)
class Command:
    """One row of the subcommand table: ``gdstudio NAME …`` calls ``run(args)`` (the exit status)
    after ``add_arguments(parser)`` declared its options."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


# --------------------------------------------------------------------------------------------
# streams
# --------------------------------------------------------------------------------------------
def say(line: str) -> None:
    """One line on stderr; a closed or full stderr is ignored (the exit status still tells)."""
    err = sys.stderr
    if err is None:
        return
    try:
        err.write(line + "\n")
        err.flush()
    except (OSError, ValueError):
        pass


def emit(text: str) -> None:
    """Write ``text`` to standard output; CliError (status 1) naming it when it is closed or full."""
    out = sys.stdout
    if out is None:
        raise CliError("cannot write to standard output: it is closed", status=EXIT_FAILED)
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        detach_stdout()
        raise CliError(f"cannot write to standard output: {getattr(exc, 'strerror', None) or exc}",
                       status=EXIT_FAILED) from None


def detach_stdout() -> None:
    """Point file descriptor 1 at /dev/null so the interpreter's final flush of what is still
    buffered cannot fail with a second error or a traceback."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def flush_stdout(status: int, prog: str) -> int:
    """Flush standard output now, so a full or broken one is one line (or silence, for a closed
    pipe) and the right status instead of an error at interpreter exit; returns the status."""
    out = sys.stdout
    if out is None:
        return status
    try:
        out.flush()
    except BrokenPipeError:
        detach_stdout()
    except (OSError, ValueError) as exc:
        detach_stdout()
        say(f"{prog}: error: cannot write to standard output: {getattr(exc, 'strerror', None) or exc}")
        return status or EXIT_FAILED
    return status


def write_result(target: OutputTarget, data: str | bytes, shown: str | None) -> int:
    """A command's result: text for standard output through :func:`emit`; anything else through
    :func:`~gdstudio.atomic.write_output` (a file atomically, bytes to standard output). CliError
    (status 1) ``Cannot write <shown>: …`` when the write fails. Returns EXIT_OK."""
    if target.mode == "stdout" and isinstance(data, str):
        emit(data)
        return EXIT_OK
    try:
        write_output(target, data, allow_stdout=True)
    except OSError as exc:
        raise CliError(f"Cannot write {shown}: {exc.strerror or exc}", status=EXIT_FAILED) from None
    return EXIT_OK


def output_target(path: str | None, option: str = "--out", *, folder: bool = False) -> OutputTarget:
    """The resolved output (see gdstudio.atomic.resolve_output), standard output for None or
    ``-``; CliError naming the path when it cannot be written. Call before the work starts."""
    try:
        target = resolve_output("-" if path is None else path, option, allow_stdout=True, folder=folder)
    except OutputPathError as exc:
        raise CliError(str(exc)) from None
    if target.mode == "stdout" and sys.stdout is None:
        raise CliError("cannot write to standard output: it is closed (give --out FILE)", status=EXIT_FAILED)
    return target


# --------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``gdstudio trace: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", prog=self.prog)


def check_empty_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """CliError naming the option when an option was given an empty or blank value (``--start=''``
    never silently means the default)."""
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest, None)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and not v.strip() and v is not action.default:
                name = max(action.option_strings, key=len)
                raise CliError(f"Invalid {name}: {v!r} (empty; give a value or leave the option out)")


def parse_key_values(items: Sequence[str], option: str = "--set", example: str = "lr=0.01") -> dict[str, str]:
    """``["lr=0.1", "betas=0.9,0.99"]`` -> ``{"lr": "0.1", "betas": "0.9,0.99"}`` (the last of a
    repeated key wins); CliError ``Invalid --set 'lr' (expected KEY=VALUE, e.g. lr=0.01)``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"Invalid {option} {item!r} (expected KEY=VALUE, e.g. {example})")
        out[key.strip()] = value
    return out


def float_option(text: str, option: str) -> list[float]:
    """The finite numbers of a comma-separated option value (``--start=-7,2``); CliError naming
    ``option`` and the offending item."""
    parts = text.split(",")
    quoted = brief(text) if len(parts) < 2 or len(text) <= 80 else brief([p.strip() for p in parts])
    try:
        return list(parse_floats(text))
    except FloatListError as exc:
        if exc.reason == NOT_A_NUMBER:
            detail = f"expected comma-separated numbers; {brief(exc.item)} is not a number"
        elif exc.reason == NOT_FINITE:
            detail = "every value must be a finite number"
        else:
            assert exc.reason == EMPTY
            detail = "expected comma-separated numbers"
        raise CliError(f"Invalid {option}: {quoted} ({detail})") from None


# --------------------------------------------------------------------------------------------
# learning-rate schedules (trace, render, train)
# --------------------------------------------------------------------------------------------
def add_schedule_options(p: argparse.ArgumentParser) -> None:
    """``--schedule NAME``, ``--schedule-set KEY=VALUE`` (repeatable) and ``--warmup N``."""
    p.add_argument("--schedule", metavar="NAME",
                   help="a learning-rate schedule, stepped after each optimizer step as torch.optim.lr_scheduler "
                        f"does: {', '.join(schedule_names())} (keywords: 'gdstudio list')")
    p.add_argument("--schedule-set", dest="schedule_sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a keyword of the schedule with torch's name, e.g. --schedule-set milestones=30,80 "
                        "--schedule-set gamma=0.5 (repeatable)")
    p.add_argument("--warmup", type=int, default=0, metavar="N",
                   help="a linear warm-up over the first N steps (from η/N; then the schedule, or η): torch's "
                        "SequentialLR([LinearLR(1/N, total_iters=N), schedule], milestones=[N]) (default 0)")


@dataclass(frozen=True)
class ScheduleChoice:
    """The validated schedule options: ``name`` (registry name or None), every keyword of it
    (``settings``, defaults filled in) and the warm-up steps."""

    name: str | None
    settings: dict[str, ParamValue]
    warmup: int


def schedule_from_args(args: argparse.Namespace, horizon: int | None) -> ScheduleChoice:
    """The schedule options through the schedules' one boundary (``validate_schedule``); ``horizon``
    (the run's steps or iterations) resolves the keywords that follow the run's length. CliError
    with one line for a bad name, keyword or value."""
    sets = parse_key_values(args.schedule_sets, "--schedule-set", "milestones=30,80")
    if sets and args.schedule is None:
        raise CliError(f"Invalid --schedule-set {args.schedule_sets[0]!r} (give --schedule NAME; "
                       f"known: {', '.join(schedule_names())})")
    try:
        warmup = check_warmup(args.warmup)
        settings = validate_schedule(args.schedule, sets, from_text=True, warmup=warmup, horizon=horizon)
        name = None if args.schedule is None else get_schedule_spec(args.schedule).name
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return ScheduleChoice(name, settings, warmup)
