"""The studio's main window, assembled from tables around the session and the views.

Layout: the contour and the 3-D surface side by side (a splitter) above the playback bar; docks
for the problem and optimizer panels (left) and the history plot and runs table (bottom). The
actions, menus, toolbar and docks come from :mod:`gdstudio.ui.actions`; the views are fed by a
:class:`~gdstudio.ui.bridge.ViewBridge`; one :class:`~gdstudio.ui.clock.Clock` drives playback.

Errors never raise out of a slot: bad files and values become a message box (non-blocking,
window-modal) or a status-bar line.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from gdstudio import __version__
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.runs import RunConfig, Status
from gdstudio.model.persistence import SessionError, read_session_file, save_session
from gdstudio.model.presets import list_presets, preset_document
from gdstudio.model.session import (
    RACE_OPTIMIZERS,
    LoadCancelled,
    PreparedSession,
    Session,
    prepare_cost,
    prepare_session,
)
from gdstudio.ui.actions import ACTIONS, DOCKS, MENUS, SEP, TOOLBAR, ActionId, ActionSet, DockSpec
from gdstudio.ui.background import Background, Job
from gdstudio.ui.bridge import Subscriptions, ViewBridge
from gdstudio.ui.clock import Clock
from gdstudio.ui.export_dialog import ExportController
from gdstudio.ui.panels import OptimizerPanel, PlaybackBar, ProblemPanel, RunsPanel
from gdstudio.ui.panels.playback import format_loss
from gdstudio.ui.presentation import scale_fonts
from gdstudio.ui.settings import StudioSettings
from gdstudio.ui.status import ThrottledSignal
from gdstudio.ui.views.contour import ContourView
from gdstudio.ui.views.fit import FitView
from gdstudio.ui.views.history import HistoryView
from gdstudio.ui.views.mirror import MirrorPane
from gdstudio.ui.views.multiples import SmallMultiplesView
from gdstudio.ui.views.surface import SurfaceView

if TYPE_CHECKING:
    from gdstudio.ui.training import TrainingLab

__all__ = ["DEFAULT_PRESET", "MainWindow"]

DEFAULT_PRESET = "himmelblau"
DEFAULT_SIZE = (1600, 1000)
#: How much larger fonts, markers and lines are in presentation mode (F11).
PRESENTATION_SCALE = 1.8
#: Saved steps × runs below which a session is prepared on the UI thread (~0.2 s at most).
SYNC_LOAD_COST = 20_000
FILE_FILTER = "gdstudio sessions (*.json);;All files (*)"
_ERROR_STYLE = "color: #E0301E; font-weight: bold;"


@dataclass(frozen=True)
class _Loading:
    """What a session being prepared off the UI thread is, and what to do once it is ready."""

    what: str
    on_loaded: Callable[[], None]
    on_failed: Callable[[str], None] | None = None
    label: str = "open session"


class MainWindow(QMainWindow):
    """The studio window. ``settings`` default to the user's; tests pass isolated ones."""

    #: Presentation mode was entered (True) or left (False).
    presentation_changed = Signal(bool)
    # Declared for the action table (gdstudio.ui.actions), which is typed against this class.
    session: Session
    exports: ExportController
    history_view: HistoryView
    fit_view: FitView
    #: The QActions by ActionId (shadows QWidget.actions(), the list of actions added to the window).
    actions: dict[str, QAction]  # type: ignore[assignment]

    def __init__(self, session: Session | None = None, settings: StudioSettings | None = None) -> None:
        super().__init__()
        self.session = session if session is not None else Session()
        self.settings = settings if settings is not None else StudioSettings.for_user()
        self.current_path: Path | None = None
        self.document_title = "untitled"
        self.message_box: QMessageBox | None = None
        self.info_box: QMessageBox | None = None
        self.training_lab: TrainingLab | None = None  # the Training lab window, made on first use
        self._closed = False
        self._asked = False  # File → Quit already asked about unsaved changes
        self._problem_key: tuple[object, ...] | None = None  # the problem the status line and docks describe
        self._shown_panes: tuple[bool, bool, bool] | None = None  # contour, 3-D, small multiples
        self._presentation: tuple[Any, ...] | None = None  # what presentation mode hid, to restore
        self.load_work = Background(self, name="gdstudio-load")  # preparing a long session
        self.load_work.progress.connect(self._on_load_progress)
        self.load_work.done.connect(self._on_load_done)
        self.load_work.failed.connect(self._on_load_failed)
        self.exports = ExportController(self)
        self.setObjectName("gdstudio_main_window")
        self.setWindowTitle("gdstudio")
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)

        # Views first (the docks and the bridge need them).
        self.contour = ContourView()
        self.contour.setObjectName("contour_view")
        self.surface_view = SurfaceView()
        self.surface_view.setObjectName("surface_view")
        self.history_view = HistoryView()
        self.history_view.setObjectName("history_view")
        self.fit_view = FitView()
        self.fit_view.setObjectName("fit_view")
        self.multiples = SmallMultiplesView()
        self.multiples.setObjectName("multiples_view")
        self.multiples.hide()
        for view, tip in ((self.contour, "Contour: click to move the selected run's start, Shift-click to add a "
                           "run, drag a start ring to move it; wheel zooms, drag pans"),
                          (self.surface_view, "3-D surface: drag to orbit, wheel to zoom (Ctrl+0 resets)"),
                          (self.history_view, "Loss, gradient norm and effective step per step (Ctrl+L: log)")):
            view.setToolTip(tip)

        self.action_set = ActionSet(ACTIONS, self, self, on_error=self.show_status)
        self.actions = self.action_set.actions  # type: ignore[method-assign]

        self.playback = PlaybackBar(self.session, self.actions)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("views_splitter")
        # The 3-D view lives offscreen and is mirrored into the window (see views/mirror.py): a
        # QOpenGLWidget inside the window would make every repaint composite the whole window in GL.
        self.surface_pane = MirrorPane(self.surface_view, self.surface_view.gl_view)
        self.surface_pane.setObjectName("surface_pane")
        self.surface_pane.setToolTip(self.surface_view.toolTip())
        self.splitter.addWidget(self.contour)
        self.splitter.addWidget(self.surface_pane)
        self.splitter.addWidget(self.multiples)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([1, 1])
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(2)
        cl.addWidget(self.splitter, 1)
        cl.addWidget(self.playback)
        self.setCentralWidget(central)

        self.panels: dict[str, ProblemPanel | OptimizerPanel | RunsPanel] = {}
        self.docks: dict[str, QDockWidget] = {}
        for spec in DOCKS:
            self._make_dock(spec)
        self.splitDockWidget(self.docks["history"], self.docks["runs"], Qt.Orientation.Horizontal)

        self.menus: dict[str, QMenu] = {}
        self._build_menus()
        self.toolbar = self._build_toolbar()
        self._build_status_bar()

        self.bridge = ViewBridge(self.session, self.contour, self.surface_view, self.history_view, self)
        self.bridge.message.connect(self.show_status)
        self.bridge.add_view(self.fit_view)
        self.bridge.add_view(self.multiples)
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.leave_presentation)
        self.clock = Clock(self.session, self)

        # The status line's step / loss / fps: at most 10 updates a second while playing.
        self.status_updates = ThrottledSignal(parent=self)
        self.status_updates.fired.connect(self._update_status_labels)
        self._subs = Subscriptions()
        s = self.session
        # The fields the window shows (the views are the bridge's; the checkable actions follow
        # their own fields through their bindings).
        self._subs.connect(s.message, self.show_status)
        self._subs.connect(s.playback.events.playing, self._on_playing)
        for layout_field in (s.options.events.small_multiples, s.options.events.show_surface):
            self._subs.connect(layout_field, self.action_set.refresh)  # 3-D view: enabled side by side only
            self._subs.connect(layout_field, self._apply_view_layout)
        self._subs.connect(s.problem_changed, self.action_set.refresh)  # the problem object is swapped
        self._subs.connect(s.problem_changed, self._fit_views_to_problem)
        self._subs.connect(s.problem_changed, self._apply_view_layout)
        self.docks["fit"].visibilityChanged.connect(lambda _v: self._apply_view_layout())
        self._subs.connect(s.playback.events.position, lambda *_: self._refresh_status())
        self._subs.connect(s.runs_advanced, self._refresh_status)  # (steps computed: no field)
        self._subs.connect(s.runs_changed, lambda: self._refresh_status(force=True))
        self._subs.connect(s.playback.events.selected, lambda *_: self._on_selection())
        self._subs.connect(s.undo_stack.changed, self._on_undo_changed)
        self.action_set.refresh()
        self._on_playing(s.playing)
        self._on_selection()
        self._fit_views_to_problem()
        self._apply_view_layout()

        self.resize(*DEFAULT_SIZE)
        geometry, state = self.settings.window_geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.fit_to_screen()
        self._layout_pending = state is None or not self.restoreState(state)
        self._update_title()

    def fit_to_screen(self) -> None:
        """Keep the window on its screen: the default 1600×1000, or a size saved on a larger
        screen, is shrunk to the available area (a 1280×720 projector) and moved into view."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        avail = screen.availableGeometry()
        w, h = min(self.width(), avail.width()), min(self.height(), avail.height())
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        x = min(max(self.x(), avail.x()), avail.x() + avail.width() - self.width())
        y = min(max(self.y(), avail.y()), avail.y() + avail.height() - self.height())
        if (x, y) != (self.x(), self.y()):
            self.move(x, y)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._layout_pending:
            self._layout_pending = False
            self.default_layout()

    def default_layout(self) -> None:
        """Dock sizes for a first launch: panels 380 px wide, history and runs a third of the height."""
        h = self.height()
        self.resizeDocks([self.docks["problem"], self.docks["optimizer"]], [380, 380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["problem"], self.docks["optimizer"]], [int(h * 0.38), int(h * 0.62)],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["history"], self.docks["runs"]], [max(240, int(h * 0.34))] * 2,
                         Qt.Orientation.Vertical)
        w = self.width() - 380
        self.resizeDocks([self.docks["history"], self.docks["runs"]], [int(w * 0.52), int(w * 0.48)],
                         Qt.Orientation.Horizontal)

    # ================================================================== construction
    def _make_dock(self, spec: DockSpec) -> QDockWidget:
        widget = spec.factory(self)
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(f"dock_{spec.id}")
        dock.setToolTip(spec.tooltip)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        area = {"left": Qt.DockWidgetArea.LeftDockWidgetArea, "right": Qt.DockWidgetArea.RightDockWidgetArea,
                "bottom": Qt.DockWidgetArea.BottomDockWidgetArea, "top": Qt.DockWidgetArea.TopDockWidgetArea}[spec.area]
        self.addDockWidget(area, dock)
        if not spec.visible:
            dock.hide()
        self.docks[spec.id] = dock
        return dock

    @staticmethod
    def _scrolled(widget: QWidget, min_width: int = 330) -> QScrollArea:
        area = QScrollArea()
        area.setWidget(widget)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setMinimumWidth(min_width)
        return area

    def make_problem_panel(self) -> QWidget:
        panel = self.panels["problem"] = ProblemPanel(self.session)
        return self._scrolled(panel)

    def make_optimizer_panel(self) -> QWidget:
        panel = self.panels["optimizer"] = OptimizerPanel(self.session)
        return self._scrolled(panel)

    def make_runs_panel(self) -> QWidget:
        panel = self.panels["runs"] = RunsPanel(self.session, self.actions)
        return panel

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for spec in MENUS:
            menu = bar.addMenu(spec.title)
            menu.setObjectName(f"menu_{spec.id}")
            menu.setToolTipsVisible(True)
            self.menus[spec.id] = menu
            for entry in spec.entries:
                if entry == SEP:
                    menu.addSeparator()
                elif entry == "@recent":
                    self.recent_menu = menu.addMenu("Open &recent")
                    self.recent_menu.setObjectName("menu_recent")
                    self.recent_menu.setToolTipsVisible(True)
                    self._rebuild_recent_menu()
                elif entry == "@presets":
                    self._build_presets_menu(menu)
                elif entry == "@layout":
                    layout = menu.addMenu("&Layout")
                    layout.setObjectName("menu_layout")
                    group = QActionGroup(self)
                    group.setExclusive(True)
                    for aid in ("layout_side_by_side", "layout_multiples"):
                        group.addAction(self.actions[aid])
                        layout.addAction(self.actions[aid])
                elif entry == "@docks":
                    docks = menu.addMenu("&Panels")
                    for dock in self.docks.values():
                        docks.addAction(dock.toggleViewAction())
                else:
                    menu.addAction(self.actions[entry])

    def _build_presets_menu(self, menu: QMenu) -> None:
        self.preset_actions: dict[str, QAction] = {}
        groups: dict[str, QMenu] = {}
        for info in list_presets():
            sub = groups.get(info.group)
            if sub is None:
                sub = groups[info.group] = menu.addMenu(info.group)
                sub.setToolTipsVisible(True)
            action = sub.addAction(info.title)
            action.setObjectName(f"preset_{info.id}")
            action.setToolTip(info.description or info.title)
            action.setStatusTip(info.description or info.title)
            action.triggered.connect(lambda _c=False, pid=info.id: self.load_preset(pid))
            self.preset_actions[info.id] = action

    def _rebuild_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.settings.recent_files()
        for i, path in enumerate(files, 1):
            p = Path(path)
            action = menu.addAction(f"&{i}  {p.name}   —   {p.parent}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setData(path)
            action.triggered.connect(lambda _c=False, f=path: self.open_path(f))
        if not files:
            none = menu.addAction("(no recent sessions)")
            none.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.actions["clear_recent"])

    def _build_toolbar(self) -> QToolBar:
        tb = QToolBar("Main toolbar", self)
        tb.setObjectName("main_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setMovable(True)
        for entry in TOOLBAR:
            if entry == SEP:
                tb.addSeparator()
            else:
                tb.addAction(self.actions[entry])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        return tb

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_message = QLabel()
        self.status_message.setObjectName("status_message")
        self.status_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_step = QLabel()
        self.status_step.setObjectName("status_step")
        self.status_step.setToolTip("The step shown / the steps computed")
        self.status_loss = QLabel()
        self.status_loss.setObjectName("status_loss")
        self.status_loss.setToolTip("Loss of the selected run at the step shown")
        self.status_fps = QLabel()
        self.status_fps.setObjectName("status_fps")
        self.status_fps.setToolTip("Measured clock ticks per second while playing")
        sb.addWidget(self.status_message, 1)
        self.load_progress = QProgressBar()
        self.load_progress.setObjectName("load_progress")
        self.load_progress.setMaximumWidth(220)
        self.load_progress.setTextVisible(True)
        self.load_cancel = QPushButton("Cancel")
        self.load_cancel.setObjectName("load_cancel")
        self.load_cancel.setToolTip("Stop opening the session (the current one stays)")
        self.load_cancel.clicked.connect(self.cancel_loading)
        for widget in (self.load_progress, self.load_cancel):
            sb.addPermanentWidget(widget)
            widget.hide()
        for label in (self.status_step, self.status_loss, self.status_fps):
            label.setMinimumWidth(110)
            sb.addPermanentWidget(label)

    # ================================================================== status
    def show_status(self, text: str) -> None:
        """A one-line message; lines about diverged runs (or errors) are red."""
        text = str(text)
        red = "diverged" in text or text.startswith(("Invalid", "Cannot", "Error"))
        self.status_message.setStyleSheet(_ERROR_STYLE if red else "")
        self.status_message.setText(text)
        self.status_message.setToolTip(text)

    def _refresh_status(self, force: bool = False) -> None:
        """Ask for the step / loss / fps labels: at once when paused or ``force``, else throttled."""
        self.status_updates.request(force=force or not self.session.playing)

    def _update_status_labels(self) -> None:
        s = self.session
        self.status_step.setText(f"step {s.position} / {s.computed_steps}")
        e = s.selected
        if e is not None and e.run is not None and len(e.run.history):
            k = min(s.position, len(e.run.history) - 1)
            text = f"loss {format_loss(float(e.run.history.loss[k]))}"
            if e.run.status is Status.DIVERGED:
                text = f"diverged @ {e.run.diverged_at}"
            self.status_loss.setText(text)
            self.status_loss.setStyleSheet(_ERROR_STYLE if e.run.status is Status.DIVERGED else "")
        else:
            self.status_loss.setText("")
        fps = self.clock.fps
        self.status_fps.setText(f"{fps:.0f} fps" if fps else "paused")

    def _on_playing(self, playing: bool) -> None:
        """The play action's icon and text (its checked state follows the session by itself)."""
        a = self.actions[ActionId.PLAY]
        a.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause if playing
                                            else QStyle.StandardPixmap.SP_MediaPlay))
        a.setText("&Pause" if playing else "&Play")
        self._refresh_status(force=True)

    def _fit_views_to_problem(self) -> None:
        """A new problem replaces the status line (the old one described the old problem) and
        shows the model-fit dock for data problems (hidden for analytic surfaces)."""
        p = self.session.problem
        key = (p.name, getattr(p, "dataset", None), getattr(p, "formula", ""))
        changed = key != self._problem_key
        if changed and self._problem_key is not None:
            extra = f" · {p.n_samples} data points" if p.n_samples else ""
            self.show_status(f"{p.title}: {p.formula}{extra}")
        if changed and self._presentation is None:
            self.docks["fit"].setVisible(p.n_samples is not None)
        self._problem_key = key

    def _apply_view_layout(self) -> None:
        """Which views show, from the view options and the problem; hidden views get no pushes.

        Side by side: the contour and (2-D problems, 3-D view on) the 3-D surface. One contour
        per run: the small multiples instead of both. One-parameter problems have no surface:
        the contour (the loss curve) takes the width and the model fit shows the data."""
        if self._closed:
            return
        o, dim = self.session.options, self.session.problem.dim
        multiples = o.small_multiples
        surface = not multiples and o.show_surface and dim == 2
        shown = (not multiples, surface, multiples)
        self.contour.setVisible(shown[0])
        self.surface_pane.setVisible(shown[1])
        self.multiples.setVisible(shown[2])
        if shown != self._shown_panes:
            self._shown_panes = shown
            total = max(3, self.splitter.width())
            count = sum(shown)
            self.splitter.setSizes([total // count if on else 0 for on in shown])
        self.bridge.set_active(self.contour, not multiples)
        self.bridge.set_active(self.multiples, multiples)
        self.bridge.set_active(self.surface_view, surface)
        self.bridge.set_active(self.fit_view, self.docks["fit"].isVisible() or self.fit_view.isVisible())
        # (the colour map, grey for races, is the bridge's: DisplayOptions.colormap)

    def _on_selection(self) -> None:
        self.action_set.refresh()  # duplicate / remove need a selected run
        self._refresh_status(force=True)

    def _on_undo_changed(self, *_args: object) -> None:
        """Undo / Redo name their command and follow the stack; the title marks unsaved changes."""
        self.action_set.refresh()
        self._update_title()

    @property
    def modified(self) -> bool:
        """The session has changes not saved to its file (since the launch, Open or Save)."""
        return not self.session.undo_stack.is_clean

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document_title}{' *' if self.modified else ''} — gdstudio")

    def show_error(self, title: str, text: str) -> QMessageBox:
        """A window-modal message box that does not block the caller (errors in files, races)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("error_box")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.message_box = box
        return box

    # ================================================================== starting
    def start(self, session_path: str | None = None, preset: str | None = None) -> None:
        """What the window shows first: a file, a preset, the last session, or the default preset.
        What it shows is where the undo history begins, with no unsaved changes."""
        self._start(session_path, preset)
        self._launched()

    def _launched(self) -> None:
        self.session.undo_stack.clear()
        self.session.undo_stack.mark_clean()
        self._update_title()

    def _start(self, session_path: str | None, preset: str | None) -> None:
        if session_path:
            if self.open_path(session_path):
                return
        elif preset:
            if self.load_preset(preset):
                return
        else:
            last = self.settings.last_session_path
            if last.exists():
                try:
                    data = read_session_file(last)
                except SessionError as exc:
                    self.load_preset(DEFAULT_PRESET)
                    self.show_status(f"Cannot restore the last session ({exc}); showing the default")
                    return
                long = prepare_cost(data) > SYNC_LOAD_COST
                if long:
                    self.load_preset(DEFAULT_PRESET)  # shown at once while the last session is prepared

                def restored() -> None:
                    self.current_path = None
                    self.document_title = "last session"
                    self._launched()
                    self.show_status("Restored the last session (File → New for the default)")

                def refused(reason: str) -> None:
                    if not long:
                        self.load_preset(DEFAULT_PRESET)
                        self._launched()
                    self.show_status(f"Cannot restore the last session ({reason}); showing the default")

                self.load_document(data, "the last session", restored, on_failed=refused)
                return
        self.load_preset(DEFAULT_PRESET)

    # ================================================================== loading (all or nothing)
    def load_document(self, data: Any, what: str, on_loaded: Callable[[], None],
                      on_failed: Callable[[str], None] | None = None, *, label: str = "open session") -> bool:
        """Load a session document all or nothing; ``on_loaded`` runs once it is in place. The
        load is one undo command named ``label`` ("open session foo.json", "load preset Beale").

        A failure shows a message box naming what is wrong, or, with ``on_failed``, calls it
        with that text instead (the quiet fallback of a launch).

        Cheap documents are prepared at once; a document whose runs must recompute many steps is
        prepared on a worker thread with a progress bar and Cancel in the status bar, while the
        window keeps showing (and playing) the current session. Returns False when the document
        was refused at once (bad content: the message names what is wrong)."""
        self.cancel_loading()
        if prepare_cost(data) <= SYNC_LOAD_COST:
            try:
                prepared = prepare_session(data)
            except SessionError as exc:
                self._failed(what, str(exc), on_failed)
                return False
            return self._swap_in(prepared, _Loading(what, on_loaded, on_failed, label))

        def prepare(job: Job) -> PreparedSession:
            return prepare_session(data, progress=lambda done, total: job.report((done, total)),
                                   cancelled=job.cancelled)

        self.load_work.start(prepare, context=_Loading(what, on_loaded, on_failed, label))
        self.load_progress.setRange(0, 0)
        self.load_progress.setFormat(f"Opening {what}… %p%")
        self.load_progress.show()
        self.load_cancel.show()
        self.show_status(f"Opening {what}: computing its runs (the window stays usable; Cancel stops)")
        return True

    @property
    def loading(self) -> bool:
        """A session is being prepared off the UI thread."""
        return self.load_work.busy

    def cancel_loading(self) -> None:
        """Stop preparing a session (the current one stays)."""
        job = self.load_work.cancel()
        if job is not None:
            self._end_loading()
            self.show_status(f"Stopped opening {job.context.what}")

    def _end_loading(self) -> None:
        self.load_progress.hide()
        self.load_cancel.hide()

    def _on_load_progress(self, _job: Job, value: object) -> None:
        assert isinstance(value, tuple)
        done, total = value
        if total > 0:
            self.load_progress.setRange(0, 1000)
            self.load_progress.setValue(int(1000 * done / total))

    def _on_load_done(self, job: Job, prepared: object) -> None:
        self._end_loading()
        assert isinstance(prepared, PreparedSession)
        self._swap_in(prepared, job.context)

    def _on_load_failed(self, job: Job, exc: object) -> None:
        self._end_loading()
        if isinstance(exc, LoadCancelled):
            return
        loading: _Loading = job.context
        self._failed(loading.what, str(exc), loading.on_failed)

    def _failed(self, what: str, text: str, on_failed: Callable[[str], None] | None) -> None:
        if on_failed is not None:
            on_failed(text)
        else:
            self.show_error(f"Cannot open {what}", text)

    def _swap_in(self, prepared: PreparedSession, loading: _Loading) -> bool:
        """Swap a prepared session in and push it to every view at once; if anything fails on
        the way, put the previous session back and say what failed."""
        what, on_failed = loading.what, loading.on_failed
        snapshot = self.session.snapshot()
        try:
            self.session.apply_prepared(prepared, label=loading.label)
            self.bridge.flush()
        except Exception as exc:  # any failure: nothing half-loaded stays on screen
            cause = exc.__cause__ or exc
            self.session.restore(snapshot)
            with contextlib.suppress(Exception):
                self.bridge.flush()
            self._failed(what, f"{what[:1].upper()}{what[1:]} could not be shown "
                         f"({type(cause).__name__}: {cause}). The previous session is kept.", on_failed)
            if on_failed is None:
                self.show_status(f"Cannot open {what}")
            return False
        loading.on_loaded()
        return True

    # ================================================================== File
    def new_session(self) -> None:
        """File → New: the default preset, untitled; one undo command ("new session"), no question."""
        self.session.set_playing(False)
        self.load_preset(DEFAULT_PRESET, label="new session")
        self.current_path = None
        self.document_title = "untitled"
        self._update_title()

    def open_session(self) -> None:
        start = str(self.current_path.parent) if self.current_path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open session", start, FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a session file; errors show the SessionError text and change nothing."""
        self.session.set_playing(False)
        try:
            data = read_session_file(path)
        except SessionError as exc:
            self.show_error("Cannot open session", str(exc))
            self.show_status(f"Cannot open {Path(path).name}")
            if not Path(path).exists():
                self.settings.remove_recent(path)
                self._rebuild_recent_menu()
            return False
        return self.load_document(data, Path(path).name, lambda: self._became_current(Path(path), "Opened"),
                                  label=f"open session {Path(path).name}")

    def save_session(self) -> bool:
        if self.current_path is None:
            return self.save_session_as()
        return self.save_to(self.current_path)

    def save_session_as(self) -> bool:
        start = str(self.current_path) if self.current_path else "session.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save session as", start, FILE_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += ".json"
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            save_session(self.session, path)
        except SessionError as exc:
            self.show_error("Cannot save session", str(exc))
            return False
        self._became_current(Path(path), "Saved")
        return True

    def _became_current(self, path: Path, verb: str) -> None:
        """``path`` is now the session's file: title, recent files, status line."""
        self.current_path = path
        self.document_title = path.name
        self.session.undo_stack.mark_clean()  # the session is what the file holds
        self.settings.add_recent(path)
        self._rebuild_recent_menu()
        self._update_title()
        self.show_status(f"{verb} {path}")

    def clear_recent(self) -> None:
        self.settings.clear_recent()
        self._rebuild_recent_menu()

    # ================================================================== Presets
    def load_preset(self, preset_id: str, *, label: str | None = None) -> bool:
        """Load a preset: one undo command ("load preset Beale"), so it needs no question."""
        self.session.set_playing(False)
        try:
            data = preset_document(preset_id)
        except SessionError as exc:
            self.show_error("Cannot load preset", str(exc))
            return False
        info = next((p for p in list_presets() if p.id == preset_id), None)
        title = info.title if info else preset_id

        def loaded() -> None:
            self.current_path = None
            self.document_title = title
            self._update_title()
            self.show_status(info.description if info and info.description else f"Preset {preset_id}")

        return self.load_document(data, f"the preset {title!r}", loaded, label=label or f"load preset {title}")

    # ================================================================== Playback
    def step_forward(self) -> None:
        self.session.set_playing(False)
        if not self.session.step_forward():
            self.show_status("Nothing to step: every run has stopped (R restarts)")

    def step_back(self) -> None:
        self.session.set_playing(False)
        self.session.step_back()

    def faster(self) -> None:
        s = self.session
        s.set_speed(steps_per_tick=min(1000, max(s.steps_per_tick + 1, round(s.steps_per_tick * 1.5))))

    def slower(self) -> None:
        s = self.session
        s.set_speed(steps_per_tick=max(1, min(s.steps_per_tick - 1, round(s.steps_per_tick / 1.5))))

    # ================================================================== Runs
    def add_run(self) -> None:
        """A run with the next optimizer not yet in the session, from the selected run's start."""
        s = self.session
        sel = s.selected
        used = {e.config.optimizer for e in s.runs}
        name = next((n for n in RACE_OPTIMIZERS if n not in used), "adam")
        spec = get_spec(name)
        start = sel.config.start if sel is not None else s.problem.start
        hp: dict[str, Any] = {}
        if sel is not None:
            from gdstudio.ui.panels.optimizer_panel import carried_hyperparameters

            hp = carried_hyperparameters(sel, spec)
        batch = sel.config.batch_size if sel is not None and s.problem.n_samples else None
        rid = s.add_run(RunConfig(name, tuple(start), hp, batch))
        self.show_status(f"Added run {rid}: {s.entry(rid).label} (tune η in the optimizer panel, or Race all)")

    def duplicate_run(self) -> None:
        if self.session.selected_id is not None:
            self.session.duplicate_run(self.session.selected_id)

    def remove_run(self) -> None:
        if self.session.selected_id is not None:
            self.session.remove_run(self.session.selected_id)

    def race_all(self) -> None:
        """Race all…: the fair-race dialog (optimizers, budget, tuning; it tunes on a worker)."""
        from gdstudio.ui.fair_race_dialog import open_fair_race

        open_fair_race(self)

    @property
    def racing(self) -> bool:
        """The fair-race dialog is tuning off the UI thread."""
        from gdstudio.ui.fair_race_dialog import FairRaceDialog

        dialog = self.findChild(FairRaceDialog, "fair_race_dialog")
        return dialog is not None and dialog.busy

    # ================================================================== View
    @property
    def presenting(self) -> bool:
        """Presentation mode is on (F11)."""
        return self._presentation is not None

    def presentation_signals(self) -> tuple[Any, ...]:
        """What announces that presentation mode changed (the action's binding listens)."""
        return (self.presentation_changed,)

    def set_presentation(self, checked: bool) -> None:
        """Presentation mode: only the views and the playback bar, full screen, large type."""
        if checked and self._presentation is None:
            hidden = [w for w in (*self.docks.values(), self.toolbar, self.statusBar(), self.menuBar())
                      if w.isVisible()]
            self._presentation = (self.saveState(), self.windowState(), hidden)
            for w in hidden:
                w.hide()
            self.showFullScreen()
            self._scale_views(PRESENTATION_SCALE)
        elif not checked and self._presentation is not None:
            state, window_state, hidden = self._presentation
            self._presentation = None
            self._scale_views(1.0)
            self.setWindowState(window_state)
            for w in hidden:
                w.show()
            self.restoreState(state)
        else:
            return
        self.presentation_changed.emit(self.presenting)

    def leave_presentation(self) -> None:
        if self._presentation is not None:
            self.set_presentation(False)

    def _scale_views(self, factor: float) -> None:
        """Fonts, markers and line widths of the views × ``factor`` (1 restores them)."""
        for view in (self.contour, self.multiples, self.fit_view, self.history_view, self.surface_view,
                     self.playback):
            scale_fonts(view, factor)

    def reset_camera(self) -> None:
        self.surface_view.reset_camera()
        self.contour.reset_view()

    # ================================================================== Tools
    def open_training_lab(self) -> None:
        """The Training lab: a window of its own (one per studio), raised when already open."""
        from gdstudio.ui.training import TrainingLab

        if self.training_lab is None:
            self.training_lab = TrainingLab()
            self.training_lab.place_beside(self)  # beside the studio, in its colours (first opening only)
        self.training_lab.show()
        self.training_lab.raise_()
        self.training_lab.activateWindow()

    # ================================================================== Help
    def _info(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("info_box")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setModal(False)
        box.show()
        self.info_box = box

    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{html.escape(QKeySequence(a.shortcut).toString(QKeySequence.SequenceFormat.NativeText))}"
            f"</b></td><td>{html.escape(a.label.replace('&', ''))}</td></tr>"
            for a in ACTIONS if a.shortcut
        )
        extra = ("<tr><td><b>click</b></td><td>move the selected run's start</td></tr>"
                 "<tr><td><b>Shift+click</b></td><td>add a run starting there</td></tr>"
                 "<tr><td><b>drag a ring</b></td><td>move that run's start</td></tr>")
        self._info("Keyboard shortcuts", f"<table cellspacing=6>{rows}{extra}</table>")

    def show_about(self) -> None:
        self._info("About gdstudio", f"<h3>gdstudio {html.escape(__version__)}</h3>"
                   "<p>A studio for watching, comparing and explaining gradient-descent optimizers.</p>"
                   "<p>Optimizers follow torch.optim's update rules; every hyperparameter's tooltip shows "
                   "the rule.</p>")

    # ================================================================== closing
    def quit(self) -> None:
        """File → Quit: asks first when the session has unsaved changes (Save / Discard / Cancel)."""
        if self.confirm_discard():
            self._asked = True
            self.close()

    def confirm_discard(self) -> bool:
        """True when the session may be left: no unsaved changes, or the user saved them (Save)
        or let them go (Discard). Cancel, or a Save that did not happen, keeps the window open.
        (Either way the session is kept as the last session for the next launch.)"""
        if not self.modified:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Unsaved changes", f"“{self.document_title}” has changes that are not saved to a file. "
            "Save them before quitting?", buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        if answer == buttons.Save:
            return self.save_session()
        return answer == buttons.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        """A close from the window system (its close button, logging out) asks like File → Quit;
        a close from code (scripts, tests) does not."""
        if event.spontaneous() and not self._closed and not self._asked and not self.confirm_discard():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Auto-save the session and the layout, stop the clock and the workers, disconnect."""
        if self._closed:
            return
        self._closed = True
        self.session.set_playing(False)
        try:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            save_session(self.session, self.settings.last_session_path)
        except (SessionError, OSError):
            pass  # closing must never fail; the next launch falls back to the default
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.exports.cancel()  # a running export leaves no partial file
        for worker in self.findChildren(Background):  # a fair race or a sweep still computing
            worker.cancel()
        self.cancel_loading()
        self.load_work.close(5000)
        if self.training_lab is not None:
            self.training_lab.close()  # stops a training run and waits for its thread
        self.clock.close()
        self.bridge.close()
        self.surface_pane.close_view()
        self._subs.disconnect_all()
        self.action_set.close()
        for panel in (*self.panels.values(), self.playback):
            panel.close_session()
        for dock in self.docks.values():  # dock widgets that subscribe to the session themselves
            closer = getattr(dock.widget(), "close_session", None)
            if closer is not None and dock.widget() not in self.panels.values():
                closer()
