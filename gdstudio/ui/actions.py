"""The window's actions, menus, toolbar and docks, declared as tables (pymmcore-gui's habit).

The main window builds every QAction from :data:`ACTIONS`, every menu from :data:`MENUS`, the
toolbar from :data:`TOOLBAR` and every dock from :data:`DOCKS`; nothing is built ad hoc, and one
parametrized test triggers each action and opens each dock. An action's ``handler`` names a
method of the window; a checkable action's handler receives the new checked state.

Menu entries are action ids, :data:`SEP`, or ``"@name"``: a submenu the window fills at run time
(``@recent``: recent files, ``@presets``: one submenu per preset group, ``@docks``: the docks'
toggle actions, ``@layout``: the exclusive layout actions).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACTIONS", "DOCKS", "MENUS", "SEP", "TOOLBAR", "ActionSpec", "DockSpec", "MenuSpec", "action_spec"]

SEP = "-"


@dataclass(frozen=True)
class ActionSpec:
    """One QAction: ``icon`` names a ``QStyle.StandardPixmap`` member (``SP_MediaPlay``) or, as
    ``draw:NAME``, an icon of :mod:`gdstudio.ui.icons`."""

    id: str
    text: str
    handler: str
    tooltip: str
    shortcut: str = ""
    icon: str = ""
    checkable: bool = False


@dataclass(frozen=True)
class MenuSpec:
    id: str
    title: str
    entries: tuple[str, ...]


@dataclass(frozen=True)
class DockSpec:
    """One dock: ``factory`` names a window method returning the dock's widget."""

    id: str
    title: str
    factory: str
    area: str  # "left", "right", "bottom", "top"
    tooltip: str = ""


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("new", "&New session", "new_session", "Start a new session (Himmelblau, Adam vs Momentum)",
               "Ctrl+N", "SP_FileIcon"),
    ActionSpec("open", "&Open…", "open_session", "Open a saved session (.json)", "Ctrl+O", "SP_DialogOpenButton"),
    ActionSpec("save", "&Save", "save_session", "Save the session (problem, runs, playback, view)", "Ctrl+S",
               "SP_DialogSaveButton"),
    ActionSpec("save_as", "Save &As…", "save_session_as", "Save the session to a new file", "Ctrl+Shift+S"),
    ActionSpec("clear_recent", "Clear recent files", "clear_recent", "Forget the list of recent sessions"),
    ActionSpec("export_video", "&Export video…", "export_video", "Render the views as an MP4, a GIF or PNG frames "
               "(offscreen, at a chosen resolution, with a caption)", "Ctrl+E"),
    ActionSpec("export_image", "Export &image…", "export_image", "Save the step shown as a PNG of a view at a "
               "chosen resolution", "Ctrl+Shift+E"),
    ActionSpec("export_trajectories", "Export &trajectories…", "export_trajectories", "Save the runs' points and "
               "losses as CSV or JSON (the 'gdstudio trace' format)"),
    ActionSpec("quit", "&Quit", "close", "Quit gdstudio (the session is kept for next time)", "Ctrl+Q"),
    # Playback
    ActionSpec("play", "&Play / Pause", "toggle_playing", "Play or pause: one tick of the clock = steps per tick",
               "Space", "SP_MediaPlay", checkable=True),
    ActionSpec("step", "S&tep", "step_forward", "One step forward (computes it at the head)", "Right",
               "SP_MediaSeekForward"),
    ActionSpec("step_back", "Step &back", "step_back", "One step back through the history", "Left",
               "SP_MediaSeekBackward"),
    ActionSpec("reset", "&Reset", "reset_runs", "Restart every run from its start, at step 0", "R",
               "SP_MediaSkipBackward"),
    ActionSpec("faster", "&Faster", "faster", "More steps per tick", "Ctrl+Up"),
    ActionSpec("slower", "S&lower", "slower", "Fewer steps per tick", "Ctrl+Down"),
    ActionSpec("to_end", "Go to &end", "seek_end", "Show the last computed step", "End"),
    ActionSpec("to_start", "Go to s&tart", "seek_start", "Show step 0", "Home"),
    # Runs
    ActionSpec("add_run", "&Add run", "add_run", "Add a run from the selected run's start with the next "
               "optimizer (or Shift-click the contour)", "Ctrl+R", "SP_FileDialogNewFolder"),
    ActionSpec("duplicate_run", "&Duplicate run", "duplicate_run", "Copy the selected run", "Ctrl+D"),
    ActionSpec("remove_run", "Re&move run", "remove_run", "Remove the selected run", "Del", "SP_TrashIcon"),
    ActionSpec("race_all", "Race &all optimizers", "race_all", "One run per optimizer from the selected run's "
               "start, each with its best learning rate on this problem (same start, same budget)", "Ctrl+Shift+R",
               "draw:race"),
    # View
    ActionSpec("log_loss", "&Log loss axis", "set_log_loss", "Plot the loss history on a log scale",
               "Ctrl+L", checkable=True),
    ActionSpec("show_gradient", "&Gradient arrows", "set_show_gradient", "Arrow of −∇f at each run's point",
               "G", checkable=True),
    ActionSpec("show_velocity", "&Velocity arrows", "set_show_velocity", "Arrow of the momentum buffer / first "
               "moment at each run's point", "V", checkable=True),
    ActionSpec("show_effective_step", "&Effective step arrows", "set_show_effective_step",
               "Arrow of the next update (effective learning rate × direction)", "E", checkable=True),
    ActionSpec("show_field", "Gradient &field", "set_show_field", "Field of −∇f arrows over the contour",
               "F", checkable=True),
    ActionSpec("log_scale", "Log &colour scale", "set_log_scale", "Colour and height by log(loss − min): shows "
               "the valleys of steep surfaces", "Ctrl+Shift+L", checkable=True),
    ActionSpec("show_surface", "&3-D view", "set_show_surface", "Show the 3-D surface beside the contour (hide it "
               "for a wider contour and a faster window)", "Ctrl+3", checkable=True),
    ActionSpec("grey_surface", "G&rey surface", "set_grey_surface", "Colour the surface in greys, so every run's "
               "colour stands out (for races)", "Ctrl+G", checkable=True),
    ActionSpec("layout_side_by_side", "Contour and 3-D &side by side", "set_layout_side_by_side",
               "One contour with every run, the 3-D surface beside it", checkable=True),
    ActionSpec("layout_multiples", "One contour per &run", "set_layout_multiples", "Small multiples: a contour "
               "for each run, on one clock, sharing axes (readable with many runs)", "Ctrl+M", checkable=True),
    ActionSpec("presentation", "&Presentation mode", "set_presentation", "The views full screen with large fonts, "
               "markers and lines, for a projector (F11 or Esc leaves)", "F11", checkable=True),
    ActionSpec("reset_camera", "Reset 3-D &camera", "reset_camera", "Put the 3-D view back to its default angle",
               "Ctrl+0"),
    # Tools
    ActionSpec("training_lab", "&Training lab…", "open_training_lab", "Train a real network on handwritten digits "
               "with several optimizers and compare their loss curves (a window of its own)", "Ctrl+T",
               "SP_ComputerIcon"),
    # Help
    ActionSpec("shortcuts", "&Keyboard shortcuts", "show_shortcuts", "List the keyboard shortcuts", "F1"),
    ActionSpec("about", "&About gdstudio", "show_about", "Version and credits"),
)

MENUS: tuple[MenuSpec, ...] = (
    MenuSpec("file", "&File", ("new", "open", "@recent", SEP, "save", "save_as", SEP, "export_video", "export_image",
                                "export_trajectories", SEP, "quit")),
    MenuSpec("playback", "&Playback", ("play", "step", "step_back", "reset", SEP, "to_start", "to_end", SEP,
                                       "faster", "slower")),
    MenuSpec("runs", "&Runs", ("add_run", "duplicate_run", "remove_run", SEP, "race_all")),
    MenuSpec("view", "&View", ("log_loss", "log_scale", "grey_surface", SEP, "show_gradient", "show_velocity",
                               "show_effective_step", "show_field", SEP, "show_surface", "@layout", "presentation",
                               SEP, "reset_camera", SEP, "@docks")),
    MenuSpec("presets", "Pre&sets", ("@presets",)),
    MenuSpec("tools", "&Tools", ("training_lab",)),
    MenuSpec("help", "&Help", ("shortcuts", "about")),
)

TOOLBAR: tuple[str, ...] = (
    "new", "open", "save", SEP, "add_run", "remove_run", "race_all", SEP,
    "show_gradient", "show_velocity", "show_effective_step", "show_field", SEP, "training_lab",
)

DOCKS: tuple[DockSpec, ...] = (
    DockSpec("problem", "Problem", "make_problem_panel", "left", "The loss surface: function, data, view"),
    DockSpec("optimizer", "Optimizer", "make_optimizer_panel", "left",
             "The selected run's optimizer and hyperparameters"),
    DockSpec("history", "History", "make_history_view", "bottom", "Loss, gradient norm and step size per step"),
    DockSpec("runs", "Runs", "make_runs_panel", "bottom", "Every run: colour, optimizer, start, step, loss, status"),
    DockSpec("fit", "Model fit", "make_fit_view", "right", "Data problems: the data and each run's model ŷ(x) "
             "at the step shown"),
)

_BY_ID = {a.id: a for a in ACTIONS}


def action_spec(action_id: str) -> ActionSpec:
    return _BY_ID[action_id]


def _check_tables() -> None:
    """Every menu / toolbar entry names an action (checked at import: a typo fails at once)."""
    for menu in MENUS:
        for entry in menu.entries:
            if entry != SEP and not entry.startswith("@") and entry not in _BY_ID:
                raise KeyError(f"menu {menu.id!r} names an unknown action {entry!r}")
    for entry in TOOLBAR:
        if entry != SEP and entry not in _BY_ID:
            raise KeyError(f"toolbar names an unknown action {entry!r}")
    if len(_BY_ID) != len(ACTIONS):
        raise KeyError("duplicate action ids")


_check_tables()
