"""Small modal questions the builder asks: pick one of a list, or type a file path."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from ..dialog import Dialog
from ..typed_input import TypedInput

_DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 60;
    max-width: 90%;
    height: auto;
    max-height: 80%;
    border: thick $primary;
    background: $surface;
    padding: 0 1;
}}
{name} OptionList {{
    height: auto;
    max-height: 16;
}}
{name} .hint {{
    color: $text-muted;
}}
"""


class PickScreen(Dialog[str | None]):
    """Choose one option; enter picks, escape cancels (None)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="PickScreen")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]]) -> None:
        """``options``: (id returned, text shown)."""
        super().__init__()
        self._title, self._options = title, options

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self._title}[/b]")
            yield OptionList(*(Option(text, id=key) for key, text in self._options))
            yield Label("enter picks · escape cancels", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class PathScreen(Dialog[str | None]):
    """Type a file path; enter confirms, escape cancels (None)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="PathScreen")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, path: str = "", hint: str = "") -> None:
        super().__init__()
        self._title, self._path, self._hint = title, path, hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self._title}[/b]")
            yield TypedInput(self._path, placeholder="path", id="path")
            yield Label(self._hint or "enter confirms · escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
