"""`gdstudio analyze`: the quadratic theory of a problem (Hessian, eigenvalues, κ, the optimal step
sizes and momentum, their rates) as text or JSON. Qt-free.

The JSON keys (a public contract) are :data:`gdstudio.engine.quadratic.JSON_KEYS`. Bad input (an
unknown problem, ``--at`` of the wrong length, a point where the surface is not convex or the
Hessian is singular, so no optimal settings exist) exits with status 2 and one line, never NaN.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from gdstudio.cli_common import EXIT_OK, CliError, emit, float_option
from gdstudio.engine.problems import make_problem
from gdstudio.engine.quadratic import Analysis, analyze
from gdstudio.limits import brief

__all__ = ["DESCRIPTION", "HELP", "add_analyze_arguments", "format_text", "run_analyze"]

HELP = "the quadratic theory of a problem: Hessian, eigenvalues, κ, optimal η and momentum, rates"
DESCRIPTION = (
    "Analyse a problem's Hessian: its eigenvalues and eigenvectors, the condition number κ, GD's "
    "stability limit 2/λmax, its optimal step 2/(λmin+λmax) and rate (κ−1)/(κ+1), heavy-ball momentum's "
    "optimal η = (2/(√λmax+√λmin))², γ = ((√κ−1)/(√κ+1))² and rate (√κ−1)/(√κ+1). Quadratic problems "
    "(bowl, rotated-bowl, booth, matyas, saddle, linear-regression, line-through-origin, typed polynomials "
    "of degree ≤ 2) have one Hessian everywhere; for others the local Hessian at --at (default: the "
    "first known minimum, else the suggested start)."
)


def add_analyze_arguments(p: argparse.ArgumentParser) -> None:
    """``--problem``, ``--at``, ``--format`` and the problem options `trace` takes."""
    p.add_argument("--problem", required=True, help="problem name (see 'gdstudio list')")
    p.add_argument("--at", help="the point for a surface that is not quadratic, e.g. --at=1,1 (--at=W for a "
                                "1-D problem); default: the first known minimum, else the suggested start")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--data-x", help="user data x values, comma-separated")
    p.add_argument("--data-y", help="user data y values, comma-separated")
    p.add_argument("--dataset", help="a named dataset of a data-driven problem (see 'gdstudio list')")
    p.add_argument("--expr", help="f(x, y) for --problem custom, e.g. 'x**2 + 3*y**2 + x*y'")


def _analysis(args: argparse.Namespace) -> Analysis:
    try:
        data_x = float_option(args.data_x, "--data-x") if args.data_x is not None else None
        data_y = float_option(args.data_y, "--data-y") if args.data_y is not None else None
        with np.errstate(all="ignore"):
            problem = make_problem(args.problem, data_x=data_x, data_y=data_y, dataset=args.dataset, expr=args.expr)
        at = None
        if args.at is not None:
            at = float_option(args.at, "--at")
            if len(at) != problem.dim:
                example = ",".join(["0"] * problem.dim)
                raise CliError(f"Invalid --at: {brief(args.at)} needs {problem.dim} value(s) for "
                               f"({', '.join(problem.params)}), e.g. --at={example}")
        return analyze(problem, at)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _vec(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(x):.6g}" for x in v) + ")"


def format_text(a: Analysis) -> str:
    """The analysis as aligned lines for a terminal."""
    where = ("quadratic: one Hessian everywhere" if a.quadratic
             else f"not quadratic: local Hessian at {_vec(np.array(a.point))}")
    lines = [where, "Hessian:"]
    lines += ["  [" + "  ".join(f"{float(x):>12.6g}" for x in row) + " ]" for row in a.hessian]
    for i, lam in enumerate(a.eigenvalues):
        lines.append(f"λ{i + 1} = {float(lam):.6g}   eigenvector {_vec(a.eigenvectors[:, i])}")
    lines += [
        f"minimum of the quadratic model: {_vec(np.array(a.minimum))}",
        f"condition number κ = λmax/λmin = {a.condition_number:.6g}",
        f"GD: stable for η < 2/λmax = {a.gd_max_stable_lr:.6g}; optimal η = 2/(λmin+λmax) = {a.gd_optimal_lr:.6g}, "
        f"rate (κ−1)/(κ+1) = {a.gd_rate:.6g} per step",
        f"heavy-ball momentum: optimal η = (2/(√λmax+√λmin))² = {a.momentum_optimal_lr:.6g}, "
        f"γ = ((√κ−1)/(√κ+1))² = {a.momentum_optimal:.6g}, rate (√κ−1)/(√κ+1) = {a.momentum_rate:.6g} per step",
    ]
    return "\n".join(lines) + "\n"


def run_analyze(args: argparse.Namespace) -> int:
    """`gdstudio analyze`: one JSON document or the text lines on standard output."""
    a = _analysis(args)
    emit(json.dumps(a.as_json(), indent=1) + "\n" if args.format == "json" else format_text(a))
    return EXIT_OK
