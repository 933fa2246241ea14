"""What the studio remembers between launches: recent files, the last session, window layout, and
the choices last made in dialogs (e.g. File → Export video).

:class:`StudioSettings` wraps a ``QSettings`` and a data folder (for the last session's JSON).
The application uses the user's settings (``QSettings("gdstudio", "gdstudio")`` and
``QStandardPaths.AppDataLocation``); tests pass an INI file and a folder under ``tmp_path`` so
the real user configuration is never touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

__all__ = ["MAX_RECENT", "StudioSettings"]

MAX_RECENT = 8
LAST_SESSION = "last_session.json"


class StudioSettings:
    """Recent files (most recent first, at most :data:`MAX_RECENT`), the last session path and
    the window geometry / dock state."""

    def __init__(self, qsettings: QSettings, data_dir: str | Path) -> None:
        self.qsettings = qsettings
        self.data_dir = Path(data_dir)

    @classmethod
    def for_user(cls) -> StudioSettings:
        """The real user settings (only the application calls this)."""
        data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        if not data:
            data = str(Path.home() / ".local" / "share" / "gdstudio")
        return cls(QSettings("gdstudio", "gdstudio"), data)

    @classmethod
    def in_folder(cls, folder: str | Path) -> StudioSettings:
        """Settings kept entirely in ``folder`` (an INI file and the last session): for tests."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(QSettings(str(folder / "gdstudio.ini"), QSettings.Format.IniFormat), folder)

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        value = self.qsettings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return []
        return [str(v) for v in value if v][:MAX_RECENT]

    def add_recent(self, path: str | Path) -> list[str]:
        p = os.path.abspath(str(path))
        files = [p] + [f for f in self.recent_files() if f != p]
        files = files[:MAX_RECENT]
        self.qsettings.setValue("recent_files", files)
        return files

    def remove_recent(self, path: str | Path) -> None:
        p = os.path.abspath(str(path))
        self.qsettings.setValue("recent_files", [f for f in self.recent_files() if f != p])

    def clear_recent(self) -> None:
        self.qsettings.setValue("recent_files", [])

    # ------------------------------------------------------------------ last session
    @property
    def last_session_path(self) -> Path:
        return self.data_dir / LAST_SESSION

    # ------------------------------------------------------------------ window layout
    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
        self.qsettings.sync()

    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # ------------------------------------------------------------------ dialogs
    def dialog_values(self, name: str) -> dict[str, Any]:
        """The values dialog ``name`` last saved; {} when there are none or they cannot be read
        (the dialog validates each value it uses: a hand-edited file cannot break it)."""
        raw = self.qsettings.value(f"dialogs/{name}")
        if not isinstance(raw, str):
            return {}
        try:
            values = json.loads(raw)
        except ValueError:
            return {}
        return values if isinstance(values, dict) else {}

    def save_dialog_values(self, name: str, values: dict[str, Any]) -> None:
        """Remember ``values`` (JSON-serializable) for dialog ``name``, at once on disk."""
        self.qsettings.setValue(f"dialogs/{name}", json.dumps(values, sort_keys=True))
        self.qsettings.sync()

    def sync(self) -> None:
        self.qsettings.sync()
