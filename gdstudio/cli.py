"""The `gdstudio` command: the window (no arguments), and the subcommands of :data:`COMMANDS`.

Bad input exits with status 2 and one clear line on stderr, never a traceback: empty option
values, counts too large for the memory available, output paths that cannot be written (checked
before the work starts). A write that fails (a full disk, a closed or full standard output) exits
with status 1 and one line; Ctrl+C / SIGTERM stop the work, remove any temporary, print one line
and exit with 130 / 143. ``--out -`` means standard output.

The shared pieces (errors, exit codes, streams, argument helpers) are :mod:`gdstudio.cli_common`;
each subcommand is one row of :data:`COMMANDS` (name, help, options, run), defined where its work
is: `trace` in :mod:`gdstudio.export.trace_command`, `render` in
:mod:`gdstudio.export.render_options` (options) and :mod:`gdstudio.ui.render_command` (drawing),
`train` in :mod:`gdstudio.train.cli`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gdstudio import __version__
from gdstudio.cli_common import (
    EXIT_OK,
    CliError,
    Command,
    Parser,
    check_empty_values,
    detach_stdout,
    emit,
    flush_stdout,
    say,
)
from gdstudio.engine.hyperparams import format_value
from gdstudio.engine.optimizers import OPTIMIZERS
from gdstudio.engine.problems import PROBLEMS
from gdstudio.engine.schedules import SCHEDULES
from gdstudio.export import analyze_command, explain_command, explore_command, render_options, trace_command
from gdstudio.interrupts import Interrupted, handle_signals
from gdstudio.train import cli as train_cli
from gdstudio.train import landscape_cli
from gdstudio.ui import landscape_command, render_command

__all__ = ["COMMANDS", "build_parser", "main"]


# --------------------------------------------------------------------------------------------
# list
# --------------------------------------------------------------------------------------------
def _no_arguments(_parser: argparse.ArgumentParser) -> None:
    """`gdstudio list` takes no options."""


def run_list(_args: argparse.Namespace) -> int:
    """`gdstudio list`: the problems (with formulas), the optimizers (with their defaults) and the
    learning-rate schedules (with their keywords and defaults)."""
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
    out.append("")
    out.append("Learning-rate schedules (torch.optim.lr_scheduler; --schedule NAME, keywords with defaults set with "
               "--schedule-set KEY=VALUE, --warmup N):")
    width = max(len(n) for n in SCHEDULES)
    for schedule in SCHEDULES.values():
        out.append(f"  {schedule.name:<{width}}  {schedule.torch_class}: {schedule.summary}")
        keywords = "  ".join(f"{p.name}={p.default_text()}" for p in schedule.params)
        out.append(f"  {'':<{width}}    {keywords}")
    emit("\n".join(out) + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------
#: Every subcommand, in the order `gdstudio --help` lists them.
COMMANDS: tuple[Command, ...] = (
    Command("list", "list the problems, optimizers and learning-rate schedules", _no_arguments, run_list,
            description="List the problems (with formulas), the optimizers (with hyperparameters and defaults) "
                        "and the learning-rate schedules (with keywords and defaults)."),
    Command("trace", trace_command.HELP, trace_command.add_trace_arguments, trace_command.run_trace,
            description=trace_command.DESCRIPTION),
    Command("explain", explain_command.HELP, explain_command.add_explain_arguments, explain_command.run_explain,
            description=explain_command.DESCRIPTION),
    Command("train", train_cli.HELP, train_cli.add_train_arguments, train_cli.run_train,
            description=train_cli.DESCRIPTION),
    Command("sweep", explore_command.SWEEP_HELP, explore_command.add_sweep_arguments, explore_command.run_sweep,
            description=explore_command.SWEEP_DESCRIPTION),
    Command("basins", explore_command.BASINS_HELP, explore_command.add_basins_arguments,
            explore_command.run_basins, description=explore_command.BASINS_DESCRIPTION),
    Command("render", render_options.HELP, render_options.add_render_arguments, render_command.run_render,
            description=render_options.DESCRIPTION),
    Command("landscape", landscape_cli.HELP, landscape_cli.add_landscape_arguments, landscape_command.run_landscape,
            description=landscape_cli.DESCRIPTION),
    Command("analyze", analyze_command.HELP, analyze_command.add_analyze_arguments, analyze_command.run_analyze,
            description=analyze_command.DESCRIPTION),
)


def _cmd_window(args: argparse.Namespace) -> int:
    """No subcommand: the window (imported here, so the subcommands never load Qt's widgets)."""
    try:
        from gdstudio.ui.app import run_app
    except ImportError as exc:  # reported, not swallowed: one line and status 2
        raise CliError(f"The window cannot start: {exc}") from None

    return run_app(session=args.session, preset=args.preset)


def build_parser() -> Parser:
    """The `gdstudio` parser with one subparser per row of :data:`COMMANDS`."""
    parser = Parser(prog="gdstudio", description="A studio for watching, comparing and explaining "
                                                 "gradient-descent optimizers. With no command: the window.")
    parser.add_argument("--version", action="version", version=f"gdstudio {__version__}")
    parser.add_argument("--session", help="open this session file in the window")
    parser.add_argument("--preset", help="open this preset in the window")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description or None)
        command.add_arguments(p)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    return None


def _prog(args: argparse.Namespace | None) -> str:
    command = getattr(args, "command", None)
    return f"gdstudio {command}" if command else "gdstudio"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gdstudio` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    status = EXIT_OK
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version
            status = exc.code if isinstance(exc.code, int) else EXIT_OK
            return flush_stdout(status, "gdstudio")
        check_empty_values(parser, args)
        if args.command is None:
            return _cmd_window(args)
        sub = _subparser(parser, args.command)
        if sub is not None:
            check_empty_values(sub, args)
        run = next(c.run for c in COMMANDS if c.name == args.command)
        with handle_signals():
            status = int(run(args))
    except CliError as exc:
        say(f"{exc.prog or _prog(args)}: error: {exc}")
        status = exc.status
    except Interrupted as exc:
        say(f"{_prog(args)}: interrupted (signal {exc.signum}); nothing was written")
        status = exc.status
    except KeyboardInterrupt:
        say(f"{_prog(args)}: interrupted; nothing was written")
        status = 130
    except BrokenPipeError:
        detach_stdout()
        return EXIT_OK
    return flush_stdout(status, _prog(args))
