"""The tensor's journey at a glance: a bar per layer whose length follows the image's side
(sqrt(H*W), so 28x28 -> 7x7 reads as a quarter) and whose shading deepens with the channels
(░ few ... █ the most), so it reads without colour too. Flat tensors are a thin line."""

from __future__ import annotations

import math

from textual.content import Content
from textual.reactive import reactive
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from ...domain import format as fmt
from ...domain.summary import ModelSummary

SHADES = "░▒▓█"


def _shade(channels: int, most: int) -> str:
    """Deeper tensors get denser glyphs, on a log scale (1 -> ░, the deepest -> █)."""
    if most <= 1:
        return SHADES[-1]
    level = math.log(channels) / math.log(most)
    return SHADES[min(len(SHADES) - 1, round(level * (len(SHADES) - 1)))]


class ShapeFlow(Widget, can_focus=False):
    highlight: reactive[int | None] = reactive(None)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._summary: ModelSummary | None = None
        self._shapes: tuple = ()
        self._layout: tuple | None = None  # (summary, rows, measures) of the summary shown

    def show(self, summary: ModelSummary) -> None:
        shapes = (summary.input_shape, *(row.report.output_shape for row in summary.rows))
        names = tuple(row.name for row in summary.rows)
        self._summary = summary
        if (shapes, names) != self._shapes:  # repaint only when a shape (or a name) changed
            self._shapes = (shapes, names)
            self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._summary.rows) + 1 if self._summary else 1

    def render_line(self, y: int) -> Strip:
        """One bar. Textual asks only for the lines in view: a 5,000-layer model draws the
        few dozen on screen, not 5,000 (which took seconds on every repaint)."""
        width = self.size.width
        rows = self._rows()
        if y >= len(rows) or width <= 0:
            return Strip.blank(width, self.rich_style)
        strips = Visual.to_strips(self, self._line(rows, y), width, 1, self.visual_style, pad=True)
        # Between a resize and the next layout the widget can be asked for a line while it has no
        # room at all (seen when folding a graph): no strips then, and a blank line is right.
        return strips[0] if strips else Strip.blank(width, self.rich_style)

    def _rows(self) -> list[tuple[str, str, tuple[int, ...] | None]]:
        if self._summary is None:
            return []
        if self._layout is None or self._layout[0] is not self._summary:
            rows = [("", "input", self._summary.input_shape)]
            rows += [(row.name, row.report.type, row.report.output_shape) for row in self._summary.rows]
            images = [s for _, _, s in rows if s is not None and len(s) == 4]
            self._layout = (
                self._summary,
                rows,
                {
                    "widest": max((math.sqrt(s[2] * s[3]) for s in images), default=1),
                    "deepest": max((s[1] for s in images), default=1),
                    "name": max(len(name) for name, _, _ in rows),
                    "type": min(18, max(len(t) for _, t, _ in rows)),
                    "label": max(len(fmt.per_sample(s)) for _, _, s in rows),
                },
            )
        return self._layout[1]

    def _line(self, rows: list, index: int) -> Content:
        measures = self._layout[2]
        name_width, type_width, label_width = measures["name"], measures["type"], measures["label"]
        room = max(4, self.size.width - name_width - type_width - label_width - 4)
        name, type_name, shape = rows[index]
        label = f"{name:>{name_width}} {type_name[:type_width]:<{type_width}} {fmt.per_sample(shape):>{label_width}} "
        if shape is None:
            bar, style = "?", "$text-error"
        elif len(shape) == 4:
            length = max(1, round(room * math.sqrt(shape[2] * shape[3]) / measures["widest"]))
            bar, style = _shade(shape[1], measures["deepest"]) * length, "$primary"
        else:
            bar, style = "▏", "$secondary"
        selected = self.highlight is not None and index == self.highlight + 1
        label_style = "reverse" if selected else "$text-muted"
        return Content.from_markup(f"[{label_style}]$label[/][{style}]$bar[/]", label=label, bar=bar)

    def render(self) -> Content:
        """All the bars as one text (what tests and snapshots read); the screen draws with
        ``render_line``."""
        rows = self._rows()
        return Content("\n").join(self._line(rows, index) for index in range(len(rows)))
