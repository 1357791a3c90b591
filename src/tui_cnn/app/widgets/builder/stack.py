"""The layer stack as a table: the input heads it, one row a layer (a mark when something is
wrong, its output shape, the layer as PyTorch code), the model's output ends it. The shape
comes before the code so that it stays in sight when a long call does not fit.

A Residual or Concat block is a row (its output: the merged shape) with a row for each of its
paths under it (``body``, ``shortcut``, ``branch 1``: the shape each brings to the merge) and
their layers indented, ``│`` a level.

Rows update in place: a keystroke in a field changes a few cells, not the table."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from ....domain import format as fmt
from ....domain.layers import LAYER_TYPES
from ....domain.shapes import Analysis, LayerReport, block_call, branch_name
from ....domain.spec import Path

Row = tuple[Text, str, str, Text]  # mark, index, output shape, layer


@dataclass(frozen=True, slots=True)
class Entry:
    """What a row stands for: the input, a layer (a block too) at ``path``, a block's path
    ``branch`` (the block at ``path``), or the output."""

    kind: str  # "input" | "layer" | "branch" | "output"
    path: Path = ()
    branch: int = 0


ERROR_MARK, WARNING_MARK = "✗", "!"


class _Unknown:
    """An inferred argument that cannot be inferred (an error upstream): written ``?``, so
    ``Conv2d(?, 64, ...)`` never reads as 64 input channels."""

    def __repr__(self) -> str:
        return "?"


UNKNOWN = _Unknown()


def call_text(report: LayerReport) -> str:
    ltype = LAYER_TYPES.get(report.type)
    unknown = {f.name: UNKNOWN for f in ltype.fields if f.inferred} if ltype else {}
    return fmt.layer_call(report.type, unknown | report.args)


def per_sample(shape: tuple[int, ...] | None) -> str:
    """(N, 32, 28, 28): the batch is whatever comes in."""
    return "?" if shape is None else fmt.shape(("N", *shape[1:]))


class StackTable(DataTable):
    """Row 0 is the input, rows 1..n the layers, row n+1 the output."""

    BINDINGS = [  # rows, not columns: home and end go to the input and the output
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rows: list[Row] = []
        self.entries: list[Entry] = []
        self._analysis: Analysis | None = None
        self._styles = {"error": Style(color="red", bold=True), "warning": Style(color="yellow", bold=True)}

    def on_mount(self) -> None:
        for label in ("", "#", "Output", "Layer"):
            self.add_column(label)
        self._use_theme_colours()
        # The signal, not a watch on app.theme: it fires once the new theme's variables apply.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._use_theme_colours())

    def _use_theme_colours(self) -> None:
        variables = self.app.get_css_variables()
        self._styles = {
            name: Style(color=Color.parse(variables[name]).rich_color, bold=True) for name in ("error", "warning")
        }
        self._rows = []  # restyle every row
        if self._analysis is not None:
            self.show(self._analysis)

    # --- what the cursor is on ---

    @property
    def entry(self) -> Entry:
        return self.entries[self.cursor_row] if 0 <= self.cursor_row < len(self.entries) else Entry("input")

    @property
    def layer_count(self) -> int:
        """The model's top-level layers (a block counts one)."""
        return sum(1 for e in self.entries if e.kind == "layer" and len(e.path) == 1)

    @property
    def layer_path(self) -> Path | None:
        """The layer (or block) under the cursor; None on the input, output or a path's row."""
        entry = self.entry
        return entry.path if entry.kind == "layer" else None

    @property
    def layer_index(self) -> int | None:
        """The top-level layer under the cursor; None elsewhere (inside a block too)."""
        path = self.layer_path
        return path[0] if path is not None and len(path) == 1 else None

    @property
    def insert_path(self) -> Path:
        """Where a new layer goes: after the cursor's layer, in the same list; first in a
        path on its row; first in the model on the input row, last on the output row."""
        entry = self.entry
        if entry.kind == "layer":
            return (*entry.path[:-1], entry.path[-1] + 1)
        if entry.kind == "branch":
            return (*entry.path, entry.branch, 0)
        return (0,) if entry.kind == "input" else (self.layer_count,)

    @property
    def insert_position(self) -> int:
        """Where a new top-level layer goes: after the cursor's layer; first on the input row."""
        return min(self.cursor_row, self.layer_count)

    def select_path(self, path: Path) -> None:
        for row, entry in enumerate(self.entries):
            if entry.kind == "layer" and entry.path == tuple(path):
                self.move_cursor(row=row)
                return

    def select_branch(self, path: Path, branch: int) -> None:
        for row, entry in enumerate(self.entries):
            if entry == Entry("branch", tuple(path), branch):
                self.move_cursor(row=row)
                return

    def select_layer(self, index: int) -> None:
        self.select_path((index,))

    # --- rows ---

    def _mark(self, report: LayerReport) -> Text:
        if report.has_error:
            return Text(ERROR_MARK, self._styles["error"])
        if report.has_warning:
            return Text(WARNING_MARK, self._styles["warning"])
        return Text(" ")

    def _layer_row(self, report: LayerReport, depth: int = 0) -> Row:
        style = self._styles["error"] if report.has_error else Style()
        text = block_call(report) if report.is_block else call_text(report)
        call = Text("│ " * depth + text, style=style)
        return (
            self._mark(report),
            str(report.path[-1] if report.path else report.index),
            per_sample(report.output_shape),
            call,
        )

    def _nested(self, report: LayerReport, depth: int, rows: list[tuple[Entry, Row]]) -> None:
        """A layer's row; a block's also its paths' (what each brings to the merge) and their layers'."""
        rows.append((Entry("layer", report.path or (report.index,)), self._layer_row(report, depth)))
        for number, branch in enumerate(report.branches):
            brings = branch[-1].output_shape if branch else report.input_shape
            label = branch_name(report.type, number) + ("" if branch else ": identity")
            row = (Text(" "), "", per_sample(brings), Text("│ " * depth + f"├ {label}", style="italic"))
            rows.append((Entry("branch", report.path, number), row))
            for inner in branch:
                self._nested(inner, depth + 1, rows)

    def _rows_for(self, analysis: Analysis) -> list[tuple[Entry, Row]]:
        c, h, w = analysis.spec.input_shape
        output = analysis.output_shape if analysis.valid else None
        rows = [
            (
                Entry("input"),
                (Text(" "), "", per_sample(analysis.input_shape), Text(f"Input {c}x{h}x{w}", style="bold")),
            )
        ]
        for report in analysis.layers:
            self._nested(report, 0, rows)
        rows.append((Entry("output"), (Text(" "), "", per_sample(output), Text("Output", style="bold"))))
        return rows

    def show(self, analysis: Analysis) -> None:
        """Bring the rows up to date: changed cells only, unless rows came or went."""
        entries_and_rows = self._rows_for(analysis)
        self.entries = [entry for entry, _ in entries_and_rows]
        rows = [row for _, row in entries_and_rows]
        if len(rows) != len(self._rows):
            cursor = self.cursor_row
            self.clear()
            self.add_rows(rows)
            self.move_cursor(row=min(cursor, len(rows) - 1))
        else:
            for r, (old, new) in enumerate(zip(self._rows, rows)):
                for c, (before, after) in enumerate(zip(old, new)):
                    if before != after:  # widen a column when needed, never re-measure it for less
                        wider = len(str(after)) > len(str(before))
                        self.update_cell_at(Coordinate(r, c), after, update_width=wider)
        self._rows, self._analysis = rows, analysis
