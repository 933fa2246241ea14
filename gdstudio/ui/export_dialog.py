"""File → Export video / image / trajectories: the dialogs and the export job.

* :class:`VideoExportDialog` collects :class:`VideoSettings` (source view, resolution, fps,
  frames, step range, caption, output path); :func:`start_video_export` runs them as an
  :class:`ExportJob` behind a window-modal progress dialog with the time left and Cancel.
* :class:`ExportJob` drives :func:`gdstudio.ui.frames.export_frames` from a zero-interval
  QTimer: each pass of the event loop renders frames for about 40 ms (Qt painting must stay on
  the GUI thread; the encoder runs on a worker thread behind a bounded queue), so the window
  stays responsive and memory stays bounded.
* Writes are atomic (temporary file beside the target, renamed at the end): on Cancel or an
  error (folder not writable, disk full, encoder failure) nothing remains, and the window says
  what happened in a message box and the status bar — never a traceback.
* :class:`ImageDialog` exports one PNG of a view at a chosen size; :class:`TrajectoryDialog`
  exports the runs in the ``gdstudio trace`` format (CSV or JSON; one combined file, or one
  file per run next to the chosen name), all files or none.

Dialogs open with ``open()`` (window-modal, not blocking the caller). The export state is the
window's :class:`ExportController` (``window.exports``, made in ``MainWindow.__init__``): the last
dialog (``dialog``), the last job (``job``) and its progress dialog (``progress``). Each dialog
remembers the choices of its last OK (view, size, fps, frames, caption, format, folder…) in the
window's :class:`~gdstudio.ui.settings.StudioSettings` (``window.settings``), so they come back
at the next opening and the next launch; every remembered value is validated before use.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gdstudio.atomic import atomic_path
from gdstudio.export.frames import MAX_SIZE, MIN_SIZE, Progress, check_size, export_frames, format_seconds
from gdstudio.export.schedule import FRAME_MODES, frame_steps
from gdstudio.export.trace_format import trace_csv, trace_json, traces_csv, traces_json
from gdstudio.export.writers import ExportError, check_folder, output_kind, writer_for
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.frames import VIEWS, FrameRenderer

if TYPE_CHECKING:
    from gdstudio.model.session import Session
    from gdstudio.ui.settings import StudioSettings
    from gdstudio.ui.views.contour import ContourView
    from gdstudio.ui.views.surface import SurfaceView

__all__ = [
    "RESOLUTIONS",
    "ExportController",
    "ExportHost",
    "ExportJob",
    "ImageDialog",
    "ImageSettings",
    "TrajectoryDialog",
    "VideoExportDialog",
    "VideoSettings",
    "export_image",
    "trajectory_files",
    "write_files",
]

RESOLUTIONS: tuple[tuple[str, tuple[int, int] | None], ...] = (
    ("1280 × 720 (HD)", (1280, 720)),
    ("1920 × 1080 (Full HD)", (1920, 1080)),
    ("Custom", None),
)
VIEW_NAMES = {"contour": "Contour view", "surface": "3-D view", "both": "Both, side by side",
              "window": "The whole window", "multiples": "One contour per run (small multiples)"}
_ERROR_STYLE = "color: #E0301E;"


class ExportHost(Protocol):
    """What the export dialogs need of the window (a QWidget: the dialogs' parent)."""

    @property
    def session(self) -> Session: ...
    @property
    def settings(self) -> StudioSettings: ...
    @property
    def current_path(self) -> Path | None: ...
    @property
    def contour(self) -> ContourView: ...
    @property
    def surface_view(self) -> SurfaceView: ...

    def show_status(self, text: str) -> None: ...

    def show_error(self, title: str, text: str) -> Any: ...


def _widget(window: ExportHost) -> QWidget:
    assert isinstance(window, QWidget)
    return window


# ================================================================================ settings
@dataclass(frozen=True)
class VideoSettings:
    """What to export: ``frames`` None = every step of ``first … last``, else K spread evenly
    (``mode``, see :mod:`gdstudio.export.schedule`)."""

    path: Path
    view: str = "contour"
    size: tuple[int, int] = (1280, 720)
    fps: float = 30.0
    frames: int | None = None
    mode: str = "even"
    first: int = 0
    last: int = 0
    caption: bool = True

    def steps(self) -> list[int]:
        return frame_steps(self.last, self.frames, first=self.first, mode=self.mode)


@dataclass(frozen=True)
class ImageSettings:
    path: Path
    view: str = "contour"
    size: tuple[int, int] = (1920, 1080)
    caption: bool = False


# ================================================================================ widgets
class _SizeField(QWidget):
    """A resolution combo (HD, Full HD, custom) with width and height boxes."""

    def __init__(self, default: tuple[int, int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("resolution")
        for text, size in RESOLUTIONS:
            self.combo.addItem(text, size)
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, name in ((self.width_box, "width"), (self.height_box, "height")):
            box.setRange(MIN_SIZE, MAX_SIZE)
            box.setSuffix(" px")
            box.setObjectName(name)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.width_box)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height_box)
        self.combo.currentIndexChanged.connect(self._preset)
        self.set_size(default)

    def set_size(self, size: tuple[int, int]) -> None:
        index = next((i for i, (_t, s) in enumerate(RESOLUTIONS) if s == tuple(size)), len(RESOLUTIONS) - 1)
        self.width_box.setValue(size[0])
        self.height_box.setValue(size[1])
        self.combo.setCurrentIndex(index)
        self._preset()

    def _preset(self) -> None:
        size = self.combo.currentData()
        custom = size is None
        self.width_box.setEnabled(custom)
        self.height_box.setEnabled(custom)
        if size is not None:
            self.width_box.setValue(size[0])
            self.height_box.setValue(size[1])

    def size_value(self) -> tuple[int, int]:
        return self.width_box.value(), self.height_box.value()


def _items(combo: QComboBox) -> QStandardItemModel:
    """A combo box's items (a QComboBox's own model is a QStandardItemModel)."""
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    return model


def _view_combo(views: tuple[str, ...], window: ExportHost) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName("view")
    two_d = window.session.problem.dim == 2
    for v in views:
        combo.addItem(VIEW_NAMES[v], v)
        if v in ("surface", "both") and not two_d:
            item = _items(combo).item(combo.count() - 1)
            item.setEnabled(False)
            item.setToolTip("The 3-D view applies to two-parameter problems")
    return combo


class _PathField(QWidget):
    def __init__(self, default: str, caption: str, filters: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(default)
        self.edit.setObjectName("path")
        self.browse = QPushButton("Browse…")
        self._caption, self._filters = caption, filters
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        self.browse.clicked.connect(self._choose)

    def _choose(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, self._caption, self.edit.text(), self._filters)
        if path:
            if "folder" in chosen.lower():
                path = str(Path(path).with_suffix(""))
            self.edit.setText(path)

    def path(self) -> Path:
        return Path(os.path.expanduser(self.edit.text().strip()))


class _Dialog(QDialog):
    """OK validates through ``settings()`` (ValueError -> a red line in the dialog, it stays open),
    then :meth:`remember` saves the choices under ``memory_key`` and ``submitted`` is emitted."""

    submitted = Signal(object)
    #: Where the choices are remembered in the studio settings (None: they are not).
    memory_key: str | None = None

    def __init__(self, title: str, window: ExportHost) -> None:
        super().__init__(_widget(window))
        self._store = window.settings
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        # The choices describe this problem and its runs: a new problem or session (a file
        # opened by a script, a test resetting the window) closes the dialog.
        self._subs = Subscriptions()
        self._subs.connect(window.session.problem_changed, self._problem_changed)
        self.finished.connect(lambda _result: self._subs.disconnect_all())
        self.finished.connect(lambda _result: self.deleteLater())
        self.form = QFormLayout()
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _problem_changed(self) -> None:
        self.reject()

    def settings(self) -> Any:
        raise NotImplementedError

    def remembered(self) -> dict[str, Any]:
        """The choices saved at the last OK ({} without settings or a ``memory_key``)."""
        if self.memory_key is None:
            return {}
        return self._store.dialog_values(self.memory_key)

    def memory(self, settings: Any) -> dict[str, Any]:
        """The choices of ``settings`` to remember (JSON values)."""
        return {}

    def remember(self, settings: Any) -> None:
        if self.memory_key is not None:
            self._store.save_dialog_values(self.memory_key, self.memory(settings))

    def accept(self) -> None:
        try:
            settings = self.settings()
        except (ValueError, ExportError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.remember(settings)
        super().accept()
        self.submitted.emit(settings)


def _default_name(window: ExportHost, suffix: str, folder: object = None) -> str:
    """``<folder>/<problem name><suffix>``; the folder is ``folder`` when it names an existing
    directory (a remembered one), else the current file's folder, else the home folder."""
    if isinstance(folder, str) and folder and Path(folder).is_dir():
        base = Path(folder)
    else:
        base = window.current_path.parent if window.current_path is not None else Path.home()
    stem = (window.session.problem.name or "gdstudio").replace(" ", "_")
    return str(base / f"{stem}{suffix}")


#: The file name suffix of each video output kind (PNG frames go to a new folder).
_VIDEO_SUFFIX = {"mp4": ".mp4", "gif": ".gif", "png": "_frames"}


def _restore_view(combo: QComboBox, value: object) -> None:
    """Select the remembered view if it is offered and enabled for this problem."""
    index = combo.findData(value) if isinstance(value, str) else -1
    if index >= 0 and _items(combo).item(index).isEnabled():
        combo.setCurrentIndex(index)


def _restore_size(field: _SizeField, value: object) -> None:
    with contextlib.suppress(ValueError, TypeError):
        field.set_size(check_size(value))  # type: ignore[arg-type]


def _whole_in(value: object, lo: int, hi: int) -> int | None:
    """``value`` if it is an int in [lo, hi] (not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return value
    return None


def clip_duration(n_frames: int, fps: float) -> str:
    """The length of ``n_frames`` played at ``fps``: "6.7 s", "2 min 05 s"."""
    seconds = n_frames / fps
    if seconds < 60:
        return f"{seconds:.1f} s"
    return format_seconds(seconds)


# ================================================================================ video
class VideoExportDialog(_Dialog):
    """The choices of File → Export video; ``submitted(VideoSettings)`` on OK. ``duration`` shows
    the clip's length (frames / fps) as the choices change."""

    memory_key = "export_video"

    def __init__(self, window: ExportHost) -> None:
        super().__init__("Export video", window)
        self.setObjectName("export_video_dialog")
        self.window_ = window
        s = window.session
        computed = s.computed_steps
        self.view = _view_combo(VIEWS, window)
        self.size_field = _SizeField((1280, 720))
        self.fps = QSpinBox()
        self.fps.setObjectName("fps")
        self.fps.setRange(1, 120)
        self.fps.setValue(30)
        self.every = QRadioButton("every step")
        self.every.setObjectName("every_step")
        self.spread = QRadioButton("frames spread evenly:")
        self.spread.setObjectName("spread")
        self.every.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.every)
        group.addButton(self.spread)
        self.count = QSpinBox()
        self.count.setObjectName("frames")
        self.count.setRange(1, 100_000)
        self.count.setValue(min(200, computed + 1))
        self.mode = QComboBox()
        self.mode.setObjectName("mode")
        self.mode.addItem("ends on the last step: round(i·S/(K−1))", "even")
        self.mode.addItem("the articles' spacing: int(i·S/K)", "article")
        assert tuple(self.mode.itemData(i) for i in range(self.mode.count())) == FRAME_MODES
        frames_row = QWidget()
        fr = QHBoxLayout(frames_row)
        fr.setContentsMargins(0, 0, 0, 0)
        fr.addWidget(self.every)
        fr.addWidget(self.spread)
        fr.addWidget(self.count)
        fr.addWidget(self.mode, 1)
        self.first, self.last = QSpinBox(), QSpinBox()
        self.first.setObjectName("first_step")
        self.last.setObjectName("last_step")
        for box in (self.first, self.last):
            box.setRange(0, computed)
        self.last.setValue(computed)
        range_row = QWidget()
        rr = QHBoxLayout(range_row)
        rr.setContentsMargins(0, 0, 0, 0)
        rr.addWidget(QLabel("from"))
        rr.addWidget(self.first)
        rr.addWidget(QLabel("to"))
        rr.addWidget(self.last)
        rr.addWidget(QLabel(f"(computed: 0 to {computed})"), 1)
        self.caption = QCheckBox("problem, step and each run's loss on top of the frames")
        self.caption.setObjectName("caption")
        self.caption.setChecked(True)
        memory = self.remembered()
        remembered = memory.get("format")
        kind = remembered if isinstance(remembered, str) and remembered in _VIDEO_SUFFIX else "mp4"
        self.path_field = _PathField(_default_name(window, _VIDEO_SUFFIX[kind], memory.get("folder")), "Export video",
                                     "MP4 video (*.mp4);;GIF animation (*.gif);;PNG frames (a new folder) (*)")
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.duration = QLabel()
        self.duration.setObjectName("duration")
        f = self.form
        f.addRow("Source", self.view)
        f.addRow("Resolution", self.size_field)
        f.addRow("Frames per second", self.fps)
        f.addRow("Frames", frames_row)
        f.addRow("Steps", range_row)
        f.addRow("Caption", self.caption)
        f.addRow("Save to", self.path_field)
        f.addRow("Duration", self.duration)
        f.addRow("", self.summary)
        self._restore(memory)
        for signal in (self.view.currentIndexChanged, self.fps.valueChanged, self.count.valueChanged,
                       self.first.valueChanged, self.last.valueChanged, self.every.toggled,
                       self.mode.currentIndexChanged,
                       self.path_field.edit.textChanged, self.size_field.width_box.valueChanged,
                       self.size_field.height_box.valueChanged):
            signal.connect(self._update_summary)
        self._update_summary()

    def _restore(self, memory: dict[str, Any]) -> None:
        """The remembered choices (each checked; the step range is this session's, never restored)."""
        _restore_view(self.view, memory.get("view"))
        _restore_size(self.size_field, memory.get("size"))
        if (fps := _whole_in(memory.get("fps"), self.fps.minimum(), self.fps.maximum())) is not None:
            self.fps.setValue(fps)
        if (count := _whole_in(memory.get("frames"), self.count.minimum(), self.count.maximum())) is not None:
            self.count.setValue(count)
        if memory.get("mode") in FRAME_MODES:
            self.mode.setCurrentIndex(self.mode.findData(memory["mode"]))
        if isinstance(memory.get("every"), bool):
            (self.every if memory["every"] else self.spread).setChecked(True)
        if isinstance(memory.get("caption"), bool):
            self.caption.setChecked(memory["caption"])

    def memory(self, settings: VideoSettings) -> dict[str, Any]:
        return {"view": settings.view, "size": list(settings.size), "fps": int(settings.fps),
                "every": settings.frames is None, "frames": self.count.value(), "mode": settings.mode,
                "caption": settings.caption, "format": output_kind(settings.path),
                "folder": str(settings.path.absolute().parent)}

    def frame_count(self) -> int | None:
        """Frames the current choices give (None for a bad step range)."""
        frames = None if self.every.isChecked() else self.count.value()
        try:
            return len(frame_steps(self.last.value(), frames, first=self.first.value(),
                                   mode=str(self.mode.currentData())))
        except ValueError:
            return None

    def duration_text(self) -> str:
        """"6.7 s: 200 frames at 30 fps, 1 step per frame" (steps per frame over the range)."""
        n = self.frame_count()
        if n is None:
            return "—"
        fps = self.fps.value()
        span = self.last.value() - self.first.value()
        gaps = n if self.mode.currentData() == "article" else max(1, n - 1)  # frames K spread over the span
        per = 1.0 if self.every.isChecked() else span / gaps
        per_text = f"{per:.0f}" if per == int(per) else f"≈{per:.2g}"
        unit = "step" if per == 1 else "steps"
        return f"{clip_duration(n, fps)}: {n} frame{'s' if n != 1 else ''} at {fps} fps, {per_text} {unit} per frame"

    def settings(self) -> VideoSettings:
        path = self.path_field.path()
        if not str(path) or str(path) == ".":
            raise ValueError("Choose where to save the video")
        kind = output_kind(path)
        check_folder(path)
        first, last = self.first.value(), self.last.value()
        if first > last:
            raise ValueError(f"Invalid step range: {first} to {last} (the first step must not exceed the last)")
        settings = VideoSettings(
            path=path, view=str(self.view.currentData()), size=self.size_field.size_value(),
            fps=float(self.fps.value()),
            frames=None if self.every.isChecked() else self.count.value(), mode=str(self.mode.currentData()),
            first=first, last=last, caption=self.caption.isChecked(),
        )
        if kind == "png" and path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ValueError(f"{path} already exists and is not an empty folder (PNG frames need a new folder)")
        settings.steps()  # validates
        return settings

    def _update_summary(self) -> None:
        self.count.setEnabled(self.spread.isChecked())
        self.mode.setEnabled(self.spread.isChecked())
        self.duration.setText(self.duration_text())
        try:
            s = self.settings()
        except (ValueError, ExportError) as exc:
            self.summary.setText(str(exc))
            return
        n = len(s.steps())
        kind = {"mp4": "MP4 video (H.264)", "gif": "looping GIF", "png": "PNG frames in a folder"}[output_kind(s.path)]
        self.summary.setText(f"{kind}: {n} frames of {s.size[0]}×{s.size[1]} (steps {s.first} to {s.last})")


class ExportJob(QObject):
    """Renders and writes the frames a slice at a time on a zero-interval QTimer.

    ``state`` is "running", "finished", "failed" or "cancelled"; ``message`` says what happened.
    """

    progressed = Signal(int, int)  # frames done, total
    finished = Signal(str)         # the path written
    failed = Signal(str)           # one-line reason
    cancelled = Signal()

    SLICE_S = 0.04

    def __init__(self, renderer: FrameRenderer, steps: list[int], writer: Any, parent: QObject | None = None, *,
                 threaded: bool = True) -> None:
        super().__init__(parent)
        self.renderer, self.steps, self.writer = renderer, list(steps), writer
        self.target = Path(writer.target)
        self.progress = Progress(len(self.steps))
        self.state = "running"
        self.message = ""
        self._gen = export_frames(renderer, self.steps, writer, threaded=threaded)
        self._busy = False
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._work)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def start(self) -> None:
        self.progress = Progress(self.total)
        self._timer.start()

    def _work(self) -> None:
        if self._busy or not self.running:
            return
        self._busy = True
        try:
            end = time.perf_counter() + self.SLICE_S
            done = self.progress.done
            while time.perf_counter() < end:
                try:
                    done = next(self._gen)
                except StopIteration:
                    self._end("finished", f"Exported {self.target} ({self.total} frames)")
                    self.finished.emit(str(self.target))
                    return
                except ExportError as exc:
                    self._end("failed", str(exc))
                    self.failed.emit(self.message)
                    return
                except Exception as exc:  # never a traceback in the window
                    self._end("failed", f"Export failed: {exc}")
                    self.failed.emit(self.message)
                    return
            self.progress.update(done)
            self.progressed.emit(done, self.total)
        finally:
            self._busy = False

    def cancel(self) -> None:
        """Stop now; the partial output is removed."""
        if not self.running:
            return
        self._end("cancelled", f"Export cancelled: {self.target.name} was not written")
        self.cancelled.emit()

    def _end(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self._timer.stop()
        with contextlib.suppress(Exception):
            self._gen.close()  # aborts the writer unless it finished
        self.renderer.close()

    def wait(self, timeout_s: float = 120.0) -> bool:
        """Run the event loop until the job ends (tests, scripts); True if it ended."""
        from PySide6.QtWidgets import QApplication

        end = time.perf_counter() + timeout_s
        while self.running and time.perf_counter() < end:
            QApplication.processEvents()
        return not self.running


# ================================================================================ image
class ImageDialog(_Dialog):
    """File → Export image: one PNG of a view at the step shown."""

    memory_key = "export_image"

    def __init__(self, window: ExportHost) -> None:
        super().__init__("Export image", window)
        self.setObjectName("export_image_dialog")
        self.view = _view_combo(VIEWS, window)
        self.size_field = _SizeField((1920, 1080))
        self.caption = QCheckBox("problem, step and each run's loss on top")
        self.caption.setObjectName("caption")
        memory = self.remembered()
        self.path_field = _PathField(_default_name(window, ".png", memory.get("folder")), "Export image",
                                     "PNG image (*.png)")
        self.form.addRow("Source", self.view)
        self.form.addRow("Resolution", self.size_field)
        self.form.addRow("Caption", self.caption)
        self.form.addRow("Save to", self.path_field)
        _restore_view(self.view, memory.get("view"))
        _restore_size(self.size_field, memory.get("size"))
        if isinstance(memory.get("caption"), bool):
            self.caption.setChecked(memory["caption"])

    def memory(self, settings: ImageSettings) -> dict[str, Any]:
        return {"view": settings.view, "size": list(settings.size), "caption": settings.caption,
                "folder": str(settings.path.absolute().parent)}

    def settings(self) -> ImageSettings:
        path = self.path_field.path()
        if not str(path) or str(path) == ".":
            raise ValueError("Choose where to save the image")
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        check_folder(path)
        return ImageSettings(path, str(self.view.currentData()), self.size_field.size_value(),
                             self.caption.isChecked())


def export_image(window: ExportHost, settings: ImageSettings) -> Path:
    """Render the step shown into a PNG (atomically); ExportError / ValueError on failure."""
    from PIL import Image

    s = window.session
    renderer = FrameRenderer(s, settings.view, settings.size, caption=settings.caption, window=_widget(window),
                             like_contour=window.contour, like_surface=window.surface_view,
                             last_step=s.computed_steps)
    try:
        frame = renderer.frame(s.position)
    finally:
        renderer.close()
    try:
        with atomic_path(settings.path) as tmp:
            Image.fromarray(frame, "RGB").save(tmp, format="PNG")
    except OSError as exc:
        raise ExportError(f"Cannot write {settings.path}: {exc.strerror or exc}") from None
    return settings.path


# ================================================================================ trajectories
def trajectory_files(session: Any, path: str | os.PathLike[str], fmt: str = "csv",
                     combined: bool = True) -> dict[Path, str]:
    """The files of File → Export trajectories: ``{path: text}`` in the ``gdstudio trace`` format.

    Combined: one file (CSV with a leading ``run`` column "id:optimizer", or JSON
    ``{"runs": [...]}``). Otherwise one file per run beside ``path``:
    ``<stem>_run<id>_<optimizer>.<fmt>``. ValueError for a bad format or no runs.
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"Invalid format value: {fmt!r} (must be csv or json)")
    entries = [e for e in session.runs if e.run is not None]
    if not entries:
        raise ValueError("There are no runs to export")
    path = Path(path)
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(path.name + f".{fmt}")
    if combined:
        runs = [e.run for e in entries]
        labels = [f"{e.id}:{e.config.optimizer}" for e in entries]
        text = traces_json(runs) if fmt == "json" else traces_csv(runs, labels)
        return {path: text}
    out = {}
    for e in entries:
        name = f"{path.stem}_run{e.id}_{e.config.optimizer}.{fmt}"
        out[path.with_name(name)] = trace_json(e.run) if fmt == "json" else trace_csv(e.run)
    return out


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write every file atomically, all or none: each goes to a temporary file first, and they
    are renamed into place only once all are written. OSError names the file that failed."""
    with contextlib.ExitStack() as stack:
        for target, text in files.items():
            tmp = stack.enter_context(atomic_path(target))
            tmp.write_text(text, encoding="utf-8")
    return list(files)


class TrajectoryDialog(_Dialog):
    """File → Export trajectories: CSV or JSON, one combined file or one file per run."""

    memory_key = "export_trajectories"

    def __init__(self, window: ExportHost) -> None:
        super().__init__("Export trajectories", window)
        self.setObjectName("export_trajectories_dialog")
        self.session = window.session
        self.format = QComboBox()
        self.format.setObjectName("format")
        self.format.addItem("CSV (step, parameters, loss)", "csv")
        self.format.addItem("JSON (the gdstudio trace format, with settings)", "json")
        self.combined = QRadioButton("one file with every run")
        self.combined.setObjectName("combined")
        self.per_run = QRadioButton("one file per run (name_run<id>_<optimizer>)")
        self.per_run.setObjectName("per_run")
        self.combined.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.combined)
        group.addButton(self.per_run)
        files = QWidget()
        fl = QVBoxLayout(files)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.combined)
        fl.addWidget(self.per_run)
        memory = self.remembered()
        fmt = memory.get("format") if memory.get("format") in ("csv", "json") else "csv"
        self.path_field = _PathField(_default_name(window, f"_trajectories.{fmt}", memory.get("folder")),
                                     "Export trajectories", "CSV (*.csv);;JSON (*.json)")
        self.format.setCurrentIndex(self.format.findData(fmt))
        if isinstance(memory.get("combined"), bool):
            (self.combined if memory["combined"] else self.per_run).setChecked(True)
        self.format.currentIndexChanged.connect(self._fix_suffix)
        self.form.addRow("Format", self.format)
        self.form.addRow("Files", files)
        self.form.addRow("Save to", self.path_field)

    def memory(self, settings: dict[Path, str]) -> dict[str, Any]:
        first = next(iter(settings))
        return {"format": str(self.format.currentData()), "combined": self.combined.isChecked(),
                "folder": str(first.absolute().parent)}

    def _fix_suffix(self) -> None:
        p = self.path_field.edit.text().strip()
        if p:
            self.path_field.edit.setText(str(Path(p).with_suffix("." + str(self.format.currentData()))))

    def settings(self) -> dict[Path, str]:
        path = self.path_field.path()
        if not str(path) or str(path) == ".":
            raise ValueError("Choose where to save the trajectories")
        check_folder(path)
        return trajectory_files(self.session, path, str(self.format.currentData()), self.combined.isChecked())


# ================================================================================ the window's export state
class ExportController(QObject):
    """The window's export state and the File → Export actions: the dialog open (:attr:`dialog`,
    None once it closed), the last video job (:attr:`job`) and its progress dialog (:attr:`progress`).
    Made by ``MainWindow.__init__`` as ``window.exports``; nothing is hung on the window."""

    def __init__(self, window: ExportHost) -> None:
        super().__init__(_widget(window))
        self.dialog: _Dialog | None = None
        self.job: ExportJob | None = None
        self.progress: QProgressDialog | None = None
        #: ``hook(renderer, steps, fps)`` may return (a frame source, its frame indices) that replaces
        #: the step frames of a video (the Step inspector's slow motion); the first non-None wins.
        self.frame_hooks: list[Callable[[FrameRenderer, list[int], float], tuple[Any, list[int]] | None]] = []

    @property
    def window(self) -> ExportHost:
        """The window (this controller's Qt parent: no Python reference cycle keeps it alive)."""
        return cast(ExportHost, self.parent())

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def cancel(self) -> None:
        """Stop a running export (it leaves no partial file)."""
        if self.job is not None:
            self.job.cancel()

    def _open(self, dialog: _Dialog) -> None:
        self.dialog = dialog
        dialog.finished.connect(lambda _result: self._finished(dialog))
        dialog.open()

    def _finished(self, dialog: _Dialog) -> None:
        if self.dialog is dialog:
            self.dialog = None  # it deletes itself once closed

    # ---------------------------------------------------------------- video
    def open_video(self) -> VideoExportDialog:
        """File → Export video: the dialog (non-blocking); OK starts the export."""
        dialog = VideoExportDialog(self.window)
        dialog.submitted.connect(self.start_video)
        self._open(dialog)
        return dialog

    def start_video(self, settings: VideoSettings) -> ExportJob | None:
        """Start exporting ``settings`` behind a progress dialog; None if it could not start
        (the reason is shown)."""
        window = self.window
        if self.running:
            window.show_status("An export is already running")
            return None
        session = window.session
        session.set_playing(False)
        try:
            steps = settings.steps()
            options = {"max_width": settings.size[0]} if output_kind(settings.path) == "gif" else {}
            writer = writer_for(settings.path, settings.fps, **options)
        except (ValueError, ExportError) as exc:
            self.report_failure(str(exc))
            return None
        try:
            renderer = FrameRenderer(session, settings.view, settings.size, caption=settings.caption,
                                     window=_widget(window),
                                     like_contour=window.contour, like_surface=window.surface_view,
                                     last_step=settings.last)
        except (ValueError, ExportError) as exc:
            writer.abort()
            self.report_failure(str(exc))
            return None
        source: Any = renderer
        for hook in self.frame_hooks:
            hooked = hook(renderer, steps, settings.fps)
            if hooked is not None:
                source, steps = hooked
                break
        job = ExportJob(source, steps, writer, self)
        self.job = job
        dialog = QProgressDialog(f"Exporting {settings.path.name}…", "Cancel", 0, job.total, _widget(window))
        dialog.setObjectName("export_progress")
        dialog.setWindowTitle("Export video")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(job.cancel)
        self.progress = dialog

        def on_progress(done: int, total: int) -> None:
            dialog.setLabelText(f"Exporting {settings.path.name}: {job.progress.text()}")
            dialog.setValue(done)

        def close_dialog() -> None:
            with contextlib.suppress(RuntimeError, TypeError):
                dialog.canceled.disconnect(job.cancel)
            dialog.hide()
            dialog.deleteLater()

        def on_finished(path: str) -> None:
            close_dialog()
            took = job.progress.elapsed
            window.show_status(f"Exported {path}: {job.total} frames, {settings.size[0]}×{settings.size[1]}, "
                               f"{settings.fps:g} fps, in {format_seconds(took)}")

        def on_failed(message: str) -> None:
            close_dialog()
            self.report_failure(message)

        def on_cancelled() -> None:
            close_dialog()
            window.show_status(job.message)

        job.progressed.connect(on_progress)
        job.finished.connect(on_finished)
        job.failed.connect(on_failed)
        job.cancelled.connect(on_cancelled)
        dialog.show()
        window.show_status(f"Exporting {settings.path.name}…")
        job.start()
        return job

    def report_failure(self, message: str) -> None:
        text = message if message.startswith(("Cannot", "Export")) else f"Cannot export: {message}"
        self.window.show_status(text)
        self.window.show_error("Export failed", f"{text}\n\nNothing was written.")

    # ---------------------------------------------------------------- image
    def open_image(self) -> ImageDialog:
        """File → Export image: OK writes one PNG of the step shown."""
        dialog = ImageDialog(self.window)
        dialog.submitted.connect(self._export_image)
        self._open(dialog)
        return dialog

    def _export_image(self, settings: ImageSettings) -> None:
        try:
            path = export_image(self.window, settings)
        except (ValueError, ExportError) as exc:
            self.report_failure(str(exc))
            return
        self.window.show_status(f"Exported {path} ({settings.size[0]}×{settings.size[1]}, "
                                f"step {self.window.session.position})")

    # ---------------------------------------------------------------- trajectories
    def open_trajectories(self) -> TrajectoryDialog:
        """File → Export trajectories: OK writes the files, all or none."""
        dialog = TrajectoryDialog(self.window)
        dialog.submitted.connect(self._write_trajectories)
        self._open(dialog)
        return dialog

    def _write_trajectories(self, files: dict[Path, str]) -> None:
        try:
            written = write_files(files)
        except OSError as exc:
            self.report_failure(f"Cannot write {getattr(exc, 'filename', None) or ''}: {exc.strerror or exc}")
            return
        names = ", ".join(p.name for p in written[:3]) + (f" and {len(written) - 3} more" if len(written) > 3 else "")
        self.window.show_status(f"Exported the trajectories to {written[0].parent}: {names}")
