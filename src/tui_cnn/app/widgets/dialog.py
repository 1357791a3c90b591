"""The base of every dialog: a modal screen that can be answered once.

Keys come faster than the screen: "escape escape" or "y y" reach a dialog after its first
answer already closed it, and Textual's ``dismiss`` pops whatever screen is on top, so the
second answer popped the screen under the dialog (ScreenStackError: the app died) or ran the
answer's callback twice. A dialog no longer on top ignores further answers."""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class AnswersOnce:
    """Mixed into a Screen: ``dismiss`` does nothing once the screen is no longer on top."""

    def dismiss(self, result=None) -> AwaitComplete:
        if not self.is_active:
            return AwaitComplete.nothing()
        return super().dismiss(result)


class Dialog(AnswersOnce, ModalScreen[ResultType]):
    pass
