"""What a layer the builder adds starts as: its type's starter arguments (the layer catalogue,
layers.py), and the argument its type ``widens`` (a Conv2d's out_channels) from where it goes.
Pure Python."""

from __future__ import annotations

from .layers import layer_type
from .spec import LayerSpec, ModelSpec

#: The first of a widening type (a model's first convolution) starts with this many outputs.
FIRST_WIDTH = 32


def starter_layer(type_name: str, spec: ModelSpec, position: int) -> LayerSpec:
    """A new layer of ``type_name`` for ``position``; a widening type (Conv2d) doubles the
    outputs of the last layer of its type before it (32 for the first), the usual way CNNs widen."""
    ltype = layer_type(type_name)
    args = dict(ltype.starter_args)
    if ltype.widens:
        earlier = [layer for layer in spec.layers[:position] if layer.type == type_name]
        widest = earlier[-1].args.get(ltype.widens) if earlier else None
        args[ltype.widens] = 2 * widest if isinstance(widest, int) else FIRST_WIDTH
    return LayerSpec.of(type_name, **args)


def starter_in_block(type_name: str, incoming: tuple[int, ...] | None) -> LayerSpec:
    """A new layer inside a block: a widening type (Conv2d) keeps the channels that come in,
    so the path still merges (an add needs the input's shape back)."""
    ltype = layer_type(type_name)
    args = dict(ltype.starter_args)
    if ltype.widens:
        args[ltype.widens] = incoming[1] if incoming and len(incoming) == 4 else FIRST_WIDTH
    return LayerSpec.of(type_name, **args)
