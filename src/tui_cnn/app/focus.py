"""Focus that moves when the key asking for it is handled, not after the keys behind it.

Textual's ``Widget.focus()`` moves the focus in a callback queued behind the messages already
waiting: when keys arrive in a burst (SSH delivers several in one read), ``escape`` then
``down`` sent the ``down`` to the box being left, and it was lost. A key that moves the
focus moves it at once, so the next key goes where the person looked."""

from __future__ import annotations

from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.widget import Widget


def focus_now(widget: Widget) -> None:
    """Focus ``widget`` before the next queued key is handled; a widget not ready for the
    focus yet (still mounting) gets it as soon as it is, the usual way."""
    try:
        screen = widget.screen
    except (NoScreen, NoMatches):
        widget.focus()
        return
    if widget.focusable:
        screen.set_focus(widget)
    if screen.focused is not widget:
        widget.focus()
