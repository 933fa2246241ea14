"""The studio's three views, each a self-contained QWidget driven by plain method calls.

``set_surface(surface, bounds, minima, log_scale)`` when the problem changes,
``set_trajectories([TrajectoryView, ...])`` when runs change or grow, ``set_position(step)``
every tick. None of them imports the session model.
"""

from gdstudio.ui.views.contour import OVERLAY_COLORS, ContourView
from gdstudio.ui.views.history import HistoryView
from gdstudio.ui.views.surface import SurfaceView
from gdstudio.ui.views.types import HeightScale, TrajectoryView

__all__ = ["OVERLAY_COLORS", "ContourView", "HeightScale", "HistoryView", "SurfaceView", "TrajectoryView"]
