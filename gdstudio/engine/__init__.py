"""The Qt-free NumPy core: optimizers, problems, mini-batch sampling, runs.

Nothing under ``gdstudio.engine`` imports PySide6, pyqtgraph or OpenGL (a test enforces it).
"""

from gdstudio.engine.hyperparams import HyperParam
from gdstudio.engine.optimizers import OPTIMIZERS, Optimizer, OptimizerSpec, get_spec, make_optimizer
from gdstudio.engine.problems import PROBLEMS, Problem, Surface, make_problem
from gdstudio.engine.runs import History, Run, RunConfig, Status

__all__ = [
    "OPTIMIZERS",
    "PROBLEMS",
    "History",
    "HyperParam",
    "Optimizer",
    "OptimizerSpec",
    "Problem",
    "Run",
    "RunConfig",
    "Status",
    "Surface",
    "get_spec",
    "make_optimizer",
    "make_problem",
]
