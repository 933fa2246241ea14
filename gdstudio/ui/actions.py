"""Actions, menus, toolbar and docks declared as data (pymmcore-gui's habit), and the one builder.

An :class:`ActionSpec` is data with callables: an enum id, the text, tooltip, shortcut and icon,
and what it does — ``on_triggered(target, checked)`` — or, for a checkable action showing a model
field, a :class:`Binding` that reads the field, writes it, and names the signals announcing that it
changed (the checked state follows the model; the model never follows the widget). ``enabled``
and ``text`` may be callables of the target too. :class:`ActionSet` turns a table of specs into
QActions for one target: the studio window builds :data:`ACTIONS` for itself, the Training lab
builds its own table (:mod:`gdstudio.ui.training.lab`) with the same class. Nothing is resolved
by name: a table entry names functions, not method strings.

Menu entries are action ids, :data:`SEP`, or ``"@name"``: a submenu the window fills at run time
(``@recent``: recent files, ``@presets``: one submenu per preset group, ``@docks``: the docks'
toggle actions, ``@layout``: the exclusive layout actions).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from gdstudio.model.state import ViewOptions
from gdstudio.ui.icons import icon as drawn_icon
from gdstudio.ui.panels.inspector import inspector_dock, toggle_slow_motion
from gdstudio.ui.panels.theory import theory_dock

if TYPE_CHECKING:
    from gdstudio.model.session import Session
    from gdstudio.ui.export_dialog import ExportController

__all__ = [
    "ACTIONS",
    "DOCKS",
    "MENUS",
    "SEP",
    "TOOLBAR",
    "ActionId",
    "ActionSet",
    "ActionSpec",
    "Binding",
    "DockSpec",
    "MenuSpec",
    "Studio",
    "action_spec",
]

SEP = "-"
T = TypeVar("T")


class Studio(Protocol):
    """What the studio's action and dock tables call: the window (``MainWindow``), seen as an
    interface so that this table does not import the window that builds it."""

    @property
    def session(self) -> Session: ...
    @property
    def exports(self) -> ExportController: ...
    @property
    def history_view(self) -> QWidget: ...
    @property
    def fit_view(self) -> QWidget: ...
    @property
    def racing(self) -> bool: ...
    @property
    def presenting(self) -> bool: ...
    def presentation_signals(self) -> tuple[Any, ...]: ...
    def set_presentation(self, checked: bool) -> None: ...
    def new_session(self) -> None: ...
    def open_session(self) -> None: ...
    def save_session(self) -> bool: ...
    def save_session_as(self) -> bool: ...
    def clear_recent(self) -> None: ...
    def quit(self) -> None: ...
    def step_forward(self) -> None: ...
    def step_back(self) -> None: ...
    def faster(self) -> None: ...
    def slower(self) -> None: ...
    def add_run(self) -> None: ...
    def duplicate_run(self) -> None: ...
    def remove_run(self) -> None: ...
    def race_all(self) -> None: ...
    def reset_camera(self) -> None: ...
    def open_training_lab(self) -> None: ...
    def show_shortcuts(self) -> None: ...
    def show_about(self) -> None: ...
    def make_problem_panel(self) -> QWidget: ...
    def make_optimizer_panel(self) -> QWidget: ...
    def make_runs_panel(self) -> QWidget: ...


class ActionId(StrEnum):
    """The studio's actions (a StrEnum: ``actions["play"]`` and ``actions[ActionId.PLAY]`` agree)."""

    NEW = "new"
    OPEN = "open"
    SAVE = "save"
    SAVE_AS = "save_as"
    CLEAR_RECENT = "clear_recent"
    EXPORT_VIDEO = "export_video"
    EXPORT_IMAGE = "export_image"
    EXPORT_TRAJECTORIES = "export_trajectories"
    QUIT = "quit"
    UNDO = "undo"
    REDO = "redo"
    PLAY = "play"
    STEP = "step"
    STEP_BACK = "step_back"
    RESET = "reset"
    FASTER = "faster"
    SLOWER = "slower"
    TO_END = "to_end"
    TO_START = "to_start"
    ADD_RUN = "add_run"
    DUPLICATE_RUN = "duplicate_run"
    REMOVE_RUN = "remove_run"
    RACE_ALL = "race_all"
    SWEEP = "sweep"
    LOG_LOSS = "log_loss"
    SHOW_GRADIENT = "show_gradient"
    SHOW_VELOCITY = "show_velocity"
    SHOW_EFFECTIVE_STEP = "show_effective_step"
    SHOW_FIELD = "show_field"
    SHOW_INTERNALS = "show_internals"
    SLOW_MOTION = "slow_motion"
    LOG_SCALE = "log_scale"
    SHOW_SURFACE = "show_surface"
    GREY_SURFACE = "grey_surface"
    LAYOUT_SIDE_BY_SIDE = "layout_side_by_side"
    LAYOUT_MULTIPLES = "layout_multiples"
    PRESENTATION = "presentation"
    RESET_CAMERA = "reset_camera"
    TRAINING_LAB = "training_lab"
    BASIN_MAP = "basin_map"
    SHORTCUTS = "shortcuts"
    ABOUT = "about"


@dataclass(frozen=True)
class Binding(Generic[T]):
    """A checkable action's checked state bound to a boolean field: ``read(target)``,
    ``write(target, value)``, and ``signals(target)``, the signals announcing that it changed."""

    read: Callable[[T], bool]
    write: Callable[[T, bool], object]
    signals: Callable[[T], Iterable[Any]]


@dataclass(frozen=True)
class ActionSpec(Generic[T]):
    """One QAction. ``icon`` names a ``QStyle.StandardPixmap`` member (``SP_MediaPlay``) or, as
    ``draw:NAME``, an icon of :mod:`gdstudio.ui.icons`. Triggering calls ``on_triggered(target,
    checked)``, or, for a bound action, ``bound.write(target, checked)``. ``enabled(target)`` and
    ``text(target)`` are evaluated by :meth:`ActionSet.refresh`."""

    id: str
    label: str
    tooltip: str
    on_triggered: Callable[[T, bool], object] | None = None
    shortcut: str = ""
    icon: str = ""
    checkable: bool = False
    bound: Binding[T] | None = None
    enabled: Callable[[T], bool] | None = None
    text: Callable[[T], str] | None = None

    def __post_init__(self) -> None:
        if (self.on_triggered is None) == (self.bound is None):
            raise ValueError(f"action {self.id!r}: give exactly one of on_triggered and bound")

    @property
    def is_checkable(self) -> bool:
        return self.checkable or self.bound is not None


class ActionSet(Generic[T]):
    """The QActions of a table of specs, for one ``target`` (added to ``parent``, so their
    shortcuts work window-wide even when the menu bar is hidden).

    Bound actions follow their fields: each binding's signals re-read the field. The owner calls
    :meth:`refresh` once the target is complete (and whenever an ``enabled`` or ``text`` may have
    changed). A ValueError raised by an action goes to ``on_error`` (a status line) instead of out
    of the slot. :meth:`close` disconnects from the model. The set holds its target weakly: a
    closed window is freed by reference counting on the UI thread, never by a garbage collection
    that may run on a worker thread (Qt widgets must be destroyed on the UI thread).
    """

    def __init__(self, specs: Sequence[ActionSpec[T]], target: T, parent: QWidget,
                 on_error: Callable[[str], object] | None = None) -> None:
        self.specs: dict[str, ActionSpec[T]] = {s.id: s for s in specs}
        if len(self.specs) != len(specs):
            raise KeyError("duplicate action ids")
        self._target = weakref.ref(target)  # type: ignore[arg-type]
        self._on_error = weakref.WeakMethod(on_error) if inspect.ismethod(on_error) else on_error
        self.actions: dict[str, QAction] = {}
        self._connections: list[tuple[Any, Callable[..., object]]] = []
        for spec in specs:
            self.actions[spec.id] = self._make(spec, parent)
        for spec in specs:
            if spec.bound is not None:
                for signal in spec.bound.signals(target):
                    slot = self._syncer(spec.id)
                    signal.connect(slot)
                    self._connections.append((signal, slot))

    def __getitem__(self, action_id: str) -> QAction:
        return self.actions[action_id]

    @property
    def target(self) -> T:
        target = self._target()
        if target is None:
            raise RuntimeError("the actions' window is gone")
        return target  # type: ignore[no-any-return]

    def _make(self, spec: ActionSpec[T], parent: QWidget) -> QAction:
        action = QAction(spec.label, parent)
        action.setObjectName(f"action_{spec.id}")
        tip = spec.tooltip
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            tip += f"  ({QKeySequence(spec.shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(spec.tooltip)
        if spec.icon.startswith("draw:"):
            action.setIcon(drawn_icon(spec.icon.removeprefix("draw:")))
        elif spec.icon:
            action.setIcon(parent.style().standardIcon(getattr(QStyle.StandardPixmap, spec.icon)))
        action.setCheckable(spec.is_checkable)
        action.triggered.connect(lambda checked=False, s=spec: self._run(s, bool(checked)))
        parent.addAction(action)
        return action

    def _run(self, spec: ActionSpec[T], checked: bool) -> None:
        try:
            if spec.bound is not None:
                spec.bound.write(self.target, checked)
            elif spec.on_triggered is not None:
                spec.on_triggered(self.target, checked)
        except ValueError as exc:
            report = self._on_error() if isinstance(self._on_error, weakref.WeakMethod) else self._on_error
            if report is None:
                raise
            report(str(exc))
        finally:
            if spec.bound is not None:
                self.sync(spec.id)  # a refused value snaps back

    def _syncer(self, action_id: str) -> Callable[..., None]:
        def sync(*_args: object) -> None:
            self.sync(action_id)

        return sync

    def sync(self, action_id: str) -> None:
        """Show the bound field's value as the action's checked state (no trigger)."""
        spec = self.specs[action_id]
        if spec.bound is None:
            return
        action = self.actions[action_id]
        value = bool(spec.bound.read(self.target))
        if action.isChecked() != value:
            blocked = action.blockSignals(True)
            action.setChecked(value)
            action.blockSignals(blocked)

    def refresh(self) -> None:
        """Re-evaluate every checked state, ``enabled`` and ``text`` from the target."""
        for action_id, spec in self.specs.items():
            self.sync(action_id)
            action = self.actions[action_id]
            if spec.enabled is not None:
                action.setEnabled(bool(spec.enabled(self.target)))
            if spec.text is not None:
                action.setText(spec.text(self.target))

    def close(self) -> None:
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections.clear()


@dataclass(frozen=True)
class MenuSpec:
    id: str
    title: str
    entries: tuple[str, ...]


@dataclass(frozen=True)
class DockSpec:
    """One dock: ``factory(window)`` makes the dock's widget."""

    id: str
    title: str
    factory: Callable[[Studio], QWidget]
    area: str  # "left", "right", "bottom", "top"
    tooltip: str = ""
    visible: bool = True  # shown on a first launch (a saved layout decides afterwards)


# ================================================================================ bindings
_OPTION_NAMES = frozenset(f.name for f in fields(ViewOptions))


def _option(name: str) -> Binding[Studio]:
    """The view option ``name`` of the window's session (a typo fails at import)."""
    if name not in _OPTION_NAMES:
        raise KeyError(f"unknown view option {name!r}")
    return Binding(read=lambda w: bool(getattr(w.session.options, name)),
                   write=lambda w, v: w.session.set_options(**{name: v}),
                   signals=lambda w: (getattr(w.session.options.events, name),))


_LOG_SCALE: Binding[Studio] = Binding(read=lambda w: w.session.problem_settings.log_scale,
                                          write=lambda w, v: w.session.set_problem(log_scale=v),
                                          signals=lambda w: (w.session.problem_settings.events.log_scale,))
_PLAYING: Binding[Studio] = Binding(read=lambda w: w.session.playing,
                                        write=lambda w, v: w.session.set_playing(v),
                                        signals=lambda w: (w.session.playback.events.playing,))
_MULTIPLES: Binding[Studio] = Binding(read=lambda w: w.session.options.small_multiples,
                                          write=lambda w, v: w.session.set_options(small_multiples=v),
                                          signals=lambda w: (w.session.options.events.small_multiples,))
_SIDE_BY_SIDE: Binding[Studio] = Binding(read=lambda w: not w.session.options.small_multiples,
                                             write=lambda w, v: w.session.set_options(small_multiples=not v),
                                             signals=lambda w: (w.session.options.events.small_multiples,))
_PRESENTATION: Binding[Studio] = Binding(read=lambda w: w.presenting,
                                             write=lambda w, v: w.set_presentation(v),
                                             signals=lambda w: w.presentation_signals())


def _has_selection(w: Studio) -> bool:
    return w.session.selected is not None


def _basins() -> Any:
    """gdstudio.ui.panels.basins_panel, imported on first use (it imports the views)."""
    from gdstudio.ui.panels import basins_panel

    return basins_panel


def _basins_panel(w: Studio) -> QWidget:
    return _basins().make_basins_panel(w)  # type: ignore[no-any-return]


_BASIN_MAP: Binding[Studio] = Binding(read=lambda w: _basins().basins_shown(w),
                                      write=lambda w, v: _basins().show_basins(w, v),
                                      signals=lambda w: _basins().basins_signals(w))


def _open_sweep(w: Studio) -> None:
    from gdstudio.ui.panels.sweep_panel import open_sweep_dialog  # made on first use

    open_sweep_dialog(w)


def _undo_text(w: Studio) -> str:
    text = w.session.undo_stack.undo_text
    return f"&Undo: {text}" if text else "&Undo"


def _redo_text(w: Studio) -> str:
    text = w.session.undo_stack.redo_text
    return f"&Redo: {text}" if text else "&Redo"


# ================================================================================ tables
A = ActionId
ACTIONS: tuple[ActionSpec[Studio], ...] = (
    # File
    ActionSpec(A.NEW, "&New session", "Start a new session (Himmelblau, Adam vs Momentum; Ctrl+Z brings the "
               "current one back)", lambda w, _c: w.new_session(), "Ctrl+N", "SP_FileIcon"),
    ActionSpec(A.OPEN, "&Open…", "Open a saved session (.json)", lambda w, _c: w.open_session(), "Ctrl+O",
               "SP_DialogOpenButton"),
    ActionSpec(A.SAVE, "&Save", "Save the session (problem, runs, playback, view)", lambda w, _c: w.save_session(),
               "Ctrl+S", "SP_DialogSaveButton"),
    ActionSpec(A.SAVE_AS, "Save &As…", "Save the session to a new file", lambda w, _c: w.save_session_as(),
               "Ctrl+Shift+S"),
    ActionSpec(A.CLEAR_RECENT, "Clear recent files", "Forget the list of recent sessions",
               lambda w, _c: w.clear_recent()),
    ActionSpec(A.EXPORT_VIDEO, "&Export video…", "Render the views as an MP4, a GIF or PNG frames (offscreen, at a "
               "chosen resolution, with a caption)", lambda w, _c: w.exports.open_video(), "Ctrl+E"),
    ActionSpec(A.EXPORT_IMAGE, "Export &image…", "Save the step shown as a PNG of a view at a chosen resolution",
               lambda w, _c: w.exports.open_image(), "Ctrl+Shift+E"),
    ActionSpec(A.EXPORT_TRAJECTORIES, "Export &trajectories…", "Save the runs' points and losses as CSV or JSON "
               "(the 'gdstudio trace' format)", lambda w, _c: w.exports.open_trajectories()),
    ActionSpec(A.QUIT, "&Quit", "Quit gdstudio (asks first when the session has unsaved changes)",
               lambda w, _c: w.quit(), "Ctrl+Q"),
    # Edit
    ActionSpec(A.UNDO, "&Undo", "Undo the last change to the session (problem, runs, hyperparameters, starts, a "
               "preset or session loaded)", lambda w, _c: w.session.undo_stack.undo(), "Ctrl+Z",
               enabled=lambda w: w.session.undo_stack.can_undo, text=_undo_text),
    ActionSpec(A.REDO, "&Redo", "Redo the change undone last", lambda w, _c: w.session.undo_stack.redo(),
               "Ctrl+Shift+Z", enabled=lambda w: w.session.undo_stack.can_redo, text=_redo_text),
    # Playback
    ActionSpec(A.PLAY, "&Play / Pause", "Play or pause: one tick of the clock = steps per tick", shortcut="Space",
               icon="SP_MediaPlay", bound=_PLAYING),
    ActionSpec(A.STEP, "S&tep", "One step forward (computes it at the head)", lambda w, _c: w.step_forward(),
               "Right", "SP_MediaSeekForward"),
    ActionSpec(A.STEP_BACK, "Step &back", "One step back through the history", lambda w, _c: w.step_back(), "Left",
               "SP_MediaSeekBackward"),
    ActionSpec(A.RESET, "&Reset", "Restart every run from its start, at step 0", lambda w, _c: w.session.reset(),
               "R", "SP_MediaSkipBackward"),
    ActionSpec(A.FASTER, "&Faster", "More steps per tick", lambda w, _c: w.faster(), "Ctrl+Up"),
    ActionSpec(A.SLOWER, "S&lower", "Fewer steps per tick", lambda w, _c: w.slower(), "Ctrl+Down"),
    ActionSpec(A.TO_END, "Go to &end", "Show the last computed step",
               lambda w, _c: w.session.seek(w.session.computed_steps), "End"),
    ActionSpec(A.TO_START, "Go to s&tart", "Show step 0", lambda w, _c: w.session.seek(0), "Home"),
    # Runs
    ActionSpec(A.ADD_RUN, "&Add run", "Add a run from the selected run's start with the next optimizer (or "
               "Shift-click the contour)", lambda w, _c: w.add_run(), "Ctrl+R", "SP_FileDialogNewFolder"),
    ActionSpec(A.DUPLICATE_RUN, "&Duplicate run", "Copy the selected run", lambda w, _c: w.duplicate_run(),
               "Ctrl+D", enabled=_has_selection),
    ActionSpec(A.REMOVE_RUN, "Re&move run", "Remove the selected run", lambda w, _c: w.remove_run(), "Del",
               "SP_TrashIcon", enabled=_has_selection),
    ActionSpec(A.RACE_ALL, "Race &all optimizers…", "A fair race: the optimizers you choose from the selected "
               "run's start, each tuned (η, or η and γ/β₁) on the same budget of steps or evaluations; a table of "
               "the results, then the races start", lambda w, _c: w.race_all(),
               "Ctrl+Shift+R", "draw:race", enabled=lambda w: not w.racing),
    ActionSpec(A.SWEEP, "&Sweep hyperparameters…", "Run the selected run over a grid of one or two of its "
               "hyperparameters: a heat map with the divergence boundary, or a curve (the learning-rate range "
               "test); click a cell to give the run its values", lambda w, _c: _open_sweep(w), "Ctrl+Shift+W"),
    # View
    ActionSpec(A.LOG_LOSS, "&Log loss axis", "Plot the loss history on a log scale", shortcut="Ctrl+L",
               bound=_option("log_loss")),
    ActionSpec(A.SHOW_GRADIENT, "&Gradient arrows", "Arrow of −∇f at each run's point", shortcut="G",
               bound=_option("show_gradient")),
    ActionSpec(A.SHOW_VELOCITY, "&Velocity arrows", "Arrow of the momentum buffer / first moment at each run's "
               "point", shortcut="V", bound=_option("show_velocity")),
    ActionSpec(A.SHOW_EFFECTIVE_STEP, "&Effective step arrows", "Arrow of the next update (effective learning "
               "rate × direction)", shortcut="E", bound=_option("show_effective_step")),
    ActionSpec(A.SHOW_FIELD, "Gradient &field", "Field of −∇f arrows over the contour", shortcut="F",
               bound=_option("show_field")),
    ActionSpec(A.SHOW_INTERNALS, "Show optimizer &internals", "Draw what some rules keep besides the point: "
               "ASGD's average and schedule-free's x as dashed paths on the contour, Prodigy's d and L-BFGS's "
               "evaluations per step as curves in the history", shortcut="I", bound=_option("show_internals")),
    ActionSpec(A.SLOW_MOTION, "Slow &motion", "Play the selected run's step shown as its stages on the contour: "
               "the gradient, old velocity + scaled gradient = new velocity, the preconditioner's per-axis scale, "
               "the step, θ moving (speed and loop in the Step inspector)", lambda w, c: toggle_slow_motion(w, c),
               "M", checkable=True),
    ActionSpec(A.LOG_SCALE, "Log &colour scale", "Colour and height by log(loss − min): shows the valleys of "
               "steep surfaces", shortcut="Ctrl+Shift+L", bound=_LOG_SCALE),
    ActionSpec(A.SHOW_SURFACE, "&3-D view", "Show the 3-D surface beside the contour (hide it for a wider contour "
               "and a faster window)", shortcut="Ctrl+3", bound=_option("show_surface"),
               enabled=lambda w: w.session.problem.dim == 2 and not w.session.options.small_multiples),
    ActionSpec(A.GREY_SURFACE, "G&rey surface", "Colour the surface in greys, so every run's colour stands out "
               "(for races)", shortcut="Ctrl+G", bound=_option("grey_surface")),
    ActionSpec(A.LAYOUT_SIDE_BY_SIDE, "Contour and 3-D &side by side", "One contour with every run, the 3-D "
               "surface beside it", bound=_SIDE_BY_SIDE),
    ActionSpec(A.LAYOUT_MULTIPLES, "One contour per &run", "Small multiples: a contour for each run, on one clock, "
               "sharing axes (readable with many runs)", shortcut="Ctrl+M", bound=_MULTIPLES),
    ActionSpec(A.PRESENTATION, "&Presentation mode", "The views full screen with large fonts, markers and lines, "
               "for a projector (F11 or Esc leaves)", shortcut="F11", bound=_PRESENTATION),
    ActionSpec(A.RESET_CAMERA, "Reset 3-D &camera", "Put the 3-D view back to its default angle",
               lambda w, _c: w.reset_camera(), "Ctrl+0"),
    # Tools
    ActionSpec(A.TRAINING_LAB, "&Training lab…", "Train a real network on handwritten digits with several "
               "optimizers and compare their loss curves (a window of its own)",
               lambda w, _c: w.open_training_lab(), "Ctrl+T", "SP_ComputerIcon"),
    # Explore
    ActionSpec(A.BASIN_MAP, "&Basin map", "Colour every start of a grid over the view by the minimum the selected "
               "run's optimizer reaches from it (click a pixel to add that run)", shortcut="Ctrl+B",
               bound=_BASIN_MAP),
    # Help
    ActionSpec(A.SHORTCUTS, "&Keyboard shortcuts", "List the keyboard shortcuts", lambda w, _c: w.show_shortcuts(),
               "F1"),
    ActionSpec(A.ABOUT, "&About gdstudio", "Version and credits", lambda w, _c: w.show_about()),
)

MENUS: tuple[MenuSpec, ...] = (
    MenuSpec("file", "&File", (A.NEW, A.OPEN, "@recent", SEP, A.SAVE, A.SAVE_AS, SEP, A.EXPORT_VIDEO,
                                A.EXPORT_IMAGE, A.EXPORT_TRAJECTORIES, SEP, A.QUIT)),
    MenuSpec("edit", "&Edit", (A.UNDO, A.REDO)),
    MenuSpec("playback", "&Playback", (A.PLAY, A.STEP, A.STEP_BACK, A.RESET, SEP, A.TO_START, A.TO_END, SEP,
                                       A.FASTER, A.SLOWER)),
    MenuSpec("runs", "&Runs", (A.ADD_RUN, A.DUPLICATE_RUN, A.REMOVE_RUN, SEP, A.RACE_ALL)),
    MenuSpec("view", "&View", (A.LOG_LOSS, A.LOG_SCALE, A.GREY_SURFACE, SEP, A.SHOW_GRADIENT, A.SHOW_VELOCITY,
                               A.SHOW_EFFECTIVE_STEP, A.SHOW_FIELD, A.SHOW_INTERNALS, A.SLOW_MOTION, SEP,
                               A.SHOW_SURFACE, "@layout",
                               A.PRESENTATION, SEP, A.RESET_CAMERA, SEP, "@docks")),
    MenuSpec("presets", "Pre&sets", ("@presets",)),
    MenuSpec("tools", "&Tools", (A.TRAINING_LAB,)),
    MenuSpec("explore", "E&xplore", (A.BASIN_MAP, A.SWEEP, A.RACE_ALL)),
    MenuSpec("help", "&Help", (A.SHORTCUTS, A.ABOUT)),
)

TOOLBAR: tuple[str, ...] = (
    A.NEW, A.OPEN, A.SAVE, SEP, A.ADD_RUN, A.REMOVE_RUN, A.RACE_ALL, SEP,
    A.SHOW_GRADIENT, A.SHOW_VELOCITY, A.SHOW_EFFECTIVE_STEP, A.SHOW_FIELD, SEP, A.TRAINING_LAB,
)

DOCKS: tuple[DockSpec, ...] = (
    DockSpec("problem", "Problem", lambda w: w.make_problem_panel(), "left",
             "The loss surface: function, data, view"),
    DockSpec("optimizer", "Optimizer", lambda w: w.make_optimizer_panel(), "left",
             "The selected run's optimizer and hyperparameters"),
    DockSpec("history", "History", lambda w: w.history_view, "bottom", "Loss, gradient norm and step size per step"),
    DockSpec("runs", "Runs", lambda w: w.make_runs_panel(), "bottom",
             "Every run: colour, optimizer, start, step, loss, status"),
    DockSpec("fit", "Model fit", lambda w: w.fit_view, "right", "Data problems: the data and each run's model "
             "ŷ(x) at the step shown"),
    # Hidden on a first launch like the other explaining docks: shown, its width would keep the studio from
    # narrowing enough for the Training lab beside it (View → Panels, or Slow motion, opens it).
    DockSpec("inspector", "Step inspector", inspector_dock, "right", "The selected run's step at the position "
             "shown: the rule in maths and every quantity's value (hover a row: its arrow on the contour)",
             visible=False),
    DockSpec("basins", "Basin map", _basins_panel, "left", "Which minimum the selected run's optimizer reaches "
             "from every start of a grid (Explore → Basin map)", visible=False),
    DockSpec("theory", "Quadratic theory", theory_dock, "right", "The Hessian's eigenvalues and eigenvectors (axes on "
             "the contour), κ, GD's and momentum's optimal settings and rates, the selected run's error along each "
             "eigenvector; a local analysis at the run's head on other surfaces", visible=False),
)

_BY_ID: Mapping[str, ActionSpec[Studio]] = {a.id: a for a in ACTIONS}


def action_spec(action_id: str) -> ActionSpec[Studio]:
    return _BY_ID[action_id]


def _check_tables() -> None:
    """Every action id has one spec, and every menu / toolbar entry names one (checked at
    import: a typo fails at once)."""
    if len(_BY_ID) != len(ACTIONS) or set(_BY_ID) != set(ActionId):
        raise KeyError("ACTIONS must declare each ActionId exactly once")
    for menu in MENUS:
        for entry in menu.entries:
            if entry != SEP and not entry.startswith("@") and entry not in _BY_ID:
                raise KeyError(f"menu {menu.id!r} names an unknown action {entry!r}")
    for entry in TOOLBAR:
        if entry != SEP and entry not in _BY_ID:
            raise KeyError(f"toolbar names an unknown action {entry!r}")


_check_tables()
