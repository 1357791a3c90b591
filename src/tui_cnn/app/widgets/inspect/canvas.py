"""A 28x28 canvas to draw a digit on, with the mouse (drag) or the keyboard (arrows move the
pen, space lifts it or puts it down, c clears). Each stroke posts ``Drawn`` so the screen can
predict as the digit takes shape."""

from __future__ import annotations

import numpy as np
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from .pixels import MARK, picture

SIZE = 28
# A pen like MNIST's strokes (about 2-3 pixels wide, soft edges): full at the centre.
_BRUSH = (
    (0, 0, 255),
    (0, 1, 200),
    (1, 0, 200),
    (1, 1, 160),
    (-1, 0, 90),
    (0, -1, 90),
    (1, -1, 60),
    (-1, 1, 60),
    (2, 0, 40),
    (0, 2, 40),
)


class DigitCanvas(Static, can_focus=True):
    DEFAULT_CSS = """
    DigitCanvas { width: 28; height: 14; }
    """
    BINDINGS = [
        Binding("up", "move(-1, 0)", "Pen up", show=False),
        Binding("down", "move(1, 0)", "Pen down", show=False),
        Binding("left", "move(0, -1)", "Pen left", show=False),
        Binding("right", "move(0, 1)", "Pen right", show=False),
        Binding("space", "toggle_pen", "Pen on/off"),
        Binding("c", "clear", "Clear"),
    ]

    class Drawn(Message):
        def __init__(self, pixels: np.ndarray) -> None:
            super().__init__()
            self.pixels = pixels

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pixels = np.zeros((SIZE, SIZE), dtype=np.uint8)
        self.cursor = (SIZE // 2, SIZE // 2)
        self.pen_down = False

    # --- drawing ---

    def paint(self, row: int, col: int) -> None:
        for dr, dc, level in _BRUSH:
            r, c = row + dr, col + dc
            if 0 <= r < SIZE and 0 <= c < SIZE:
                self.pixels[r, c] = max(int(self.pixels[r, c]), level)
        self._changed()

    def _changed(self) -> None:
        self._redraw()
        self.post_message(self.Drawn(self.pixels.copy()))

    def action_move(self, drow: int, dcol: int) -> None:
        row, col = self.cursor
        self.cursor = (min(max(row + drow, 0), SIZE - 1), min(max(col + dcol, 0), SIZE - 1))
        if self.pen_down:
            self.paint(*self.cursor)
        else:
            self._redraw()

    def action_toggle_pen(self) -> None:
        self.pen_down = not self.pen_down
        if self.pen_down:
            self.paint(*self.cursor)
        else:
            self._redraw()

    def action_clear(self) -> None:
        self.pixels[:] = 0
        self._changed()

    def on_mouse_down(self, event) -> None:
        self.capture_mouse()
        self._paint_at(event.x, event.y)

    def on_mouse_move(self, event) -> None:
        if event.button:
            self._paint_at(event.x, event.y)

    def on_mouse_up(self, event) -> None:
        self.release_mouse()

    def _paint_at(self, x: int, y: int) -> None:
        if 0 <= x < SIZE and 0 <= y < SIZE // 2:
            self.cursor = (y * 2, x)
            self.paint(y * 2, x)

    # --- drawing the canvas ---

    def on_mount(self) -> None:
        self._redraw()

    def on_focus(self) -> None:
        self._redraw()

    def on_blur(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        shown = self.pixels.astype(np.int32)
        if self.has_focus:
            shown[self.cursor] = MARK
        self.update(picture(shown))
