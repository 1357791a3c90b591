"""Page up/down in every option list (our pick dialogs, the command palettes, the training
form's drop-downs) without dying: Textual 8.2.8's ``OptionList._move_page`` reads the line of
the highlighted option from a table that stays empty until the list has a size, so pageup
pressed right after a list opens (or while a palette search is filling it) raised KeyError and
ended the app. Found by the key fuzzer (benchmarks/fuzz.py), three times: in our pick dialog,
then in Textual's theme palette and in a Select's drop-down, which Textual builds itself, so
the guard is on OptionList, the class they all share, not on a subclass of ours."""

from __future__ import annotations

from functools import wraps

from textual.command import CommandPalette
from textual.widgets import OptionList

from .dialog import AnswersOnce
from .ready import KeysWaitForMount


def _pages_only_when_laid_out(move_page):
    @wraps(move_page)
    def guarded(self: OptionList, direction) -> None:
        # No line for the highlighted option yet (no size, or options added since): there is
        # no page to move by; the key does nothing, as it does at the end of a list.
        if (self.highlighted or 0) in self._index_to_line:
            move_page(self, direction)

    guarded.guarded = True
    return guarded


def guard_option_list_paging() -> None:
    """Once per process, before any list can be paged (the app calls it on import)."""
    if not getattr(OptionList._move_page, "guarded", False):
        OptionList._move_page = _pages_only_when_laid_out(OptionList._move_page)


class SafeCommandPalette(KeysWaitForMount, AnswersOnce, CommandPalette):
    """Textual's command palette answering once (escape escape ran its callback twice:
    InvalidStateError) and taking keys once built. Every palette the app opens is one (app.py)."""
