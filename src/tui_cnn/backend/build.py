"""Turn a spec into a real ``nn.Sequential``: each layer is ``getattr(nn, type)(**args)``
with the arguments the shape engine resolved (given + inferred)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..domain.export import split_at_flatten
from ..domain.shapes import analyze
from ..domain.spec import ModelSpec


class InvalidSpecError(ValueError):
    """The spec would fail in PyTorch; the message lists the shape engine's diagnostics."""


def build_model(spec: ModelSpec) -> nn.Sequential:
    """``Sequential(features=..., classifier=...)``: the same parameter names as the exported
    model.py (features.0.weight, ...), so checkpoints load into either."""
    analysis = analyze(spec, batch_size=1)
    if not analysis.valid:
        problems = "; ".join(
            f"layer {d.layer}: {d.message}" if d.layer is not None else d.message for d in analysis.errors
        )
        raise InvalidSpecError(f"{spec.name} is not a valid model: {problems}")
    layers = [getattr(nn, r.type)(**r.args) for r in analysis.layers]
    cut = split_at_flatten(spec.layers)
    return nn.Sequential(OrderedDict(features=nn.Sequential(*layers[:cut]), classifier=nn.Sequential(*layers[cut:])))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_output_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape of a forward pass on the meta device: shapes only, nothing allocated."""
    with torch.device("meta"):
        model = model.to("meta")
        return tuple(model(torch.empty(input_shape)).shape)
