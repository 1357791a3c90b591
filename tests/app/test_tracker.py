"""The tracker as a user drives it: move through the table, edit the batch size and the input
shape, and read what the screen says."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from tests.helpers import help_text, record_notifications, type_fast
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.tracker import APPLY_AFTER_S
from tui_cnn.app.widgets.layer_table import LayerTable
from tui_cnn.domain import LayerSpec, load_preset


def detail(app: TuiCnnApp) -> str:
    return str(app.screen.query_one("#formulas", Static).render())


def text_of(app: TuiCnnApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def cell(app: TuiCnnApp, row: int, column: str) -> str:
    return app.screen.query_one(LayerTable).get_cell(str(row), column).plain


async def replace_text(pilot, key: str, text: str, then: str = "enter") -> None:
    """Focus an input with its key, clear it, type and press enter, as a user would."""
    await pilot.press(key, "end", *["backspace"] * 12, *text, then)
    await pilot.pause()


@pytest.mark.slow
async def test_moving_through_the_table_shows_each_layers_formula():
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "H_out = floor((28 + 2*1 - 1*(3-1) - 1)/1 + 1) = 28" in detail(app)
        assert "32 * (1*3*3) + 32 = 320" in detail(app)
        assert "784 x 25,088 = 19,668,992 weights" in detail(app)
        await pilot.press("down", "down")
        assert "H_out = floor((28 + 2*0 - 1*(2-1) - 1)/2 + 1) = 14" in detail(app)
        assert "each 2x2 window, moved 2 at a time, keeps its largest value" in detail(app)
        await pilot.press("down", "down", "down", "down", "down")
        assert "3136 * 10 + 10 = 31,370" in detail(app)
        await pilot.press("up")
        assert "64*7*7 = 3,136 values per sample" in detail(app)
        assert "31,370" not in detail(app)


@pytest.mark.slow
async def test_the_table_and_totals_show_the_lecture_figures():
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert cell(app, 0, "layer") == "Conv2d(1, 32, kernel_size=3, padding=1)"
        assert cell(app, 0, "output") == "32x28x28"
        assert cell(app, 0, "macs") == "16.1M"
        assert cell(app, 3, "params") == "18,496"
        assert cell(app, 5, "rf") == "10"
        totals = text_of(app, "#totals")
        assert "Params 50,186" in totals
        assert "for batch 64" in totals


@pytest.mark.slow
async def test_changing_the_batch_size_updates_every_figure():
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await replace_text(pilot, "b", "8")
        assert app.batch_size == 8
        assert cell(app, 0, "macs") == "2.01M"  # 320 x 8 x 28 x 28
        assert "for batch 8" in text_of(app, "#totals")
        assert "320 * 8 * 28 * 28 = 2,007,040" in detail(app)


@pytest.mark.slow
async def test_changing_the_input_shape_re_runs_the_shapes(monkeypatch):
    # Typing with a pause no loaded machine outlasts between two of Pilot's keys (it waits for
    # the app after each): a 2 s pause once fired between "3,32,3" and "2" under CI's load.
    monkeypatch.setattr("tui_cnn.app.screens.tracker.APPLY_AFTER_S", 600.0)
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await replace_text(pilot, "i", "3,32,32", then="tab")  # no enter: applies once typing pauses
        assert app.spec.input_shape == (1, 28, 28)
        # The last key retyped with a short pause: that edit applies once typing stops.
        monkeypatch.setattr("tui_cnn.app.screens.tracker.APPLY_AFTER_S", 0.3)
        await pilot.press("shift+tab")
        assert app.focused is not None and app.focused.id == "input-shape"
        await pilot.press("end", "backspace", "2")
        await pilot.pause(1.0)
        assert app.spec.input_shape == (3, 32, 32)
        assert cell(app, 0, "input") == "3x32x32"
        assert cell(app, 6, "output") == "4096"
        assert cell(app, 7, "layer") == "Linear(4096, 10)"
        assert "Params 60,362" in text_of(app, "#totals")  # 896 + 18,496 + 40,970


BAD_BATCH = "batch size must be >= 1 and <= 1,048,576, got "  # the training setting's words and limit
BAD_SHAPE = "input shape must be three positive integers C, H, W"


@pytest.mark.parametrize(
    "key, bad, message",
    [
        ("i", "3,32", BAD_SHAPE),
        ("i", "0,28,28", BAD_SHAPE),
        ("i", "3,32,32,1e9", BAD_SHAPE),
        ("b", "0", "batch size must be >= 1"),
        ("b", "", "batch size is required"),
        # the boxes once filtered keys and cut the length: 1e9 became 19, -1 became 1, 2.5 became 25
        ("b", "1e9", BAD_BATCH + "1,000,000,000"),
        ("b", "-1", BAD_BATCH + "-1"),
        ("b", "2.5", "batch size must be a whole number, got '2.5'"),
        ("b", "100000000000", BAD_BATCH + "100,000,000,000"),
    ],
)
@pytest.mark.slow
async def test_a_bad_value_is_kept_as_typed_said_in_full_and_keeps_the_last_good_model(key, bad, message, monkeypatch):
    """Typed at typing speed, then enter. The typing pause is 600 s here: on a loaded machine two
    keys 10 ms apart once arrived 0.4 s apart, and the valid prefix "100" applied, as it
    should after a real pause."""
    monkeypatch.setattr("tui_cnn.app.screens.tracker.APPLY_AFTER_S", 600.0)
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(key, "end", *["backspace"] * 12)
        await type_fast(app, list(bad), 0.01)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.focused.value == bad
        error = app.screen.query_one("#edit-error")
        assert message in str(error.render())
        # all of it on screen at 80x24: the line is as wide as the message, not cut
        assert error.region.width >= len(message) + 2 and error.region.height >= 1
        assert app.spec.input_shape == (1, 28, 28) and app.batch_size == 64
        assert cell(app, 0, "macs") == "16.1M"
        await pilot.press("escape")  # back to the table, still working
        await pilot.press("down")
        assert "Activation memory" in detail(app)


@pytest.mark.slow
async def test_an_invalid_layer_is_marked_and_explained():
    spec = load_preset("SimpleCNN")
    spec = spec.replace_layer(7, LayerSpec.of("Linear", in_features=3000, out_features=10))
    app = TuiCnnApp(spec)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert cell(app, 7, "index") == "✗ 7"
        assert cell(app, 0, "index") == "0"
        assert "✗ 1 error" in text_of(app, "#status")
        await pilot.press("end")
        assert "in_features = 3000 but the incoming tensor has 3136" in detail(app)
        assert "fix: set in_features = 3136" in detail(app)


@pytest.mark.slow
async def test_a_model_set_elsewhere_replaces_the_table():
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.spec = load_preset("VGGSmall")
        await pilot.pause()
        assert app.screen.query_one("#input-shape", Input).value == "3,32,32"
        assert app.screen.query_one(LayerTable).row_count == len(app.spec.layers)
        assert "VGGSmall" in app.screen.sub_title


@pytest.mark.slow
async def test_the_shape_bars_replace_the_detail_panel_on_a_narrow_terminal():
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        flow, panel = app.screen.query_one("#flow"), app.screen.query_one("#detail")
        assert panel.display and not flow.display
        await pilot.press("v")
        assert flow.display and not panel.display
        assert "64x7x7" in str(flow.render())


@pytest.mark.slow
async def test_help_lists_the_trackers_keys():
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        shown = help_text(app)
        assert "Edit the input shape C,H,W" in shown and "Track your own nn.Module" in shown
        await pilot.press("escape")
        assert app.screen.query_one(LayerTable)


@pytest.mark.slow
async def test_the_command_palette_asks_which_module_to_track():
    from tui_cnn.app.widgets.track_prompt import TrackPrompt

    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        notes = record_notifications(app)
        await pilot.press("ctrl+p", *"Track your own", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TrackPrompt)
        await pilot.press(*"no_such_module_here:Net", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("no module named 'no_such_module_here'" in message for message in notes)
        assert app.screen.query_one(LayerTable).row_count == 8  # still SimpleCNN


@pytest.mark.slow
async def test_a_big_models_edit_reaches_every_row_and_the_newest_edit_wins():
    """Over BACKGROUND_LAYERS, the analysis runs in a thread and the table updates a few
    hundred rows a turn: two quick edits end with every row showing the second."""
    from tests.helpers import async_wait_until
    from tui_cnn.app.screens.tracker import BACKGROUND_LAYERS
    from tui_cnn.domain.layer_table import row_cells
    from tui_cnn.domain.shapes import analyze
    from tui_cnn.domain.spec import ModelSpec
    from tui_cnn.domain.summary import ModelSummary

    block = (LayerSpec.of("Conv2d", out_channels=8, kernel_size=3, padding=1), LayerSpec.of("ReLU"))
    spec = ModelSpec("Big", (1, 28, 28), block * (BACKGROUND_LAYERS + 100))
    app = TuiCnnApp(spec)
    async with app.run_test(size=(160, 50)) as pilot:
        await async_wait_until(lambda: app.screen.query_one(LayerTable).row_count == len(spec.layers))
        app.batch_size = 2
        app.batch_size = 3  # before the first edit has reached the table
        await async_wait_until(lambda: app.screen.summary.batch_size == 3, what="the second edit analysed")
        await pilot.pause(0.5)
        summary, last = app.screen.summary, len(spec.layers) - 2  # the last conv
        at_two = ModelSummary.of_analysis(analyze(spec, 2))
        assert row_cells(at_two.rows[last])["macs"] != row_cells(summary.rows[last])["macs"]  # the check can fail
        for row in (0, len(spec.layers) // 2, last):  # in view, and far below it
            assert cell(app, row, "macs") == row_cells(summary.rows[row])["macs"], row
        assert app.is_running


@pytest.mark.slow
async def test_the_batch_box_takes_what_the_training_form_takes(monkeypatch):
    """One parser and one limit, the training settings' (the tracker refused 1e9 as "not a
    whole number" below its own 1,000,000 while the form took 1e3 up to 1,048,576)."""
    from tui_cnn.domain.train_config import MAX_BATCH_SIZE

    monkeypatch.setattr("tui_cnn.app.screens.tracker.APPLY_AFTER_S", 600.0)  # Pilot's typing never pauses that long

    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await replace_text(pilot, "b", "1e3")
        assert app.batch_size == 1000
        await replace_text(pilot, "b", str(MAX_BATCH_SIZE))
        assert app.batch_size == MAX_BATCH_SIZE
        box = app.screen.query_one("#batch-size", Input)
        # the largest batch and the cursor after it fit: 1,000,000 once showed as 000000
        assert box.content_region.width >= len(str(MAX_BATCH_SIZE)) + 1
        await replace_text(pilot, "b", str(MAX_BATCH_SIZE + 1))
        assert "<= 1,048,576" in text_of(app, "#edit-error") and app.batch_size == MAX_BATCH_SIZE


@pytest.mark.slow
async def test_the_error_line_keeps_a_boxs_error_while_it_holds_bad_text(monkeypatch):
    """Both boxes bad, then the batch fixed: the input shape's error stays (it was dropped)."""
    monkeypatch.setattr("tui_cnn.app.screens.tracker.APPLY_AFTER_S", 600.0)
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await replace_text(pilot, "i", "3,32", then="escape")
        await replace_text(pilot, "b", "0", then="escape")
        errors = text_of(app, "#edit-error")
        assert "three positive integers" in errors and "batch size must be" in errors
        await replace_text(pilot, "b", "32")
        errors = text_of(app, "#edit-error")
        assert "three positive integers" in errors and "batch size" not in errors
        assert app.batch_size == 32 and app.spec.input_shape == (1, 28, 28)
        await replace_text(pilot, "i", "1,28,28")
        assert text_of(app, "#edit-error") == ""


@pytest.mark.slow
async def test_a_key_typed_right_after_enter_goes_where_enter_moved_the_focus():
    """3, enter, 2 in one read: enter applies 3 and moves back to the table, so the 2 is the
    app's key there (the builder), as if typed slowly. The 2 once landed in the box before the
    screen heard the enter, and the applied 3 was written back over "32"."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b", "end", "backspace", "backspace")
        box = app.screen.query_one("#batch-size", Input)
        await type_fast(app, ["3", "enter", "2"])
        await pilot.pause(APPLY_AFTER_S + 0.5)
        await pilot.pause()
        assert box.value == "3" and app.batch_size == 3 and app.current_mode == "builder"
