"""Presets: the articles' scenarios and showcases, stored as session files in gdstudio/_resources/presets.

A preset is a session document (see :mod:`gdstudio.model.persistence`) with a ``title``, a
``group`` (the menu it appears under) and a ``description``. Adding a preset is adding a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdstudio.model.persistence import SessionError, read_session_file
from gdstudio.resources import resource_path

__all__ = [
    "ARTICLE_GROUPS", "GROUP_ORDER", "PresetInfo", "list_presets", "load_preset", "preset_document", "presets_by_group",
]


@dataclass(frozen=True)
class PresetInfo:
    id: str
    title: str
    group: str
    description: str
    path: Path


def _folder() -> Path:
    return resource_path("presets")


#: The groups of the articles' scenarios, in the articles' order (their descriptions credit the article).
ARTICLE_GROUPS: tuple[str, ...] = (
    "Sigmoid neuron", "Line through the origin (y = w·x)", "Optimizer comparison on a bowl", "Line fit", "Ravines",
)

#: Menu order of the groups: the articles' scenarios, then the newer rules and the learning-rate
#: schedules, then the showcases (a group not listed here comes before the showcases, alphabetically).
GROUP_ORDER: tuple[str, ...] = (
    *ARTICLE_GROUPS, "Second-order methods", "Newer optimizers", "Learning-rate schedules", "Showcases",
)


def _group_key(group: str) -> tuple[int, str]:
    if group in GROUP_ORDER:
        return (GROUP_ORDER.index(group) if group != "Showcases" else len(GROUP_ORDER) + 1, group)
    return (len(GROUP_ORDER), group)


def list_presets() -> list[PresetInfo]:
    """Every preset, by group (:data:`GROUP_ORDER`: the articles' scenarios first, then the
    showcases), then by file name."""
    infos = []
    for path in sorted(_folder().glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a broken file is reported when opened, not here
        infos.append(PresetInfo(path.stem, str(doc.get("title", path.stem)), str(doc.get("group", "Presets")),
                                str(doc.get("description", "")), path))
    return sorted(infos, key=lambda p: (_group_key(p.group), p.id))


def presets_by_group() -> dict[str, list[PresetInfo]]:
    """The presets grouped for menus: ``{group: [presets]}`` in :func:`list_presets` order."""
    groups: dict[str, list[PresetInfo]] = {}
    for info in list_presets():
        groups.setdefault(info.group, []).append(info)
    return groups


def preset_document(preset_id: str) -> dict[str, Any]:
    """The session document of a preset (SessionError for unknown ids)."""
    known = {p.id: p for p in list_presets()}
    if preset_id not in known:
        raise SessionError(f"Unknown preset: {preset_id!r} (known: {', '.join(known)})")
    return read_session_file(known[preset_id].path)


def load_preset(session: Any, preset_id: str) -> None:
    """Open a preset into ``session`` (a :class:`gdstudio.model.session.Session`)."""
    session.apply_dict(preset_document(preset_id))
