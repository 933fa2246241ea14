"""Process-wide Qt / pyqtgraph setup, and detection of a software OpenGL renderer.

Call :func:`configure_qt` once, before the QApplication exists:

* ``Qt.AA_ShareOpenGLContexts``: pyqtgraph caches compiled shader programs per process, so every
  GL widget must share one context group (otherwise a second GLViewWidget draws nothing,
  GL error 1281 in glUseProgram);
* ``imageAxisOrder='row-major'`` so ``z[i, j]`` (y down the rows) is drawn unflipped;
* antialiasing on.

:func:`is_software_gl` answers whether OpenGL is rendered by the CPU (Mesa llvmpipe/softpipe,
or no GL at all): the contour view then draws with QPainter (1 ms per frame) instead of
``useOpenGL=True`` (11 ms per frame on llvmpipe).
"""

from __future__ import annotations

import logging

__all__ = ["configure_qt", "gl_renderer", "is_software_gl"]

_log = logging.getLogger(__name__)
_configured = False
_renderer: str | None = None

#: Substrings of GL_RENDERER that mean the CPU renders.
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software", "lavapipe")


def configure_qt() -> None:
    """Set the application attributes and pyqtgraph options (idempotent).

    Must run before ``QApplication(...)``; if an application already exists without context
    sharing, a warning is logged (the second GL widget of the process may then stay blank).
    """
    global _configured
    if _configured:
        return
    from PySide6.QtCore import QCoreApplication, Qt

    share = Qt.ApplicationAttribute.AA_ShareOpenGLContexts
    if QCoreApplication.instance() is None:
        QCoreApplication.setAttribute(share, True)
    elif not QCoreApplication.testAttribute(share):
        _log.warning("configure_qt() called after the QApplication was created: GL contexts are not shared")

    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    _configured = True


def gl_renderer() -> str:
    """The GL_RENDERER string of the default OpenGL context, or "" when none can be made.

    Needs a QGuiApplication; the answer is cached for the process.
    """
    global _renderer
    if _renderer is not None:
        return _renderer
    from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

    if QGuiApplication.instance() is None:
        raise RuntimeError("gl_renderer() needs a QGuiApplication")
    name = ""
    surface = QOffscreenSurface()
    surface.create()
    context = QOpenGLContext()
    try:
        if context.create() and context.makeCurrent(surface):
            from OpenGL import GL

            raw = GL.glGetString(GL.GL_RENDERER)
            name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
            context.doneCurrent()
    except Exception as exc:  # any GL failure means: no usable hardware GL
        _log.info("no OpenGL context: %s", exc)
        name = ""
    finally:
        surface.destroy()
    _renderer = name
    return name


def is_software_gl() -> bool:
    """True when OpenGL is rendered on the CPU (llvmpipe, softpipe, ...) or is unavailable."""
    name = gl_renderer().lower()
    return not name or any(s in name for s in SOFTWARE_RENDERERS)
