"""The Training lab: race optimizers training the same MLP on real handwritten digits, live.

A top-level window of its own (opened from the studio's Tools menu, Ctrl+T): training takes
seconds to minutes and its plots want room, so it sits beside the surface studio instead of
crowding it into a dock, and it never touches the studio's session, clock or views. Closing it
stops a run; reopening shows the last run again. :meth:`TrainingLab.place_beside` puts it beside
the studio on the studio's screen (see :mod:`gdstudio.ui.training.placement`) in the studio's
palette and plot colours.

Left: the setup — data (bundled digits, MNIST from a folder, MNIST downloaded into the cache),
the hidden layer sizes (validated as you type), the budget (iterations, batch size, seed,
evaluation interval) and the competitors (registry-driven editors, the book's learning rates).
Right: :class:`~gdstudio.ui.training.curves.CurvesView`. Start trains on a worker thread
(:mod:`gdstudio.ui.training.worker`) with exactly what ``gdstudio train`` would run for the same
settings: same dataset loading (the digits split drawn from the seed), same entries, same
:class:`TrainConfig` — so the same seed gives the same numbers as the CLI, to the bit.

The lab's state is a :class:`~gdstudio.train.lab_model.LabSettings` (``lab.settings``, Qt-free,
evented): each setup widget writes its field and is redrawn from it; a value the model refuses
is shown under its widget, and Start refuses while one is. The actions are a table
(:data:`LAB_ACTIONS`) built by the studio's :class:`~gdstudio.ui.actions.ActionSet`; a run is a
:class:`~gdstudio.ui.training.worker.TrainingRun` on the one background helper
(:class:`~gdstudio.ui.background.Background`, daemon threads).

Errors never raise out of a slot: bad settings are shown next to their field and in a red
banner above the plots, and the run does not start; failures of the run itself (a missing or
corrupt IDX file, no network) end the run with the banner; a diverging optimizer is a result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QColor, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gdstudio.atomic import atomic_path, check_target
from gdstudio.engine.problems.landscape import LandscapeData
from gdstudio.train.compare import CompareResult, TrainConfig
from gdstudio.train.datasets import MNIST_FILES, MNIST_MIRRORS, Dataset, DatasetError, find_mnist_files, mnist_cache_dir
from gdstudio.train.lab_model import (
    BOOK_OPTIMIZERS,
    MAX_HIDDEN_LAYERS,
    MAX_HIDDEN_UNITS,
    LabEntry,
    LabSettings,
    network_text,
    parse_hidden_sizes,
)
from gdstudio.ui.actions import ActionSet, ActionSpec
from gdstudio.ui.background import Background, Job
from gdstudio.ui.training.curves import SMOOTHING, CurvesView, LiveCurves
from gdstudio.ui.training.entries import OptimizerList, hp_summary
from gdstudio.ui.training.landscape_job import (
    LandscapeDialog,
    LandscapeJob,
    LandscapeRequest,
    open_in_studio,
    studio_window,
)
from gdstudio.ui.training.placement import LAB_SIZE, beside
from gdstudio.ui.training.worker import (
    DOWNLOAD_TIMEOUT,
    UPDATE_INTERVAL,
    Chunk,
    Download,
    Loaded,
    Phase,
    TrainingRun,
    TrainRequest,
    dataset_key,
    failure_message,
)

__all__ = ["DATASETS", "LAB_ACTIONS", "MAX_HIDDEN_LAYERS", "MAX_HIDDEN_UNITS", "LabActionId", "TrainingLab",
           "network_text", "parse_hidden_sizes"]

#: Dataset choices: (key, combo text); the keys are :data:`gdstudio.train.lab_model.DATASETS`.
DATASETS = (
    ("digits", "Digits — bundled 8×8 images (1,797)"),
    ("mnist_folder", "MNIST — from a folder…"),
    ("mnist_download", "MNIST — download into the cache"),
)
_ERROR_STYLE = "color: #E0301E;"
_BANNER_STYLE = ("QLabel { color: #8a1c10; background: #fde7e4; border: 1px solid #e0301e; border-radius: 4px;"
                 " padding: 6px; }")
_OK_STYLE = "color: #2a7d2a;"


class LabActionId(StrEnum):
    START = "start"
    STOP = "stop"
    FIT = "fit"
    EXPORT_PNG = "export_png"
    EXPORT_CSV = "export_csv"
    LANDSCAPE = "landscape"
    CLOSE = "close"


L = LabActionId
#: The lab's actions, built by :class:`~gdstudio.ui.actions.ActionSet` like the studio's.
LAB_ACTIONS: tuple[ActionSpec[TrainingLab], ...] = (
    ActionSpec(L.START, "Start", "Train one network per optimizer from the same weights on the same mini-batches",
               lambda lab, _c: lab.start(), "Ctrl+Return", "SP_MediaPlay", enabled=lambda lab: not lab.running),
    ActionSpec(L.STOP, "Stop", "Stop training (what was recorded stays)", lambda lab, _c: lab.stop(), "Esc",
               "SP_MediaStop", enabled=lambda lab: lab.running and not lab.stopping),
    ActionSpec(L.FIT, "Fit", "Fit the axes to the curves again", lambda lab, _c: lab.curves.fit(), "Ctrl+0"),
    ActionSpec(L.EXPORT_PNG, "Export PNG…", "Save the loss plot as a PNG image", lambda lab, _c: lab.export_png(),
               "Ctrl+E", "SP_DialogSaveButton",
               enabled=lambda lab: lab.curves.data is not None and (lab.running or lab.curves.data.completed > 0)),
    ActionSpec(L.EXPORT_CSV, "Export CSV…", "Save every loss and test accuracy as CSV (the columns of gdstudio "
               "train --out)", lambda lab, _c: lab.export_csv(), "Ctrl+Shift+E", "SP_FileIcon",
               enabled=lambda lab: lab.result is not None and not lab.running),
    ActionSpec(L.LANDSCAPE, "Show landscape…", "Draw the last comparison's optimizers on a 2-D slice of the "
               "network's loss (PCA, random or endpoints plane) in the studio's contour and 3-D views",
               lambda lab, _c: lab.show_landscape(), "Ctrl+L", "SP_FileDialogContentsView",
               enabled=lambda lab: lab.result is not None and not lab.running and not lab.landscape_job.busy),
    ActionSpec(L.CLOSE, "Close", "Close the Training lab (stops a run)", lambda lab, _c: lab.close(), "Ctrl+W"),
)


class TrainingLab(QMainWindow):
    """The Training lab window. Signals (for tests and scripts): :attr:`run_started`,
    :attr:`curves_updated` (iterations drawn), :attr:`run_finished` (the CompareResult or None
    when the run failed or was given up)."""

    run_started = Signal()
    curves_updated = Signal(int)
    run_finished = Signal(object)
    landscape_shown = Signal(object)  # the LandscapeData opened in the studio
    landscape_job: LandscapeJob
    # Declared for the action table (LAB_ACTIONS), which is typed against this class.
    curves: CurvesView
    stopping: bool
    result: CompareResult | None
    #: The QActions by LabActionId (shadows QWidget.actions()).
    actions: dict[str, QAction]  # type: ignore[assignment]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_lab")
        self.setWindowTitle("Training lab — gdstudio")
        self.update_interval = UPDATE_INTERVAL
        self.settings = LabSettings()
        self.result: CompareResult | None = None
        #: The run being made (None when idle); ``work`` runs it on a daemon thread.
        self.current_run: TrainingRun | None = None
        self.stopping = False  # Stop was pressed during training: the run ends after this iteration
        self.work = Background(self, daemon=True, name="gdstudio-training")
        self.work.progress.connect(self._on_report)
        self.work.done.connect(self._on_finished)
        self.work.failed.connect(self._on_failed)
        self._invalid: dict[str, str] = {}  # field -> why the widget's value was refused
        self._spins: dict[str, QSpinBox] = {}  # the settings' whole-number fields
        self._dataset_cache: tuple[object, Dataset] | None = None
        self._last_dir = str(Path.home())
        #: Where and how patiently MNIST is downloaded (tests point these at a local server).
        self.mnist_mirrors: tuple[str, ...] = MNIST_MIRRORS
        self.mnist_files: dict[str, tuple[str, str, int]] = dict(MNIST_FILES)
        self.download_timeout = DOWNLOAD_TIMEOUT
        #: "Show landscape": the computation (one at a time) and the studio window it opens in
        #: (None: the studio found among the top-level windows).
        self.landscape_job = LandscapeJob(self)
        self.landscape_job.progressed.connect(self._on_landscape_progress)
        self.landscape_job.finished.connect(self._on_landscape_done)
        self.landscape_job.failed.connect(self._on_landscape_failed)
        self.landscape_job.cancelled.connect(self._on_landscape_cancelled)
        self.studio: Any = None
        self.landscape: LandscapeData | None = None  # the last landscape computed

        self._build_actions()
        self.curves = CurvesView()
        self.banner = QLabel()
        self.banner.setObjectName("error_banner")
        self.banner.setStyleSheet(_BANNER_STYLE)
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(4)
        rl.addWidget(self.banner)
        rl.addWidget(self.curves, 1)

        self.setup = self._build_setup()
        scroll = QScrollArea()
        scroll.setObjectName("setup_scroll")
        scroll.setWidget(self.setup)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(430)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("lab_splitter")
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([440, 900])
        self.setCentralWidget(self.splitter)
        self._build_status()
        self._bind_settings()
        self._on_dataset_changed()
        self._show_network()
        self._set_running(False)
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        self.resize(min(LAB_SIZE.width(), avail.width()) if avail else LAB_SIZE.width(),
                    min(LAB_SIZE.height(), avail.height()) if avail else LAB_SIZE.height())

    # ================================================================== placement
    def place_beside(self, window: QWidget, make_room: bool = False) -> None:
        """Open beside ``window`` (the studio) on its screen, in its palette and plot colours.

        Beside it if there is room; else, with ``make_room``, the studio moves left and narrows as
        little as it can; else against the screen's edge covering as little of it as possible;
        never larger than the screen (see :func:`~gdstudio.ui.training.placement.beside`).
        """
        self.match_colors(window)
        screen = window.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        avail = screen.availableGeometry()
        studio = window.frameGeometry()
        # Decorations: the studio's (the lab's own are unknown until a window manager shows it).
        dw, dh = studio.width() - window.width(), studio.height() - window.height()
        make_room = make_room and not (window.isMaximized() or window.isFullScreen())
        studio_min = max(window.minimumSizeHint().width(), window.minimumWidth()) + dw
        lab, moved = beside(avail, studio, studio_min, make_room)
        if moved is not None:
            window.move(moved.topLeft())
            window.resize(moved.width() - dw, moved.height() - dh)
        self.move(lab.topLeft())
        self.resize(lab.width() - dw, lab.height() - dh)

    def match_colors(self, window: QWidget) -> None:
        """Take ``window``'s palette, and its plots' background and foreground for the lab's plots
        (pyqtgraph's configuration may have changed since the studio drew its own)."""
        self.setPalette(window.palette())
        background = QColor(pg.mkColor(pg.getConfigOption("background")))
        foreground = QColor(pg.mkColor(pg.getConfigOption("foreground")))
        for view in window.findChildren(pg.PlotWidget):
            brush = view.backgroundBrush()
            if brush.style() != Qt.BrushStyle.NoBrush:
                background = brush.color()
                foreground = view.getPlotItem().getAxis("bottom").textPen().color()
                break
        self.curves.set_colors(background, foreground)

    # ================================================================== construction
    def _build_actions(self) -> None:
        self.action_set = ActionSet(LAB_ACTIONS, self, self, on_error=self.show_error)
        self.actions = self.action_set.actions  # type: ignore[method-assign]
        self.start_action = self.actions[L.START]
        self.stop_action = self.actions[L.STOP]
        self.fit_action = self.actions[L.FIT]
        self.png_action = self.actions[L.EXPORT_PNG]
        self.csv_action = self.actions[L.EXPORT_CSV]
        self.landscape_action = self.actions[L.LANDSCAPE]
        self.close_action = self.actions[L.CLOSE]
        tb = QToolBar("Training", self)
        tb.setObjectName("lab_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setMovable(False)
        tb.addAction(self.start_action)
        tb.addAction(self.stop_action)
        tb.addSeparator()
        self.log_y = QCheckBox("Log loss axis")
        self.log_y.setObjectName("log_y")
        self.log_y.setToolTip("Plot the training loss on a log scale")
        tb.addWidget(self.log_y)
        self.smoothing = QComboBox()
        self.smoothing.setObjectName("smoothing")
        for key, text in SMOOTHING:
            self.smoothing.addItem(text, key)
        self.smoothing.setToolTip("How the loss curves are smoothed (the book: an 11-tap Kaiser window, β = 2)")
        tb.addWidget(self.smoothing)
        tb.addAction(self.fit_action)
        tb.addSeparator()
        tb.addAction(self.png_action)
        tb.addAction(self.csv_action)
        tb.addSeparator()
        tb.addAction(self.landscape_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _build_setup(self) -> QWidget:
        w = QWidget()
        w.setObjectName("lab_setup")
        layout = QVBoxLayout(w)
        layout.setContentsMargins(8, 6, 8, 6)

        # Data
        data = QGroupBox("Data")
        dl = QVBoxLayout(data)
        self.dataset = QComboBox()
        self.dataset.setObjectName("dataset")
        for key, text in DATASETS:
            self.dataset.addItem(text, key)
        self.dataset.setToolTip("What the networks learn to read: 10 classes of handwritten digits")
        dl.addWidget(self.dataset)
        self.folder_row = QWidget()
        fr = QHBoxLayout(self.folder_row)
        fr.setContentsMargins(0, 0, 0, 0)
        self.mnist_folder = QLineEdit()
        self.mnist_folder.setObjectName("mnist_folder")
        self.mnist_folder.setPlaceholderText("folder with the four MNIST IDX files")
        self.mnist_folder.setToolTip("A folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                     "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz); "
                                     "its raw/ or MNIST/raw/ subfolder is searched too")
        self.browse = QToolButton()
        self.browse.setObjectName("browse_mnist")
        self.browse.setText("Browse…")
        self.browse.setToolTip("Choose the MNIST folder")
        self.browse.clicked.connect(self.choose_mnist_folder)
        fr.addWidget(self.mnist_folder, 1)
        fr.addWidget(self.browse)
        dl.addWidget(self.folder_row)
        self.dataset_info = QLabel()
        self.dataset_info.setObjectName("dataset_info")
        self.dataset_info.setWordWrap(True)
        self.dataset_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dataset_error = QLabel()
        self.dataset_error.setObjectName("dataset_error")
        self.dataset_error.setStyleSheet(_ERROR_STYLE)
        self.dataset_error.setWordWrap(True)
        self.dataset_error.hide()
        dl.addWidget(self.dataset_info)
        dl.addWidget(self.dataset_error)
        layout.addWidget(data)

        # Network
        net = QGroupBox("Network")
        nl = QFormLayout(net)
        nl.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.hidden = QLineEdit("100,100,100,100")
        self.hidden.setObjectName("hidden_sizes")
        self.hidden.setPlaceholderText("e.g. 100,100 — or none")
        self.hidden.setToolTip("Hidden layer sizes, comma-separated (the book: 100,100,100,100). "
                               "ReLU between layers, He initialization, softmax cross-entropy; 'none' trains "
                               "softmax regression")
        self.network_info = QLabel()
        self.network_info.setObjectName("network_info")
        self.network_info.setWordWrap(True)
        self.hidden_error = QLabel()
        self.hidden_error.setObjectName("hidden_error")
        self.hidden_error.setStyleSheet(_ERROR_STYLE)
        self.hidden_error.setWordWrap(True)
        self.hidden_error.hide()
        field = QWidget()
        fl = QVBoxLayout(field)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.setSpacing(2)
        fl.addWidget(self.hidden)
        fl.addWidget(self.network_info)
        fl.addWidget(self.hidden_error)
        nl.addRow("hidden sizes", field)
        layout.addWidget(net)

        # Budget
        budget = QGroupBox("Training")
        bl = QFormLayout(budget)
        self.iterations = self._spin("iterations", 1, 1_000_000, 2000, 100,
                                     "Mini-batch steps per optimizer (the book: 2,000)")
        self.batch_size = self._spin("batch_size", 1, 100_000, 128, 16, "Images per mini-batch (the book: 128)")
        self.seed = self._spin("seed", 0, 2**31 - 1, 0, 1, "Seed of the initial weights, the batch order and the "
                               "digits train/test split: same seed, same numbers")
        self.eval_every = self._spin("eval_every", 0, 1_000_000, 100, 50,
                                     "Measure test accuracy every this many iterations, and at the end")
        self.eval_every.setSpecialValueText("at the end only")
        bl.addRow("iterations", self.iterations)
        bl.addRow("batch size", self.batch_size)
        bl.addRow("seed", self.seed)
        bl.addRow("test accuracy every", self.eval_every)
        layout.addWidget(budget)

        # Optimizers
        opts = QGroupBox("Optimizers")
        opts.setToolTip("Every optimizer trains its own copy of the network from the same initial weights "
                        "on the same mini-batches")
        ol = QVBoxLayout(opts)
        ol.setContentsMargins(6, 6, 6, 6)
        self.optimizers = OptimizerList(BOOK_OPTIMIZERS)
        ol.addWidget(self.optimizers)
        note = QLabel("Learning rates default to the book's (SGD, Momentum, AdaGrad, RMSProp 0.01; Adam 0.001). "
                      "⚙ edits a row's hyperparameters.")
        note.setObjectName("optimizers_note")
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(placeholder-text);")
        ol.addWidget(note)
        layout.addWidget(opts)
        layout.addStretch(1)
        return w

    def _spin(self, name: str, lo: int, hi: int, value: int, step: int, tip: str) -> QSpinBox:
        s = QSpinBox()
        self._spins[name] = s
        s.setObjectName(name)
        s.setRange(lo, hi)
        s.setValue(value)
        s.setSingleStep(step)
        s.setGroupSeparatorShown(True)
        s.setToolTip(tip)
        s.setAccelerated(True)
        return s

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status = QLabel("Ready: press Start (Ctrl+Enter)")
        self.status.setObjectName("lab_status")
        self.progress = QProgressBar()
        self.progress.setObjectName("lab_progress")
        self.progress.setMinimumWidth(260)
        self.progress.setMaximumWidth(360)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.rate = QLabel()
        self.rate.setObjectName("lab_rate")
        self.rate.setMinimumWidth(170)
        sb.addWidget(self.status, 1)
        sb.addPermanentWidget(self.rate)
        sb.addPermanentWidget(self.progress)
        self.landscape_cancel = QToolButton()
        self.landscape_cancel.setObjectName("landscape_cancel")
        self.landscape_cancel.setText("Cancel")
        self.landscape_cancel.setToolTip("Stop computing the landscape (the studio stays as it is)")
        self.landscape_cancel.clicked.connect(self.cancel_landscape)
        self.landscape_cancel.hide()
        sb.addPermanentWidget(self.landscape_cancel)

    # ================================================================== settings
    def _bind_settings(self) -> None:
        """Widgets write their field of :attr:`settings`; each field's signal redraws its widget
        (bound methods: psygnal holds them weakly, so the lab is freed like any widget)."""
        m = self.settings
        self.dataset.currentIndexChanged.connect(lambda _i: self._write("dataset", self.dataset.currentData()))
        self.mnist_folder.textChanged.connect(lambda text: self._write("mnist_folder", text))
        self.mnist_folder.editingFinished.connect(self._check_folder)
        self.hidden.textChanged.connect(lambda text: self._write("hidden", text))
        self.log_y.toggled.connect(lambda on: self._write("log_y", bool(on)))
        self.smoothing.currentIndexChanged.connect(lambda _i: self._write("smoothing", self.smoothing.currentData()))
        for name, spin in self._spins.items():
            spin.valueChanged.connect(lambda value, n=name: self._write(n, int(value)))
            getattr(m.events, name).connect(self._show_budget)
        m.events.dataset.connect(self._on_dataset_changed)
        m.events.mnist_folder.connect(self._show_folder)
        m.events.hidden.connect(self._show_hidden)
        m.events.log_y.connect(self._show_log_y)
        m.events.smoothing.connect(self._show_smoothing)
        self.optimizers.changed.connect(self._write_optimizers)
        m.events.optimizers.connect(self._show_optimizers)
        self._show_optimizers(m.optimizers)
        self._show_budget()
        self._show_log_y(m.log_y)
        self._show_smoothing(m.smoothing)

    def _write(self, name: str, value: object) -> None:
        """A widget's new value into the model; a refused value is shown under its widget."""
        try:
            setattr(self.settings, name, value)
        except ValueError as exc:
            self._invalid[name] = str(exc)
        else:
            self._invalid.pop(name, None)
        if name == "hidden":
            self._show_network()

    def _write_optimizers(self) -> None:
        self._write("optimizers", self.optimizers.lab_entries())

    def _show_optimizers(self, entries: tuple[LabEntry, ...], *_old: object) -> None:
        if self.optimizers.lab_entries() != entries:
            self.optimizers.set_entries(entries)

    def _show_budget(self, *_args: object) -> None:
        for name, spin in self._spins.items():
            _set_quietly(spin, spin.setValue, getattr(self.settings, name))

    def _show_folder(self, folder: str, *_old: object) -> None:
        if self.mnist_folder.text() != folder:
            _set_quietly(self.mnist_folder, self.mnist_folder.setText, folder)

    def _show_hidden(self, hidden: tuple[int, ...], *_old: object) -> None:
        """The model's sizes in the field, unless the text already says them (as typed)."""
        try:
            same = parse_hidden_sizes(self.hidden.text()) == hidden
        except ValueError:
            same = False
        if not same:
            _set_quietly(self.hidden, self.hidden.setText, ",".join(map(str, hidden)) or "none")
            self._invalid.pop("hidden", None)
        self._show_network()

    def _show_log_y(self, on: bool, *_old: object) -> None:
        _set_quietly(self.log_y, self.log_y.setChecked, on)
        self.curves.set_log_y(on)

    def _show_smoothing(self, how: str, *_old: object) -> None:
        _set_quietly(self.smoothing, self.smoothing.setCurrentIndex, self.smoothing.findData(how))
        self.curves.set_smoothing(how)

    @property
    def dataset_choice(self) -> str:
        return self.settings.dataset

    def set_dataset(self, key: str, folder: str | None = None) -> None:
        """Choose a dataset (a key of :data:`DATASETS`); ``folder`` for ``mnist_folder``."""
        if folder is not None:
            self.settings.mnist_folder = folder
        self.settings.dataset = key  # ValueError names the known keys
        self._on_dataset_changed()

    def _on_dataset_changed(self, *_args: object) -> None:
        key = self.dataset_choice
        _set_quietly(self.dataset, self.dataset.setCurrentIndex, self.dataset.findData(key))
        self.folder_row.setVisible(key == "mnist_folder")
        self.dataset_error.hide()
        if key == "digits":
            self.dataset_info.setText("UCI optdigits, 8×8 pixels in 0..16, bundled: 1,437 training and 360 test "
                                      "images (a stratified split drawn from the seed).")
        elif key == "mnist_folder":
            self.dataset_info.setText("60,000 training and 10,000 test images of 28×28 pixels, read from the IDX "
                                      "files in a folder you choose.")
            if self.settings.mnist_folder.strip():
                self._check_folder()
        else:
            cache = mnist_cache_dir()
            size = sum(v[2] for v in MNIST_FILES.values()) / 1e6
            try:
                find_mnist_files(cache)
                self.dataset_info.setText(f"MNIST is in the cache: {cache}")
                self.dataset_info.setStyleSheet("")
            except DatasetError:
                self.dataset_info.setText(f"Not downloaded yet: Start fetches the four files ({size:.1f} MB, "
                                          f"checked by SHA-256) into {cache}.")
        self._show_network()

    def choose_mnist_folder(self) -> None:
        start = self.settings.mnist_folder.strip() or self._last_dir
        folder = QFileDialog.getExistingDirectory(self, "Choose the MNIST folder", start)
        if folder:
            self.settings.mnist_folder = folder
            self._last_dir = folder
            self._check_folder()

    def _check_folder(self) -> bool:
        """Show whether the folder holds the four files (message under the field)."""
        if self.dataset_choice != "mnist_folder":
            return True
        try:
            self.settings.check_folder()
        except DatasetError as exc:
            self.dataset_error.setText(str(exc))
            self.dataset_error.show()
            return False
        self.dataset_error.hide()
        self.dataset_info.setText(f"✓ Found the four MNIST files in {self.settings.mnist_folder.strip()}.")
        return True

    def _show_network(self) -> None:
        """The network the settings describe, or why the hidden sizes were refused."""
        error = self._invalid.get("hidden")
        if error is not None:
            self.hidden_error.setText(error)
            self.hidden_error.show()
            self.network_info.hide()
            self.hidden.setStyleSheet("QLineEdit { border: 1px solid #E0301E; }")
            return
        self.hidden_error.hide()
        self.network_info.show()
        self.hidden.setStyleSheet("")
        self.network_info.setText(network_text(self.settings.features, self.settings.hidden))

    def dataset_spec(self) -> str:
        """``digits``, ``mnist`` or ``mnist:FOLDER``; ValueError (shown) when the folder is not usable."""
        if not self._check_folder():
            raise ValueError(self.dataset_error.text())
        return self.settings.dataset_spec()

    def config(self) -> TrainConfig:
        """The shared settings; ValueError (shown under its field) while a widget's value is refused."""
        for name, message in self._invalid.items():
            if name != "optimizers":
                raise ValueError(message)
        return self.settings.train_config()

    def request(self) -> TrainRequest:
        """Everything a run needs, validated; the first problem raises ValueError (and is shown)."""
        config = self.config()
        spec = self.dataset_spec()
        if "optimizers" in self._invalid:
            self.optimizers.entries()  # shows the refused value under its row (and raises)
            raise ValueError(self._invalid["optimizers"])
        entries = tuple(self.settings.entries())
        return TrainRequest(spec, entries, config, self.download_timeout, tuple(self.mnist_mirrors),
                            dict(self.mnist_files))

    # ================================================================== running
    @property
    def running(self) -> bool:
        return self.current_run is not None

    def start(self) -> bool:
        """Validate the settings and start a run; False (with a message) when something is wrong."""
        if self.running:
            return False
        self.banner.hide()
        try:
            request = self.request()
        except ValueError as exc:
            self.show_error(str(exc))
            self.status.setText("Not started: fix the setting in red")
            return False
        run = TrainingRun(request, self._dataset_cache, self.update_interval)
        rows = self.optimizers.rows
        data = LiveCurves(
            labels=[e.label for e in request.entries],
            titles=[r.title() for r in rows],
            colors=[r.color for r in rows],
            hyperparams=[hp_summary(r.spec, r.values()) for r in rows],
            total=request.config.iterations,
        )
        self.result = None
        cfg = request.config
        name = {"digits": "digits", "mnist": "MNIST"}.get(request.dataset, "MNIST")
        net = "-".join(map(str, (self.settings.features, *cfg.hidden, 10)))
        self.curves.begin(data, f"Training loss — {name}, network {net}, batch {cfg.batch_size}, seed {cfg.seed}")
        self.current_run = run
        self._request = request
        self._set_running(True)
        self.status.setText("Starting…")
        self.progress.setRange(0, request.config.iterations)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m iterations")
        self.work.start(run, context=run)
        self.run_started.emit()
        return True

    def stop(self) -> None:
        """Ask the run to stop. Training stops after the current iteration (the result keeps what
        was recorded); a download or load that has not reached training is given up at once."""
        run = self.current_run
        if run is None:
            return
        if run.stage == "train":
            run.stop()
            self.stopping = True
            self.action_set.refresh()
            self.status.setText("Stopping…")
            return
        self._give_up(run)
        self.status.setText("Stopped before training began")
        self.run_finished.emit(None)

    def _give_up(self, run: TrainingRun) -> None:
        """Forget a run: its late reports are dropped; a stalled download times out on its own thread."""
        run.stop()
        self.work.cancel()
        self._keep_dataset(run)
        self.current_run = None
        self._set_running(False)

    def _keep_dataset(self, run: TrainingRun) -> None:
        if run.loaded is not None:
            self._dataset_cache = (run.loaded.key, run.loaded.dataset)  # worth keeping even from a run given up

    def _on_report(self, _job: Job, value: object) -> None:
        if isinstance(value, Chunk):
            self._on_progress(value)
        elif isinstance(value, Phase):
            self._on_phase(value.name)
        elif isinstance(value, Download):
            self._on_download(value)
        elif isinstance(value, Loaded):
            self._dataset_cache = (value.key, value.dataset)
            if self.dataset_choice == "mnist_download":
                self._on_dataset_changed()

    def _on_phase(self, phase: str) -> None:
        if phase == "download":
            self.status.setText("Downloading MNIST…")
            self.progress.setRange(0, 0)
            self.progress.setFormat("connecting…")
        elif phase == "load":
            self.status.setText("Loading the images…")
            self.progress.setRange(0, 0)
            self.progress.setFormat("loading…")
        else:
            n = len(self._request.entries)
            net = network_text(self._features(), self._request.config.hidden)
            self.status.setText(f"Training {n} networks: {net}")
            self.progress.setRange(0, self._request.config.iterations)
            self.progress.setValue(0)
            self.progress.setFormat("%v / %m iterations")

    def _features(self) -> int:
        cached = self._dataset_cache
        return cached[1].n_features if cached is not None else self.settings.features

    def _on_download(self, d: Download) -> None:
        self.status.setText(f"Downloading MNIST: {d.name}")
        if d.total > 0:
            self.progress.setRange(0, d.total)
            self.progress.setValue(min(d.done, d.total))
            self.progress.setFormat(f"{d.done / 1e6:.1f} / {d.total / 1e6:.1f} MB")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{d.done / 1e6:.1f} MB")

    def _on_progress(self, chunk: Chunk) -> None:
        if self.curves.data is None:
            return
        self.curves.data.add(chunk)
        self.curves.request_refresh()
        self.progress.setValue(chunk.last)
        rate = chunk.last / chunk.elapsed if chunk.elapsed > 0 else 0.0
        left = (chunk.total - chunk.last) / rate if rate > 0 else math.nan
        self.rate.setText(f"{rate:,.0f} it/s · {_duration(left)} left" if math.isfinite(left) else "")
        self.curves_updated.emit(chunk.last)

    def _on_finished(self, job: Job, result: object) -> None:
        run = self.current_run
        if run is None or job.context is not run or not isinstance(result, CompareResult):
            return
        self._finish(run, result)

    def _finish(self, run: TrainingRun, result: CompareResult) -> None:
        self._keep_dataset(run)
        self.current_run = None
        self.result = result
        if self.curves.data is not None:
            self.curves.data.finish(result)
            self.curves.refresh()
        self._set_running(False)
        self.status.setText(self._summary(result))
        self.curves_updated.emit(result.completed)
        self.run_finished.emit(result)

    def _on_failed(self, job: Job, exc: object) -> None:
        run = self.current_run
        if run is None or job.context is not run:
            return
        self._keep_dataset(run)
        self.current_run = None
        if self.curves.data is not None:
            self.curves.data.state = "failed" if not self.curves.data.completed else "stopped"
            self.curves.refresh()
        self._set_running(False)
        self.show_error(failure_message(exc) if isinstance(exc, BaseException) else str(exc))
        self.status.setText("The run failed (see the message above the plots)")
        self.run_finished.emit(None)

    def _summary(self, r: CompareResult) -> str:
        names = [t.split(" η=")[0] for t in self.curves.data.titles] if self.curves.data else r.labels
        titles = dict(zip(r.labels, names, strict=False))
        done = [(r.final_accuracy(label), titles.get(label, label)) for label in r.labels
                if r.diverged[label] is None]
        done = [(a, label) for a, label in done if math.isfinite(a)]
        head = (f"Stopped after {r.completed:,} of {r.total:,} iterations" if r.cancelled
                else f"Done: {r.completed:,} iterations in {r.seconds:.1f} s")
        if done:
            acc, label = max(done)
            head += f" · best test accuracy {label} {acc:.1%}"
        div = [titles.get(label, label) for label in r.labels if r.diverged[label] is not None]
        if div:
            head += f" · diverged: {', '.join(div)}"
        return head

    def _set_running(self, running: bool) -> None:
        if not running:
            self.stopping = False
        self.setup.setEnabled(not running)
        self.action_set.refresh()
        self.progress.setVisible(running)
        if not running:
            self.rate.setText("")

    # ================================================================== messages
    def show_error(self, text: str) -> None:
        """A red banner above the plots (stays until the next Start)."""
        self.banner.setText(text)
        self.banner.show()

    # ================================================================== export
    def _ask_save_path(self, title: str, name: str, file_filter: str) -> str | None:
        """A file dialog in the last export folder; the name gets ``name``'s suffix if it lacks it."""
        chosen, _ = QFileDialog.getSaveFileName(self, title, str(Path(self._last_dir) / name), file_filter)
        if not chosen:
            return None
        suffix = Path(name).suffix
        return chosen if chosen.lower().endswith(suffix) else chosen + suffix

    def export_png(self, path: str | Path | None = None) -> bool:
        """Save the loss plot as a PNG (atomically); ``path`` None asks with a file dialog."""
        if self.curves.data is None:
            self.status.setText("Nothing to export yet: press Start")
            return False
        if path is None:
            path = self._ask_save_path("Export the loss plot", "training_loss.png", "PNG images (*.png)")
            if path is None:
                return False
        try:
            target = check_target(path, "PNG")
            image = self.render_image()
            with atomic_path(target) as tmp:
                # (the stubs want bytes for the format; this PySide6 only takes str)
                if not image.save(str(tmp), "PNG"):  # type: ignore[call-overload]
                    raise OSError(f"Qt could not write {target}")
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot export the plot: {exc}")
            return False
        self._last_dir = str(target.parent)
        self.status.setText(f"Saved {target}")
        return True

    def render_image(self) -> QImage:
        """The loss plot exactly as on screen (legend included), at the screen's device pixel
        ratio: 2× on a HiDPI display. (Rendering pyqtgraph at another scale thins its cosmetic
        lines against the text and markers, so the export does not try.)"""
        image = self.curves.loss_plot.grab().toImage()
        if image.isNull():
            raise OSError("the plot could not be rendered")
        return image

    def export_csv(self, path: str | Path | None = None) -> bool:
        """Save the last run's curves as CSV (``gdstudio train --out`` columns); ``path`` None asks."""
        if self.result is None:
            self.status.setText("Nothing to export yet: run (or stop) a comparison first")
            return False
        if path is None:
            path = self._ask_save_path("Export the curves", "training_curves.csv", "CSV files (*.csv)")
            if path is None:
                return False
        from gdstudio.train.cli import write_csv

        try:
            target = check_target(path, "CSV")
            write_csv(self.result, target)
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot export the curves: {exc}")
            return False
        self._last_dir = str(target.parent)
        self.status.setText(f"Saved {target}")
        return True

    # ================================================================== Show landscape
    def landscape_request(self, options: Any) -> LandscapeRequest:
        """The request for the last comparison with ``options``; ValueError (one line) when there is none."""
        result, request = self.result, getattr(self, "_request", None)
        if result is None or request is None:
            raise ValueError("Show landscape needs a comparison: press Start first")
        cached = self._dataset_cache
        if cached is None or cached[0] != dataset_key(request.dataset, request.config.seed):
            raise ValueError("The comparison's images are no longer loaded: press Start again, then Show landscape")
        drawn = self.curves.data  # the legend of the comparison (the rows may have changed since)
        colors = tuple(drawn.colors) if drawn is not None else tuple(r.color for r in self.optimizers.rows)
        titles = tuple(drawn.titles) if drawn is not None and len(drawn.titles) == len(request.entries) else ()
        return LandscapeRequest(cached[1], tuple(request.entries), request.config, options, result, colors, titles)

    def show_landscape(self, options: Any = None) -> bool:
        """Ask for the plane (or use ``options``, a LandscapeOptions), then compute it on a worker
        thread (progress and Cancel in the status bar) and open it in the studio. False if not started."""
        if self.running or self.landscape_job.busy:
            return False
        result = self.result
        if result is None or getattr(self, "_request", None) is None:
            self.status.setText("Show landscape needs a comparison: press Start first")
            return False
        if options is None:
            cached = self._dataset_cache
            n_train = len(cached[1].y_train) if cached is not None else 1000
            dialog = LandscapeDialog(result.labels, n_train, self._request.config.iterations, self)
            if dialog.exec() != LandscapeDialog.DialogCode.Accepted:
                return False
            options = dialog.options()
        try:
            request = self.landscape_request(options)
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        self.banner.hide()
        recorded = getattr(result, "weights", None) is not None
        self.status.setText("Computing the landscape of the last comparison" if recorded else
                            "Training the same networks again with their weights recorded (the last run did not "
                            "record them; same seed, same runs), then the landscape")
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.progress.show()
        self.landscape_cancel.show()
        self.setup.setEnabled(False)
        self.landscape_job.start(request)
        self.action_set.refresh()
        return True

    def cancel_landscape(self) -> None:
        self.landscape_job.cancel()

    def _end_landscape(self) -> None:
        self.progress.hide()
        self.landscape_cancel.hide()
        self.setup.setEnabled(not self.running)
        self.action_set.refresh()

    def _on_landscape_progress(self, text: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(f"{text}: %v / %m")

    def _on_landscape_done(self, data: object, colors: object) -> None:
        self._end_landscape()
        assert isinstance(data, LandscapeData)
        self.landscape = data
        studio = self.studio or studio_window()
        if studio is None:
            self.status.setText(f"Landscape ready ({data.note}) but no studio window to show it in")
            return
        if open_in_studio(studio, data, list(colors) if isinstance(colors, (list, tuple)) else []):
            self.status.setText(f"Opened the landscape in the studio ({data.plane}; {data.note}); "
                                "Edit → Undo there brings the previous session back")
            self.landscape_shown.emit(data)

    def _on_landscape_failed(self, text: str) -> None:
        self._end_landscape()
        self.show_error(f"Cannot compute the landscape: {text}")
        self.status.setText("The landscape failed (see the message above the plots)")

    def _on_landscape_cancelled(self) -> None:
        self._end_landscape()
        self.status.setText("Landscape cancelled: the studio is unchanged")

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a run and wait for its thread (a download stuck in connect() is left to time out
        on its own thread, which touches nothing of the window's)."""
        if self.landscape_job.busy:
            self.landscape_job.cancel()
        run = self.current_run
        if run is None:
            return
        run.stop()
        if run.stage == "train" and run.join(timeout) and run.result is not None:
            self.work.cancel()  # its queued outcome is handled here, not again later
            self._finish(run, run.result)  # keep what was recorded for when the lab reopens
            return
        self._give_up(run)
        self.status.setText("Stopped: the window was closed")


def _set_quietly(widget: QWidget, setter: Callable[[Any], object], value: object) -> None:
    """Show a model value in ``widget`` without the widget writing it back."""
    blocked = widget.blockSignals(True)
    try:
        setter(value)
    finally:
        widget.blockSignals(blocked)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"

