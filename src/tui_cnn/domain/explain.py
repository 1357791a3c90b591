"""The worked formulas of the tracker's detail panel: for one layer, PyTorch's output-size
formula with this layer's numbers in it, the parameter count worked out, what a fully
connected layer would cost instead, what a pooling window does, and the receptive field.

Pure Python: it reads a ``LayerReport`` (from the shape engine, or from a tracked module
mapped onto the same report) and returns plain text, which the app styles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import format as fmt
from .shapes import (
    BYTES_PER_VALUE,
    Geometry,
    LayerReport,
    Totals,
    branch_name,
    module_path,
    show_pair,
)

ERROR_MARK, WARNING_MARK = "✗", "!"
AXES = ("H", "W")


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    lines: tuple[str, ...]
    severity: str | None = None  # "error" | "warning" for a diagnostic


def mark(report: LayerReport) -> str:
    """The symbol that says a layer is broken without colour: ✗ error, ! warning."""
    return ERROR_MARK if report.has_error else (WARNING_MARK if report.has_warning else "")


def explain(report: LayerReport) -> tuple[Section, ...]:
    parts = [
        _diagnostics(report),
        _what_it_does(report),
        _merge(report),
        _output_size(report),
        _pooling(report),
        _parameters(report),
        _macs(report),
        _versus_fully_connected(report),
        _receptive_field(report),
        _memory(report),
    ]
    return tuple(section for group in parts for section in group)


def _diagnostics(report: LayerReport) -> list[Section]:
    sections = []
    for d in report.diagnostics:
        heading = f"{ERROR_MARK} error" if d.is_error else f"{WARNING_MARK} warning"
        if d.field:
            heading += f" in {d.field}"
        lines = (d.message,) + ((f"fix: {d.suggestion}",) if d.suggestion else ())
        sections.append(Section(heading, lines, d.severity))
    return sections


def _what_it_does(report: LayerReport) -> list[Section]:
    summary = report.layer_type.summary
    return [Section(report.type, (summary,))] if summary else []


def _merge(report: LayerReport) -> list[Section]:
    """A block's merge: what each path gives, and how they become one tensor."""
    if not report.is_block:
        return []
    lines = []
    for number, branch in enumerate(report.branches):
        name = branch_name(report.type, number)
        if not branch:
            lines.append(f"{name}: the input itself {fmt.shape(report.input_shape)} (identity)")
            continue
        params = sum(r.params for r in branch)
        lines.append(
            f"{name} ({module_path(report.type, number)}): {len(branch)} layer{'s' * (len(branch) != 1)}, "
            f"{fmt.grouped(params)} params -> {fmt.shape(branch[-1].output_shape)}"
        )
    if report.type == "Residual":
        lines.insert(0, "y = body(x) + shortcut(x): both must have the same shape, added value by value")
    else:
        lines.insert(
            0, "y = cat([branch(x) for each branch], dim=1): the channels side by side; the other sizes must agree"
        )
        channels = [
            str(b[-1].output_shape[1])
            if b and b[-1].output_shape and len(b[-1].output_shape) > 1
            else (str(report.input_shape[1]) if not b and report.input_shape else "?")
            for b in report.branches
        ]
        if report.output_shape is not None:
            lines.append(f"channels: {' + '.join(channels)} = {report.output_shape[1]}")
    if report.receptive_field is not None:
        lines.append("receptive field at the merge: the largest of the paths'")
    return [Section(f"{report.type} merge", tuple(lines))]


# --- output size ---


def _output_size(report: LayerReport) -> list[Section]:
    before, after = report.input_shape, report.output_shape
    if after is None:
        return [Section("Output size", ("unknown: see the error above or in an earlier layer",))]
    if before is None:
        return []
    arrow = f"{fmt.shape(before)} -> {fmt.shape(after)}"
    if report.layer_type.adaptive and len(before) == 4:
        return [Section("Output size", (arrow, *_adaptive_lines(before, after)))]
    if report.geometry is not None and len(before) == 4:
        return [Section("Output size", (arrow, *_window_lines(report.geometry, before, after)))]
    if report.layer_type.flattens and len(before) > len(after):
        return [Section("Output size", (arrow, _flatten_line(before, after)))]
    if before == after:
        return [Section("Output size", (f"unchanged: {fmt.shape(after)}",))]
    return [Section("Output size", (arrow,))]


def _window_lines(g: Geometry, before: tuple[int, ...], after: tuple[int, ...]) -> list[str]:
    rounding = "ceil" if g.ceil_mode else "floor"
    lines = [f"PyTorch: out = {rounding}((in + 2p - d*(k-1) - 1)/s + 1)"]
    dropped_last_window = False
    for axis in range(2):
        size, out = before[2 + axis], after[2 + axis]
        k, s, d = g.kernel[axis], g.stride[axis], g.dilation[axis]
        pb, pa = g.pad_before[axis], g.pad_after[axis]
        padding = f"2*{pb}" if pb == pa else f"{pb}+{pa}"
        formula = f"{AXES[axis]}_out = {rounding}(({size} + {padding} - {d}*({k}-1) - 1)/{s} + 1)"
        span = size + pb + pa - d * (k - 1) - 1
        if g.ceil_mode and -(-span // s) + 1 != out:
            formula += " - 1"
            dropped_last_window = True
        lines.append(f"{formula} = {out}")
    if g.pad_before != g.pad_after:
        lines.append(
            f'padding "same": {show_pair(g.pad_before)} before, {show_pair(g.pad_after)} after '
            "(PyTorch puts the odd one at the end)"
        )
    if dropped_last_window:
        lines.append("- 1: ceil_mode drops a last window that would start in the padding")
    return lines


def _adaptive_lines(before: tuple[int, ...], after: tuple[int, ...]) -> list[str]:
    lines = []
    for axis in range(2):
        size, out = before[2 + axis], after[2 + axis]
        window = f"exactly {size // out}" if size % out == 0 else f"{size // out} to {-(-size // out) + 1}"
        lines.append(
            f"{AXES[axis]}_out = output_size = {out}, whatever comes in: "
            f"windows of {window} of the {size} input {'rows' if axis == 0 else 'columns'}"
        )
    lines.append("output cell i pools inputs floor(i*in/out) .. ceil((i+1)*in/out) - 1")
    return lines


def _flatten_line(before: tuple[int, ...], after: tuple[int, ...]) -> str:
    merged = [v for v in before[1:] if v is not None]
    product = "*".join(str(v) for v in merged)
    return f"{product} = {fmt.grouped(math.prod(merged))} values per sample, in one vector"


# --- parameters and compute ---


def _parameters(report: LayerReport) -> list[Section]:
    a, weights = report.args, report.layer_type.weights
    lines: list[str] = []
    if weights == "filters" and report.geometry is not None and "in_channels" in a:
        out, groups = a["out_channels"], a.get("groups", 1)
        kh, kw = report.geometry.kernel
        per_filter = f"{a['in_channels'] // groups}*{kh}*{kw}"
        bias = f" + {out}" if a.get("bias", True) else ""
        lines.append(f"{out} * ({per_filter}){bias} = {fmt.grouped(report.params)}")
        lines.append(f"{out} filters of {per_filter} weights" + (", one bias each" if bias else ""))
        if groups > 1:
            lines.append(f"groups = {groups}: each filter sees in_channels/groups = {a['in_channels'] // groups}")
    elif weights == "dense" and "in_features" in a:
        out = a["out_features"]
        bias = f" + {out}" if a.get("bias", True) else ""
        lines.append(f"{a['in_features']} * {out}{bias} = {fmt.grouped(report.params)}")
    elif weights == "per channel" and "num_features" in a:
        channels = a["num_features"]
        if report.params:
            lines.append(f"2 * {channels} = {fmt.grouped(report.params)} (a scale and a shift per channel)")
        if report.buffers:
            lines.append(
                f"+ {fmt.grouped(report.buffers)} buffers, not trained: running mean and variance "
                f"(2 * {channels}) and a batch counter"
            )
    elif report.params:
        lines.append(fmt.grouped(report.params))
    frozen = report.params - report.trainable_params
    if frozen:
        lines.append(f"frozen (requires_grad=False): {fmt.grouped(frozen)}")
    return [Section("Parameters", tuple(lines) or ("none",))]


def _macs(report: LayerReport) -> list[Section]:
    """What the layer computes, in mult-adds; where torchinfo's rule gives another figure
    (a Linear on more than one position per sample, a functional op), that one too."""
    if not report.macs or report.output_shape is None:
        return []
    out = report.output_shape
    torchinfo = None
    if report.type.startswith("Conv") and len(out) == 4 and report.macs == report.params * out[0] * out[2] * out[3]:
        line = f"{fmt.grouped(report.params)} * {out[0]} * {out[2]} * {out[3]} = {fmt.grouped(report.macs)}"
        rule = "parameters x N x H_out x W_out"
    elif report.macs == report.params * out[0]:
        line = f"{fmt.grouped(report.params)} * {out[0]} = {fmt.grouped(report.macs)}"
        rule = "parameters x N"
    elif "Linear" in report.type and len(out) > 2 and report.macs == report.params * math.prod(out[:-1]):
        positions = " * ".join(str(d) for d in out[:-1])
        line = f"{fmt.grouped(report.params)} * {positions} = {fmt.grouped(report.macs)}"
        rule = (
            f"parameters x every position it is applied at ({fmt.grouped(math.prod(out[:-1]))} = all dimensions "
            "but the last)"
        )
        torchinfo = report.params * out[0]
    elif not report.params or report.type.islower():  # a functional op: F.linear, F.conv2d, a matrix product
        line = fmt.grouped(report.macs)
        rule = "what the operation computes, from its operands' shapes"
        torchinfo = 0
    else:  # a tracked module folded from its parts, or one with weights applied per step/token
        line = fmt.grouped(report.macs)
        rule = (
            "each module in it: a conv's parameters x N x H_out x W_out, a Linear's x every position, "
            "weights applied per step or token x N x length, others x N"
        )
    if report.macs >= 1000:
        line += f"  ({fmt.compact(report.macs)})"
    lines = [line, rule]
    if torchinfo is not None:
        lines.append(
            f"torchinfo counts {fmt.grouped(torchinfo)} here: "
            + ("a Linear once per sample" if torchinfo else "modules only, not functional ops")
        )
    return [Section("MACs (torchinfo)" if torchinfo is None else "MACs", tuple(lines))]


def _versus_fully_connected(report: LayerReport) -> list[Section]:
    before, after = report.input_shape, report.output_shape
    if before is None or after is None:
        return []
    weights = report.layer_type.weights
    if weights == "dense":
        n_in, n_out = before[-1], after[-1]
        return [
            Section(
                "Fully connected",
                (
                    f"every one of {fmt.grouped(n_in)} inputs has a weight to each of {fmt.grouped(n_out)} outputs:",
                    f"{fmt.grouped(n_in)} x {fmt.grouped(n_out)} = {fmt.grouped(n_in * n_out)} weights",
                ),
            )
        ]
    if weights != "filters" or len(before) != 4 or not report.params:
        return []
    n_in, n_out = math.prod(before[1:]), math.prod(after[1:])
    dense = n_in * n_out
    return [
        Section(
            "A fully connected layer instead",
            (
                f"{fmt.per_sample(before)} = {fmt.grouped(n_in)} inputs to {fmt.per_sample(after)} = {fmt.grouped(n_out)} outputs:",
                f"{fmt.grouped(n_in)} x {fmt.grouped(n_out)} = {fmt.grouped(dense)} weights ({fmt.compact(dense)}),",
                f"{fmt.grouped(round(dense / report.params))}x this layer's {fmt.grouped(report.params)}: "
                "a convolution reuses one small filter at every position",
            ),
        )
    ]


#: What a pooling window keeps (the catalogue's ``pools``), in words.
_KEEPS = {"max": "its largest value", "average": "the average of its values"}


def _pooling(report: LayerReport) -> list[Section]:
    """A fixed window's pooling (an adaptive one's windows vary: its output size says how)."""
    pools = report.layer_type.pools
    if not pools or report.layer_type.adaptive or report.geometry is None or report.output_shape is None:
        return []
    g, before, after = report.geometry, report.input_shape, report.output_shape
    assert before is not None  # a window's geometry is resolved only from a known input
    k, s = show_pair(g.kernel), show_pair(g.stride)
    keeps = _KEEPS[pools]
    lines = [
        f"each {g.kernel[0]}x{g.kernel[1]} window, moved {s} at a time, keeps {keeps}",
        f"{before[2]}x{before[3]} -> {after[2]}x{after[3]} in each of the {after[1]} channels; no parameters",
    ]
    if g.kernel == g.stride:
        lines.append(f"windows do not overlap: 1 value kept of every {g.kernel[0] * g.kernel[1]}")
    return [Section(f"Pooling (kernel {k}, stride {s})", tuple(lines))]


def _receptive_field(report: LayerReport) -> list[Section]:
    rf, jump, g = report.receptive_field, report.jump, report.geometry
    if rf is None or jump is None:
        return []
    lines = [
        f"each output value sees a {rf[0]}x{rf[1]} patch of the input image;",
        f"neighbouring outputs are {show_pair(jump)} input pixel{'s' if max(jump) > 1 else ''} apart (jump)",
    ]
    if g is not None and not report.layer_type.adaptive:
        for axis in range(1 if rf[0] == rf[1] and g.kernel[0] == g.kernel[1] else 2):
            prev_jump = jump[axis] // g.stride[axis]
            grown = g.dilation[axis] * (g.kernel[axis] - 1) * prev_jump
            name = "RF" if rf[0] == rf[1] else f"RF_{AXES[axis]}"
            lines.append(
                f"{name} = {rf[axis] - grown} + {g.dilation[axis]}*({g.kernel[axis]}-1)*{prev_jump} = {rf[axis]}"
            )
    return [Section("Receptive field", tuple(lines))]


def _memory(report: LayerReport) -> list[Section]:
    out = report.output_shape
    if out is None:
        return []
    values = "*".join(str(v) for v in out)
    if math.prod(out) * BYTES_PER_VALUE != report.activation_bytes:  # folded: every part's output
        return [
            Section("Activation memory", (f"{fmt.binary_bytes(report.activation_bytes)}: the outputs of its parts",))
        ]
    return [
        Section(
            "Activation memory",
            (f"{values} values x {BYTES_PER_VALUE} bytes = {fmt.binary_bytes(report.activation_bytes)}",),
        )
    ]


def explain_training_memory(totals: Totals, batch_size: int) -> tuple[Section, ...]:
    """The estimate's parts with the model's own numbers: in float32 (the CPU), then what
    bf16 autocast (a GPU) changes."""
    b = BYTES_PER_VALUE
    full, mixed = totals.training, totals.training_mixed
    size = fmt.binary_bytes
    lines = [
        f"weights, gradients, Adam's two moments: 4 x {fmt.grouped(totals.params)} parameters x {b} B "
        f"= {size(4 * totals.params * b)}"
    ]
    if totals.buffers:
        lines.append(f"+ {fmt.grouped(totals.buffers)} buffers x {b} B = {size(totals.buffers * b)}")
    lines += [
        f"+ input batch {size(full.input_batch)}",
        f"+ kept for the backward pass at its peak: {size(full.kept)} (of {size(full.saved)} the forward pass "
        "keeps, each layer's input or output once; a layer's backward frees its share)",
        f"+ gradients in and out of one layer: {size(full.working_set)}",
        f"+ the loss's log-probabilities: {size(full.loss)}",
        f"= {size(full.total)} for batch {batch_size} in float32 (the CPU)",
        f"with bf16 autocast (a GPU): {size(mixed.kept)} kept + {size(mixed.working_set)} of gradients "
        f"+ {size(mixed.weight_copies)} of bf16 weights = {size(mixed.total)}",
        "not counted: cuDNN's workspace (it takes what memory is free), the CUDA context",
    ]
    return (Section("Training memory (estimate)", tuple(lines)),)


def as_text(sections: tuple[Section, ...]) -> str:
    """Plain text, for tests and for anything without styles."""
    return "\n\n".join("\n".join((s.heading, *("  " + line for line in s.lines))) for s in sections)
