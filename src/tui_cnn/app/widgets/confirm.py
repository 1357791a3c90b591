"""A yes/no question as a modal screen: y / enter confirms, n / escape cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, title: str, detail: str = "", confirm: str = "Yes") -> None:
        super().__init__()
        self._title, self._detail, self._confirm = title, detail, confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"[b]{self._title}[/b]")
            if self._detail:
                yield Static(self._detail)
            with Horizontal(id="buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button(f"{self._confirm} (y)", id="confirm", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
