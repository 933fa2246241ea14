"""Start the studio window: ``gdstudio`` / ``python main.py`` call :func:`run_app`.

Order matters: :func:`~gdstudio.ui.qt_setup.configure_qt` (shared GL contexts, pyqtgraph
options) before the QApplication exists; then the colour scheme (light / dark, from the system
via Qt 6.5+'s ``styleHints().colorScheme()``) is applied to pyqtgraph; then the window opens on a
session file, a preset, the last session, or the lively default (Himmelblau, Adam vs Momentum).
Without a display the function prints one line and returns 2.
"""

from __future__ import annotations

import os
import sys

__all__ = ["apply_color_scheme", "is_dark", "run_app"]


def is_dark(app: object) -> bool:
    """True when the system (or the palette) asks for a dark theme."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPalette

    try:
        scheme = app.styleHints().colorScheme()  # type: ignore[attr-defined]
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
    except AttributeError:  # Qt < 6.5
        pass
    window = app.palette().color(QPalette.ColorRole.Window)  # type: ignore[attr-defined]
    return window.lightness() < 128


def apply_color_scheme(app: object) -> bool:
    """Match pyqtgraph's plot background to the theme; returns whether it is dark."""
    import pyqtgraph as pg

    dark = is_dark(app)
    pg.setConfigOptions(background="#1e1e1e" if dark else "#f7f7f7", foreground="#d0d0d0" if dark else "#303030")
    return dark


def _display_problem() -> str | None:
    """A reason the window cannot open (no display), or None."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "wayland", "cocoa", "windows")):
        return None
    if not sys.platform.startswith("linux") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "no display: set DISPLAY (or run under xvfb-run) to open the gdstudio window"
    if not _x_display_ok():
        return f"cannot connect to the X display {display!r} (is the X server running?)"
    return None


def _x_display_ok() -> bool:
    """Whether an X connection opens (Qt aborts the process when it cannot: check first)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("xcb")
    if not name:
        return True  # cannot check: let Qt try
    try:
        lib = ctypes.CDLL(name)
        lib.xcb_connect.restype = ctypes.c_void_p
        lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = lib.xcb_connect(None, None)
        error = lib.xcb_connection_has_error(conn)
        lib.xcb_disconnect(conn)
        return error == 0
    except (OSError, AttributeError):
        return True


def run_app(session: str | None = None, preset: str | None = None) -> int:
    """Open the window and run the event loop; returns the exit status."""
    reason = _display_problem()
    if reason:
        print(f"gdstudio: {reason}", file=sys.stderr)
        return 2
    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        try:
            app = QApplication([sys.argv[0] if sys.argv else "gdstudio"])
        except Exception as exc:  # pragma: no cover - depends on the platform plugin
            print(f"gdstudio: cannot open a window: {exc}", file=sys.stderr)
            return 2
    app.setApplicationName("gdstudio")
    app.setOrganizationName("gdstudio")
    if isinstance(app, QApplication):  # (a QCoreApplication made elsewhere has no display name)
        app.setApplicationDisplayName("gdstudio")
    apply_color_scheme(app)

    from gdstudio.ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.start(session_path=session, preset=preset)
    return int(app.exec())
