"""A yes/no question as a modal screen: y confirms, n / escape cancels. Enter presses the
focused button, and the safe one (cancel) has the focus: a key pressed in a hurry loses nothing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from .dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]
    # Focused when shown, if still there: a dialog answered before it mounted ("q y" in one
    # read) has no buttons left, and focusing one in on_mount ended the app (NoMatches).
    AUTO_FOCUS = "#cancel"

    def __init__(self, title: str, detail: str = "", confirm: str = "Yes", cancel: str = "Cancel") -> None:
        super().__init__()
        self._title, self._detail, self._confirm, self._cancel = title, detail, confirm, cancel

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"[b]{self._title}[/b]")
            if self._detail:
                yield Static(self._detail)
            with Horizontal(id="buttons"):
                yield Button(f"{self._cancel} (n)", id="cancel")
                yield Button(f"{self._confirm} (y)", id="confirm", variant="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
