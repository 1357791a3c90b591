"""Undo and redo for the builder: a line of immutable ModelSpec snapshots.

Specs are values, so a snapshot is just a reference: no copies, no diffs. Typing in one field
makes one step, not one step a keystroke: consecutive changes with the same ``group`` (e.g.
"layer 3 kernel_size") replace the newest snapshot instead of adding one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Hashable, TypeVar

T = TypeVar("T")

DEFAULT_LIMIT = 500


@dataclass
class History(Generic[T]):
    present: T
    limit: int = DEFAULT_LIMIT
    _past: list[T] = field(default_factory=list)
    _future: list[T] = field(default_factory=list)
    _group: Hashable | None = None

    @property
    def can_undo(self) -> bool:
        return bool(self._past)

    @property
    def can_redo(self) -> bool:
        return bool(self._future)

    @property
    def depth(self) -> tuple[int, int]:
        """How many steps can be undone and redone."""
        return len(self._past), len(self._future)

    def push(self, state: T, group: Hashable | None = None) -> bool:
        """Record a new state; returns False (and records nothing) if it equals the present.

        A ``group`` equal to the previous push's folds this state into that step."""
        if state == self.present:
            return False
        self._future.clear()
        folds = group is not None and group == self._group and bool(self._past)
        if folds and self._past[-1] == state:
            # Typed back to where the step started: the step is empty, drop it.
            self.present = self._past.pop()
            self._group = None
            return True
        if not folds:
            self._past.append(self.present)
            del self._past[: max(0, len(self._past) - self.limit)]
        self.present = state
        self._group = group
        return True

    def undo(self) -> T | None:
        """Step back; None when there is nothing to undo."""
        return self._step(self._past, self._future)

    def redo(self) -> T | None:
        """Step forward again; None when there is nothing to redo."""
        return self._step(self._future, self._past)

    def _step(self, source: list[T], target: list[T]) -> T | None:
        if not source:
            return None
        target.append(self.present)
        self.present = source.pop()
        self._group = None
        return self.present

    def reset(self, state: T) -> None:
        """Start over from ``state`` (a newly opened model): no undo across files."""
        self.present = state
        self._past.clear()
        self._future.clear()
        self._group = None
