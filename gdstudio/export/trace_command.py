"""`gdstudio trace`: run one optimizer on one problem and print its trajectory (JSON or CSV). Qt-free.

Also the run options it shares with `gdstudio render` (:func:`add_run_options`, :func:`build_run`).
Hyperparameters given with ``--set KEY=VALUE`` go through the one override boundary,
:meth:`gdstudio.engine.optimizers.OptimizerSpec.validate_overrides`; a learning-rate schedule
(``--schedule NAME``, ``--schedule-set KEY=VALUE``, ``--warmup N``) through
:func:`gdstudio.engine.schedules.validate_schedule`, its run-length keywords following ``--steps``.
"""

from __future__ import annotations

import argparse

import numpy as np

from gdstudio.cli_common import (
    CliError,
    add_schedule_options,
    float_option,
    output_target,
    parse_key_values,
    schedule_from_args,
    write_result,
)
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import make_problem
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.export.trace_format import trace_csv, trace_json
from gdstudio.limits import brief, check_count

__all__ = ["add_run_options", "add_trace_arguments", "build_run", "run_trace", "trace_bytes_per_step"]

HELP = "run one optimizer and print its trajectory (JSON or CSV)"
DESCRIPTION = "Run one optimizer on one problem and print its trajectory."


def add_run_options(p: argparse.ArgumentParser, *, required: bool = True, start: bool = True) -> None:
    """The options that define a run (shared by `trace`, `render`, `sweep`; `basins` without ``--start``)."""
    p.add_argument("--problem", required=required, help="problem name (see 'gdstudio list')")
    p.add_argument("--optimizer", required=required, help="optimizer name (see 'gdstudio list')")
    if not start:
        p.set_defaults(start=None)
    else:
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
    add_schedule_options(p)


def add_trace_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `gdstudio trace`: the run options, ``--format`` and ``--out``."""
    add_run_options(p)
    p.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default json)")
    p.add_argument("--out", help="write to this file (atomically) instead of stdout ('-': stdout)")


def trace_bytes_per_step(dim: int) -> int:
    """Memory one step of ``trace`` needs: the history (points, loss, gradient norm and five
    per-step arrays: 8·(2 + 6·dim) bytes) and the JSON/CSV text built from it (about 220 bytes per
    number, measured: 10⁶ steps of a 2-D run peak at ~730 MB)."""
    return 8 * (2 + 6 * dim) + 220 * (dim + 1)


def build_run(args: argparse.Namespace) -> Run:
    """A Run from the run options, or CliError naming what is wrong."""
    try:
        data_x = float_option(args.data_x, "--data-x") if args.data_x is not None else None
        data_y = float_option(args.data_y, "--data-y") if args.data_y is not None else None
        with np.errstate(all="ignore"):  # an overflow while choosing a start is not the user's business
            problem = make_problem(args.problem, data_x=data_x, data_y=data_y, dataset=args.dataset,
                                   expr=args.expr)
        spec = get_spec(args.optimizer)
        overrides = spec.validate_overrides(parse_key_values(args.sets), from_text=True)
        start = tuple(float_option(args.start, "--start")) if args.start is not None else problem.start
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
        schedule = schedule_from_args(args, horizon=args.steps)
        check_count("--steps", args.steps, trace_bytes_per_step(problem.dim), "history and output")
        return Run(problem, RunConfig(
            optimizer=spec.name, start=start, hyperparameters=overrides, batch_size=args.batch_size,
            shuffle=not args.no_shuffle, noise=args.noise, seed=args.seed, tol=args.tol,
            schedule=schedule.name, schedule_settings=schedule.settings, warmup=schedule.warmup,
        ))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def run_trace(args: argparse.Namespace) -> int:
    """`gdstudio trace`: the output is checked first, then the run computed and written."""
    target = output_target(args.out)
    run = build_run(args)
    run.run(args.steps)
    text = trace_json(run, args.steps) if args.format == "json" else trace_csv(run)
    return write_result(target, text, args.out)
