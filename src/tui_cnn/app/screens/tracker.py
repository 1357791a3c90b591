"""The tracker screen: placeholder, filled in by its issue."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class TrackerScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Tracker: not built yet")
        yield Footer()
