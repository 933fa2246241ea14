"""The registry of problems: analytic surfaces, data-driven losses and typed functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gdstudio.engine.problems.analytic import ANALYTIC
from gdstudio.engine.problems.base import Problem
from gdstudio.engine.problems.data import (
    DATASETS,
    DataProblem,
    LinearRegression,
    LineThroughOrigin,
    SigmoidNeuron,
)

__all__ = ["CUSTOM", "PROBLEMS", "ProblemInfo", "make_problem", "problem_names"]

CUSTOM = "custom"


@dataclass(frozen=True)
class ProblemInfo:
    """What the list and the panels show of a problem before it is built."""

    name: str
    title: str
    formula: str
    params: tuple[str, ...]
    kind: str  # "analytic", "data" or "custom"
    datasets: tuple[str, ...] = ()


_DATA_CLASSES: dict[str, type[DataProblem]] = {
    cls.name: cls for cls in (SigmoidNeuron, LinearRegression, LineThroughOrigin)
}


def _infos() -> dict[str, ProblemInfo]:
    infos = {p.name: ProblemInfo(p.name, p.title, p.formula, p.params, "analytic") for p in ANALYTIC}
    for name, cls in _DATA_CLASSES.items():
        infos[name] = ProblemInfo(name, cls.title, cls.formula, cls.params, "data",
                                  tuple(DATASETS.get(name, {})))
    infos[CUSTOM] = ProblemInfo(CUSTOM, "Typed function", "f(x, y) you type, e.g. sin(x)*cos(y)",
                                ("x", "y"), "custom")
    return infos


#: Every problem by name, in display order.
PROBLEMS: dict[str, ProblemInfo] = _infos()
_ANALYTIC = {p.name: p for p in ANALYTIC}


def problem_names() -> list[str]:
    return list(PROBLEMS)


def make_problem(
    name: str,
    *,
    data_x: Sequence[float] | None = None,
    data_y: Sequence[float] | None = None,
    dataset: str | None = None,
    expr: str | None = None,
) -> Problem:
    """Build a problem by name. Data-driven ones take ``dataset`` or user data; ``custom`` an ``expr``.

    Raises ValueError with a message naming what is wrong.
    """
    key = name.strip().lower()
    if key not in PROBLEMS:
        raise ValueError(f"Unknown problem: {name!r} (known: {', '.join(PROBLEMS)})")
    if key == CUSTOM:
        if not expr:
            raise ValueError("The custom problem needs an expression, e.g. --expr 'x**2 + y**2'")
        from gdstudio.engine.problems.expression import ExpressionProblem  # sympy loads only when needed

        return ExpressionProblem(expr)
    if expr:
        raise ValueError(f"An expression is only for the custom problem, not {key!r}")
    if key in _ANALYTIC:
        if data_x is not None or data_y is not None or dataset:
            raise ValueError(f"Problem {key!r} is analytic and takes no data")
        return _ANALYTIC[key]
    cls: Callable[..., DataProblem] = _DATA_CLASSES[key]
    if (data_x is None) != (data_y is None):
        raise ValueError("User data needs both x and y values")
    if data_x is not None:
        if dataset:
            raise ValueError("Give either a named dataset or user data, not both")
        return cls(data_x, data_y, dataset="custom")
    if dataset:
        named = DATASETS.get(key, {})
        if dataset not in named:
            known = ", ".join(named) or "none"
            raise ValueError(f"Unknown dataset for {key}: {dataset!r} (known: {known})")
        x, y = named[dataset]
        return cls(x, y, dataset=dataset)
    return cls()
