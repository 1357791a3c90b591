"""Keys handled one after another, each where the focus is when its turn comes.

Textual hands each key to the widget focused when the key arrives, at once, without waiting
for the keys before it to be handled. Keys that come together (SSH delivers several in one
read, and a loaded machine turns typing into bursts) were all handed to the same widget:
``escape`` then ``down`` in a field sent the ``down`` to the field being left, and
``enter`` on a layer then ``1`` ``2`` sent the digits to the stack, where ``1`` switched
screens. Here the app holds a key until the widgets that got the previous one (the focused
widget and its ancestors, where the key bubbles and whose handlers move the focus) have
nothing left to handle; then the next key goes on, to the focus of that moment. A handler
that never finishes does not hold the keyboard: after ``LONGEST_WAIT`` the next key goes on.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual import events

if TYPE_CHECKING:
    from textual.app import App
    from textual.message_pump import MessagePump

#: The longest a key waits for the one before it (seconds): a slow handler delays typing no more.
LONGEST_WAIT = 0.25
#: Loop turns the widgets must stay without messages before the next key goes (a handler that
#: awaits leaves its queue empty for a turn or two).
QUIET_TURNS = 3


class KeyOrder:
    def __init__(self, app: App) -> None:
        self._app = app
        self._held: list[events.Key] = []
        self._released: set[int] = set()
        self._in_flight = False
        self._waiter: asyncio.Task | None = None

    def hold(self, key: events.Key) -> bool:
        """True: the key waits its turn (the app does nothing with it now). False: hand it on
        now; the next keys wait until it has been handled."""
        if id(key) in self._released:
            self._released.discard(id(key))
        elif self._in_flight or self._held:
            self._held.append(key)
            return True
        self._in_flight = True
        return False

    def handed_on(self) -> None:
        """The key was given to its widget: wait for the widgets, then let the next one go."""
        self._waiter = asyncio.get_running_loop().create_task(self._release_when_quiet(self._chain()))

    def _chain(self) -> list[MessagePump]:
        """The widgets the key went to: the focused one up to its screen."""
        node = self._app.focused or self._app.screen
        chain: list[MessagePump] = []
        while node is not None and node is not self._app:
            chain.append(node)
            node = node.parent  # where the key bubbles next
        return chain

    async def _release_when_quiet(self, chain: list[MessagePump]) -> None:
        deadline, quiet = time.monotonic() + LONGEST_WAIT, 0
        while quiet < QUIET_TURNS and time.monotonic() < deadline:
            await asyncio.sleep(0)
            quiet = quiet + 1 if all(pump.message_queue_size == 0 for pump in chain) else 0
        if not self._held:
            self._in_flight = False
            return
        # Still in flight until the released key is handed on: a key already in the app's
        # queue (it came before the release) must wait behind it, not overtake it.
        key = self._held.pop(0)
        self._released.add(id(key))
        # to the end of the app's queue: after what the widgets passed up to the app (a
        # binding that moves the focus runs there)
        if not self._app.post_message(key):  # the app is closing: nothing waits any more
            self._released.discard(id(key))
            self._in_flight = False
