"""The `gdstudio` command: the window (no arguments), `list`, `trace`, `render` and `train`.

Bad input exits with status 2 and one clear line on stderr, never a traceback: empty option
values, counts too large for the memory available, output paths that cannot be written (checked
before the work starts). A write that fails (a full disk, a closed or full standard output) exits
with status 1 and one line; Ctrl+C / SIGTERM stop the work, remove any temporary, print one line
and exit with 130 / 143. ``--out -`` means standard output.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from gdstudio import __version__
from gdstudio.limits import brief

if TYPE_CHECKING:
    from gdstudio.atomic import OutputTarget

__all__ = ["CliError", "check_empty_values", "emit", "main", "say"]


class CliError(Exception):
    """A user error: printed as one line, exit status ``status`` (2 for bad input, 1 for a write
    that failed); ``prog`` names the command, if known."""

    def __init__(self, message: str, prog: str | None = None, status: int = 2) -> None:
        super().__init__(message)
        self.prog = prog
        self.status = status


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
        raise CliError("cannot write to standard output: it is closed", status=1)
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        _detach_stdout()
        raise CliError(f"cannot write to standard output: {getattr(exc, 'strerror', None) or exc}",
                       status=1) from None


def _detach_stdout() -> None:
    """Point file descriptor 1 at /dev/null so the interpreter's final flush of what is still
    buffered cannot fail with a second error or a traceback."""
    try:
        fd = sys.stdout.fileno()  # type: ignore[union-attr]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``gdstudio trace: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", prog=self.prog)


def _floats(text: str, what: str) -> list[float]:
    parts = [p.strip() for p in text.split(",")]
    quoted = brief(text) if len(parts) < 2 or len(text) <= 80 else brief(parts)
    try:
        values = [float(p) for p in parts if p != ""]
    except ValueError:
        bad = next(p for p in parts if p != "" and not _is_float(p))
        raise CliError(f"Invalid {what}: {quoted} (expected comma-separated numbers; {brief(bad)} is not "
                       "a number)") from None
    if not values or len(values) != len(parts):
        raise CliError(f"Invalid {what}: {quoted} (expected comma-separated numbers)")
    if not all(math.isfinite(v) for v in values):
        raise CliError(f"Invalid {what}: {quoted} (every value must be a finite number)")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


def _key_values(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"Invalid --set {item!r} (expected KEY=VALUE, e.g. lr=0.01)")
        out[key.strip()] = value
    return out


# --------------------------------------------------------------------------------------------
# list
# --------------------------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    from gdstudio.engine.hyperparams import format_value
    from gdstudio.engine.optimizers import OPTIMIZERS
    from gdstudio.engine.problems import PROBLEMS

    out = ["Problems:"]
    width = max(len(n) for n in PROBLEMS)
    for info in PROBLEMS.values():
        params = ", ".join(info.params)
        extra = f"  [datasets: {', '.join(info.datasets)}]" if info.datasets else ""
        out.append(f"  {info.name:<{width}}  ({params})  {info.formula}{extra}")
    out.append("")
    out.append("Optimizers (hyperparameters with defaults; set with --set KEY=VALUE):")
    width = max(len(n) for n in OPTIMIZERS)
    for spec in OPTIMIZERS.values():
        out.append(f"  {spec.name:<{width}}  {spec.title}: {spec.summary}")
        hp = "  ".join(f"{h.name}={format_value(h.default)}" for h in spec.hyperparams)
        out.append(f"  {'':<{width}}    {hp}")
    emit("\n".join(out) + "\n")
    return 0


# --------------------------------------------------------------------------------------------
# trace
# --------------------------------------------------------------------------------------------
def add_run_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The options that define a run (shared by `trace` and `render`)."""
    p.add_argument("--problem", required=required, help="problem name (see 'gdstudio list')")
    p.add_argument("--optimizer", required=required, help="optimizer name (see 'gdstudio list')")
    p.add_argument("--start", help="start point, e.g. --start=-7,2 (or --start=W for a 1-D problem); "
                                   "default: the problem's suggested start")
    p.add_argument("--steps", type=int, default=100, help="number of steps (default 100)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a hyperparameter with torch's name, e.g. --set lr=0.01 --set betas=0.9,0.999 "
                        "--set nesterov=true (repeatable)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size for data-driven problems "
                                                                   "(default: all the data; 1 = SGD)")
    p.add_argument("--no-shuffle", action="store_true", help="keep the data order in every epoch")
    p.add_argument("--noise", type=float, default=0.0, help="σ of Gaussian noise added to each gradient")
    p.add_argument("--seed", type=int, default=0, help="seed for shuffling and noise (default 0)")
    p.add_argument("--tol", type=float, default=1e-8,
                   help="stop as converged when the gradient norm is below this (default 1e-8; 0 = never)")
    p.add_argument("--data-x", help="user data x values, comma-separated")
    p.add_argument("--data-y", help="user data y values, comma-separated")
    p.add_argument("--dataset", help="a named dataset of a data-driven problem (see 'gdstudio list')")
    p.add_argument("--expr", help="f(x, y) for --problem custom, e.g. 'sin(x)*cos(y) + 0.1*(x**2 + y**2)'")


def trace_bytes_per_step(dim: int) -> int:
    """Memory one step of ``trace`` needs: the history (points, loss, gradient norm and five
    per-step arrays: 8·(2 + 6·dim) bytes) and the JSON/CSV text built from it (about 220 bytes per
    number, measured: 10⁶ steps of a 2-D run peak at ~730 MB)."""
    return 8 * (2 + 6 * dim) + 220 * (dim + 1)


def build_run(args: argparse.Namespace):
    """A Run from the run options, or CliError naming what is wrong."""
    import numpy as np

    from gdstudio.engine.optimizers import get_spec
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    try:
        data_x = _floats(args.data_x, "--data-x") if args.data_x is not None else None
        data_y = _floats(args.data_y, "--data-y") if args.data_y is not None else None
        with np.errstate(all="ignore"):  # an overflow while choosing a start is not the user's business
            problem = make_problem(args.problem, data_x=data_x, data_y=data_y, dataset=args.dataset,
                                   expr=args.expr)
        spec = get_spec(args.optimizer)
        specs = {h.name: h for h in spec.hyperparams}
        overrides: dict[str, object] = {}
        for key, text in _key_values(args.sets).items():
            if key not in specs:
                raise CliError(f"Unknown hyperparameter for {spec.name}: {key} (known: {', '.join(specs)})")
            from gdstudio.engine.hyperparams import parse_value

            overrides[key] = parse_value(specs[key], text)
        start = tuple(_floats(args.start, "--start")) if args.start is not None else problem.start
        if len(start) != problem.dim:
            example = ",".join(["0"] * problem.dim)
            raise CliError(
                f"Invalid --start: {brief(args.start)} needs {problem.dim} value(s) for "
                f"({', '.join(problem.params)}), e.g. --start={example}"
            )
        if args.steps < 0:
            raise CliError(f"Invalid --steps: {args.steps} (must be ≥ 0)")
        if args.seed < 0:
            raise CliError(f"Invalid --seed: {args.seed} (must be a whole number ≥ 0)")
        from gdstudio.limits import check_count

        check_count("--steps", args.steps, trace_bytes_per_step(problem.dim), "history and output")
        return Run(problem, RunConfig(
            optimizer=spec.name, start=start, hyperparameters=overrides, batch_size=args.batch_size,
            shuffle=not args.no_shuffle, noise=args.noise, seed=args.seed, tol=args.tol,
        ))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def output_target(path: str | None, option: str = "--out", *, folder: bool = False) -> OutputTarget:
    """The resolved output (see gdstudio.atomic.resolve_output), standard output for None or
    ``-``; CliError naming the path when it cannot be written. Call before the work starts."""
    from gdstudio.atomic import OutputPathError, resolve_output

    try:
        target = resolve_output("-" if path is None else path, option, allow_stdout=True, folder=folder)
    except OutputPathError as exc:
        raise CliError(str(exc)) from None
    if target.mode == "stdout" and sys.stdout is None:
        raise CliError("cannot write to standard output: it is closed (give --out FILE)", status=1)
    return target


def _cmd_trace(args: argparse.Namespace) -> int:
    from gdstudio.atomic import write_output
    from gdstudio.export.trace_format import trace_csv, trace_json

    target = output_target(args.out)
    run = build_run(args)
    run.run(args.steps)
    text = trace_json(run, args.steps) if args.format == "json" else trace_csv(run)
    if target.mode == "stdout":
        emit(text)
        return 0
    try:
        write_output(target, text)
    except OSError as exc:
        raise CliError(f"Cannot write {args.out}: {exc.strerror or exc}", status=1) from None
    return 0


# --------------------------------------------------------------------------------------------
# window
# --------------------------------------------------------------------------------------------
def _cmd_window(args: argparse.Namespace) -> int:
    try:
        from gdstudio.ui.app import run_app
    except ImportError as exc:
        raise CliError(f"The window cannot start: {exc}") from None
    return run_app(session=args.session, preset=args.preset)


# --------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gdstudio", description="A studio for watching, comparing and explaining "
                                                    "gradient-descent optimizers. With no command: the window.")
    parser.add_argument("--version", action="version", version=f"gdstudio {__version__}")
    parser.add_argument("--session", help="open this session file in the window")
    parser.add_argument("--preset", help="open this preset in the window")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    sub.add_parser("list", help="list the problems and optimizers", description="List the problems "
                   "(with formulas) and the optimizers (with hyperparameters and defaults).")

    trace = sub.add_parser("trace", help="run one optimizer and print its trajectory (JSON or CSV)",
                           description="Run one optimizer on one problem and print its trajectory.")
    add_run_options(trace)
    trace.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default json)")
    trace.add_argument("--out", help="write to this file (atomically) instead of stdout ('-': stdout)")

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list:
    """Commands defined in other modules (render, train), registered when present."""
    registers = []
    try:
        from gdstudio.train.cli import add_train_parser

        registers.append(add_train_parser)
    except ImportError:
        pass
    try:
        from gdstudio.export.cli import add_render_parser

        registers.append(add_render_parser)
    except ImportError:
        pass
    return registers


_COMMANDS = {"list": _cmd_list, "trace": _cmd_trace}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gdstudio` console script; returns the exit status."""
    from gdstudio.interrupts import Interrupted, handle_signals

    argv = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    status = 0
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            status = exc.code if isinstance(exc.code, int) else 0
            return _flush_stdout(status, "gdstudio")
        check_empty_values(parser, args)
        if args.command is None:
            return _cmd_window(args)
        sub = _subparser(parser, args.command)
        if sub is not None:
            check_empty_values(sub, args)
        handler = _COMMANDS.get(args.command) or args.handler
        with handle_signals():
            status = int(handler(args))
    except CliError as exc:
        prog = exc.prog
        if prog is None:
            command = getattr(args, "command", None)
            prog = f"gdstudio {command}" if command else "gdstudio"
        say(f"{prog}: error: {exc}")
        status = exc.status
    except Interrupted as exc:
        say(f"{_prog(args)}: interrupted (signal {exc.signum}); nothing was written")
        status = exc.status
    except KeyboardInterrupt:
        say(f"{_prog(args)}: interrupted; nothing was written")
        status = 130
    except BrokenPipeError:
        _detach_stdout()
        return 0
    return _flush_stdout(status, _prog(args))


def _prog(args: argparse.Namespace | None) -> str:
    command = getattr(args, "command", None)
    return f"gdstudio {command}" if command else "gdstudio"


def _flush_stdout(status: int, prog: str) -> int:
    """Flush standard output now, so a full or broken one is one line (or silence, for a closed
    pipe) and the right status instead of an error at interpreter exit."""
    out = sys.stdout
    if out is None:
        return status
    try:
        out.flush()
    except BrokenPipeError:
        _detach_stdout()
    except (OSError, ValueError) as exc:
        _detach_stdout()
        say(f"{prog}: error: cannot write to standard output: {getattr(exc, 'strerror', None) or exc}")
        return status or 1
    return status
