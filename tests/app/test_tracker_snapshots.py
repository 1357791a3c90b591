"""What the tracker looks like, on SimpleCNN and on a broken model, narrow and wide."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain import LayerSpec, load_preset

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


def broken_simple_cnn():
    """SimpleCNN whose classifier expects the wrong number of features."""
    spec = load_preset("SimpleCNN")
    return spec.replace_layer(7, LayerSpec.of("Linear", in_features=3000, out_features=10))


async def no_blinking(pilot) -> None:
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.slow
def test_tracker_simple_cnn(snap_compare, size):
    app = TuiCnnApp(load_preset("SimpleCNN"))
    assert snap_compare(app, press=["down", "down"], terminal_size=SIZES[size], run_before=no_blinking)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.slow
def test_tracker_invalid_model(snap_compare, size):
    app = TuiCnnApp(broken_simple_cnn())
    assert snap_compare(app, press=["end"], terminal_size=SIZES[size], run_before=no_blinking)


@pytest.mark.slow
def test_tracker_shape_bars_narrow(snap_compare):
    app = TuiCnnApp(load_preset("VGGSmall"))
    assert snap_compare(app, press=["v", "down"], terminal_size=SIZES["80x24"], run_before=no_blinking)
