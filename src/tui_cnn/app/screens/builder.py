"""The builder screen: placeholder, filled in by its issue."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class BuilderScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Builder: not built yet")
        yield Footer()
