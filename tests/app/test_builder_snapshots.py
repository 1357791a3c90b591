"""What the builder looks like, valid and broken, in a small terminal and a wide one."""

import pytest

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain import load_preset

SIZES = {"80x24": (80, 24), "wide": (140, 36)}


def broken_simple_cnn():
    spec = load_preset("SimpleCNN")
    return spec.replace_layer(0, spec.layers[0].with_arg("kernel_size", 31))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.slow
def test_builder_valid(snap_compare, size):
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    assert snap_compare(app, press=["down"], terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.slow
def test_builder_invalid(snap_compare, size):
    app = TuiCnnApp(broken_simple_cnn(), start_mode="builder")
    assert snap_compare(app, press=["down"], terminal_size=SIZES[size])
