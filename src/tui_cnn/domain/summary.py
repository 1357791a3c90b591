"""What the tracker shows, whatever the model came from: a spec run through the shape engine,
or a user's nn.Module traced on torch's meta device. One row model, so one table.

Pure Python: the backend builds a ``ModelSummary`` from a traced module with the same
``LayerReport`` the shape engine writes for a spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import format as fmt
from .shapes import Analysis, LayerReport, Shape, Totals
from .spec import Diagnostic


@dataclass(frozen=True, slots=True)
class LayerRow:
    name: str  # "3" for a spec's layer, "features.0" for a tracked module (torchinfo's names)
    call: str  # how PyTorch prints it: Conv2d(1, 32, kernel_size=3, padding=1)
    report: LayerReport


@dataclass(frozen=True, slots=True)
class ModelSummary:
    title: str
    input_shape: Shape  # (N, C, H, W)
    rows: tuple[LayerRow, ...]
    totals: Totals
    diagnostics: tuple[Diagnostic, ...]  # the model's own and every layer's, in order
    tracked: bool = False  # True: a user's nn.Module, not a spec

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
        return cls(analysis.spec.name, analysis.input_shape, rows, analysis.totals, analysis.diagnostics)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.title,
            "valid": self.valid,
            "input_shape": list(self.input_shape),
            "layers": [{"name": row.name, "call": row.call, **row.report.to_json()} for row in self.rows],
            "totals": self.totals.to_json(),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }
