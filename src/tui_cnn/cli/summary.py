"""The shape engine's report as a rich table, in torchinfo's spirit: one row a layer,
totals under it, diagnostics after."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..domain import format as fmt
from ..domain.shapes import TRAINING_MEMORY_RULE, Analysis


def _receptive(report) -> str:
    if report.receptive_field is None:
        return ""
    h, w = report.receptive_field
    return str(h) if h == w else f"{h}x{w}"


def render_summary(analysis: Analysis) -> Group:
    table = Table(title=f"{analysis.spec.name}  input {fmt.shape(analysis.input_shape)}", title_justify="left")
    for header, justify in (("#", "right"), ("Layer", "left"), ("Output shape", "left"), ("Params", "right"),
                            ("MACs", "right"), ("Act. mem", "right"), ("RF", "right")):
        table.add_column(header, justify=justify)
    for r in analysis.layers:
        mark = "✗ " if r.has_error else ("! " if r.has_warning else "")
        style = "red" if r.has_error else ("yellow" if r.has_warning else "")
        table.add_row(str(r.index), Text(mark + fmt.layer_call(r.type, r.args), style=style), fmt.shape(r.output_shape),
                      fmt.grouped(r.params), fmt.compact(r.macs), fmt.binary_bytes(r.activation_bytes), _receptive(r))
    t = analysis.totals
    totals = Table.grid(padding=(0, 2))
    totals.add_row("Parameters", fmt.grouped(t.params), "trainable", fmt.grouped(t.trainable_params))
    totals.add_row("MACs (mult-adds)", fmt.compact(t.macs), "batch", str(analysis.batch_size))
    totals.add_row("Parameter memory", fmt.binary_bytes(t.param_bytes), "activations", fmt.binary_bytes(t.activation_bytes))
    totals.add_row("Training memory (est.)", fmt.binary_bytes(t.training_bytes), "", "")
    parts = [table, totals, Text(f"training memory = {TRAINING_MEMORY_RULE}", style="dim")]
    for d in analysis.diagnostics:
        where = f"layer {d.layer}" if d.layer is not None else "model"
        field = f" [{d.field}]" if d.field else ""
        colour = "red" if d.is_error else "yellow"
        line = Text(f"{d.severity}: {where}{field}: {d.message}", style=colour)
        if d.suggestion:
            line.append(f"\n  fix: {d.suggestion}", style="dim")
        parts.append(line)
    return Group(*parts)
