"""The studio's Qt-free model: the evented session, its persistence and the presets."""

from gdstudio.model.persistence import SessionError, load_session, save_session
from gdstudio.model.presets import PresetInfo, list_presets, load_preset
from gdstudio.model.session import PALETTE, RACE_OPTIMIZERS, ProblemSettings, RunEntry, Session, ViewOptions

__all__ = [
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
    "save_session",
]
