"""What the bridge calls on a view: one typed interface (as ndv's ``ArrayView``), no duck typing.

:class:`View` is the structural interface the :class:`~gdstudio.ui.bridge.ViewBridge` drives:

* ``set_problem(problem)`` — a new problem was chosen (before its surface is computed);
* ``set_surface(surface, bounds, minima, log_scale, labels=, gradient_fn=)`` — its grid arrived;
* ``set_frame(trajectories, step)`` — the runs and the step shown, in one redraw;
* ``set_position(step)`` — only the step shown changed;
* ``set_options(options)`` — the overlays and axes the user switched (:class:`DisplayOptions`).

Every view implements all five; a view to which a call means nothing does nothing (the 3-D view
ignores the options, the fit view the surface), so the bridge never asks what a view can do.
The mixins below hold the code the views used to repeat:

* :class:`FrameMixin` — ``set_trajectories`` and ``set_position`` in terms of ``set_frame``;
* :class:`PickingView` — the QWidget base of views on which a click places a start (the
  contour, the small multiples): the bridge routes its four signals to the session;
* :class:`DeferredFrames` — a view that applies frames only when it is drawn (the 3-D view);
  a :class:`~gdstudio.ui.views.mirror.MirrorPane` hooks ``on_pending`` and calls ``flush``.

Qt classes cannot also derive from ``typing.Protocol`` or ``abc.ABC`` (metaclass conflict), so
conformance is checked by mypy where the bridge receives a view, and by tests/ui/test_view_protocol.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gdstudio.ui.colormaps import SURFACE_MAP
from gdstudio.ui.views.types import TrajectoryView

if TYPE_CHECKING:
    from gdstudio.engine.problems import Problem

__all__ = ["DeferredFrames", "DisplayOptions", "FrameMixin", "GradientFn", "PickingView", "View"]

#: ``gradient_fn(points (N, D)) -> (N, D)``.
GradientFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DisplayOptions:
    """The overlays (arrows at each run's head, the −∇f field), the loss axis, the surface's
    colour map (``gdstudio.ui.colormaps.COLORMAPS``) the views show, and whether they draw the
    optimizers' internals (``TrajectoryView.internals``: paths on the contour, curves in the history)."""

    gradient: bool = False
    velocity: bool = False
    effective_step: bool = False
    field: bool = False
    log_loss: bool = True
    colormap: str = SURFACE_MAP
    internals: bool = False

    @property
    def overlays(self) -> dict[str, bool]:
        """The keyword arguments of ``ContourView.set_overlays``."""
        return {"gradient": self.gradient, "velocity": self.velocity, "effective_step": self.effective_step,
                "field": self.field}

    @property
    def wants_preview(self) -> bool:
        """An arrow at the head needs each running run's next step (``Run.preview``)."""
        return self.gradient or self.velocity or self.effective_step


class View(Protocol):
    """The calls the bridge makes on every view it feeds."""

    def set_problem(self, problem: Problem) -> None:
        """A new problem (its surface follows with :meth:`set_surface` once computed)."""

    def set_surface(self, surface: Any, problem_bounds: Sequence[Sequence[float]], minima: np.ndarray | None = None,
                    log_scale: bool = False, *, labels: Sequence[str] | None = None,
                    gradient_fn: GradientFn | None = None) -> None:
        """The problem's grid (``gdstudio.engine.problems.Surface``), the range to show, the
        starred minima (M, D), log colouring, the parameter names and the gradient function."""

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        """The runs and the step to show them at (each run at min(step, its last index))."""

    def set_position(self, step: int) -> None:
        """Only the step shown changed."""

    def set_options(self, options: DisplayOptions) -> None:
        """The overlays and axes switched on."""


class FrameMixin:
    """``set_trajectories`` / ``set_position`` for a view whose ``set_frame`` draws everything:
    the view keeps the step in ``_step`` and redraws in ``_show_position``."""

    _step: int

    def set_frame(self, trajectories: Sequence[TrajectoryView], step: int) -> None:
        raise NotImplementedError

    def _show_position(self) -> None:
        raise NotImplementedError

    def set_trajectories(self, trajectories: Sequence[TrajectoryView]) -> None:
        """The runs to draw, at the step already shown."""
        self.set_frame(trajectories, self._step)

    def set_position(self, step: int) -> None:
        """Show every run up to min(step, its last index)."""
        self._step = max(0, int(step))
        self._show_position()


class PickingView(QWidget):
    """A view on which clicks place starts: the bridge turns these into session edits."""

    #: A click at (x, y): the selected run starts there.
    startClicked = Signal(float, float)
    #: A Shift-click at (x, y): a copy of the selected run starts there.
    startAdded = Signal(float, float)
    #: A start ring (run key) is being dragged to (x, y).
    startDragged = Signal(object, float, float)
    #: A start ring (run key) was dropped at (x, y).
    startDropped = Signal(object, float, float)


class DeferredFrames:
    """A view that applies its pending frame only when drawn (or :meth:`flush` is called).

    ``on_pending`` set (by a mirror pane): called instead of the view's own redraw timer each
    time a frame becomes pending; the pane calls :meth:`flush` when it grabs."""

    on_pending: Callable[[], None] | None = None

    def flush(self) -> None:
        """Apply the pending frame now."""
        raise NotImplementedError
