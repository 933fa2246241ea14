"""The studio's Qt-free model: the evented session, its persistence and the presets."""

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

__all__ = [
    "MAX_STEPS_LIMIT",
    "PALETTE",
    "RACE_OPTIMIZERS",
    "PresetInfo",
    "ProblemSettings",
    "RunEntry",
    "Session",
    "SessionError",
    "ViewOptions",
    "list_presets",
    "load_preset",
    "load_session",
    "presets_by_group",
    "save_session",
]
