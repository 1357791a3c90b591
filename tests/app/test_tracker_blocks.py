"""The tracker on a spec with Residual and Concat blocks: every layer inside a block in the
order it runs, the data flow's gutter (as for a tracked nn.Module), and the merge explained."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.widgets.layer_table import LayerTable
from tui_cnn.domain import load_preset


def cell(app: TuiCnnApp, row: int, column: str) -> str:
    return app.screen.query_one(LayerTable).get_cell(str(row), column).plain


@pytest.mark.slow
async def test_a_residual_nets_rows_show_the_branch_and_merge_and_the_detail_explains_the_add():
    app = TuiCnnApp(load_preset("ResNet20"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        names = [cell(app, row, "index") for row in range(10)]
        assert names[3] == "├─● 3.body.0" and names[7] == "│ ● 3.body.4"
        assert names[8] == "●─┘ 3" and cell(app, 8, "type") == "Residual"
        assert cell(app, 8, "output") == "16x32x32" and cell(app, 8, "params") == "–"  # the add's own: none
        await pilot.press(*["down"] * 8)
        detail = str(app.screen.query_one("#formulas", Static).render())
        assert "y = body(x) + shortcut(x)" in detail
        assert "shortcut: the input itself (64, 16, 32, 32) (identity)" in detail
        assert "merges 2 branches" in detail


@pytest.mark.slow
async def test_an_inception_modules_four_branches_meet_in_one_row():
    app = TuiCnnApp(load_preset("InceptionMini"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        merge = [
            row for row in range(app.screen.query_one(LayerTable).row_count) if cell(app, row, "type") == "Concat"
        ][0]
        assert cell(app, merge, "index").startswith("●─┴─┴─┘")
        assert cell(app, merge, "output") == "32x14x14"


@pytest.mark.slow
async def test_minus_folds_each_block_into_one_row_and_plus_unfolds_it():
    app = TuiCnnApp(load_preset("ResNet20"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(LayerTable)
        assert table.row_count == 24 + 9 * 5 + 2 * 2  # every layer: the bodies and the two projections
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert table.row_count == 24  # the model's own layers, a block one row
        assert cell(app, 3, "type") == "Residual" and cell(app, 3, "params") == "4,672"
        assert cell(app, 3, "output") == "16x32x32"
        await pilot.press("plus", "plus")
        await pilot.pause()
        assert table.row_count == 24 + 9 * 5 + 2 * 2  # every layer: the bodies and the two projections
