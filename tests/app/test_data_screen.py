"""The Data screen (`d` on the monitor): what the setup form's dataset holds, per class, with
samples and the same samples after augmentation."""

from __future__ import annotations

import pytest

from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.data import DataScreen
from tui_cnn.app.widgets.inspect.pixels import PixelView
from tui_cnn.domain.specfile import spec_from_dict

pytestmark = pytest.mark.slow

THREE_CLASSES = {
    "model": {"name": "Three", "input_shape": [1, 28, 28]},
    "layers": [
        {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 3},
    ],
}


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_d_shows_a_folders_classes_samples_and_their_augmentation(digit_folder, tmp_path, monkeypatch, size):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = TuiCnnApp(spec_from_dict(THREE_CLASSES), start_mode="monitor")
    async with app.run_test(size=size) as pilot:
        monitor = app.screen
        monitor.query_one("#field-dataset").value = "folder"
        monitor.query_one("#field-data_dir").value = str(digit_folder)
        await pilot.pause()
        await pilot.press("d")
        await async_wait_until(
            lambda: isinstance(app.screen, DataScreen) and app.screen.preview is not None, 60, what="the data preview"
        )
        await pilot.pause()
        screen = app.screen
        counts = shown(screen, "#data-counts")
        for name in ("digit0", "digit1", "digit2"):
            assert f"{name}      150      40" in counts
        assert "as they are" in shown(screen, "#data-title")
        assert len(screen.query(PixelView)) == 3
        before = [view._rows for view in screen.query(PixelView)]

        await pilot.press("a")
        await async_wait_until(lambda: screen.augmented, 30, what="the augmented samples")
        await pilot.pause()
        assert "after augmentation (each image shifted by up to 2 pixels" in shown(screen, "#data-title")
        augmented = [view._rows for view in screen.query(PixelView)]
        assert augmented != before

        await pilot.press("r")  # drawn again: other shifts
        await async_wait_until(
            lambda: [view._rows for view in screen.query(PixelView)] != augmented,
            30,
            what="a new draw of the augmentation",
        )
        await pilot.press("escape")
        assert app.screen is monitor


async def test_a_folder_that_cannot_be_read_is_said_on_the_data_screen(tmp_path):
    app = TuiCnnApp(spec_from_dict(THREE_CLASSES), start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen
        monitor.query_one("#field-dataset").value = "folder"
        monitor.query_one("#field-data_dir").value = str(tmp_path / "nope")
        await pilot.pause()
        await pilot.press("d")
        await async_wait_until(
            lambda: "does not exist" in shown(app.screen, "#data-title"), 30, what="the folder's problem"
        )
