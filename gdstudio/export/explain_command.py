"""`gdstudio explain`: one step of a run explained (the update rule and every quantity). Qt-free.

The run is `gdstudio trace`'s (the same run options, :func:`~gdstudio.export.trace_command.add_run_options`);
``--step K`` picks the step from point K−1 to point K; ``--steps`` defaults to K (a schedule's
run-length keywords follow it). ``--format json`` prints :func:`gdstudio.engine.explain.to_json`:
``step``, ``param_before``, ``param_after``, ``grad``, ``state`` (every state buffer after step K under
torch's names), ``lr``, ``effective_lr``, ``quantities`` (the inspector's rows) and more.
"""

from __future__ import annotations

import argparse
import json

from gdstudio.cli_common import CliError, output_target, write_result
from gdstudio.engine.explain import RowValue, StepExplanation, explain_run, format_row_value, to_json
from gdstudio.export.trace_command import add_run_options, build_run
from gdstudio.mathtext import symbol_text

__all__ = ["DESCRIPTION", "HELP", "add_explain_arguments", "explain_text", "run_explain"]

HELP = "explain one step of a run: the update rule and every quantity with its value"
DESCRIPTION = ("Run one optimizer on one problem (the trace options) and explain step K (from point K-1 to "
               "point K): the update rule for these hyperparameters, θ, the gradient, every state buffer "
               "under torch's names, the rule's derived quantities, the effective learning rate, Δθ, the losses.")


def add_explain_arguments(p: argparse.ArgumentParser) -> None:
    """The run options of `trace`, plus ``--step``, ``--format text|json`` and ``--out``."""
    add_run_options(p)
    steps = next(a for a in p._actions if a.dest == "steps")
    steps.default = None
    steps.help = "number of steps the run is set up for (default: --step; a schedule's run length follows it)"
    p.add_argument("--step", type=int, required=True, metavar="K",
                   help="the step to explain, from point K-1 to point K (K >= 1)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--out", help="write to this file (atomically) instead of stdout ('-': stdout)")


def _value(value: RowValue) -> str:
    return format_row_value(value)


def explain_text(expl: StepExplanation, problem: str) -> str:
    """The plain-text report: a header, the rule in Unicode, then a row per quantity (symbol, name, value, meaning)."""
    lines = [f"Step {expl.step} of {expl.optimizer} on {problem}: "
             f"({', '.join(expl.param_names)}) from {_value(expl.param_before)} to {_value(expl.param_after)}",
             "", "Update rule (--format json has it as LaTeX):"]
    lines += [f"  {line}" for line in symbol_text(expl.formula_latex).splitlines()]
    lines.append("")
    rows = [(symbol_text(q.symbol), q.name, _value(q.value), q.meaning) for q in expl.quantities]
    ws = [max(len(r[i]) for r in rows) for i in range(2)]
    w2 = min(48, max(len(r[2]) for r in rows))
    lines.append(f"{'':<{ws[0]}}  {'quantity':<{ws[1]}}  {'value':<{w2}}  meaning")
    lines += [f"{s:<{ws[0]}}  {n:<{ws[1]}}  {v:<{w2}}  {m}" for s, n, v, m in rows]
    return "\n".join(lines) + "\n"


def run_explain(args: argparse.Namespace) -> int:
    """`gdstudio explain`: check the output and the step, run to step K, explain it."""
    target = output_target(args.out)
    k = args.step
    if k < 1:
        raise CliError(f"Invalid --step: {k} (steps count from 1: step K goes from point K-1 to point K)")
    if args.steps is None:
        args.steps = k
    elif k > args.steps:
        raise CliError(f"Invalid --step: {k} is beyond --steps {args.steps}")
    run = build_run(args)
    run.run(k)
    try:
        expl = explain_run(run, k)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.format == "json":
        doc = {"problem": run.problem.name, "params": list(run.problem.params), **to_json(expl)}
        text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    else:
        text = explain_text(expl, run.problem.name)
    return write_result(target, text, args.out)
