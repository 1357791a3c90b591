"""A layer the builder adds starts with every argument PyTorch requires (the catalogue's
starter arguments), a Conv2d's channels following its neighbours."""

from __future__ import annotations

import pytest

from tui_cnn.domain.layers import LAYER_TYPES
from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.starters import starter_in_block, starter_layer


@pytest.mark.parametrize("type_name", sorted(LAYER_TYPES))
def test_every_new_layer_has_what_pytorch_requires(type_name):
    required = {f.name for f in LAYER_TYPES[type_name].fields if f.required}
    assert required <= starter_layer(type_name, load_preset("SimpleCNN"), 0).args.keys()
    assert required <= starter_in_block(type_name, (1, 8, 14, 14)).args.keys()


def test_a_new_conv_widens_the_one_before_and_keeps_a_blocks_channels():
    spec = load_preset("SimpleCNN")  # Conv2d(1, 32) first
    assert starter_layer("Conv2d", spec, 0).args == {"kernel_size": 3, "padding": 1, "out_channels": 32}
    assert starter_layer("Conv2d", spec, 2).args["out_channels"] == 64
    assert starter_in_block("Conv2d", (1, 8, 14, 14)).args["out_channels"] == 8
    assert starter_layer("Linear", spec, 5).args == {"out_features": 10}
