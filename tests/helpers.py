"""Test helpers shared by every test: wait for a condition instead of sleeping open-ended."""

from __future__ import annotations

import asyncio
import time
from typing import Callable


def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.02, what: str = "the condition"
) -> object:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def async_wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.02, what: str = "the condition"
) -> object:
    """``wait_until`` for async tests (Pilot): yields to the app's event loop between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


def key_event(key: str):
    """The Key event a terminal sends for ``key`` (Textual's name: "a", "down", "question_mark")."""
    from textual import events
    from textual.keys import key_to_character

    return events.Key(key, key_to_character(key))


async def type_fast(app, keys, gap: float = 0.0) -> None:
    """Send ``keys`` as a person at typing speed does: ``gap`` seconds apart whatever the app
    is doing, never waiting for it to finish handling one key (Pilot's ``press`` waits)."""
    for key in keys:
        app.post_message(key_event(key))
        await asyncio.sleep(gap)


def help_text(app) -> str:
    """What the ? screen shows, as plain text."""
    import io

    from rich.console import Console

    from tui_cnn.app.widgets.help import HelpScreen

    assert isinstance(app.screen, HelpScreen)
    console = Console(width=120, file=io.StringIO(), color_system=None)
    console.print(app.screen.keys_table())
    return console.file.getvalue()


def record_notifications(app) -> list[str]:
    """Every notification's text from now on, through the public ``App.notify`` (every
    widget's and screen's ``notify`` calls it), which still shows each toast."""
    seen: list[str] = []
    show = app.notify

    def notify(message, *args, **kwargs):
        seen.append(str(message))
        return show(message, *args, **kwargs)

    app.notify = notify
    return seen
