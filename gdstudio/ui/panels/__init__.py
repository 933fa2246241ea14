"""The studio's panels: problem, optimizer, runs, and the playback bar. They write to the
session (the model) and read it back on its signals; they never touch the views."""

from gdstudio.ui.panels.optimizer_panel import OptimizerPanel
from gdstudio.ui.panels.playback import PlaybackBar
from gdstudio.ui.panels.problem_panel import ProblemPanel
from gdstudio.ui.panels.runs_panel import RunsPanel

__all__ = ["OptimizerPanel", "PlaybackBar", "ProblemPanel", "RunsPanel"]
