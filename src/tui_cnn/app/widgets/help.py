"""The ? screen: every key of the screen underneath and of the app, with what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self._under = under

    def compose(self) -> ComposeResult:
        lines = [f"[b]{self._under.__class__.__name__.removesuffix('Screen')} — keys[/b]", ""]
        seen = set()
        for key, binding in self._bindings_of(self._under):
            if binding.description and (key, binding.description) not in seen:
                seen.add((key, binding.description))
                what = binding.tooltip or binding.description
                lines.append(f"  [b]{self.app.get_key_display(binding):>10}[/b]  {what}")
        lines += ["", "  [b]    ctrl+p[/b]  command palette", "", "[dim]escape closes this help[/dim]"]
        with VerticalScroll(id="dialog"):
            yield Static("\n".join(lines))

    def _bindings_of(self, screen: Screen):
        for node in (screen.focused, screen, self.app):
            if node is None:
                continue
            for key, bindings in node._bindings.key_to_bindings.items():
                for binding in bindings:
                    yield key, binding
