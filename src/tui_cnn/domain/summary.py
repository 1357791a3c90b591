"""What the tracker shows, whatever the model came from: a spec run through the shape engine,
or a user's nn.Module traced on torch's meta device. One row model, so one table.

Pure Python: the backend builds a ``ModelSummary`` from a traced module with the same
``LayerReport`` the shape engine writes for a spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import format as fmt
from .shapes import Analysis, LayerReport, Shape, Totals
from .spec import Diagnostic


MODEL_INPUT = -1  # in LayerRow.inputs: the model's input tensor rather than an earlier row


@dataclass(frozen=True, slots=True)
class LayerRow:
    name: str  # "3" for a spec's layer, "features.0" for a tracked module (torchinfo's names)
    call: str  # how PyTorch prints it: Conv2d(1, 32, kernel_size=3, padding=1)
    report: LayerReport
    # A tracked model's data flow: the rows whose outputs this one consumed (MODEL_INPUT for
    # the input); empty for a spec, whose layers run in series.
    inputs: tuple[int, ...] = ()
    # Where it sits in the module tree: ("layer1", "0", "conv1"); a functional op ends with its
    # name: ("layer1", "0", "add"). Empty for a spec's layers.
    path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelSummary:
    title: str
    input_shape: Shape  # (N, C, H, W)
    rows: tuple[LayerRow, ...]
    totals: Totals
    diagnostics: tuple[Diagnostic, ...]  # the model's own and every layer's, in order
    tracked: bool = False  # True: a user's nn.Module, not a spec
    output_shape: Shape | None = None  # the model's output; None: the last row's
    built_on: str | None = None  # a tracked model's constructor ran on "meta", or "cpu" where meta failed
    kinds: dict[str, str] = field(default_factory=dict)  # module path -> class name (folded rows)

    @property
    def batch_size(self) -> int:
        return self.input_shape[0]

    @property
    def valid(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def model_diagnostics(self) -> tuple[Diagnostic, ...]:
        """The diagnostics that belong to no layer (the input shape, parameters outside leaves)."""
        return tuple(d for d in self.diagnostics if d.layer is None)

    @classmethod
    def of_analysis(cls, analysis: Analysis) -> "ModelSummary":
        rows = tuple(LayerRow(str(r.index), fmt.layer_call(r.type, r.args), r) for r in analysis.layers)
        return cls(analysis.spec.name, analysis.input_shape, rows, analysis.totals, analysis.diagnostics,
                   output_shape=analysis.output_shape)

    @property
    def final_shape(self) -> Shape | None:
        if self.output_shape is not None:
            return self.output_shape
        return self.rows[-1].report.output_shape if self.rows else self.input_shape

    def to_json(self) -> dict[str, Any]:
        """The top-level fields of ``shapes --json``; a tracked model's layers add their data
        flow (``inputs``: indices of the layers they consumed, -1 the input) and depth."""
        data = {
            "model": self.title,
            "valid": self.valid,
            "input_shape": list(self.input_shape),
            "output_shape": None if self.final_shape is None else list(self.final_shape),
            "layers": [self._layer_json(row) for row in self.rows],
            "totals": self.totals.to_json(),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }
        if self.tracked:
            data["built_on"] = self.built_on
        return data

    def _layer_json(self, row: LayerRow) -> dict[str, Any]:
        data = {"name": row.name, "call": row.call, **row.report.to_json()}
        if self.tracked:
            data["inputs"] = list(row.inputs)
            data["depth"] = len(row.path)
        return data
