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

Errors never raise out of a slot: bad settings are shown next to their field and in a red
banner above the plots, and the run does not start; failures of the run itself (a missing or
corrupt IDX file, no network) end the run with the banner; a diverging optimizer is a result.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QColor, QGuiApplication, QKeySequence
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
    QStyle,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gdstudio.atomic import atomic_path, check_target
from gdstudio.train.compare import CompareResult, TrainConfig
from gdstudio.train.datasets import (
    MNIST_FILES,
    MNIST_MIRRORS,
    Dataset,
    DatasetError,
    find_mnist_files,
    mnist_cache_dir,
)
from gdstudio.ui.training.curves import SMOOTHING, CurvesView, LiveCurves
from gdstudio.ui.training.entries import BOOK_OPTIMIZERS, OptimizerList, hp_summary
from gdstudio.ui.training.placement import LAB_SIZE, beside
from gdstudio.ui.training.worker import DOWNLOAD_TIMEOUT, UPDATE_INTERVAL, Chunk, TrainingWorker, TrainRequest

__all__ = ["DATASETS", "MAX_HIDDEN_LAYERS", "MAX_HIDDEN_UNITS", "TrainingLab", "network_text", "parse_hidden_sizes"]

#: Dataset choices: (key, combo text).
DATASETS = (
    ("digits", "Digits — bundled 8×8 images (1,797)"),
    ("mnist_folder", "MNIST — from a folder…"),
    ("mnist_download", "MNIST — download into the cache"),
)
_FEATURES = {"digits": 64, "mnist_folder": 784, "mnist_download": 784}
MAX_HIDDEN_LAYERS = 16
MAX_HIDDEN_UNITS = 8192
_ERROR_STYLE = "color: #E0301E;"
_BANNER_STYLE = ("QLabel { color: #8a1c10; background: #fde7e4; border: 1px solid #e0301e; border-radius: 4px;"
                 " padding: 6px; }")
_OK_STYLE = "color: #2a7d2a;"


def parse_hidden_sizes(text: str) -> tuple[int, ...]:
    """``"100,100"`` (commas and/or spaces) -> (100, 100); ``""`` or ``none`` -> () (softmax
    regression). ValueError names the bad part."""
    raw = text.strip()
    if raw.lower() in ("", "none"):
        return ()
    parts = [p for p in re.split(r"[,\s;]+", raw) if p]
    sizes = []
    for part in parts:
        if not part.isdigit():
            raise ValueError(f"Invalid hidden sizes: {part!r} is not a whole number (write sizes like 100,100)")
        n = int(part)
        if n < 1 or n > MAX_HIDDEN_UNITS:
            raise ValueError(f"Invalid hidden sizes: {n} units (each layer needs 1 to {MAX_HIDDEN_UNITS:,})")
        sizes.append(n)
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"Invalid hidden sizes: {len(sizes)} layers (at most {MAX_HIDDEN_LAYERS})")
    return tuple(sizes)


def network_text(features: int, hidden: tuple[int, ...], classes: int = 10) -> str:
    """``64 → 100 → 10 · 7,510 weights`` (ReLU between layers, softmax at the end)."""
    sizes = (features, *hidden, classes)
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    kind = "ReLU, softmax" if hidden else "softmax regression"
    return f"{' → '.join(map(str, sizes))}  ({kind}, {weights:,} weights)"


class TrainingLab(QMainWindow):
    """The Training lab window. Signals (for tests and scripts): :attr:`run_started`,
    :attr:`curves_updated` (iterations drawn), :attr:`run_finished` (the CompareResult or None
    when the run failed or was given up)."""

    run_started = Signal()
    curves_updated = Signal(int)
    run_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_lab")
        self.setWindowTitle("Training lab — gdstudio")
        self.update_interval = UPDATE_INTERVAL
        self.result: CompareResult | None = None
        self._worker: TrainingWorker | None = None
        self._retired: list[TrainingWorker] = []
        self._generation = 0
        self._dataset_cache: tuple[object, Dataset] | None = None
        self._last_dir = str(Path.home())
        #: Where and how patiently MNIST is downloaded (tests point these at a local server).
        self.mnist_mirrors: tuple[str, ...] = MNIST_MIRRORS
        self.mnist_files: dict[str, tuple[str, str, int]] = dict(MNIST_FILES)
        self.download_timeout = DOWNLOAD_TIMEOUT

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
        self._on_dataset_changed()
        self._on_hidden_changed()
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
    def _action(self, key: str, text: str, tip: str, slot, shortcut: str = "", icon: str = "") -> QAction:
        a = QAction(text, self)
        a.setObjectName(f"lab_{key}")
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            tip += f"  ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
        a.setToolTip(tip)
        a.setStatusTip(tip)
        if icon:
            a.setIcon(self.style().standardIcon(getattr(QStyle.StandardPixmap, icon)))
        a.triggered.connect(lambda _c=False: slot())
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        self.start_action = self._action("start", "Start", "Train one network per optimizer from the same "
                                         "weights on the same mini-batches", self.start, "Ctrl+Return",
                                         "SP_MediaPlay")
        self.stop_action = self._action("stop", "Stop", "Stop training (what was recorded stays)", self.stop,
                                        "Esc", "SP_MediaStop")
        self.fit_action = self._action("fit", "Fit", "Fit the axes to the curves again", lambda: self.curves.fit(),
                                       "Ctrl+0")
        self.png_action = self._action("export_png", "Export PNG…", "Save the loss plot as a PNG image",
                                       lambda: self.export_png(), "Ctrl+E", "SP_DialogSaveButton")
        self.csv_action = self._action("export_csv", "Export CSV…", "Save every loss and test accuracy as CSV "
                                       "(the columns of gdstudio train --out)", lambda: self.export_csv(),
                                       "Ctrl+Shift+E", "SP_FileIcon")
        self.close_action = self._action("close", "Close", "Close the Training lab (stops a run)", self.close,
                                         "Ctrl+W")
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
        self.log_y.toggled.connect(lambda on: self.curves.set_log_y(on))
        tb.addWidget(self.log_y)
        self.smoothing = QComboBox()
        self.smoothing.setObjectName("smoothing")
        for key, text in SMOOTHING:
            self.smoothing.addItem(text, key)
        self.smoothing.setToolTip("How the loss curves are smoothed (the book: an 11-tap Kaiser window, β = 2)")
        self.smoothing.currentIndexChanged.connect(lambda _i: self.curves.set_smoothing(self.smoothing.currentData()))
        tb.addWidget(self.smoothing)
        tb.addAction(self.fit_action)
        tb.addSeparator()
        tb.addAction(self.png_action)
        tb.addAction(self.csv_action)
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
        self.dataset.currentIndexChanged.connect(lambda _i: self._on_dataset_changed())
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
        self.mnist_folder.editingFinished.connect(self._check_folder)
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
        self.hidden.textChanged.connect(lambda _t: self._on_hidden_changed())
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

    # ================================================================== settings
    @property
    def dataset_choice(self) -> str:
        return str(self.dataset.currentData())

    def set_dataset(self, key: str, folder: str | None = None) -> None:
        """Choose a dataset (a key of :data:`DATASETS`); ``folder`` for ``mnist_folder``."""
        i = self.dataset.findData(key)
        if i < 0:
            raise ValueError(f"Invalid dataset value: {key!r} (known: {', '.join(k for k, _ in DATASETS)})")
        if folder is not None:
            self.mnist_folder.setText(folder)
        self.dataset.setCurrentIndex(i)
        self._on_dataset_changed()

    def _on_dataset_changed(self) -> None:
        key = self.dataset_choice
        self.folder_row.setVisible(key == "mnist_folder")
        self.dataset_error.hide()
        if key == "digits":
            self.dataset_info.setText("UCI optdigits, 8×8 pixels in 0..16, bundled: 1,437 training and 360 test "
                                      "images (a stratified split drawn from the seed).")
        elif key == "mnist_folder":
            self.dataset_info.setText("60,000 training and 10,000 test images of 28×28 pixels, read from the IDX "
                                      "files in a folder you choose.")
            if self.mnist_folder.text().strip():
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
        self._on_hidden_changed()

    def choose_mnist_folder(self) -> None:
        start = self.mnist_folder.text().strip() or self._last_dir
        folder = QFileDialog.getExistingDirectory(self, "Choose the MNIST folder", start)
        if folder:
            self.mnist_folder.setText(folder)
            self._last_dir = folder
            self._check_folder()

    def _check_folder(self) -> bool:
        """Show whether the folder holds the four files (message under the field)."""
        if self.dataset_choice != "mnist_folder":
            return True
        text = self.mnist_folder.text().strip()
        try:
            if not text:
                raise DatasetError("Choose the folder that holds the MNIST IDX files (Browse…)")
            find_mnist_files(text)
        except DatasetError as exc:
            self.dataset_error.setText(str(exc))
            self.dataset_error.show()
            return False
        self.dataset_error.hide()
        self.dataset_info.setText(f"✓ Found the four MNIST files in {text}.")
        return True

    def _on_hidden_changed(self) -> bool:
        try:
            hidden = parse_hidden_sizes(self.hidden.text())
        except ValueError as exc:
            self.hidden_error.setText(str(exc))
            self.hidden_error.show()
            self.network_info.hide()
            self.hidden.setStyleSheet("QLineEdit { border: 1px solid #E0301E; }")
            return False
        self.hidden_error.hide()
        self.network_info.show()
        self.hidden.setStyleSheet("")
        self.network_info.setText(network_text(_FEATURES[self.dataset_choice], hidden))
        return True

    def dataset_spec(self) -> str:
        """``digits``, ``mnist`` or ``mnist:FOLDER``; ValueError (shown) when the folder is not usable."""
        key = self.dataset_choice
        if key == "digits":
            return "digits"
        if key == "mnist_download":
            return "mnist"
        if not self._check_folder():
            raise ValueError(self.dataset_error.text())
        return f"mnist:{Path(self.mnist_folder.text().strip()).expanduser()}"

    def config(self) -> TrainConfig:
        """The shared settings; ValueError (shown under the field) for bad hidden sizes."""
        if not self._on_hidden_changed():
            raise ValueError(self.hidden_error.text())
        cfg = TrainConfig(hidden=parse_hidden_sizes(self.hidden.text()), iterations=self.iterations.value(),
                          batch_size=self.batch_size.value(), seed=self.seed.value(),
                          eval_every=self.eval_every.value())
        cfg.validate()
        return cfg

    def request(self) -> TrainRequest:
        """Everything a run needs, validated; the first problem raises ValueError (and is shown)."""
        config = self.config()
        spec = self.dataset_spec()
        entries = tuple(self.optimizers.entries())
        return TrainRequest(spec, entries, config, self.download_timeout, tuple(self.mnist_mirrors),
                            dict(self.mnist_files))

    # ================================================================== running
    @property
    def running(self) -> bool:
        return self._worker is not None

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
        self._prune()
        self._generation += 1
        worker = TrainingWorker(self._generation, request, self._dataset_cache, self.update_interval)
        sig = worker.signals
        sig.phase.connect(self._on_phase)
        sig.download.connect(self._on_download)
        sig.loaded.connect(self._on_loaded)
        sig.progress.connect(self._on_progress)
        sig.finished.connect(self._on_finished)
        sig.failed.connect(self._on_failed)
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
        net = "-".join(map(str, (_FEATURES[self.dataset_choice], *cfg.hidden, 10)))
        self.curves.begin(data, f"Training loss — {name}, network {net}, batch {cfg.batch_size}, seed {cfg.seed}")
        self._worker = worker
        self._request = request
        self._set_running(True)
        self.status.setText("Starting…")
        self.progress.setRange(0, request.config.iterations)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m iterations")
        worker.start()
        self.run_started.emit()
        return True

    def stop(self) -> None:
        """Ask the run to stop. Training stops after the current iteration (the result keeps what
        was recorded); a download or load that has not reached training is given up at once."""
        w = self._worker
        if w is None:
            return
        w.cancel()
        if w.stage == "train":
            self.stop_action.setEnabled(False)
            self.status.setText("Stopping…")
            return
        self._retire(w)
        self._set_running(False)
        self.status.setText("Stopped before training began")
        self.run_finished.emit(None)

    def _current(self, generation: int) -> bool:
        return self._worker is not None and self._worker.generation == generation

    def _on_phase(self, generation: int, phase: str) -> None:
        if not self._current(generation):
            return
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
        return cached[1].n_features if cached is not None else _FEATURES[self.dataset_choice]

    def _on_download(self, generation: int, name: str, done: int, total: int) -> None:
        if not self._current(generation):
            return
        self.status.setText(f"Downloading MNIST: {name}")
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"{done / 1e6:.1f} / {total / 1e6:.1f} MB")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{done / 1e6:.1f} MB")

    def _on_loaded(self, generation: int, key: object, dataset: object) -> None:
        if isinstance(dataset, Dataset):
            self._dataset_cache = (key, dataset)  # worth keeping even from a run given up
            if self.dataset_choice == "mnist_download":
                self._on_dataset_changed()

    def _on_progress(self, generation: int, chunk: Chunk) -> None:
        if not self._current(generation) or self.curves.data is None:
            return
        self.curves.data.add(chunk)
        self.curves.request_refresh()
        self.progress.setValue(chunk.last)
        rate = chunk.last / chunk.elapsed if chunk.elapsed > 0 else 0.0
        left = (chunk.total - chunk.last) / rate if rate > 0 else math.nan
        self.rate.setText(f"{rate:,.0f} it/s · {_duration(left)} left" if math.isfinite(left) else "")
        self.curves_updated.emit(chunk.last)

    def _on_finished(self, generation: int, result: object) -> None:
        if not self._current(generation) or not isinstance(result, CompareResult):
            return
        self._retire(self._worker)
        self.result = result
        if self.curves.data is not None:
            self.curves.data.finish(result)
            self.curves.refresh()
        self._set_running(False)
        self.status.setText(self._summary(result))
        self.curves_updated.emit(result.completed)
        self.run_finished.emit(result)

    def _on_failed(self, generation: int, message: str) -> None:
        if not self._current(generation):
            return
        self._retire(self._worker)
        if self.curves.data is not None:
            self.curves.data.state = "failed" if not self.curves.data.completed else "stopped"
            self.curves.refresh()
        self._set_running(False)
        self.show_error(message)
        self.status.setText("The run failed (see the message above the plots)")
        self.run_finished.emit(None)

    def _summary(self, r: CompareResult) -> str:
        names = [t.split(" η=")[0] for t in self.curves.data.titles] if self.curves.data else r.labels
        titles = dict(zip(r.labels, names, strict=False))
        done = [(r.final_accuracy(l), titles.get(l, l)) for l in r.labels if r.diverged[l] is None]
        done = [(a, l) for a, l in done if math.isfinite(a)]
        head = (f"Stopped after {r.completed:,} of {r.total:,} iterations" if r.cancelled
                else f"Done: {r.completed:,} iterations in {r.seconds:.1f} s")
        if done:
            acc, label = max(done)
            head += f" · best test accuracy {label} {acc:.1%}"
        div = [titles.get(l, l) for l in r.labels if r.diverged[l] is not None]
        if div:
            head += f" · diverged: {', '.join(div)}"
        return head

    def _retire(self, worker: TrainingWorker | None) -> None:
        """Forget a run (its late signals are ignored); keep the object until its thread ends so
        it is released on the UI thread."""
        if worker is None:
            return
        if self._worker is worker:
            self._worker = None
        if worker.is_alive():
            self._retired.append(worker)
        self._prune()

    def _prune(self) -> None:
        self._retired = [w for w in self._retired if w.is_alive()]

    def _set_running(self, running: bool) -> None:
        self.setup.setEnabled(not running)
        self.start_action.setEnabled(not running)
        self.stop_action.setEnabled(running)
        has = self.result is not None
        self.csv_action.setEnabled(has and not running)
        self.png_action.setEnabled(self.curves.data is not None and (running or self.curves.data.completed > 0))
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
                if not image.save(str(tmp), "PNG"):
                    raise OSError(f"Qt could not write {target}")
        except (OSError, ValueError) as exc:
            self.show_error(f"Cannot export the plot: {exc}")
            return False
        self._last_dir = str(target.parent)
        self.status.setText(f"Saved {target}")
        return True

    def render_image(self):  # -> QImage
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

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a run and wait for its thread (a download stuck in connect() is left to time out
        on its own thread, which touches nothing of the window's)."""
        w = self._worker
        if w is None:
            return
        w.cancel()
        if w.stage == "train" and w.join(timeout) and w.result is not None:
            self._on_finished(w.generation, w.result)  # keep what was recorded for when the lab reopens
            return
        self._retire(w)
        self._set_running(False)
        self.status.setText("Stopped: the window was closed")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"

