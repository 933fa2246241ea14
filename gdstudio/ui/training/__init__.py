"""The Training lab window: optimizers race to train an MLP on handwritten digits, with live curves.

- :mod:`gdstudio.ui.training.lab` — the window (setup, Start / Stop, export).
- :mod:`gdstudio.ui.training.curves` — the recorded numbers and the loss / accuracy plots.
- :mod:`gdstudio.ui.training.entries` — the list of optimizers with registry-driven editors.
- :mod:`gdstudio.ui.training.worker` — the worker thread (loading, download, training).
"""

from gdstudio.ui.training.lab import TrainingLab

__all__ = ["TrainingLab"]
