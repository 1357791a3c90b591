"""Page up/down in Textual's option lists (our pick dialogs, the command palette) without
dying: Textual 8.2.8's ``OptionList._move_page`` reads the line of the highlighted option
from a table that is empty until the list is laid out, so pageup pressed right after a list
opens (or when a palette search finds nothing) raised KeyError and ended the app. Found by
the key fuzzer (benchmarks/fuzz.py)."""

from __future__ import annotations

from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.widgets import OptionList

from .dialog import AnswersOnce


class PagedOptionList(OptionList):
    def action_page_up(self) -> None:
        try:
            super().action_page_up()
        except KeyError:  # not laid out yet: there is no page to move by
            pass

    def action_page_down(self) -> None:
        try:
            super().action_page_down()
        except KeyError:
            pass


class SafeCommandPalette(AnswersOnce, CommandPalette):
    """Textual's command palette with the paging keys guarded as above, answering once
    (escape escape ran its callback twice: InvalidStateError)."""

    BINDINGS = [
        Binding("pagedown", "page('page_down')", "Next page", show=False),
        Binding("pageup", "page('page_up')", "Previous page", show=False),
    ]

    def action_page(self, action: str) -> None:
        try:
            getattr(self.query_one(CommandList), f"action_{action}")()
        except KeyError:
            pass
