"""The shape engine's report as a rich table, in torchinfo's spirit: one row a layer, no
vertical rules, totals under it, diagnostics after. The table fits the terminal: an input
shape column when there is room, and a layer call cut short with "…" rather than wrapped."""

from __future__ import annotations

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..domain import format as fmt
from ..domain.layer_table import SPEC_COLUMNS, pair
from ..domain.shapes import Analysis, FlatRow, block_call, flat_reports
from ..domain.training_memory import TRAINING_MEMORY_RULE


def _layer_cell(row: FlatRow) -> Text:
    report = row.report
    mark = "✗ " if report.has_error else ("! " if report.has_warning else "")
    style = "red" if report.has_error else ("yellow" if report.has_warning else "")
    call = block_call(report) if report.is_block else fmt.layer_call(report.type, report.args)
    # Cut short with "…" rather than wrapped: one row a layer, as in torchinfo. A block's
    # layers are indented under it.
    return Text("  " * row.depth + mark + call, style=style, no_wrap=True, overflow="ellipsis")


#: Columns given up, in this order, until the layer calls fit the terminal uncut.
OPTIONAL_COLUMNS = tuple(column.key for column in SPEC_COLUMNS if column.wide_only)


def _cells(row: FlatRow) -> dict[str, str | Text]:
    """A layer's cells here: shapes with their batch dimension, and every figure, zeros too."""
    r = row.report
    return {
        "index": row.name,
        "layer": _layer_cell(row),
        "input": fmt.shape(r.input_shape),
        "output": fmt.shape(r.output_shape),
        "params": fmt.grouped(r.params),
        "macs": fmt.compact(r.macs),
        "memory": fmt.binary_bytes(r.activation_bytes),
        "rf": pair(r.receptive_field),
    }


def layer_table(analysis: Analysis, hidden: tuple[str, ...] = ()) -> Table:
    """Every column but Layer keeps its full width (min_width); Layer gives way with "…".
    ``hidden``: the keys of the columns left out."""
    columns = [column for column in SPEC_COLUMNS if column.key not in hidden]
    cells = [_cells(row) for row in flat_reports(analysis.layers)]
    rows = [[row_cells[column.key] for column in columns] for row_cells in cells]
    headers = [column.heading for column in columns]
    table = Table(
        title=f"{fmt.printable(analysis.spec.name)}  input {fmt.shape(analysis.input_shape)}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column, header in enumerate(headers):
        if header == "Layer":  # the one column rich may narrow
            table.add_column(header)
            continue
        width = max([len(header)] + [len(row[column]) for row in rows])
        justify = "left" if header.endswith("shape") else "right"  # figures and layer numbers on the right
        table.add_column(header, justify=justify, no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    return table


def totals_grid(analysis: Analysis) -> Table:
    t = analysis.totals
    grid = Table.grid(padding=(0, 2))
    grid.add_row("Parameters", fmt.grouped(t.params), "trainable", fmt.grouped(t.trainable_params))
    grid.add_row("MACs (mult-adds)", fmt.compact(t.macs), "batch", str(analysis.batch_size))
    grid.add_row(
        "Parameter memory", fmt.binary_bytes(t.param_bytes), "activations", fmt.binary_bytes(t.activation_bytes)
    )
    grid.add_row(
        "Training memory (est.)",
        fmt.binary_bytes(t.training_bytes),
        "on a GPU (bf16)",
        fmt.binary_bytes(t.training_bytes_mixed),
    )
    return grid


def diagnostic_lines(analysis: Analysis) -> list[Text]:
    lines = []
    for d in analysis.diagnostics:
        where = f"layer {d.layer}" if d.layer is not None else "model"
        field = f" [{d.field}]" if d.field else ""
        # A diagnostic may quote the spec file (a layer type, a field's name): printable.
        line = Text(
            fmt.printable(f"{d.severity}: {where}{field}: {d.message}"), style="red" if d.is_error else "yellow"
        )
        if d.suggestion:
            line.append(f"\n  fix: {fmt.printable(d.suggestion)}", style="dim")
        lines.append(line)
    return lines


class Summary:
    """Renders at the console's width: the widest layout that fits without wrapping a row."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis

    def _widest_table_that_fits(self, console: Console, options: ConsoleOptions) -> Table:
        unbounded = options.update_width(1 << 16)
        for dropped in range(len(OPTIONAL_COLUMNS) + 1):
            table = layer_table(self.analysis, OPTIONAL_COLUMNS[:dropped])
            if Measurement.get(console, unbounded, table).maximum <= options.max_width:
                break
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._widest_table_that_fits(console, options)
        yield totals_grid(self.analysis)
        yield Text(f"training memory = {TRAINING_MEMORY_RULE}", style="dim")
        yield from diagnostic_lines(self.analysis)


def render_summary(analysis: Analysis) -> Group:
    return Group(Summary(analysis))
