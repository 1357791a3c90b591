"""Turn a spec into a real ``nn.Sequential``: each layer is ``getattr(nn, type)(**args)``
with the arguments the shape engine resolved (given + inferred); a Residual or Concat block
is one module holding its paths as ``nn.Sequential``s."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from ..domain.export import split_at_flatten
from ..domain.shapes import LayerReport, analyze
from ..domain.spec import ModelSpec


class InvalidSpecError(ValueError):
    """The spec would fail in PyTorch; the message lists the shape engine's diagnostics."""


class Residual(nn.Module):
    """``body(x) + shortcut(x)``; an empty shortcut is the identity. The exported model.py
    declares the same class, so the parameter names (``body.0.weight``) are the same."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Sequential()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class Concat(nn.Module):
    """``cat([branch(x) for branch in branches], dim=1)``: the channels of every branch side
    by side (an empty branch passes the input itself on)."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def build_layer(report: LayerReport) -> nn.Module:
    """One layer, or one block with its paths, from the shape engine's report of it."""
    if report.type == "Residual":
        body, shortcut = (_sequence(reports) for reports in report.branches)
        return Residual(body, shortcut)
    if report.type == "Concat":
        return Concat(*(_sequence(reports) for reports in report.branches))
    return getattr(nn, report.type)(**report.args)


def _sequence(reports: Sequence[LayerReport]) -> nn.Sequential:
    return nn.Sequential(*(build_layer(r) for r in reports))


def build_model(spec: ModelSpec) -> nn.Sequential:
    """``Sequential(features=..., classifier=...)``: the same parameter names as the exported
    model.py (features.0.weight, ...), so checkpoints load into either."""
    analysis = analyze(spec, batch_size=1)
    if not analysis.valid:
        problems = "; ".join(
            f"layer {d.layer}: {d.message}" if d.layer is not None else d.message for d in analysis.errors
        )
        raise InvalidSpecError(f"{spec.name} is not a valid model: {problems}")
    layers = [build_layer(r) for r in analysis.layers]
    cut = split_at_flatten(spec.layers)
    return nn.Sequential(OrderedDict(features=nn.Sequential(*layers[:cut]), classifier=nn.Sequential(*layers[cut:])))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_output_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape of a forward pass on the meta device: shapes only, nothing allocated."""
    with torch.device("meta"):
        model = model.to("meta")
        return tuple(model(torch.empty(input_shape)).shape)
