"""Declared, evented models: dataclasses whose fields validate on assignment and emit one signal each.

Choice: psygnal alone (already a dependency), not pydantic + psygnal. A model is a plain
``@dataclass`` deriving from :class:`EventedModel`; ``events`` is a psygnal
``SignalGroupDescriptor``, so ``model.events.<field>`` is a signal ``(new, old)`` per field and
``model.events.all`` relays every one of them. Why not pydantic: it is not installed (a new
runtime dependency of ~5 MB compiled core for what ~40 lines do here), its coercion rules
(``"1"`` → 1, ``1`` → True) are looser than the studio's messages promise (``Invalid resolution
value: '256' (must be a whole number in [16, 1024])``), and the values the model holds are the
engine's own frozen types (``RunConfig``, ``Problem``), which pydantic would have to be taught.

How assignment works (:meth:`EventedModel.__setattr__`): the field's validator (its
``metadata["validate"]``, see :func:`meta`) converts the value or raises ValueError, the
value is stored, and the field's signal is emitted only when the new value differs from the old
one (``!=``; identity for objects without ``__eq__``). Construction validates too, and emits
nothing. The signal group is created per instance, so copies (:meth:`EventedModel.copy`) never
share subscribers. Persistence reads the same declarations (:func:`persisted_fields`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

from psygnal import SignalGroupDescriptor

__all__ = ["EventedModel", "meta", "persisted_fields"]

T = TypeVar("T", bound="EventedModel")
_MISSING = object()


def meta(validate: Callable[[Any], Any] | None = None, *, persist: bool = True, required: bool = False,
         json: str | None = None) -> dict[str, Any]:
    """Field metadata: a validator (called with the new value; returns the value to store or
    raises ValueError), whether the field is saved in session files (``persist``) and must be
    there (``required``, even with a default), and its JSON kind when the annotation does not say
    it (``json``, see :mod:`gdstudio.model.persistence`). Use as
    ``dataclasses.field(default=…, metadata=meta(check))``."""
    out: dict[str, Any] = {"validate": validate, "persist": persist, "required": required}
    if json is not None:
        out["json"] = json
    return out


class EventedModel:
    """Base of the studio's declared models (use with ``@dataclass``)."""

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor(patch_setattr=False,
                                                                    connect_child_events=False)

    def __setattr__(self, name: str, value: Any) -> None:
        f = type(self).__dataclass_fields__.get(name)  # type: ignore[attr-defined]
        if f is None:
            object.__setattr__(self, name, value)
            return
        check = f.metadata.get("validate")
        if check is not None:
            value = check(value)
        old = self.__dict__.get(name, _MISSING)
        object.__setattr__(self, name, value)
        if old is not _MISSING and _differ(old, value):
            getattr(self.events, name).emit(value, old)

    def update(self, **values: Any) -> None:
        """Assign several fields, validated all first (ValueError changes nothing); each changed
        field emits its signal, in declaration order."""
        names = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for key in values:
            if key not in names:
                raise ValueError(f"Unknown {type(self).__name__} field: {key!r} (known: {', '.join(names)})")
        checked = dataclasses.replace(self, **values)  # type: ignore[type-var]  # validates every field
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in values:
                setattr(self, f.name, getattr(checked, f.name))

    def copy(self: T) -> T:
        """A detached copy (same values, its own signals)."""
        return dataclasses.replace(self)  # type: ignore[type-var]

    def values(self) -> dict[str, Any]:
        """``{field: value}`` for every field."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def _differ(old: Any, new: Any) -> bool:
    if old is new:
        return False
    try:
        return bool(old != new)
    except (TypeError, ValueError):  # e.g. arrays: an ambiguous truth value
        return True


def persisted_fields(cls: type) -> Iterator[dataclasses.Field[Any]]:
    """The fields of a model class saved in session files, in declaration order."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("persist", True):
            yield f
