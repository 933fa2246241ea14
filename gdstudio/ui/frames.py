"""Frame sources for export: a session's views rendered offscreen at an exact size, as RGB arrays.

:class:`FrameRenderer` owns its own :class:`ContourView` / :class:`SurfaceView`, sized exactly to
the frame and never shown on screen (``WA_DontShowOnScreen``: the widgets are "visible" to Qt,
so layouts run and the GL view gets a context and a framebuffer under X / Xvfb, but no window
appears). They are fed by a :class:`~gdstudio.ui.bridge.ViewBridge` — the same code that feeds
the window — which is closed as soon as the surface is applied, so the export is a snapshot
that later changes to the session (or resizing the window) cannot affect. A frame is
``set_frame(trajectories, step)`` on each view, then ``QWidget.render`` of every view into one
reused ``QImage`` (side by side for ``"both"``), with an optional caption strip on top.
``"multiples"`` draws one contour per visible run in a grid (a
:class:`~gdstudio.ui.views.multiples.SmallMultiplesView`, raster-painted like the contour view).
``"window"`` grabs the live window instead (seeking the session to each step) and scales it
into the frame, keeping its aspect ratio.

The Qt-free rest of the pipeline (:func:`~gdstudio.export.frames.export_frames`, the threaded
writer, progress, the size limits) is :mod:`gdstudio.export.frames`; its names are re-exported
here for the callers that import them with the renderer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QEventLoop, QPoint, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication, QGraphicsItem, QWidget

from gdstudio.export.frames import (
    MAX_SIZE,
    MIN_SIZE,
    Progress,
    ThreadedWriter,
    check_size,
    export_frames,
    format_seconds,
)
from gdstudio.export.schedule import Caption, caption
from gdstudio.export.writers import ExportError
from gdstudio.ui.qimage import image_to_rgb, qimage_array

__all__ = [
    "GL_VIEWS",
    "MAX_SIZE",
    "MIN_SIZE",
    "VIEWS",
    "FrameRenderer",
    "Progress",
    "ThreadedWriter",
    "check_size",
    "export_frames",
    "format_seconds",
    "image_to_rgb",
]

#: What a frame can show: the contour view, the 3-D view, both side by side, the whole window, or
#: one contour per run (small multiples, :class:`~gdstudio.ui.views.multiples.SmallMultiplesView`).
VIEWS = ("contour", "surface", "both", "window", "multiples")
#: Views that need OpenGL (an X display: QT_QPA_PLATFORM=offscreen cannot draw them).
GL_VIEWS = frozenset({"surface", "both"})
_SURFACE_TIMEOUT_S = 120.0


class FrameRenderer:
    """Renders a session's views at ``size`` = (width, height); :meth:`frame` returns RGB arrays.

    ``view``: one of :data:`VIEWS`. ``caption``: a strip on top with the problem, the step, and
    each visible run's optimizer and loss (like the articles' "Epoch: i, Error: …" title).
    ``window``: the main window (needed for ``"window"``). ``like_contour`` / ``like_surface``:
    live views whose zoom / camera the frames copy (default: the whole problem, default camera).
    Raises ValueError for bad arguments and ExportError when the surface cannot be drawn.
    Call :meth:`close` when done (it deletes the offscreen views).
    """

    def __init__(self, session: Any, view: str = "contour", size: Sequence[int] = (1280, 720), *,
                 caption: bool = False, window: QWidget | None = None, like_contour: Any = None,
                 like_surface: Any = None, last_step: int | None = None) -> None:
        if view not in VIEWS:
            raise ValueError(f"Invalid view value: {view!r} (must be one of {', '.join(VIEWS)})")
        if view == "window" and window is None:
            raise ValueError("The 'window' view needs the main window")
        self.session, self.view, self.window = session, view, window
        self.width, self.height = check_size(size)
        self.last_step = last_step
        self.contour: Any = None
        self.surface: Any = None
        self._closed = False
        self._start_position = session.position
        self._problem_title = session.problem.title
        import pyqtgraph as pg

        self._background = QColor(pg.mkColor(pg.getConfigOption("background")))
        self._foreground = QColor(pg.mkColor(pg.getConfigOption("foreground")))
        self._image = QImage(self.width, self.height, QImage.Format.Format_RGB32)
        self._image.fill(self._background)
        self._caption_on = bool(caption)
        self._caption_h = self._layout_caption() if caption else 0
        if self.height - self._caption_h < MIN_SIZE // 2:
            raise ValueError(f"Invalid size value: {self.width}×{self.height} (too small for the caption)")
        self.area = QRect(0, self._caption_h, self.width, self.height - self._caption_h)
        self._parts: list[tuple[Any, QPoint]] = []  # (a view widget with set_frame, its offset)
        if view != "window":
            try:
                self._build_views(like_contour, like_surface)
            except BaseException:
                self.close()
                raise
        from gdstudio.ui.bridge import trajectories

        self._trajs = trajectories(session)

    # ------------------------------------------------------------------ setup
    def _build_views(self, like_contour: Any, like_surface: Any) -> None:
        from gdstudio.ui.bridge import ViewBridge
        from gdstudio.ui.views import ContourView, SurfaceView

        a = self.area
        if self.view == "both":
            left = a.width() // 2
            rects = [QRect(a.x(), a.y(), left, a.height()), QRect(a.x() + left, a.y(), a.width() - left, a.height())]
        else:
            rects = [QRect(a)]
        if self.view in ("contour", "both"):
            # Raster painting: exact, and 10x faster than OpenGL painting on a software renderer.
            self.contour = ContourView(use_opengl=False)
        elif self.view == "multiples":
            from gdstudio.ui.views.multiples import SmallMultiplesView

            self.contour = SmallMultiplesView(use_opengl=False)  # the panes are made by its first set_frame
        if self.view in ("surface", "both"):
            self.surface = SurfaceView()
        widgets = [w for w in (self.contour, self.surface) if w is not None]
        for widget, rect in zip(widgets, rects, strict=True):
            widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            widget.resize(rect.width(), rect.height())
            self._parts.append((widget, rect.topLeft()))
        # The surface first, then show: like the window, whose views get their surface before
        # they are first painted (pyqtgraph's axes keep the widest tick labels they ever drew).
        bridge = ViewBridge(self.session, self.contour, self.surface, None)
        try:
            self._wait_for_surface(bridge)
        finally:
            bridge.close()
            bridge.deleteLater()
        # The heat map is static during an export: blit a device-resolution pixmap instead of
        # rescaling the 256² image every frame (same pixels).
        for pane in self._contour_panes():
            pane.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        decorate = getattr(like_contour, "decorate_export", None)
        if decorate is not None and self.view in ("contour", "both"):
            decorate(self.contour)  # what the window's contour shows beyond the runs (a basin map)
        like_box = getattr(like_contour, "view_box", None)
        target_box = getattr(self.contour, "view_box", None)  # small multiples: the first pane's (linked)
        if like_box is not None and target_box is not None:
            (x0, x1), (y0, y1) = like_box.viewRange()
            target_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
        if like_surface is not None and self.surface is not None:
            src, dst = like_surface.gl_view, self.surface.gl_view
            for key in ("center", "distance", "elevation", "azimuth", "fov"):
                if key in src.opts:
                    dst.opts[key] = src.opts[key]
        for widget in widgets:
            widget.show()  # "shown" for Qt (layouts, a GL context), but no window on screen
        for _ in range(2):  # layouts and resizes of the offscreen widgets
            QApplication.sendPostedEvents()
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def _contour_panes(self) -> list[Any]:
        """The ContourViews drawn: the contour view, or every pane of the small multiples."""
        if self.contour is None:
            return []
        panes = getattr(self.contour, "panes", None)
        return list(panes.values()) if panes is not None else [self.contour]

    def _wait_for_surface(self, bridge: Any) -> None:
        """The bridge computes big surfaces on a worker thread: wait for it (or its error)."""
        errors: list[str] = []
        if bridge.busy:
            loop = QEventLoop()
            bridge.surfaceApplied.connect(loop.quit)

            def on_message(text: str) -> None:
                if text.startswith("Cannot"):
                    errors.append(text)
                    loop.quit()

            bridge.message.connect(on_message)
            QTimer.singleShot(int(_SURFACE_TIMEOUT_S * 1000), loop.quit)
            loop.exec()
        if errors:
            raise ExportError(errors[0])
        if bridge.last_surface is None:
            try:
                self.session.surface()
            except ValueError as exc:
                raise ExportError(f"Cannot draw the surface: {exc}") from None
            raise ExportError("Cannot draw the surface (timed out)")

    # ------------------------------------------------------------------ caption
    def _layout_caption(self) -> int:
        """Fonts and the fixed layout of the caption strip; returns its height in pixels.

        A bold title line (problem, step), then the runs in equal columns sized for the widest
        label and the widest possible value, so the strip keeps one layout for the whole video.
        With more than three runs their font is smaller (a race of eleven fits in three rows).
        """
        px = max(11, round(self.height * 0.026))
        entries = [e for e in self.session.runs if e.visible and e.run is not None]
        run_px = px if len(entries) <= 3 else max(10, round(px * 0.8))
        self._title_font = QFont()
        self._title_font.setPixelSize(px)
        self._title_font.setBold(True)
        self._font = QFont()
        self._font.setPixelSize(run_px)
        self._title_h = QFontMetrics(self._title_font).height() + max(2, px // 5)
        fm = QFontMetrics(self._font)
        self._line_h = fm.height() + max(2, run_px // 4)
        self._pad = max(4, px // 2)
        self._swatch = round(run_px * 1.6)
        widest_value = max(fm.horizontalAdvance(t) for t in ("loss -8.888e-88", "diverged at step 88888"))
        self._label_w = max((fm.horizontalAdvance(f"{e.label}: ") for e in entries), default=0)
        self._col_w = self._swatch + self._label_w + widest_value + run_px
        usable = self.width - 2 * self._pad
        self._cols = max(1, min(len(entries), usable // max(1, self._col_w))) if entries else 1
        rows = -(-len(entries) // self._cols) if entries else 0
        return 2 * self._pad + self._title_h + self._line_h * rows

    def caption_at(self, step: int) -> Caption:
        return caption(self._problem_title, self.session.runs, step, self.last_step)

    def _paint_caption(self, painter: QPainter, step: int) -> None:
        cap = self.caption_at(step)
        painter.fillRect(QRect(0, 0, self.width, self._caption_h), self._background)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        x0, y = self._pad, self._pad
        painter.setPen(self._foreground)
        painter.setFont(self._title_font)
        painter.drawText(QRect(x0, y, self.width - 2 * x0, self._title_h), Qt.AlignmentFlag.AlignVCenter, cap.title)
        painter.setFont(self._font)
        # swatches: the run's colour with a rim in the text colour (white runs on a light theme)
        rim = QColor(self._foreground)
        rim.setAlpha(160)
        width = max(2.0, self._swatch / 8)
        d = self._swatch / 3
        for i, r in enumerate(cap.runs):
            row, col = divmod(i, self._cols)
            x = x0 + col * self._col_w
            top = y + self._title_h + self._line_h * row
            mid = top + self._line_h / 2
            color = QColor(r.color)
            painter.setPen(QPen(rim, width + 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
            painter.drawLine(QPoint(int(x), int(mid)), QPoint(int(x + self._swatch * 0.8), int(mid)))
            painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
            painter.drawLine(QPoint(int(x) + 1, int(mid)), QPoint(int(x + self._swatch * 0.8) - 1, int(mid)))
            painter.setBrush(color)
            painter.setPen(QPen(QColor("#101010"), 1.0))
            painter.drawEllipse(QRectF(x + self._swatch * 0.4 - d / 2, mid - d / 2, d, d))
            painter.setPen(self._foreground)
            tx = int(x + self._swatch)
            painter.drawText(QRect(tx, top, self._label_w, self._line_h), Qt.AlignmentFlag.AlignVCenter, f"{r.label}:")
            painter.drawText(QRect(tx + self._label_w, top, self._col_w, self._line_h), Qt.AlignmentFlag.AlignVCenter,
                             r.value)

    # ------------------------------------------------------------------ frames
    def render(self, step: int) -> QImage:
        """Paint the frame of ``step`` into the internal QImage (reused: valid until the next call)."""
        if self._closed:
            raise ExportError("The frame renderer is closed")
        step = max(0, int(step))
        painter = QPainter(self._image)
        try:
            if self._caption_on:
                self._paint_caption(painter, step)
            if self.view == "window":
                self._paint_window(painter, step)
            else:
                for widget, _ in self._parts:
                    widget.set_frame(self._trajs, step)
                for widget, offset in self._parts:
                    widget.render(painter, offset)
        finally:
            painter.end()
        return self._image

    def frame(self, step: int, out: np.ndarray | None = None) -> np.ndarray:
        """The frame of ``step`` as an (H, W, 3) uint8 RGB array: ``out`` if given (reused, no
        allocation), else a new array."""
        img = self.render(step)
        bgra = qimage_array(img, QImage.Format.Format_RGB32, copy=False)  # a view of the image's buffer
        h, w = bgra.shape[:2]
        if out is None or out.shape != (h, w, 3) or out.dtype != np.uint8:
            out = np.empty((h, w, 3), np.uint8)
        out[..., 0] = bgra[..., 2]  # RGB32 is B, G, R, 0xff in memory (little-endian)
        out[..., 1] = bgra[..., 1]
        out[..., 2] = bgra[..., 0]
        return out

    def _paint_window(self, painter: QPainter, step: int) -> None:
        s, w = self.session, self.window
        assert w is not None
        s.seek(step)
        bridge = getattr(w, "bridge", None)
        if bridge is not None and hasattr(bridge, "flush"):
            bridge.flush()
        surface_view = getattr(w, "surface_view", None)
        if surface_view is not None and hasattr(surface_view, "flush"):
            surface_view.flush()  # the 3-D view coalesces its redraws: apply the step now
        QApplication.sendPostedEvents()
        pixmap = w.grab()
        a = self.area
        painter.fillRect(a, self._background)
        if pixmap.isNull() or pixmap.width() == 0:
            return
        scale = min(a.width() / pixmap.width(), a.height() / pixmap.height())
        tw, th = pixmap.width() * scale, pixmap.height() * scale
        target = QRectF(a.x() + (a.width() - tw) / 2, a.y() + (a.height() - th) / 2, tw, th)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))

    def close(self) -> None:
        """Delete the offscreen views; the window source seeks back to where it was."""
        if self._closed:
            return
        self._closed = True
        if self.view == "window":
            with contextlib.suppress(ValueError, RuntimeError):
                self.session.seek(self._start_position)
        for widget in (self.contour, self.surface):
            if widget is not None:
                with contextlib.suppress(RuntimeError):
                    widget.hide()
                    widget.deleteLater()
        self.contour = self.surface = None
        self._parts = []
        # A finished export's job (kept by the window's export controller) holds this renderer:
        # dropping the window here keeps window → controller → job → renderer → window from being a
        # cycle that only the garbage collector frees.
        self.window = None

    def __enter__(self) -> FrameRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
