"""One declaration of a layer table's columns, read by `tui-cnn shapes` and the tracker."""

from __future__ import annotations

from click.testing import CliRunner

from tui_cnn.cli import main
from tui_cnn.domain.layer_table import SPEC_COLUMNS, TRACKED_COLUMNS, pair, row_cells
from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.summary import flow_rows


def test_every_column_has_a_cell_in_every_row():
    analysis = analyze(load_preset("SimpleCNN"))
    for row in flow_rows(analysis.layers):
        cells = row_cells(row)
        assert {column.key for column in (*SPEC_COLUMNS, *TRACKED_COLUMNS)} <= cells.keys()
    assert pair((5, 5)) == "5" and pair((5, 3)) == "5x3" and pair(None) == ""


def test_the_shapes_table_is_headed_by_the_registry():
    output = CliRunner().invoke(main, ["shapes", "SimpleCNN"], env={"COLUMNS": "200"}).output
    heading = next(line for line in output.splitlines() if line.lstrip().startswith("#"))
    assert heading.split() == " ".join(column.heading for column in SPEC_COLUMNS).split()
