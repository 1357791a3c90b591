"""The footer of every screen: its keys, and `? Help` always in view at the right edge.

Textual lays the footer's keys out left to right and cuts what does not fit: at 80 columns
the monitor's and Inspect's keys pushed `? Help`, the key that lists all the others, off the
screen. So Help is docked at the right, beside the command palette, whatever the width."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_KEY = "question_mark"


class KeysFooter(Footer):
    DEFAULT_CSS = """
    KeysFooter .right-keys {
        dock: right;
        width: auto;
        border-left: vkey $foreground 20%;
    }
    KeysFooter .right-keys FooterKey.-command-palette {
        dock: none;
        border-left: none;
    }
    """

    def __init__(self, *children, **kwargs) -> None:
        super().__init__(*children, **kwargs)
        self.show_command_palette = False  # drawn below, beside Help, by this footer

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if not self._bindings_ready:
            return
        with HorizontalGroup(classes="right-keys"):  # a class: two recomposes may overlap
            yield FooterKey(
                HELP_KEY, "?", "Help", "app.help", classes="-help", tooltip="Show or hide the keys of this screen"
            ).data_bind(compact=Footer.compact)
            palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if self.app.ENABLE_COMMAND_PALETTE and palette is not None:
                _node, binding, enabled, tooltip = palette
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                ).data_bind(compact=Footer.compact)
