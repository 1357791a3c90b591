"""Asks for a run directory to open (any run: one still training is followed live)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label

from ..dialog import Dialog
from ..typed_input import TypedInput


class OpenRunScreen(Dialog[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    OpenRunScreen { align: center middle; }
    OpenRunScreen > #dialog {
        width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]Open a run directory[/b] (enter opens, escape cancels)")
            yield TypedInput(placeholder="runs/20260101-120000-SimpleCNN", id="run-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
