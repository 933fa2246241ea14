"""A raster pane that shows an offscreen OpenGL view, so the main window never composites with GL.

Why: a ``QOpenGLWidget`` inside a window switches that whole window to OpenGL composition —
every repaint of any widget (a table cell, a history curve) uploads the window's backing store
as a texture and redraws and swaps the full window. On a software renderer (Mesa llvmpipe
under Xvfb) that costs ~100 ms per frame at 1920×1080, measured with bench/window.py: the
window played 2 runs at 5.6 steps/s with the 3-D view and at 55.6 without it.

:class:`MirrorPane` keeps the GL view out of the window: the view is a top-level widget that is
"shown" but never mapped (``WA_DontShowOnScreen``, as the offscreen export renderer does), sized
like the pane. When the view asks to be repainted (an ``UpdateRequest`` reaches it), the pane
grabs it (``QWidget.grab``: render to its framebuffer + read back, 10–25 ms at 700×550 on
llvmpipe here, a few ms on a GPU). While changes keep coming it grabs at most ``max_fps`` times
a second and, whatever the renderer, so that grabbing takes at most ``share`` of the UI thread
(the wait after a grab is at least its measured duration / ``share``: 20 ms grabs at the default
20 % share give 10 redraws a second and leave the contour, curves and table their full rate).
It always grabs once more after the last change, so a paused or scrubbed view shows exactly the
step shown. A view that coalesces its frames (a :class:`~gdstudio.ui.views.protocol.DeferredFrames`, the
3-D view) applies them only
when the pane grabs, so it does not render frames nobody sees (each an OpenGL render as costly
as a grab; with its own redraw timer it rendered ~4 frames per grab). Mouse and wheel events on
the pane are forwarded to the view (orbit, zoom). While the pane is hidden nothing is grabbed.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from gdstudio.ui.views.protocol import DeferredFrames

__all__ = ["MirrorPane"]


class MirrorPane(QWidget):
    """Shows ``view`` (kept offscreen) in the window; forwards the mouse to ``input_widget``."""

    def __init__(self, view: QWidget, input_widget: QWidget | None = None, *, max_fps: float = 30.0,
                 share: float = 0.2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.input_widget = input_widget if input_widget is not None else view
        self.max_fps = float(max_fps)
        self.share = float(share)
        self.grab_s = 0.0  # running average of a grab's duration
        self.grabs = 0  # how many times the view was grabbed (tests, diagnostics)
        self._pixmap: QPixmap | None = None
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        view.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)
        view.resize(max(1, self.width()), max(1, self.height()))
        view.show()
        if isinstance(view, DeferredFrames):  # a view that coalesces its frames: we apply them when grabbing
            view.on_pending = self.request
        self._watched: list[QObject] = [view, *view.findChildren(QWidget)]
        for w in self._watched:
            w.installEventFilter(self)

    # ------------------------------------------------------------------ refreshing
    @property
    def pending(self) -> bool:
        """A grab is scheduled (the pane does not yet show the view's newest state)."""
        return self._timer.isActive()

    def request(self) -> None:
        """The view changed: grab it soon (now, if the last grab is older than 1 / max_fps)."""
        if not self.isVisible() or self._timer.isActive():
            return
        interval = max(1.0 / self.max_fps, self.grab_s / self.share)
        wait = self._last + interval - time.perf_counter()
        self._timer.start(max(0, int(wait * 1000)))

    def refresh(self) -> None:
        """Grab the view now (the view's own pending redraw included)."""
        self._timer.stop()
        if not self.isVisible():
            return
        if isinstance(self.view, DeferredFrames):
            self.view.flush()
        start = time.perf_counter()
        self._pixmap = self.view.grab()
        self._last = time.perf_counter()
        took = self._last - start
        self.grab_s = took if not self.grabs else 0.8 * self.grab_s + 0.2 * took
        self.grabs += 1
        self.update()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.UpdateRequest, QEvent.Type.UpdateLater, QEvent.Type.LayoutRequest):
            self.request()
        elif event.type() == QEvent.Type.ChildAdded:
            child = event.child()  # type: ignore[attr-defined]
            if isinstance(child, QWidget) and child not in self._watched:
                self._watched.append(child)
                child.installEventFilter(self)
        return False

    # ------------------------------------------------------------------ Qt events
    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        if self._pixmap is None or self._pixmap.isNull():
            painter.fillRect(self.rect(), self.palette().window())
        else:
            painter.drawPixmap(0, 0, self._pixmap)
            if self._pixmap.width() < self.width() or self._pixmap.height() < self.height():
                # Resized since the last grab: the new grab is scheduled; fill the rest meanwhile.
                painter.fillRect(self._pixmap.width(), 0, self.width(), self.height(), self.palette().window())
                painter.fillRect(0, self._pixmap.height(), self.width(), self.height(), self.palette().window())
        painter.end()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.view.resize(self.size())
        self._last = 0.0
        self.request()

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        self.view.resize(self.size())
        self._last = 0.0
        self.request()

    def _forward_mouse(self, event: QMouseEvent) -> None:
        target = self.input_widget
        local = QPointF(target.mapFrom(self.view, event.position().toPoint())) if target is not self.view \
            else event.position()
        copy = QMouseEvent(event.type(), local, event.globalPosition(), event.button(), event.buttons(),
                           event.modifiers())
        QApplication.sendEvent(target, copy)
        event.setAccepted(copy.isAccepted())
        self.request()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._forward_mouse(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() != Qt.MouseButton.NoButton:
            self._forward_mouse(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._forward_mouse(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._forward_mouse(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        target = self.input_widget
        copy = QWheelEvent(event.position(), event.globalPosition(), event.pixelDelta(), event.angleDelta(),
                           event.buttons(), event.modifiers(), event.phase(), event.inverted())
        QApplication.sendEvent(target, copy)
        event.accept()
        self.request()

    def close_view(self) -> None:
        """Stop grabbing and close the offscreen view (the window is closing)."""
        self._timer.stop()
        for w in self._watched:
            w.removeEventFilter(self)
        self._watched.clear()
        if isinstance(self.view, DeferredFrames):
            self.view.on_pending = None
        self.view.close()
