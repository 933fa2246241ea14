"""Qt test setup for tests/ui: process-wide Qt options before pytest-qt creates the QApplication.

Runs under pytest-xvfb (1920x1080x24, see pyproject) with the real xcb platform: OpenGL needs
it (``QT_QPA_PLATFORM=offscreen`` cannot draw GL widgets), so this file never sets offscreen.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from gdstudio.ui.qt_setup import configure_qt

# Import time = before pytest-qt's qapp fixture makes the QApplication.
configure_qt()

VIEW_SIZE = (800, 600)


@pytest.fixture
def himmelblau():
    from gdstudio.engine.problems import make_problem

    return make_problem("himmelblau")


@pytest.fixture
def show(qtbot):
    """Show a widget at VIEW_SIZE and wait until it is exposed."""

    def _show(widget, size: tuple[int, int] = VIEW_SIZE):
        qtbot.addWidget(widget)
        widget.resize(*size)
        widget.show()
        qtbot.waitExposed(widget)
        qtbot.wait(10)
        return widget

    return _show


@pytest.fixture
def contour_view(show):
    from gdstudio.ui.views import ContourView

    return show(ContourView())


@pytest.fixture
def surface_view(show):
    from gdstudio.ui.views import SurfaceView

    return show(SurfaceView())


@pytest.fixture
def history_view(show):
    from gdstudio.ui.views import HistoryView

    return show(HistoryView())


@pytest.fixture
def run_trajectory():
    """``run_trajectory(problem, optimizer, start, steps, key=..., **hp)``: a real engine run as a TrajectoryView."""
    from gdstudio.engine.runs import Run, RunConfig
    from gdstudio.ui.colormaps import run_color
    from gdstudio.ui.views import TrajectoryView

    def _make(problem, optimizer: str, start, steps: int, key=0, color: str | None = None, **hp):
        run = Run(problem, RunConfig(optimizer, tuple(start), hp)).run(steps)
        return TrajectoryView.from_history(key, run.history, status=str(run.status),
                                           color=color or run_color(int(key) if isinstance(key, int) else 0))

    return _make


def _image_array(image) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes()).reshape(img.height(),
                                                                                          img.bytesPerLine())
    return arr[:, : img.width() * 4].reshape(img.height(), img.width(), 4).copy()


@pytest.fixture
def image_array():
    """``image_array(qimage)``: an (H, W, 4) uint8 RGBA copy."""
    return _image_array


def _load_window_fixtures():
    """window_fixtures.py as the module ``gdstudio_window_fixtures`` (tests import it by that name:
    with --import-mode=importlib test folders are not packages)."""
    name = "gdstudio_window_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("window_fixtures.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_wf = _load_window_fixtures()
# The main-window fixtures, for every test in tests/ui.
studio = _wf.studio
studio_settings = _wf.studio_settings
_module_window = _wf._module_window
shared_studio = _wf.shared_studio
