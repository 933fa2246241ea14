"""The studio's Qt-free model: the declared, evented state, the session, undo, persistence, presets."""

from gdstudio.model.persistence import SessionError, load_session, save_session
from gdstudio.model.presets import PresetInfo, list_presets, load_preset, presets_by_group
from gdstudio.model.session import (
    MAX_STEPS_LIMIT,
    PALETTE,
    RACE_OPTIMIZERS,
    ProblemSettings,
    RunEntry,
    Session,
    ViewOptions,
)
from gdstudio.model.state import Playback
from gdstudio.model.undo import Command, UndoStack

__all__ = [
    "MAX_STEPS_LIMIT",
    "PALETTE",
    "RACE_OPTIMIZERS",
    "Command",
    "Playback",
    "PresetInfo",
    "ProblemSettings",
    "RunEntry",
    "Session",
    "SessionError",
    "UndoStack",
    "ViewOptions",
    "list_presets",
    "load_preset",
    "load_session",
    "presets_by_group",
    "save_session",
]
