"""The layer stack as a table: the input heads it, one row a layer (a mark when something is
wrong, its output shape, the layer as PyTorch code), the model's output ends it. The shape
comes before the code so that it stays in sight when a long call does not fit.

Rows update in place: a keystroke in a field changes a few cells, not the table."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from ....domain import format as fmt
from ....domain.layers import LAYER_TYPES
from ....domain.shapes import Analysis, LayerReport

Row = tuple[Text, str, str, Text]  # mark, index, output shape, layer

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
        self._styles = {name: Style(color=Color.parse(variables[name]).rich_color, bold=True)
                        for name in ("error", "warning")}
        self._rows = []  # restyle every row
        if self._analysis is not None:
            self.show(self._analysis)

    # --- what the cursor is on ---

    @property
    def layer_count(self) -> int:
        return max(0, len(self._rows) - 2)

    @property
    def layer_index(self) -> int | None:
        """The layer under the cursor; None on the input or output row."""
        index = self.cursor_row - 1
        return index if 0 <= index < self.layer_count else None

    @property
    def insert_position(self) -> int:
        """Where a new layer goes: after the cursor's layer; first on the input row."""
        return min(self.cursor_row, self.layer_count)

    def select_layer(self, index: int) -> None:
        self.move_cursor(row=index + 1)

    # --- rows ---

    def _mark(self, report: LayerReport) -> Text:
        if report.has_error:
            return Text(ERROR_MARK, self._styles["error"])
        if report.has_warning:
            return Text(WARNING_MARK, self._styles["warning"])
        return Text(" ")

    def _layer_row(self, report: LayerReport) -> Row:
        style = self._styles["error"] if report.has_error else Style()
        call = Text(call_text(report), style=style)
        return (self._mark(report), str(report.index), per_sample(report.output_shape), call)

    def _rows_for(self, analysis: Analysis) -> list[Row]:
        c, h, w = analysis.spec.input_shape
        output = analysis.output_shape if analysis.valid else None
        return [
            (Text(" "), "", per_sample(analysis.input_shape), Text(f"Input {c}x{h}x{w}", style="bold")),
            *(self._layer_row(report) for report in analysis.layers),
            (Text(" "), "", per_sample(output), Text("Output", style="bold")),
        ]

    def show(self, analysis: Analysis) -> None:
        """Bring the rows up to date: changed cells only, unless rows came or went."""
        rows = self._rows_for(analysis)
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
