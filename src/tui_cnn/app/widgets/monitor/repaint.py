"""Repainting only the cells that changed. Textual sends every line of a refreshed widget
to the terminal, whole; a widget that knows what it showed can refresh just the cells that
read differently, and a monitor watched over SSH sends a few cells where it sent a plot."""

from __future__ import annotations

from typing import Self

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Region
from textual.widgets import Static


def _cells(line: Text) -> list[tuple[str, tuple]]:
    """Each character of ``line`` with the styles that apply to it."""
    styles: list[list] = [[line.style] for _ in line.plain]
    for span in line.spans:
        for index in range(span.start, min(span.end, len(styles))):
            styles[index].append(span.style)
    return [(char, tuple(style)) for char, style in zip(line.plain, styles)]


def changed_regions(before: Text, after: Text) -> list[Region]:
    """Where ``after`` reads differently from ``before``: for each line that changed, one
    region a line high from its first changed cell to its last."""
    return changed_line_regions(text_lines(before), text_lines(after))


def text_lines(text: Text) -> list[Text]:
    """``text`` line by line. (Splitting a plot's Text, a span for every run of one colour,
    is most of what comparing two of them takes: a plot keeps the lines it was drawn as.)"""
    return list(text.split("\n", allow_blank=True))


def changed_line_regions(old_lines: list[Text], new_lines: list[Text]) -> list[Region]:
    """``changed_regions`` of two texts already split into lines."""
    regions = []
    for y in range(max(len(old_lines), len(new_lines))):
        old_line = old_lines[y] if y < len(old_lines) else Text()
        new_line = new_lines[y] if y < len(new_lines) else Text()
        if old_line.plain == new_line.plain and old_line.style == new_line.style and old_line.spans == new_line.spans:
            continue  # the same characters in the same styles (most of a growing curve's lines)
        old, new = _cells(old_line), _cells(new_line)
        if old == new:
            continue
        width = max(len(old), len(new))
        differs = [
            index
            for index in range(width)
            if (old[index] if index < len(old) else None) != (new[index] if index < len(new) else None)
        ]
        first, last = differs[0], differs[-1] + 1
        start = cell_len(new_line.plain[:first])
        end = max(cell_len(old_line.plain[:last]), cell_len(new_line.plain[:last]))
        regions.append(Region(start, y, end - start, 1))
    return regions


class TickerText(Static):
    """A line that changes often (a clock, a count, a loss): a change repaints the cells it
    changes ("0:27" becoming "0:28"), not the whole line. Text too wide for one line is
    shown whole, laid out again (it wraps)."""

    _changed: list[Region] | None = None

    def show(self, text: str) -> None:
        before = str(self.content)
        if text == before:
            return
        if max(cell_len(before), cell_len(text)) >= self.content_region.width:
            self.update(text)  # it may wrap (or not yet be laid out): lay it out again
            return
        self._changed = changed_regions(Text(before), Text(text))
        try:
            self.update(text, layout=False)
        finally:
            self._changed = None

    def refresh(self, *regions: Region, **kwargs) -> Self:
        if self._changed is not None and not regions:  # the repaint update() asks for
            regions = tuple(self._changed)
        return super().refresh(*regions, **kwargs)
