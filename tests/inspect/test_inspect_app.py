"""The Inspect screen (key 5) on a tiny trained run: stepping through test images, only the
misclassified ones, drawing a digit, and a misclassified digit opened from the monitor."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.inspect import InspectScreen
from tui_cnn.app.widgets.inspect.canvas import DigitCanvas
from tui_cnn.domain.run_files import read_evaluation

pytestmark = pytest.mark.slow  # a model trained for the screen (tiny_run), then torch in the app's worker


async def shown(app: TuiCnnApp, what=lambda view: True):
    """Wait until Inspect shows a view (that passes ``what``), then for the screen to settle."""
    await async_wait_until(
        lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None and what(app.screen.view),
        what="Inspect to show the view",
    )
    await app.workers.wait_for_complete()
    return app.screen.view


def text_of(app: TuiCnnApp, selector: str) -> str:
    """What a Static shows, as plain text (pictures come out as their half-block characters)."""
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(app.screen.query_one(selector).content)
    return console.export_text()


async def test_step_through_the_test_images_and_the_misclassified_ones(tiny_run: Path):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(tiny_run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        view = await shown(app)
        assert view.test_index == 0 and app.screen.inspector.trained
        assert "test image 0 of 64" in text_of(app, "#inspect-source")
        assert f"true {view.prediction.label}" in text_of(app, "#inspect-prediction")
        await pilot.press("right", "right")
        view = await shown(app, lambda v: v.test_index == 2)
        await pilot.press("left")
        await shown(app, lambda v: v.test_index == 1)
        await pilot.press("m")
        view = await shown(app, lambda v: app.screen.misclassified is not None)
        order = app.screen.misclassified
        assert view.test_index == order[0] and view.prediction.predicted != view.prediction.label
        assert "misclassified 1/" in text_of(app, "#inspect-source")
        assert "WRONG" in text_of(app, "#inspect-prediction")
        await pilot.press("right")
        await shown(app, lambda v: v.test_index == order[1])


async def test_select_a_layer_channel_and_position_shows_the_dot_product(tiny_run: Path):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(tiny_run))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("5")
        await shown(app)
        await pilot.press("right_square_bracket", "shift+down", "shift+right")
        detail = text_of(app, "#inspect-detail")
        assert "features.0 Conv2d" in detail and "channel 1" in detail and "position (1, 1)" in detail
        assert "w·x + b =" in detail and "ReLU: max(0," in detail
        await pilot.press("down", "down")
        detail = text_of(app, "#inspect-detail")
        assert "features.2 MaxPool2d" in detail and "max = " in detail
        await pilot.press("down")
        detail = text_of(app, "#inspect-detail")
        assert "features.3 Conv2d" in detail and "one kernel per input channel" in detail
        assert "in ch 3: Σ w·x over 9" in detail  # 4 input channels: a sum per channel


async def test_draw_a_digit_with_the_keyboard_and_the_mouse(tiny_run: Path):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(tiny_run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await shown(app)
        await pilot.press("d")
        canvas = app.screen.query_one(DigitCanvas)
        assert canvas.has_focus
        await pilot.press("space", *["down"] * 6, "space", "right", "right")
        assert canvas.pixels.max() == 255 and (canvas.pixels > 0).sum() > 6
        view = await shown(app, lambda v: v.source == "your drawing")
        assert np.array_equal(view.image[0], canvas.pixels)
        before = canvas.pixels.copy()
        await pilot.click(DigitCanvas, offset=(20, 3))
        assert (canvas.pixels != before).any()
        await shown(app, lambda v: np.array_equal(v.image[0], canvas.pixels))
        await pilot.press("c")
        assert canvas.pixels.max() == 0
        await pilot.press("escape")
        assert not canvas.display
        await shown(app, lambda v: v.test_index == 0)  # back to the test image the drawing began on


async def test_a_misclassified_digit_of_the_evaluation_opens_on_inspect(tiny_run: Path):
    example = read_evaluation(tiny_run).misclassified[0]
    app = TuiCnnApp(start_mode="monitor", run_dir=str(tiny_run))
    async with app.run_test(size=(120, 44)) as pilot:
        await pilot.press("e")
        await pilot.click(".digit")
        view = await shown(app)
        assert view.test_index is not None
        assert view.image[0].tolist() == example.image
        assert view.prediction.label == example.true and view.prediction.predicted == example.predicted


async def test_without_a_run_it_says_the_weights_are_random(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the built-in sample, unpacked here
    app = TuiCnnApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await shown(app)
        header = text_of(app, "#inspect-source").strip()
        assert "RANDOM WEIGHTS" in header and header.lower().count("random weights") == 1  # said once
        assert not header.endswith("·")  # no separator dangling at the end
        assert not app.screen.inspector.trained


async def test_a_model_without_layers_shows_no_layer_and_its_keys_do_nothing(monkeypatch, tmp_path):
    """Every layer deleted in the builder, then 5: the view has no layers and indexing the
    selected one ended the app (IndexError in _receptive_box: the fuzzer's seed 0, app 116)."""
    from tui_cnn.domain.spec import ModelSpec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the built-in sample, unpacked here
    app = TuiCnnApp(ModelSpec("Empty", (1, 28, 28), ()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await shown(app)
        await pilot.press("down", "up", "right_square_bracket", "left_square_bracket", "shift+down", "shift+right")
        assert "Empty has no layers to look inside" in text_of(app, "#inspect-detail")
        assert app.screen.layer_index == 0


async def test_page_keys_reach_the_dot_product_at_80x24(monkeypatch, tmp_path):
    """The detail panel is 7 rows at 80x24 and the dot product 30 rows down; nothing in it
    could be focused and the arrows pick layers: it could not be reached by keyboard."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    app = TuiCnnApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await shown(app)
        await pilot.pause()
        detail = app.screen.query_one("#inspect-detail-scroll")
        await async_wait_until(lambda: detail.max_scroll_y > 0, what="the detail laid out, taller than its panel")
        for _ in range(detail.max_scroll_y):
            if detail.scroll_y >= detail.max_scroll_y:
                break
            await pilot.press("pagedown")
            await pilot.pause()
        assert detail.scroll_y == detail.max_scroll_y  # the bottom, where the dot product is
        await pilot.press("pageup")
        await pilot.pause()
        assert detail.scroll_y < detail.max_scroll_y


async def test_widening_the_terminal_tiles_the_maps_to_the_new_width(monkeypatch, tmp_path):
    """Opened at 80 columns, widened to 160: the maps kept the 80-column tiling (two a row)."""
    from tui_cnn.app.widgets.inspect.pixels import PixelView

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    app = TuiCnnApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await shown(app)
        await pilot.pause()
        await pilot.pause()
        narrow = app.screen.query(PixelView).first().virtual_size.width
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        await pilot.pause()
        wide = app.screen.query(PixelView).first().virtual_size.width
        assert wide > narrow * 1.6, (narrow, wide)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_snapshot(snap_compare, tiny_run: Path, size):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(tiny_run))

    async def run_before(pilot):
        await pilot.press("5")
        await shown(app, lambda v: v.test_index == 0)
        await pilot.press("right_square_bracket", "shift+down", "shift+down", "shift+right")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)


async def test_a_run_without_a_checkpoint_yet_says_so_and_r_loads_it_once_written(tiny_run: Path, tmp_path: Path):
    import shutil

    run = tmp_path / "running"
    run.mkdir()
    shutil.copy(tiny_run / "config.json", run / "config.json")
    app = TuiCnnApp(start_mode="monitor", run_dir=str(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await async_wait_until(lambda: "no checkpoint yet" in text_of(app, "#inspect-source"), what="the reason")
        shutil.copy(tiny_run / "checkpoint-best.pt", run / "checkpoint-best.pt")  # the first epoch ends
        await pilot.press("r")
        view = await shown(app)
        assert view.test_index == 0 and app.screen.inspector.trained
