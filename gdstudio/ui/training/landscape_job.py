"""The Training lab's "Show landscape": ask for a plane, compute it off the UI thread, open it in the studio.

:class:`LandscapeDialog` asks for the plane (``pca``; ``random`` around one optimizer's final
weights; ``endpoints`` through the start and two optimizers' final weights), the grid G, the span,
the subset of N training images and how often the weights are recorded.
:class:`LandscapeJob` computes it on a daemon worker (:class:`~gdstudio.ui.background.Background`)
with :mod:`gdstudio.train.landscape` — from the lab's comparison when it recorded its weights
(:func:`landscape_from_result`), else by training the same networks again with recording on
(:func:`compute_landscape`: same seed, same batches, so the same runs) — reporting progress and
honouring Cancel. :func:`open_in_studio` opens the result in the studio window as a session (one
undoable command, like File → New), every path in the lab's colour for that optimizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.problems.landscape import LandscapeData
from gdstudio.model.landscape import landscape_data, landscape_document
from gdstudio.train.compare import CompareResult, Entry, TrainConfig
from gdstudio.train.datasets import Dataset
from gdstudio.ui.background import Background, Job

__all__ = ["PLANE_TEXTS", "LandscapeDialog", "LandscapeJob", "LandscapeRequest", "open_in_studio", "studio_window"]

#: The planes, as the dialog names them.
PLANE_TEXTS = (
    ("pca", "PCA of the recorded paths (the two main directions of every optimizer's weights)"),
    ("random", "random directions, filter-normalized (Li et al. 2018), around one optimizer's final weights"),
    ("endpoints", "through the initial weights and two optimizers' final weights"),
)
_STAGES = {"train": "training with the weights recorded", "plane": "finding the plane",
           "surface": "evaluating the loss on the grid", "paths": "projecting the paths"}


@dataclass(frozen=True)
class LandscapeRequest:
    """What the worker needs: the lab's comparison (``result``, whose weights may be recorded), the
    dataset, entries and config it was trained with, the landscape options, and each path's colour."""

    dataset: Dataset
    entries: tuple[Entry, ...]
    config: TrainConfig
    options: Any  # gdstudio.train.landscape.LandscapeOptions
    result: CompareResult | None
    colors: tuple[str, ...]
    titles: tuple[str, ...] = ()  # the lab's legend texts ("Adam η=0.001"), one per entry: the paths' labels


class LandscapeDialog(QDialog):
    """Plane, optimizer(s) for random / endpoints, grid G, span, subset N, record every K."""

    def __init__(self, labels: Sequence[str], n_train: int, iterations: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("landscape_dialog")
        self.setWindowTitle("Show landscape")
        self.labels = list(labels)
        form = QFormLayout()
        self.plane = QComboBox()
        self.plane.setObjectName("landscape_plane")
        for key, text in PLANE_TEXTS:
            self.plane.addItem(key, key)
            self.plane.setItemData(self.plane.count() - 1, text, 3)  # tooltip role
        self.center = QComboBox()
        self.center.setObjectName("landscape_center")
        self.end_a, self.end_b = QComboBox(), QComboBox()
        self.end_a.setObjectName("landscape_end_a")
        self.end_b.setObjectName("landscape_end_b")
        for combo in (self.center, self.end_a, self.end_b):
            combo.addItems(self.labels)
        if len(self.labels) > 1:
            self.end_b.setCurrentIndex(1)
        self.grid = QSpinBox()
        self.grid.setObjectName("landscape_grid")
        self.grid.setRange(5, 201)
        self.grid.setValue(41)
        self.grid.setToolTip("G: the loss is evaluated on a G×G grid of the plane")
        self.span = QDoubleSpinBox()
        self.span.setObjectName("landscape_span")
        self.span.setRange(0.05, 100.0)
        self.span.setSingleStep(0.25)
        self.span.setValue(1.25)
        self.span.setToolTip("How far the grid reaches around the paths (see docs/landscapes.md)")
        self.subset = QSpinBox()
        self.subset.setObjectName("landscape_subset")
        self.subset.setRange(0, max(1, n_train))
        self.subset.setSpecialValueText("all")
        self.subset.setValue(min(1000, n_train))
        self.subset.setToolTip(f"N: the loss over a fixed, seeded subset of N of the {n_train:,} training images "
                               "(all: every one)")
        self.every = QSpinBox()
        self.every.setObjectName("landscape_every")
        self.every.setRange(0, max(1, iterations))
        self.every.setSpecialValueText("auto")
        self.every.setValue(0)
        self.every.setToolTip("K: record every optimizer's weights every K iterations (auto: about 100 records)")
        form.addRow("plane", self.plane)
        self.plane_text = QLabel()
        self.plane_text.setObjectName("landscape_plane_text")
        self.plane_text.setWordWrap(True)
        form.addRow(self.plane_text)
        self.center_label = QLabel("centred on")
        form.addRow(self.center_label, self.center)
        self.ends_label = QLabel("final weights of")
        ends = QWidget()
        row = QFormLayout(ends)
        row.setContentsMargins(0, 0, 0, 0)
        row.addRow(self.end_a)
        row.addRow(self.end_b)
        form.addRow(self.ends_label, ends)
        self.ends = ends
        form.addRow("grid G", self.grid)
        form.addRow("span", self.span)
        form.addRow("subset N", self.subset)
        form.addRow("record every", self.every)
        self.error = QLabel()
        self.error.setObjectName("landscape_error")
        self.error.setStyleSheet("color: #E0301E;")
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compute")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.plane.currentIndexChanged.connect(self._show_plane)
        self._show_plane()

    def _show_plane(self, *_args: object) -> None:
        plane = self.plane.currentData()
        self.plane_text.setText(dict(PLANE_TEXTS).get(plane, ""))
        for w in (self.center_label, self.center):
            w.setVisible(plane == "random")
        for part in (self.ends_label, self.ends):
            part.setVisible(plane == "endpoints")

    def _accept(self) -> None:
        try:
            self.options()
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.accept()

    def options(self) -> Any:
        """The chosen :class:`gdstudio.train.landscape.LandscapeOptions` (ValueError if they do not fit)."""
        from gdstudio.train.landscape import LandscapeOptions

        plane = self.plane.currentData()
        endpoints = None
        if plane == "endpoints":
            if len(self.labels) < 2:
                raise ValueError("The endpoints plane needs two optimizers (add one and train again)")
            endpoints = (self.end_a.currentText(), self.end_b.currentText())
            if endpoints[0] == endpoints[1]:
                raise ValueError("The endpoints plane needs two different optimizers")
        return LandscapeOptions(plane=plane, grid=self.grid.value(), span=float(self.span.value()),
                                record_every=self.every.value() or None, subset=self.subset.value() or None,
                                seed=0, center=self.center.currentText() if plane == "random" else None,
                                endpoints=endpoints)


def compute(request: LandscapeRequest, job: Job) -> LandscapeData:
    """The worker: the landscape of the request (progress as (stage text, done, total) reports)."""
    from gdstudio.train import landscape as ls

    def progress(p: Any) -> None:
        job.report((_STAGES.get(p.stage, p.stage), int(p.done), int(p.total)))

    result = request.result
    if result is not None and getattr(result, "weights", None) is not None:
        landscape = ls.landscape_from_result(result, request.dataset, request.options, progress=progress,
                                             cancel=job.cancel_event)
    else:
        landscape = ls.compute_landscape(request.dataset, list(request.entries), request.config, request.options,
                                         progress=progress, cancel=job.cancel_event)
    data = landscape_data(landscape, {e.label: e.optimizer for e in request.entries})
    titles = dict(zip((e.label for e in request.entries), request.titles, strict=False))
    if len(request.titles) == len(request.entries) and len(set(request.titles)) == len(request.titles):
        data = replace(data, paths=tuple(replace(p, label=titles.get(p.label, p.label)) for p in data.paths))
    return data


class LandscapeJob(QObject):
    """One landscape computation at a time: :meth:`start`, :meth:`cancel`; signals ``progressed``
    (text, done, total), ``finished`` (the :class:`LandscapeData`, colours), ``failed`` (a line),
    ``cancelled``."""

    progressed = Signal(str, int, int)
    finished = Signal(object, object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.work = Background(self, daemon=True, name="gdstudio-landscape")
        self.work.progress.connect(self._on_progress)
        self.work.done.connect(self._on_done)
        self.work.failed.connect(self._on_failed)
        self.request: LandscapeRequest | None = None

    @property
    def busy(self) -> bool:
        return self.request is not None

    def start(self, request: LandscapeRequest) -> None:
        self.request = request
        self.work.start(lambda job: compute(request, job), context=request)

    def cancel(self) -> None:
        """Stop: the outcome is dropped, nothing changes in the studio."""
        if self.request is None:
            return
        self.work.cancel()
        self.request = None
        self.cancelled.emit()

    def close(self, timeout_ms: int = 2000) -> None:
        self.request = None
        self.work.close(timeout_ms)

    def _on_progress(self, _job: Job, value: object) -> None:
        if isinstance(value, tuple) and len(value) == 3:
            self.progressed.emit(str(value[0]), int(value[1]), int(value[2]))

    def _on_done(self, job: Job, result: object) -> None:
        request = self.request
        if request is None or job.context is not request:
            return
        self.request = None
        self.finished.emit(result, request.colors)

    def _on_failed(self, job: Job, exc: object) -> None:
        if self.request is None or job.context is not self.request:
            return
        self.request = None
        if type(exc).__name__ == "LandscapeCancelled":
            self.cancelled.emit()
            return
        self.failed.emit(str(exc) or type(exc).__name__)


def studio_window() -> Any:
    """The studio's main window (the top-level widget with a session and ``load_document``), or None."""
    app = QApplication.instance()
    if app is None:
        return None
    for w in QApplication.topLevelWidgets():
        if hasattr(w, "load_document") and hasattr(w, "session") and not getattr(w, "_closed", False):
            return w
    return None


def open_in_studio(window: Any, data: LandscapeData, colors: Sequence[str]) -> bool:
    """Open ``data`` in the studio ``window`` as a new session (one undo command "open landscape"),
    every path shown whole. False (the window says why) when it could not be shown."""
    doc = landscape_document(data, colors=list(colors) if len(colors) >= len(data.paths) else None)

    def loaded() -> None:
        session = window.session
        session.forward(session.max_steps)  # every path whole; scrub or press R / Home to replay
        window.current_path = None
        window.document_title = "landscape"
        if hasattr(window, "_update_title"):
            window._update_title()
        window.show_status(f"Landscape ({data.plane}), {data.note}: the history shows each path's true loss")

    return bool(window.load_document(doc, "the landscape", loaded, label="open landscape"))
