"""Inside the network, as plain data: what the Inspect screen and ``tui-cnn inspect`` say about
one image going through a model. Layer names, per-layer statistics, the top classes, where a
position of a feature map looks on the input image (its receptive field), a convolution's dot
product worked out in numbers and which input won a pooling window.

Pure Python: the backend runs torch and hands over numbers; this module only does the math
that explains them and the words that show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from . import format as fmt
from .export import split_at_flatten
from .shapes import LayerReport
from .spec import LayerSpec

THUMBNAIL_PIXELS = 14  # a feature-map thumbnail's longest side, in pixels (7 text rows)
MAX_TERMS = 9  # products written out one by one in a dot product; more are summed per channel


def layer_names(layers: tuple[LayerSpec, ...]) -> list[str]:
    """The names ``backend.build`` (and the exported model.py) give each layer:
    ``features.0`` ... up to the first Flatten, then ``classifier.0`` ..."""
    cut = split_at_flatten(layers)
    return [f"features.{i}" if i < cut else f"classifier.{i - cut}" for i in range(len(layers))]


@dataclass(frozen=True)
class LayerStats:
    name: str  # features.0
    type: str  # Conv2d
    output_shape: tuple[int, ...]  # one sample's: (32, 28, 28)
    min: float
    max: float
    mean: float
    zero_fraction: float  # of the outputs exactly 0 (what a ReLU switched off)


@dataclass(frozen=True)
class Prediction:
    probabilities: list[float]  # one per class, summing to 1
    classes: list[str]
    label: int | None = None  # the true class, when known

    @property
    def predicted(self) -> int | None:
        """The most probable class; None for a model whose output is not class scores."""
        if not self.probabilities:
            return None
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = sorted(range(len(self.probabilities)), key=lambda i: -self.probabilities[i])
        return [(i, self.probabilities[i]) for i in order[:k]]

    def class_name(self, index: int) -> str:
        name = self.classes[index] if index < len(self.classes) else str(index)
        return name if name == str(index) else f"{index} {name}"


@dataclass(frozen=True)
class InspectionReport:
    """What ``tui-cnn inspect --json`` prints."""

    prediction: Prediction
    layers: list[LayerStats] = field(default_factory=list)
    source: str = ""  # "test image 12 of runs/x" or "digit.png (resized from 56x56)"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        p = self.prediction
        named = p.predicted is not None and p.predicted < len(p.classes)
        return {
            "source": self.source,
            "label": p.label,
            "predicted": p.predicted,
            "predicted_class": p.classes[p.predicted] if named and p.predicted is not None else None,
            "classes": p.classes,
            "probabilities": p.probabilities,
            "notes": self.notes,
            "layers": [{**asdict(layer), "output_shape": list(layer.output_shape)} for layer in self.layers],
        }

    def to_text(self) -> str:
        p = self.prediction
        lines = [self.source, *(f"note: {note}" for note in self.notes)]
        label = f"true {p.class_name(p.label)}, " if p.label is not None else ""
        lines.append(
            f"{label}predicted {p.class_name(p.predicted)}"
            if p.predicted is not None
            else "the model's output is not class scores"
        )
        lines.append("top 3: " + ", ".join(f"{p.class_name(i)} {q:.1%}" for i, q in p.top(3)))
        width = max([len(layer.name) for layer in self.layers] + [5])
        lines.append(
            f"{'layer'.ljust(width)}  {'type':<12} {'output':<12} {'min':>9} {'max':>9} {'mean':>9} {'zeros':>6}"
        )
        for s in self.layers:
            lines.append(
                f"{s.name.ljust(width)}  {s.type:<12} {fmt.dims(s.output_shape):<12} {s.min:>9.4g} "
                f"{s.max:>9.4g} {s.mean:>9.4g} {s.zero_fraction:>6.1%}"
            )
        return "\n".join(lines)


# --- where a feature-map position looks ---


@dataclass(frozen=True)
class Box:
    """Rows ``top..bottom`` and columns ``left..right``, inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    def clip(self, height: int, width: int) -> "Box":
        return Box(max(self.top, 0), max(self.left, 0), min(self.bottom, height - 1), min(self.right, width - 1))

    def on_border(self, row: int, col: int) -> bool:
        inside = self.top <= row <= self.bottom and self.left <= col <= self.right
        return inside and (row in (self.top, self.bottom) or col in (self.left, self.right))


def window(report: LayerReport, row: int, col: int) -> Box | None:
    """The window of the layer's own input that output position (row, col) is computed from
    (None for a layer that does not slide a window)."""
    g = report.geometry
    if g is None:
        return None
    top, left = row * g.stride[0] - g.pad_before[0], col * g.stride[1] - g.pad_before[1]
    return Box(top, left, top + g.dilation[0] * (g.kernel[0] - 1), left + g.dilation[1] * (g.kernel[1] - 1))


def receptive_box(reports: Sequence[LayerReport], layer: int, row: int, col: int) -> Box | None:
    """The input-image pixels that output position (row, col) of layer ``layer`` depends on:
    each sliding layer's window, walked back to the image (unclipped: padding lies outside)."""
    box = Box(row, col, row, col)
    for report in reversed(reports[: layer + 1]):
        if report.layer_type.flattens or (report.input_shape is not None and len(report.input_shape) != 4):
            return None
        first, last = window(report, box.top, box.left), window(report, box.bottom, box.right)
        if first is not None and last is not None:
            box = Box(first.top, first.left, last.bottom, last.right)
    return box


# --- the numbers of one output ---


def _num(value: float) -> str:
    return f"{value:.3g}" if value >= 0 else f"({value:.3g})"


def dot_product_lines(
    weights: Sequence[Sequence[Sequence[float]]],
    patch: Sequence[Sequence[Sequence[float]]],
    bias: float | None,
    then: str | None = None,
) -> list[str]:
    """``w·x + b = value`` for one output of a convolution: every product when there are few,
    else one sum per input channel; then what the next layer (ReLU) makes of it."""
    products = [[w * x for wr, xr in zip(wc, xc) for w, x in zip(wr, xr)] for wc, xc in zip(weights, patch)]
    count = sum(map(len, products))
    lines = []
    if count <= MAX_TERMS:  # one line per kernel row, as the window lies on the image
        rows = [
            " + ".join(f"{_num(w)}×{_num(x)}" for w, x in zip(wr, xr))
            for wc, xc in zip(weights, patch)
            for wr, xr in zip(wc, xc)
        ]
        lines += [("w·x = " if i == 0 else "    + ") + row for i, row in enumerate(rows)]
    else:
        shown = products[:8]
        for channel, terms in enumerate(shown):
            lines.append(f"in ch {channel}: Σ w·x over {len(terms)} = {sum(terms):.4g}")
        if len(products) > len(shown):
            rest = sum(sum(terms) for terms in products[len(shown) :])
            lines.append(f"in ch {len(shown)}..{len(products) - 1}: Σ w·x = {rest:.4g}")
    total = sum(map(sum, products))
    value = total + (bias or 0.0)
    b = f" + {_num(bias)}" if bias is not None else ""
    lines.append(f"w·x{' + b' if bias is not None else ''} = {total:.4g}{b} = {value:.4g}")
    if then == "ReLU":
        lines.append(f"ReLU: max(0, {value:.4g}) = {max(0.0, value):.4g}")
    return lines


def pool_winner(values: Sequence[Sequence[float]]) -> tuple[int, int]:
    """(row, col) in the window of the largest value: the input that max pooling keeps."""
    best = max(((r, c) for r, row in enumerate(values) for c, _ in enumerate(row)), key=lambda rc: values[rc[0]][rc[1]])
    return best


def pool_lines(values: Sequence[Sequence[float]]) -> list[str]:
    row, col = pool_winner(values)
    lines = [
        "  ".join(f"{v:>7.3g}" + ("*" if (r, c) == (row, col) else " ") for c, v in enumerate(line))
        for r, line in enumerate(values)
    ]
    lines.append(f"max = {values[row][col]:.4g} (marked *, row {row} col {col} of the window)")
    return lines


def normalise(values: Sequence[Sequence[float]]) -> list[list[int]]:
    """A map scaled to 0..255 by its own min and max (a constant map is all 0)."""
    low = min(min(row) for row in values)
    high = max(max(row) for row in values)
    scale = 255 / (high - low) if high > low else 0.0
    return [[round((v - low) * scale) for v in row] for row in values]
