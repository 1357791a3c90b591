"""A grayscale image in the terminal with half blocks: each character cell shows two pixel
rows, the upper as the foreground of '▀' and the lower as its background, so a 28x28 digit
takes 28 columns and 14 rows."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text

UPPER_HALF = "▀"


def _gray(value: int) -> Color:
    level = max(0, min(255, int(value)))
    return Color.from_rgb(level, level, level)


def half_block_image(image: list[list[int]]) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    for top in range(0, len(image), 2):
        upper = image[top]
        lower = image[top + 1] if top + 1 < len(image) else [0] * len(upper)
        for up, down in zip(upper, lower):
            text.append(UPPER_HALF, Style(color=_gray(up), bgcolor=_gray(down)))
        if top + 2 < len(image):
            text.append("\n")
    return text
