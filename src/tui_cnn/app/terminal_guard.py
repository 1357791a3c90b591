"""The last guard between what the app draws and the terminal: no control character in any
text a widget renders reaches it.

Names from files and folders are made printable where they are shown (domain.format.printable:
``\\x1b`` shown as such), but text comes from many places (a user module's repr, a log line, an
exception's message) and Textual passes ESC, NUL, C1 and bidi controls through as they are: an
``ESC ]0;...`` in a run folder's name set the terminal's title. This filter, applied by Textual
to every line of every widget, leaves such characters out. It cannot show them: the line was
laid out already, where they took no room.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from ..domain.format import has_controls, without_controls


class ControlCharacterGuard(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not has_controls("".join(segment.text for segment in segments)):
            return segments  # nearly always: one search of the line
        return [
            segment if segment.control else Segment(without_controls(segment.text), segment.style)
            for segment in segments
        ]
