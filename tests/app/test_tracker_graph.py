"""A tracked model in the tracker, as a user meets it: the track prompt asks for the input
shape, a new model opens at its top, the figures fit 80 columns, modules fold by depth."""

from __future__ import annotations

import pytest

from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.session import Tracked
from tui_cnn.app.widgets.layer_table import LayerTable
from tui_cnn.app.widgets.track_prompt import TrackPrompt


def column_keys(table: LayerTable) -> list[str]:
    return [key.value for key in table.columns]


@pytest.mark.slow  # imports torch and traces two models: ~5 s
async def test_the_prompt_takes_an_input_shape_and_a_new_model_opens_at_its_top():
    app = TuiCnnApp(batch_size=1)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(LayerTable)
        await pilot.press("end")  # the cursor deep in the app's own model
        assert table.cursor_row > 0
        await pilot.press("t")
        await async_wait_until(lambda: isinstance(app.screen, TrackPrompt), what="the track prompt")
        await pilot.press(*"torchvision.models:resnet18", "tab", *["backspace"] * 10, *"3,64,64", "enter")
        await async_wait_until(
            lambda: getattr(app.screen, "summary", None) is not None and app.screen.summary.tracked,
            timeout=60,
            what="resnet18 tracked",
        )
        await pilot.pause()
        screen = app.screen
        assert screen.tracked.input_shape == (3, 64, 64)
        assert screen.summary.output_shape == (1, 1000)
        assert table.cursor_row == 0 and table.get_cell("0", "index").plain.endswith("conv1")
        # at 80 columns the figures are on screen, not scrolled off behind the layer's call
        assert column_keys(table)[:1] == ["index"]
        assert {"output", "params", "macs"} <= set(column_keys(table)) and "layer" not in column_keys(table)
        assert sum(column.get_render_width(table) for column in table.columns.values()) <= 80


@pytest.mark.slow
async def test_a_bad_input_shape_is_said_in_the_prompt():
    app = TuiCnnApp(batch_size=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await async_wait_until(lambda: isinstance(app.screen, TrackPrompt), what="the track prompt")
        await pilot.press(*"torchvision.models:resnet18", "tab", *["backspace"] * 10, *"3,0", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TrackPrompt)
        assert "✗" in str(app.screen.query_one("#prompt-error").render())


@pytest.mark.slow
async def test_branches_show_in_the_gutter_and_modules_fold_by_depth():
    app = TuiCnnApp(batch_size=1, tracked=Tracked("torchvision.models:resnet18", (3, 224, 224)))
    async with app.run_test(size=(160, 50)) as pilot:
        await async_wait_until(lambda: app.screen.summary is not None, timeout=60, what="resnet18 tracked")
        await pilot.pause()
        table = app.screen.query_one(LayerTable)
        names = [table.get_cell(str(i), "index").plain for i in range(table.row_count)]
        assert "├─● layer1.0.conv1" in names and "●─┘ layer1.0/add" in names
        assert {"type", "rf", "jump"} <= set(column_keys(table))  # the wide table has room for them
        full = table.row_count
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert table.row_count < full
        assert any(table.get_cell(str(i), "index").plain.strip() == "layer4.1" for i in range(table.row_count))
        await pilot.press("plus", "plus")
        await pilot.pause()
        assert table.row_count == full
