"""A Qt-free undo stack: named commands, undo / redo, a clean mark, merging of quick repeats.

A :class:`Command` is a label ("set η of Run 2 to 0.03") and two callables. The session pushes
one for every model edit (:mod:`gdstudio.model.session`); a window shows :attr:`UndoStack.undo_text`
in its Edit menu, calls :meth:`UndoStack.undo` / :meth:`UndoStack.redo`, follows
:attr:`UndoStack.changed`, and asks before quitting when not :attr:`UndoStack.is_clean`.

Merging: a command pushed with the same ``merge_key`` as the command on top (e.g. the same
hyperparameter of the same run, the start of the same run), less than :attr:`UndoStack.merge_window`
seconds after it, and with nothing undone or marked clean in between, joins it: one undo goes back
to before the first of them, the label is the newest. So dragging a start ring (dozens of moves a
second) is one "move start of Run 1"; two edits of η a few seconds apart are two commands. A
merged command that ends where it began is dropped (nothing to undo).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal

__all__ = ["Command", "UndoStack"]


@dataclass
class Command:
    """One undoable edit. ``redo`` re-applies it (it has already been applied when pushed)."""

    label: str
    undo: Callable[[], None]
    redo: Callable[[], None]
    merge_key: Hashable | None = None
    #: For merging: called with the newer command; returns whether it was absorbed.
    merge: Callable[[Command], bool] | None = field(default=None, repr=False)
    #: For dropping a merged no-op: True when undo and redo would give the same state.
    is_noop: Callable[[], bool] | None = field(default=None, repr=False)
    pushed_at: float = 0.0
    #: Whatever the pusher keeps with the command (the session: its before / after states).
    data: Any = field(default=None, repr=False)


class UndoStack:
    """Commands done (below :attr:`index`) and undone (above it)."""

    #: Emitted after every push, undo, redo, clear or clean-mark change.
    changed = Signal()

    def __init__(self, *, limit: int = 200, merge_window: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._commands: list[Command] = []
        self._index = 0
        self._clean: int | None = 0  # index of the saved state (None: no longer reachable)
        self._no_merge_below = 0  # the command at index - 1 may take a merge only if index > this
        self.limit = limit
        self.merge_window = merge_window
        self._clock = clock
        self._busy = False

    # ---------------------------------------------------------------- state
    @property
    def index(self) -> int:
        """How many commands are done."""
        return self._index

    def __len__(self) -> int:
        return len(self._commands)

    @property
    def busy(self) -> bool:
        """An undo or redo is running (edits made now are part of it, never pushed)."""
        return self._busy

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._commands)

    @property
    def undo_text(self) -> str:
        """The label of the command :meth:`undo` would undo ("" when none)."""
        return self._commands[self._index - 1].label if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._commands[self._index].label if self.can_redo else ""

    @property
    def commands(self) -> tuple[Command, ...]:
        """Every command, oldest first (done and undone)."""
        return tuple(self._commands)

    @property
    def labels(self) -> list[str]:
        """Every command's label, oldest first (done and undone)."""
        return [c.label for c in self._commands]

    @property
    def is_clean(self) -> bool:
        """The state is the one :meth:`mark_clean` marked (e.g. the file on disk)."""
        return self._clean == self._index

    def mark_clean(self) -> None:
        """The current state is saved; the next edit does not merge into the command before."""
        self._clean = self._index
        self._no_merge_below = self._index
        self.changed.emit()

    def clear(self) -> None:
        """Forget every command (the current state becomes the clean one)."""
        self._commands.clear()
        self._index = 0
        self._clean = 0
        self._no_merge_below = 0
        self.changed.emit()

    # ---------------------------------------------------------------- editing
    def push(self, command: Command) -> None:
        """Record an edit that has just been applied (merging it into the top one if it may)."""
        if self._busy:
            return
        now = self._clock()
        top = self._commands[self._index - 1] if self._index > 0 else None
        del self._commands[self._index:]  # the redo tail is gone
        if self._clean is not None and self._clean > self._index:
            self._clean = None
        mergeable = (top is not None and command.merge_key is not None and top.merge_key == command.merge_key
                     and self._index > self._no_merge_below and now - top.pushed_at < self.merge_window
                     and top.merge is not None)
        if mergeable and top is not None and top.merge is not None and top.merge(command):
            top.pushed_at = now
            top.label = command.label
            if top.is_noop is not None and top.is_noop():
                self._commands.pop()
                self._index -= 1
                self._no_merge_below = min(self._no_merge_below, self._index)
        else:
            command.pushed_at = now
            self._commands.append(command)
            self._index += 1
            if len(self._commands) > self.limit:
                drop = len(self._commands) - self.limit
                del self._commands[:drop]
                self._index -= drop
                self._no_merge_below = max(0, self._no_merge_below - drop)
                self._clean = None if self._clean is None or self._clean < drop else self._clean - drop
        self.changed.emit()

    def discard_after(self, count: int) -> None:
        """Drop commands beyond the first ``count`` without undoing them (their edit was rolled
        back some other way, e.g. a failed load restored by a snapshot)."""
        if count < len(self._commands):
            del self._commands[count:]
            self._index = min(self._index, count)
            if self._clean is not None and self._clean > count:
                self._clean = None
            self._no_merge_below = min(self._no_merge_below, self._index)
            self.changed.emit()

    def undo(self) -> bool:
        """Undo the last done command; False when there is none."""
        if not self.can_undo or self._busy:
            return False
        command = self._commands[self._index - 1]
        self._run(command.undo)
        self._index -= 1
        self._no_merge_below = self._index  # a new edit never merges across an undo
        self.changed.emit()
        return True

    def redo(self) -> bool:
        """Redo the next undone command; False when there is none."""
        if not self.can_redo or self._busy:
            return False
        command = self._commands[self._index]
        self._run(command.redo)
        self._index += 1
        self._no_merge_below = self._index
        self.changed.emit()
        return True

    def _run(self, fn: Callable[[], None]) -> None:
        self._busy = True
        try:
            fn()
        finally:
            self._busy = False
