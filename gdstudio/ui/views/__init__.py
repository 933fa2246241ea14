"""The studio's views, each a self-contained QWidget driven by plain method calls.

Each implements :class:`~gdstudio.ui.views.protocol.View` (``set_problem``, ``set_surface``,
``set_frame``, ``set_position``, ``set_options``), the only calls the bridge makes. None of them
imports the session model.
"""

from gdstudio.ui.views.contour import OVERLAY_COLORS, ContourView
from gdstudio.ui.views.history import HistoryView
from gdstudio.ui.views.surface import SurfaceView
from gdstudio.ui.views.types import HeightScale, TrajectoryView

__all__ = ["OVERLAY_COLORS", "ContourView", "HeightScale", "HistoryView", "SurfaceView", "TrajectoryView"]
