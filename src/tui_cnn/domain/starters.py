"""What a layer the builder adds starts as: its type's starter arguments (the layer catalogue,
layers.py), and a Conv2d's out_channels from where it goes. Pure Python."""

from __future__ import annotations

from .layers import LAYER_TYPES
from .spec import LayerSpec, ModelSpec


def _starter_args(type_name: str) -> dict:
    layer_type = LAYER_TYPES.get(type_name)
    return dict(layer_type.starter_args) if layer_type else {}


def starter_layer(type_name: str, spec: ModelSpec, position: int) -> LayerSpec:
    """A new layer of ``type_name`` for ``position``; a Conv2d doubles the channels of the
    convolution before it (32 for the first), the usual way CNNs widen."""
    args = _starter_args(type_name)
    if type_name == "Conv2d":
        earlier = [layer for layer in spec.layers[:position] if layer.type == "Conv2d"]
        widest = earlier[-1].args.get("out_channels") if earlier else None
        args["out_channels"] = 2 * widest if isinstance(widest, int) else 32
    return LayerSpec.of(type_name, **args)


def starter_in_block(type_name: str, incoming: tuple[int, ...] | None) -> LayerSpec:
    """A new layer inside a block: a Conv2d keeps the channels that come in, so the path
    still merges (an add needs the input's shape back)."""
    args = _starter_args(type_name)
    if type_name == "Conv2d":
        args["out_channels"] = incoming[1] if incoming and len(incoming) == 4 else 32
    return LayerSpec.of(type_name, **args)
