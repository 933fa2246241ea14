"""Fixtures for the main-window tests (loaded by test_window.py / test_panels.py).

Every window gets its own settings folder under ``tmp_path`` (an INI file and the last session)
and QSettings' user paths are redirected there too, so the real user configuration is never
read or written.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from gdstudio.ui.qt_setup import configure_qt

configure_qt()  # before pytest-qt creates the QApplication

from PySide6.QtCore import QPoint, QPointF, QSettings  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

WINDOW_SIZE = (1600, 1000)


def isolated_settings(folder: Path):
    """Settings in ``folder``; QSettings' own user / system paths are redirected there too."""
    from gdstudio.ui.settings import StudioSettings

    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder / "qsettings"))
        QSettings.setPath(QSettings.Format.NativeFormat, scope, str(folder / "qsettings"))
    return StudioSettings.in_folder(folder / "studio")


@pytest.fixture
def studio_settings(tmp_path: Path):
    return isolated_settings(tmp_path)


def make_window(qtbot, settings, preset: str | None = "himmelblau", start: bool = True, resize: bool = True):
    from gdstudio.ui.main_window import MainWindow

    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    if resize:
        w.resize(*WINDOW_SIZE)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()  # window-level shortcuts need the active window (no window manager here)
    qtbot.waitUntil(w.isActiveWindow, timeout=5_000)
    if start:
        w.start(preset=preset)
    settle(qtbot, w)
    return w


@pytest.fixture
def studio(qtbot, studio_settings) -> Iterator:
    """The main window on the default preset (Himmelblau, Adam vs Momentum), shown at 1600×1000."""
    w = make_window(qtbot, studio_settings)
    yield w
    w.close()


@pytest.fixture(scope="module")
def _module_window(qapp, tmp_path_factory):
    from PySide6.QtTest import QTest

    from gdstudio.ui.main_window import MainWindow

    w = MainWindow(settings=isolated_settings(tmp_path_factory.mktemp("shared")))
    w.resize(*WINDOW_SIZE)
    w.show()
    QTest.qWaitForWindowExposed(w)
    w.activateWindow()
    yield w
    w.close()
    w.deleteLater()


@pytest.fixture
def shared_studio(_module_window, qtbot):
    """One window per test module (cheaper than a window per test), reset to the default preset."""
    w = _module_window
    w.session.set_playing(False)
    for box in (w.info_box, w.message_box):
        if box is not None:
            box.close()
    for dock_id, dock in w.docks.items():
        dock.setVisible(dock_id != "fit")  # the model fit shows by itself for data problems
    w.load_preset("himmelblau")
    w.session.set_speed(1, 30)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5_000)
    settle(qtbot, w)
    return w


def settle(qtbot, w) -> None:
    """Process events until the views have every pending push and surface."""
    qtbot.waitUntil(lambda: not w.bridge.stale and not w.bridge.busy, timeout=10_000)
    qtbot.wait(1)


def scene_point(view, x: float, y: float) -> QPoint:
    """Widget (viewport) pixel of data point (x, y) in a ContourView."""
    scene = view.view_box.mapViewToScene(QPointF(x, y))
    return view.plot_widget.mapFromScene(scene)


def image_array(image: QImage) -> np.ndarray:
    """(H, W, 4) uint8 RGBA copy of a QImage (the one conversion, gdstudio.ui.qimage)."""
    from gdstudio.ui.qimage import qimage_array

    return qimage_array(image)


def widget_pixels(widget) -> np.ndarray:
    """What ``widget`` shows, as an (H, W, 4) array (GL widgets included: grabbed from the window)."""
    top = widget.window()
    pos = widget.mapTo(top, QPoint(0, 0))
    shot = top.grab().toImage()
    arr = image_array(shot)
    dpr = shot.devicePixelRatio()
    x0, y0 = int(pos.x() * dpr), int(pos.y() * dpr)
    return arr[y0 : y0 + int(widget.height() * dpr), x0 : x0 + int(widget.width() * dpr)]


def left_to_collector(types: tuple[type, ...], ours: Iterable[int] | None = None) -> list[str]:
    """Type names of the objects of ``types`` (with an id in ``ours``, if given) that sit in reference
    cycles now: only the garbage collector, on whatever thread it runs, would free them."""
    wanted = None if ours is None else set(ours)
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [type(o).__name__ for o in gc.garbage
                if isinstance(o, types) and (wanted is None or id(o) in wanted)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
