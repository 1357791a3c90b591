"""Pictures made of half blocks, fast enough to redraw every layer of a model per image.

A picture is a 2D array of values: 0..255 gray, or one of the marks below. Each character
cell shows two pixel rows ('▀': upper pixel in the foreground, lower in the background). Styles
are cached per (upper, lower) pair, so a 20,000-cell view costs one dict lookup a cell.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"
GAP = -1  # no pixel: the screen's own background
MARK = -2  # the accent colour: a selected thumbnail's frame, a receptive field's outline
WINNER = -3  # a pooling window's winning input

_MARK_RGB = (255, 80, 40)
_WINNER_RGB = (40, 200, 255)


def _rgb(value: int) -> tuple[int, int, int] | None:
    if value == GAP:
        return None
    if value == MARK:
        return _MARK_RGB
    if value == WINNER:
        return _WINNER_RGB
    level = max(0, min(255, int(value)))
    return level, level, level


@lru_cache(maxsize=70_000)
def _cell(upper: int, lower: int) -> tuple[str, Style | None]:
    top, bottom = _rgb(upper), _rgb(lower)
    if top is None and bottom is None:
        return " ", None
    if top is None:
        return "▄", Style.from_color(_color(bottom))
    return UPPER_HALF, Style.from_color(_color(top), _color(bottom) if bottom is not None else None)


@lru_cache(maxsize=1024)
def _color(rgb: tuple[int, int, int]):
    from rich.color import Color

    return Color.from_rgb(*rgb)


class Picture:
    """A 2D array of gray levels and marks as a Rich renderable of half blocks (an odd last row:
    lower half blank). Segments straight from cached styles: no Text spans to divide."""

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.int32)
        if values.shape[0] % 2:
            values = np.vstack([values, np.full((1, values.shape[1]), GAP, dtype=np.int32)])
        self.rows = values.tolist()
        self.width = values.shape[1]

    def __rich_console__(self, console, options):
        newline = Segment.line()
        for top in range(0, len(self.rows), 2):
            for upper, lower in zip(self.rows[top], self.rows[top + 1]):
                yield Segment(*_cell(upper, lower))
            yield newline

    def __rich_measure__(self, console, options) -> Measurement:
        return Measurement(self.width, self.width)


def picture(values: np.ndarray) -> Picture:
    return Picture(values)


def magnify(values: np.ndarray, factor: int) -> np.ndarray:
    return np.kron(np.asarray(values), np.ones((factor, factor), dtype=np.int32)) if factor > 1 else np.asarray(values)


def tiled(maps: Sequence[np.ndarray], columns: int, selected: int | None = None, gap: int = 1) -> np.ndarray:
    """Maps of one size side by side, ``columns`` a row, one gap pixel apart; the selected
    map framed with MARK."""
    count = len(maps)
    height, width = maps[0].shape
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    cell_h, cell_w = height + gap * 2, width + gap
    canvas = np.full((rows * cell_h, columns * cell_w + gap), GAP, dtype=np.int32)
    for index, image in enumerate(maps):
        row, col = divmod(index, columns)
        top, left = row * cell_h + gap, col * cell_w + gap
        if index == selected and gap:
            canvas[top - 1 : top + height + 1, left - 1 : left + width + 1] = MARK
        canvas[top : top + height, left : left + width] = image
    return canvas


def fit_columns(width_cells: int, map_width: int, gap: int = 1) -> int:
    """How many maps ``map_width`` pixels wide fit side by side in ``width_cells`` cells."""
    return max(1, (width_cells - gap) // (map_width + gap))


class PixelView(Widget):
    """A picture drawn through the line API: only the rows on screen are built, each once, from
    cached segments. A model's every layer (tens of thousands of cells) stays cheap to show."""

    DEFAULT_CSS = """
    PixelView { width: auto; height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: list[list[int]] = []
        self._strips: dict[int, Strip] = {}
        self._width = 0

    def show(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.int32)
        if values.shape[0] % 2:
            values = np.vstack([values, np.full((1, values.shape[1]), GAP, dtype=np.int32)])
        self._rows = values.tolist()
        self._width = values.shape[1]
        self._strips.clear()
        self.styles.width = self._width
        self.styles.height = len(self._rows) // 2
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the gaps take the background of the theme now in use

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            if 2 * y + 1 >= len(self._rows):
                return Strip.blank(self.size.width, self.rich_style)
            blank = self.rich_style
            segments = []
            for upper, lower in zip(self._rows[2 * y], self._rows[2 * y + 1]):
                char, style = _cell(upper, lower)
                segments.append(Segment(char, blank if style is None else blank + style))
            strip = self._strips[y] = Strip(segments, self._width)
        return strip
