"""The columns of a table of layers, for `tui-cnn shapes` and the tracker alike: each
column's key, heading and alignment, and each row's cells (the same words and figures
wherever a layer is listed). Pure Python; run_table.py does the same for runs."""

from __future__ import annotations

from dataclasses import dataclass

from . import format as fmt
from .explain import mark
from .summary import LayerRow


@dataclass(frozen=True, slots=True)
class LayerColumn:
    key: str
    label: str
    numeric: bool = False  # figures, aligned on the right
    #: Given up first when the terminal is narrow (the tracker's detail panel shows it).
    wide_only: bool = False
    #: The heading where the table has room for words (`tui-cnn shapes`); ``label`` when empty.
    long_label: str = ""

    @property
    def heading(self) -> str:
        return self.long_label or self.label


INPUT = LayerColumn("input", "Input", wide_only=True, long_label="Input shape")
OUTPUT = LayerColumn("output", "Output", long_label="Output shape")
PARAMS = LayerColumn("params", "Params", numeric=True)
MACS = LayerColumn("macs", "MACs", numeric=True)
MEMORY = LayerColumn("memory", "Act. mem", numeric=True, wide_only=True)
RF = LayerColumn("rf", "RF", numeric=True)

#: A spec's layers, in the order shown.
SPEC_COLUMNS = (LayerColumn("index", "#"), LayerColumn("layer", "Layer"), INPUT, OUTPUT, PARAMS, MACS, MEMORY, RF)
#: A tracked model's (or a spec with blocks), in the order shown; which of them fit is chosen
#: by width, most useful first (``FIRST_TO_FIT``), name, output, params and MACs always.
TRACKED_COLUMNS = (
    LayerColumn("index", "Name"),
    LayerColumn("type", "Layer"),
    INPUT,
    OUTPUT,
    PARAMS,
    MACS,
    MEMORY,
    RF,
    LayerColumn("jump", "Jump", numeric=True),
)
ALWAYS_SHOWN = ("index", "output", "params", "macs")
FIRST_TO_FIT = ("index", "output", "params", "macs", "rf", "type", "jump", "input", "memory")


def pair(value: tuple[int, int] | None) -> str:
    """A receptive field or a jump: 5 when square, 5x3 when not, blank when unknown."""
    return "" if value is None else (str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}")


def _count(n: int, text: str) -> str:
    return text if n else "–"


def row_cells(row: LayerRow, lane: str = "") -> dict[str, str]:
    """Each column's text for ``row``; ``lane``: the data-flow gutter before its name."""
    r = row.report
    return {
        "index": lane + f"{mark(r)} {row.name}".strip(),
        "layer": row.call,
        "type": r.type,
        "input": fmt.per_sample(r.input_shape),
        "output": fmt.per_sample(r.output_shape),
        "params": _count(r.params, fmt.grouped(r.params)),
        "macs": _count(r.macs, fmt.compact(r.macs)),
        "memory": fmt.binary_bytes(r.activation_bytes) if r.output_shape else "?",
        "rf": pair(r.receptive_field),
        "jump": pair(r.jump),
    }
