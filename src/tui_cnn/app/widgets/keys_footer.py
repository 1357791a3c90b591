"""The footer of every screen: its keys, and `? Help` always in view at the right edge.

Textual lays the footer's keys out left to right and cuts what does not fit: at 80 columns
the monitor's and Inspect's keys pushed `? Help`, the key that lists all the others, off the
screen. So Help is docked at the right, beside the command palette, whatever the width."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_KEY = "question_mark"


class KeysFooter(Footer):
    DEFAULT_CSS = """
    KeysFooter FooterKey.-help {
        dock: right;
        border-left: vkey $foreground 20%;
    }
    """

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self._bindings_ready:
            yield FooterKey(HELP_KEY, "?", "Help", "app.help", classes="-help",
                            tooltip="Show or hide the keys of this screen").data_bind(compact=Footer.compact)
