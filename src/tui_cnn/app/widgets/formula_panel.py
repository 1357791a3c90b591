"""The detail panel: the worked formulas (domain.explain) for the layer under the cursor."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from ...domain.explain import Section, explain, explain_training_memory
from ...domain.format import printable
from ...domain.graph import explain_flow
from ...domain.summary import LayerRow, ModelSummary

_HEADING_STYLE = {"error": "bold $text-error", "warning": "bold $text-warning", None: "bold $text-accent"}


def render_sections(sections: tuple[Section, ...]) -> Content:
    parts = []
    for section in sections:
        parts.append(Content.from_markup(f"[{_HEADING_STYLE[section.severity]}]$heading[/]", heading=section.heading))
        parts.extend(Content.from_markup("  $line", line=line) for line in section.lines)
        parts.append(Content(""))
    return Content("\n").join(parts[:-1])


class FormulaPanel(VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="formulas")

    def show(self, summary: ModelSummary, row: LayerRow | None) -> None:
        """Repaint only when what the panel says changes."""
        sections = explain(row.report) if row else ()
        if row and row.path:  # a tracked model's, or a spec's with blocks: where the row's data flows
            sections = explain_flow(summary.rows, row.report.index) + sections
        sections += explain_training_memory(summary.totals, summary.batch_size)
        title = printable(f"{row.name} · {row.call}" if row else summary.title)  # a model's name: anything
        if (title, sections) == self._shown:
            return
        self._shown = (title, sections)
        self.border_title = escape(title)
        self.query_one("#formulas", Static).update(render_sections(sections))
