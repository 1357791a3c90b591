"""What the tracker shows, whatever the model came from: a spec run through the shape engine,
or a user's nn.Module traced on torch's meta device. One row model, so one table.

Pure Python: the backend builds a ``ModelSummary`` from a traced module with the same
``LayerReport`` the shape engine writes for a spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from . import format as fmt
from .shapes import BYTES_PER_VALUE, Analysis, LayerReport, Shape, Totals, block_call, module_path
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


def flow_rows(reports: Sequence[LayerReport]) -> tuple[LayerRow, ...]:
    """A spec with blocks as a tracked model's rows: every layer inside a block in the order
    it runs, each block's row after its paths (where they merge: its output is the merged
    one), and the data flow in ``inputs``, so the tracker draws the same gutter as for a
    tracked nn.Module. Names are the built module's: ``3.body.1``."""
    rows: list[LayerRow] = []

    def add(report: LayerReport, name: str, call: str, inputs: tuple[int, ...], path: tuple[str, ...]) -> int:
        rows.append(LayerRow(name, call, replace(report, index=len(rows)), inputs=inputs, path=path))
        return len(rows) - 1

    def walk(layers: Sequence[LayerReport], source: int, prefix: str) -> int:
        for number, report in enumerate(layers):
            name = f"{prefix}{number}"
            path = tuple(name.split("."))
            if not report.is_block:
                source = add(report, name, fmt.layer_call(report.type, report.args), (source,), path)
                continue
            ends = [
                walk(branch, source, f"{name}.{module_path(report.type, b)}.")
                for b, branch in enumerate(report.branches)
            ]
            merge = "add" if report.type == "Residual" else "cat"
            # The merge's own figures only (its paths have rows of their own), as a tracked
            # model's add: the rows add up to the totals, and a fold to the block's.
            merged = math.prod(report.output_shape) * BYTES_PER_VALUE if report.output_shape else 0
            own = replace(report, params=0, trainable_params=0, buffers=0, macs=0, activation_bytes=merged)
            source = add(own, name, block_call(report), tuple(dict.fromkeys(ends)), (*path, merge))
        return source

    walk(reports, MODEL_INPUT, "")
    return tuple(rows)


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
        kinds: dict[str, str] = {}
        if any(r.is_block for r in analysis.layers):
            rows = flow_rows(analysis.layers)
            kinds = {row.name: row.report.type for row in rows if row.report.is_block}  # what a fold calls it
        else:
            rows = tuple(LayerRow(str(r.index), fmt.layer_call(r.type, r.args), r) for r in analysis.layers)
        return cls(
            analysis.spec.name,
            analysis.input_shape,
            rows,
            analysis.totals,
            analysis.diagnostics,
            output_shape=analysis.output_shape,
            kinds=kinds,
        )

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
