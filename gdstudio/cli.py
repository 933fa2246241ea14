"""The `gdstudio` command: the window (no arguments), `list`, `trace`, `render` and `train`.

Bad input exits with status 2 and one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from gdstudio import __version__

__all__ = ["CliError", "main"]


class CliError(Exception):
    """A user error: printed as one line, exit status 2 (``prog`` names the command, if known)."""

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``gdstudio trace: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", prog=self.prog)


def _floats(text: str, what: str) -> list[float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts if p != ""]
    except ValueError:
        raise CliError(f"Invalid {what}: {text!r} (expected comma-separated numbers)") from None
    if not values or len(values) != len(parts):
        raise CliError(f"Invalid {what}: {text!r} (expected comma-separated numbers)")
    if not all(math.isfinite(v) for v in values):
        raise CliError(f"Invalid {what}: {text!r} (every value must be a finite number)")
    return values


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
    print("\n".join(out))
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


def build_run(args: argparse.Namespace):
    """A Run from the run options, or CliError naming what is wrong."""
    from gdstudio.engine.optimizers import get_spec
    from gdstudio.engine.problems import make_problem
    from gdstudio.engine.runs import Run, RunConfig

    try:
        data_x = _floats(args.data_x, "--data-x") if args.data_x else None
        data_y = _floats(args.data_y, "--data-y") if args.data_y else None
        problem = make_problem(args.problem, data_x=data_x, data_y=data_y, dataset=args.dataset, expr=args.expr)
        spec = get_spec(args.optimizer)
        specs = {h.name: h for h in spec.hyperparams}
        overrides: dict[str, object] = {}
        for key, text in _key_values(args.sets).items():
            if key not in specs:
                raise CliError(f"Unknown hyperparameter for {spec.name}: {key} (known: {', '.join(specs)})")
            from gdstudio.engine.hyperparams import parse_value

            overrides[key] = parse_value(specs[key], text)
        start = tuple(_floats(args.start, "--start")) if args.start else problem.start
        if len(start) != problem.dim:
            example = ",".join(["0"] * problem.dim)
            raise CliError(
                f"Invalid --start: {args.start!r} needs {problem.dim} value(s) for "
                f"({', '.join(problem.params)}), e.g. --start={example}"
            )
        if args.steps < 0:
            raise CliError(f"Invalid --steps: {args.steps} (must be ≥ 0)")
        return Run(problem, RunConfig(
            optimizer=spec.name, start=start, hyperparameters=overrides, batch_size=args.batch_size,
            shuffle=not args.no_shuffle, noise=args.noise, seed=args.seed, tol=args.tol,
        ))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _cmd_trace(args: argparse.Namespace) -> int:
    from gdstudio.atomic import atomic_write_text
    from gdstudio.export.trace_format import trace_csv, trace_json

    run = build_run(args)
    run.run(args.steps)
    text = trace_json(run, args.steps) if args.format == "json" else trace_csv(run)
    if args.out:
        try:
            atomic_write_text(args.out, text)
        except OSError as exc:
            raise CliError(f"Cannot write {args.out}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
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
    trace.add_argument("--out", help="write to this file (atomically) instead of stdout")

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
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            return _cmd_window(args)
        handler = _COMMANDS.get(args.command) or args.handler
        return int(handler(args))
    except CliError as exc:
        prog = exc.prog
        if prog is None:
            command = getattr(args, "command", None)
            prog = f"gdstudio {command}" if command else "gdstudio"
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gdstudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
