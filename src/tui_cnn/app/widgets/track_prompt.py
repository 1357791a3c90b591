"""Asks which nn.Module to track: MODULE:ATTR, imported from the current directory or an
installed package."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class TrackPrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]Track your own nn.Module[/b]")
            yield Static("MODULE:ATTR — a class with a no-argument constructor, or a function returning a "
                         "module; from the current directory or an installed package. Importing it runs its code.")
            yield Input(placeholder="mymodel:Net", id="target")
            yield Static("[dim]enter tracks · escape cancels[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
