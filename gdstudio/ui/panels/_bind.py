"""Field subscriptions of the panels: one callback on chosen fields of every run entry.

:class:`EntryFields` follows ``session.run_list``: an entry inserted gets the connections, an
entry removed loses them, and :meth:`EntryFields.close` drops them all. The panels use it with
``Subscriptions`` (ui.bridge) for the session-level fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gdstudio.model.session import RunEntry, Session

__all__ = ["EntryFields"]


class EntryFields:
    """Calls ``slot(entry)`` when any of ``fields`` of any run entry of ``session`` changes."""

    def __init__(self, session: Session, fields: Iterable[str], slot: Callable[[RunEntry], None]) -> None:
        self.session = session
        self.fields = tuple(fields)
        self.slot = slot
        self._connected: dict[int, tuple[RunEntry, list[tuple[Any, Callable[..., None]]]]] = {}
        events = session.run_list.events
        events.inserted.connect(self._on_inserted)
        events.removed.connect(self._on_removed)
        for entry in session.run_list:
            self._attach(entry)

    def _attach(self, entry: RunEntry) -> None:
        if id(entry) in self._connected:
            return
        links = []
        for name in self.fields:
            signal = entry.events[name]

            def changed(*_args: object, _entry: RunEntry = entry) -> None:
                self.slot(_entry)

            signal.connect(changed)
            links.append((signal, changed))
        self._connected[id(entry)] = (entry, links)

    def _detach(self, entry: RunEntry) -> None:
        _entry, links = self._connected.pop(id(entry), (entry, []))
        for signal, slot in links:
            signal.disconnect(slot)

    def _on_inserted(self, _index: int, entry: RunEntry) -> None:
        self._attach(entry)

    def _on_removed(self, _index: int, entry: RunEntry) -> None:
        self._detach(entry)

    def close(self) -> None:
        events = self.session.run_list.events
        events.inserted.disconnect(self._on_inserted)
        events.removed.disconnect(self._on_removed)
        for entry, _links in list(self._connected.values()):
            self._detach(entry)
