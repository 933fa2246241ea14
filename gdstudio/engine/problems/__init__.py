"""Problems: loss surfaces with exact gradients, view bounds, starts and known minima."""

from gdstudio.engine.problems.analytic import ANALYTIC, AnalyticProblem
from gdstudio.engine.problems.base import Bounds, Problem, Surface
from gdstudio.engine.problems.data import DATASETS, DataProblem
from gdstudio.engine.problems.registry import CUSTOM, PROBLEMS, ProblemInfo, make_problem, problem_names

__all__ = [
    "ANALYTIC",
    "CUSTOM",
    "DATASETS",
    "PROBLEMS",
    "AnalyticProblem",
    "Bounds",
    "DataProblem",
    "Problem",
    "ProblemInfo",
    "Surface",
    "make_problem",
    "problem_names",
]
