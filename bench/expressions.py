"""Typed functions: how long acceptance and refusal take (the budget promises a refusal within 2 s).

Prints, per expression, the outcome and the wall time of ``ExpressionProblem(text)`` from a cold
cache, and the ratio to the 2 s bound. ``--quick`` runs the three cases from issue 15 only.
"""

from __future__ import annotations

import argparse
import time

from gdstudio.engine import expressions as ex
from gdstudio.engine.problems.expression import ExpressionProblem

ISSUE = [
    "(((1/9**100)**100)**100)**100",
    "((((1/9**100)**100)**100)**100)**100",
    "x*(((((1/3**100)**100)**100)**100)**100)",
]
MORE = [
    "(x*((1/7**100)**10 + (1/9**100)**10))**(-99/7)",  # 46 s before the budget (root extraction)
    "".join(["sin(", "exp(", "log(", "tanh(", "sqrt("] * 9) + "x*y+2" + ")" * 45,  # SymPy assumptions
    "sin(x)*cos(y) + 0.1*(x**2 + y**2)",
    "x**2 + 100*(y - x**2)**2",
    "(1 - x)^10 + 100*(y - x^2)^10",
    "max(" + ",".join(f"{i}*x+{j}*y+{i * j / 2}" for i in range(-2, 3) for j in range(-2, 3)) + ")",
    "sin(" * 48 + "x*y" + ")" * 48,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the issue's three cases")
    args = parser.parse_args()
    texts = ISSUE if args.quick else ISSUE + MORE
    print(f"{'seconds':>8}  {'/ 2 s':>6}  outcome")
    for text in texts:
        ex._CACHE.clear()
        t0 = time.perf_counter()
        try:
            ExpressionProblem(text)
            outcome = "accepted"
        except ex.ExpressionError as err:
            outcome = f"refused: {err}"
        dt = time.perf_counter() - t0
        shown = text if len(text) <= 50 else text[:49] + "…"
        print(f"{dt:8.3f}  {dt / 2:6.2f}  {shown}  ->  {outcome[:110]}")


if __name__ == "__main__":
    main()
