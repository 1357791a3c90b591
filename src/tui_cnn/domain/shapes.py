"""The shape engine: what every layer does to the tensor's shape, parameters, compute and
memory, and every way the stack would fail in PyTorch, found before PyTorch runs.

Pure Python, no torch import: the builder re-validates on every keystroke. Conventions:
- output sizes follow PyTorch's own formulas (conv, pooling with ceil_mode, "same"/"valid"),
- MACs follow torchinfo: Conv2d = parameters x N x H_out x W_out; other layers with
  parameters (Linear, BatchNorm2d) = parameters x N,
- memory is float32: 4 bytes a value.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence, cast

from .format import binary_bytes, per_sample
from .layers import LAYER_TYPES, MAX_SIZE, UNSUPPORTED_ARGS, ArgError, LayerType, Pair, layer_type
from .spec import BLOCK_TYPES, MAX_BLOCK_DEPTH, Diagnostic, Fix, LayerSpec, ModelSpec, Path, branches_of
from .training_memory import TrainingMemory, training_memory

BYTES_PER_VALUE = 4  # float32
Shape = tuple[int, ...]


#: PyTorch counts a tensor's values and a layer's parameters in signed 64-bit integers.
MAX_COUNT = 2**63 - 1

#: Above this estimate of training memory the model gets a warning (it stays valid: the
#: batch size can shrink and several GPUs can share a run). 256 GiB is more than any single
#: GPU holds (AMD MI325X 256 GB, NVIDIA B200 192 GB, H200 141 GB, H100 80 GB), so past it the
#: model cannot train on one device at this batch size, whatever machine it is taken to.
TRAINING_MEMORY_WARNING_BYTES = 256 << 30


@dataclass(frozen=True, slots=True)
class Geometry:
    """A sliding window along (H, W), resolved to numbers: what the formula panel shows."""

    kernel: Pair
    stride: Pair
    pad_before: Pair
    pad_after: Pair
    dilation: Pair
    ceil_mode: bool = False


@dataclass(frozen=True, slots=True)
class LayerReport:
    index: int
    type: str
    args: dict[str, Any]  # constructor arguments as given, plus the inferred ones
    input_shape: Shape | None
    output_shape: Shape | None  # None: unknown (an error here or before)
    params: int
    trainable_params: int
    buffers: int
    macs: int
    activation_bytes: int
    receptive_field: Pair | None  # on the input image; None once the tensor is flat
    jump: Pair | None  # distance on the input image between neighbouring outputs
    geometry: Geometry | None
    diagnostics: tuple[Diagnostic, ...]
    # A block's (Residual, Concat) inner layers, a tuple a path: a Residual's (body, shortcut),
    # a Concat's branches. The block's own figures are its inner layers' summed, plus the
    # merged output's memory; its diagnostics are the merge's own.
    branches: tuple[tuple["LayerReport", ...], ...] = ()
    path: Path = ()  # where it sits (spec.Path); index is path[0]

    @property
    def is_block(self) -> bool:
        return self.type in BLOCK_TYPES

    @property
    def layer_type(self) -> LayerType:
        """What the catalogue says its type does (nothing, for a tracked module it does not hold)."""
        return layer_type(self.type)

    @property
    def has_error(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    @property
    def has_warning(self) -> bool:
        return any(not d.is_error for d in self.diagnostics)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "type": self.type,
            "args": {k: _json_value(v) for k, v in self.args.items()},
            "input_shape": _json_value(self.input_shape),
            "output_shape": _json_value(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.params - self.trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            "receptive_field": _square_or_pair(self.receptive_field),
            "jump": _square_or_pair(self.jump),
            "valid": not self.has_error,
            **({"branches": [[r.to_json() for r in branch] for branch in self.branches]} if self.is_block else {}),
        }


@dataclass(frozen=True, slots=True)
class Totals:
    params: int
    trainable_params: int
    buffers: int
    macs: int
    param_bytes: int
    input_bytes: int
    activation_bytes: int
    training: TrainingMemory  # in float32, as on the CPU
    training_mixed: TrainingMemory  # with bfloat16 autocast, as the engine trains on a GPU

    @property
    def training_bytes(self) -> int:
        return self.training.total

    @property
    def training_bytes_mixed(self) -> int:
        return self.training_mixed.total

    def to_json(self) -> dict[str, int]:
        return {
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.params - self.trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "param_bytes": self.param_bytes,
            "input_bytes": self.input_bytes,
            "activation_bytes": self.activation_bytes,
            "training_bytes": self.training_bytes,
            "training_bytes_mixed_precision": self.training_bytes_mixed,
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    spec: ModelSpec
    batch_size: int
    input_shape: Shape
    layers: tuple[LayerReport, ...]
    diagnostics: tuple[Diagnostic, ...]  # the model's own, then every layer's, in order
    totals: Totals

    @property
    def valid(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def output_shape(self) -> Shape | None:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.spec.name,
            "valid": self.valid,
            "input_shape": list(self.input_shape),
            "output_shape": _json_value(self.output_shape),
            "layers": [r.to_json() for r in self.layers],
            "totals": self.totals.to_json(),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


def _json_value(value: Any) -> Any:
    return list(_json_value(v) for v in value) if isinstance(value, tuple) else value


def _square_or_pair(pair: Pair | None) -> int | list[int] | None:
    if pair is None:
        return None
    return pair[0] if pair[0] == pair[1] else list(pair)


def show_pair(pair: Pair) -> int | Pair:
    """How people write a pair: 3 for (3, 3), (3, 5) otherwise."""
    return pair[0] if pair[0] == pair[1] else pair


def hw(shape: Shape) -> str:
    return f"{shape[-2]}x{shape[-1]}"


# --- the per-layer machinery ---


class _Layer:
    """One layer under analysis: its parsed arguments, incoming shape, and diagnostics."""

    def __init__(
        self,
        path: Path,
        spec: LayerSpec,
        ltype: LayerType,
        shape: Shape | None,
        origin: str | None,
        image: Shape | None,
        where: str = "",
    ):
        self.where = where  # inside a block: "body layer 2", said before each message
        self.index = path[0]
        self.path = path
        self.nested = path if len(path) > 1 else ()  # a Fix's and Diagnostic's path: only inside a block
        self.image = image  # the model's input, (N, C, H, W): messages say what became of it
        self.spec = spec
        self.type = ltype
        self.shape = shape
        self.origin = origin  # how a flat feature count came about, e.g. "64x7x7"
        self.diagnostics: list[Diagnostic] = []
        self.args: dict[str, Any] = {}  # parsed value of every field, defaults filled in
        self.resolved: dict[str, Any] = {}  # constructor arguments: given + inferred
        self.broken = False  # a required argument is unusable: no output shape

    def error(self, field: str | None, message: str, suggestion: str | None = None, fix: Fix | None = None) -> None:
        self.diagnostics.append(
            Diagnostic(self.index, field, "error", _placed(self.where, message), suggestion, fix, self.nested)
        )

    def warn(self, field: str | None, message: str, suggestion: str | None = None, fix: Fix | None = None) -> None:
        self.diagnostics.append(
            Diagnostic(self.index, field, "warning", _placed(self.where, message), suggestion, fix, self.nested)
        )

    def set_fix(self, label: str, **values: Any) -> Fix:
        return Fix(label, self.index, set_args=tuple(values.items()), path=self.nested)

    def parse(self) -> None:
        given = self.spec.args
        known = _FIELDS_BY_TYPE[self.type.name]
        for name in given:
            if name not in known:
                self._unknown_argument(name)
        self.args = dict(_PARSED_DEFAULTS[self.type.name])
        for field in self.type.fields:
            if field.name in given:
                try:
                    self.args[field.name] = field.parse(given[field.name], field.name)
                    self.resolved[field.name] = given[field.name]
                except ArgError as exc:
                    self._bad_value(field.name, exc)
            elif field.required:
                example = _EXAMPLE_VALUES.get(field.name, 1)
                self.error(
                    field.name,
                    f"{self.type.name} needs {field.name}",
                    f"add {field.name} = {example}",
                    self.set_fix(f"set {field.name} = {example}", **{field.name: example}),
                )
                self.broken = True

    def _unknown_argument(self, name: str) -> None:
        if name in UNSUPPORTED_ARGS:
            self.error(
                name,
                f"{self.type.name}'s {name} is not supported: {UNSUPPORTED_ARGS[name]}",
                f"remove {name}",
                self.set_fix(f"remove {name}", **{name: None}),
            )
            return
        given = self.spec.args
        close = difflib.get_close_matches(name, self.type.field_names, n=1)
        if close and close[0] not in given:
            fix = Fix(
                f"rename {name} to {close[0]}", self.index, ((name, None), (close[0], given[name])), path=self.nested
            )
            self.error(name, f"{self.type.name} has no argument {name!r}", f"did you mean {close[0]}?", fix)
        else:
            known = ", ".join(self.type.field_names) or "none"
            self.error(
                name,
                f"{self.type.name} has no argument {name!r} (it takes: {known})",
                f"remove {name}",
                self.set_fix(f"remove {name}", **{name: None}),
            )

    def _bad_value(self, name: str, exc: ArgError) -> None:
        """Report an unusable value and carry on with the best stand-in there is."""
        suggestion = exc.suggestion
        if name in self.args:  # PyTorch's default, already filled in
            fix = self.set_fix(f"reset {name} to PyTorch's default", **{name: None})
        elif _FIELDS_BY_TYPE[self.type.name][name].inferred:  # as if left out
            fix = self.set_fix(f"leave {name} out (inferred)", **{name: None})
            suggestion = f"leave {name} out: it is inferred from the incoming tensor"
        else:  # required: nothing to go on with, so no output shape
            example = _EXAMPLE_VALUES.get(name, 1)
            fix = self.set_fix(f"set {name} = {example}", **{name: example})
            suggestion = f"use e.g. {name} = {example}"
            self.broken = True
        self.error(name, exc.message, suggestion, fix)

    def infer(self, name: str, actual: int, what: str, unused_because: str | None = None) -> int:
        """Fill an inferable size (in_channels & co) from the incoming tensor, or check it.
        ``unused_because``: PyTorch never reads the size here, so a mismatch only warns."""
        given = self.args.get(name)
        if given is None:
            self.resolved[name] = actual
            return actual
        if given != actual:
            source = f" = {self.origin}" if self.origin else ""
            what = what.removesuffix("s") if actual == 1 else what
            message = f"{name} = {given} but the incoming tensor has {actual}{source} {what}"
            report = self.error
            if unused_because:
                message, report = f"{message}; PyTorch ignores it only because {unused_because}", self.warn
            report(
                name,
                message,
                f"set {name} = {actual}, or leave it out to infer it",
                self.set_fix(f"set {name} = {actual}", **{name: actual}),
            )
        return given

    def needs_image(self) -> bool:
        """Conv and pooling need an (N, C, H, W) tensor; say so when the tensor is flat."""
        if self.shape is None:
            return False
        if len(self.shape) == 4:
            return True
        message = f"{self.type.name} expects an (N, C, H, W) tensor but gets {self.shape}"
        if len(self.shape) == 3:  # PyTorch would run, taking the batch for an image's channels
            message += ": PyTorch would take it for one unbatched image and mix up the batch"
        self.error(None, message, "move the Flatten after the convolution and pooling layers")
        return False


# Looked up on every keystroke, so computed once: each type's fields by name, and the parsed
# PyTorch default of every field that has one (required and inferred fields have none).
_FIELDS_BY_TYPE = {t.name: {f.name: f for f in t.fields} for t in LAYER_TYPES.values()}
_PARSED_DEFAULTS = {
    t.name: {
        f.name: None if f.default is None else f.parse(f.default, f.name)
        for f in t.fields
        if not (f.required or f.inferred)
    }
    for t in LAYER_TYPES.values()
}
_EXAMPLE_VALUES: dict[str, Any] = {"out_channels": 32, "kernel_size": 3, "out_features": 10, "output_size": 1}


@dataclass(slots=True)
class _Result:
    output: Shape | None
    params: int = 0
    buffers: int = 0
    macs: int = 0
    geometry: Geometry | None = None


def _window_output(size: int, kernel: int, stride: int, before: int, after: int, dilation: int, ceil: bool) -> int:
    """PyTorch's output size of a sliding window; for pooling, with ceil_mode's rule that
    the last window must start inside the input or its left padding."""
    span = size + before + after - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + before:
        out -= 1
    return out


def _shrink_error(layer: _Layer, geometry: Geometry, out: Pair) -> None:
    """The output would be empty: say where the image vanished, why, and the largest kernel
    that fits."""
    # Called from _windowed only: a known (N, C, H, W) tensor reached this layer, so the
    # model's input (which it came from) is known too.
    assert layer.shape is not None and layer.image is not None
    g, (h, w) = geometry, layer.shape[2:]
    padded = (h + g.pad_before[0] + g.pad_after[0], w + g.pad_before[1] + g.pad_after[1])
    window = tuple(g.dilation[i] * (g.kernel[i] - 1) + 1 for i in range(2))
    fits = show_pair(cast(Pair, tuple(max(1, (padded[i] - 1) // g.dilation[i] + 1) for i in range(2))))
    dilated = f" ({g.kernel[0]}x{g.kernel[1]} dilated)" if g.dilation != (1, 1) else ""
    with_padding = f" ({padded[0]}x{padded[1]} with padding)" if padded != (h, w) else ""
    layer.error(
        "kernel_size",
        f"{hw(layer.image)} shrinks to {max(out[0], 0)}x{max(out[1], 0)} at layer {layer.index}: the "
        f"{window[0]}x{window[1]} window{dilated} is larger than the {h}x{w} input it gets{with_padding}",
        f"reduce kernel_size to {fits} or add padding",
        layer.set_fix(f"set kernel_size = {fits}", kernel_size=fits),
    )


def _windowed(layer: _Layer, geometry: Geometry, channels: int) -> Shape | None:
    assert layer.shape is not None  # called only once layer.needs_image() said it has one
    n, _, h, w = layer.shape
    out: Pair = cast(
        Pair,
        tuple(
            _window_output(
                size,
                geometry.kernel[i],
                geometry.stride[i],
                geometry.pad_before[i],
                geometry.pad_after[i],
                geometry.dilation[i],
                geometry.ceil_mode,
            )
            for i, size in enumerate((h, w))
        ),
    )
    if min(out) < 1:
        _shrink_error(layer, geometry, out)
        return None
    return (n, channels, out[0], out[1])


def _conv2d(layer: _Layer) -> _Result:
    a = layer.args
    if layer.broken or not layer.needs_image():
        return _Result(None)
    assert layer.shape is not None  # needs_image() is False without one
    in_ch = layer.infer("in_channels", layer.shape[1], "channels")
    out_ch, groups = a["out_channels"], a["groups"]
    if in_ch % groups or out_ch % groups:
        layer.error(
            "groups",
            f"groups = {groups} must divide both in_channels ({in_ch}) and out_channels ({out_ch})",
            "use groups = 1, or a common divisor of both",
            layer.set_fix("set groups = 1", groups=1),
        )
        groups = 1
    kernel, stride, dilation = a["kernel_size"], a["stride"], a["dilation"]
    padding = a["padding"]
    total = (dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1))
    if padding == "same" and stride != (1, 1):
        keep = show_pair((total[0] // 2, total[1] // 2))
        layer.error(
            "padding",
            'padding = "same" needs stride 1: PyTorch does not support it for strided convolutions',
            f"use padding = {keep}, which with this stride divides H and W by the stride",
            layer.set_fix(f"set padding = {keep}", padding=keep),
        )
        padding = (total[0] // 2, total[1] // 2)
    if padding == "same":
        before = (total[0] // 2, total[1] // 2)
        after = (total[0] - before[0], total[1] - before[1])
    elif padding == "valid":
        before = after = (0, 0)
    else:
        before = after = padding
    _check_padding_mode(layer, a["padding_mode"], after)
    geometry = Geometry(kernel, stride, before, after, dilation)
    output = _windowed(layer, geometry, out_ch)
    params = out_ch * (in_ch // groups) * kernel[0] * kernel[1] + (out_ch if a["bias"] else 0)
    macs = params * output[0] * output[2] * output[3] if output else 0
    return _Result(output, params, 0, macs, geometry)


def _check_padding_mode(layer: _Layer, mode: str, pad: Pair) -> None:
    """Reflect padding needs pad < size and circular pad <= size, as F.pad checks."""
    if mode not in ("reflect", "circular"):
        return
    assert layer.shape is not None  # called only once layer.needs_image() said it has one
    sizes = layer.shape[2:]
    too_big = any(p >= s if mode == "reflect" else p > s for p, s in zip(pad, sizes))
    if too_big:
        limit = "smaller than" if mode == "reflect" else "at most"
        layer.error(
            "padding",
            f"{mode} padding of {show_pair(pad)} does not fit a {hw(layer.shape)} input: it copies "
            f"pixels from inside the image, so it must be {limit} the image's height and width",
            'use padding_mode = "zeros" or less padding',
            layer.set_fix('set padding_mode = "zeros"', padding_mode="zeros"),
        )


def _pool2d(layer: _Layer) -> _Result:
    a = layer.args
    if layer.broken or not layer.needs_image():
        return _Result(None)
    assert layer.shape is not None  # needs_image() is False without one
    kernel = a["kernel_size"]
    stride = a["stride"] or kernel
    padding = a["padding"]
    half = (kernel[0] // 2, kernel[1] // 2)
    if padding[0] > half[0] or padding[1] > half[1]:
        layer.error(
            "padding",
            f"padding = {show_pair(padding)} is more than half the {kernel[0]}x{kernel[1]} window; "
            f"PyTorch allows at most {show_pair(half)}",
            f"use padding = {show_pair(half)}, or a larger kernel_size",
            layer.set_fix(f"set padding = {show_pair(half)}", padding=show_pair(half)),
        )
        padding = (min(padding[0], half[0]), min(padding[1], half[1]))
    geometry = Geometry(kernel, stride, padding, padding, a.get("dilation") or (1, 1), a["ceil_mode"])
    return _Result(_windowed(layer, geometry, layer.shape[1]), geometry=geometry)


def _adaptive_pool2d(layer: _Layer) -> _Result:
    if layer.broken or not layer.needs_image():
        return _Result(None)
    assert layer.shape is not None  # needs_image() is False without one
    n, c, h, w = layer.shape
    oh, ow = layer.args["output_size"]
    oh, ow = oh or h, ow or w
    # The windows vary in size when the sizes do not divide: the largest one and the largest
    # step between two, so the receptive field is never too small.
    (kh, sh), (kw, sw) = adaptive_window(h, oh), adaptive_window(w, ow)
    geometry = Geometry((kh, kw), (sh, sw), (0, 0), (0, 0), (1, 1))
    return _Result((n, c, oh, ow), geometry=geometry)


def adaptive_window(size_in: int, size_out: int) -> tuple[int, int]:
    """Adaptive pooling's largest window and largest step between neighbouring windows
    (PyTorch's window o spans floor(o*in/out) to ceil((o+1)*in/out))."""
    starts = [o * size_in // size_out for o in range(size_out)]
    kernel = max(-(-(o + 1) * size_in // size_out) - start for o, start in enumerate(starts))
    step = max((b - a for a, b in zip(starts, starts[1:])), default=1)
    return kernel, max(step, 1)


def _batchnorm2d(layer: _Layer) -> _Result:
    a = layer.args
    if layer.shape is None:
        return _Result(None)
    if len(layer.shape) != 4:
        layer.error(
            None,
            f"BatchNorm2d expects an (N, C, H, W) tensor but gets {layer.shape}",
            "use it between convolutions, before the Flatten",
        )
        return _Result(None)
    stateless = not (a["affine"] or a["track_running_stats"])
    channels = layer.infer(
        "num_features",
        layer.shape[1],
        "channels",
        "affine and track_running_stats are both false" if stateless else None,
    )
    n, _, h, w = layer.shape
    if n * h * w == 1:
        # A warning, not an error: it is the batch size that fails, the model is fine.
        layer.warn(
            None,
            f"BatchNorm2d gets one value per channel (batch {n}, {h}x{w} map): it cannot compute "
            'batch statistics, so training raises "Expected more than 1 value per channel"',
            "train with a batch size above 1, or move BatchNorm2d before the pooling that shrinks to 1x1",
        )
    params = 2 * channels if a["affine"] else 0
    buffers = 2 * channels + 1 if a["track_running_stats"] else 0
    return _Result(layer.shape, params, buffers, params * layer.shape[0])


def _linear(layer: _Layer) -> _Result:
    a = layer.args
    if layer.broken or layer.shape is None:
        return _Result(None)
    shape = layer.shape
    features = shape[-1]
    if len(shape) == 4:
        flat = shape[1] * shape[2] * shape[3]
        flatten = Fix(
            "insert Flatten before this layer", layer.index, insert_before=LayerSpec("Flatten"), path=layer.nested
        )
        advice = f"insert a Flatten before it (in_features would then be {flat} = {shape[1]}x{shape[2]}x{shape[3]})"
        if a.get("in_features") == flat != features:
            layer.error(
                "in_features",
                f"in_features = {flat} matches the flattened tensor, but no Flatten comes "
                f"before this Linear: it gets {shape}",
                advice,
                flatten,
            )
            return _Result(None)
        layer.warn(
            None,
            f"Linear on a 4-D tensor {shape} acts on the last dimension (W = {features}) only; "
            "in a CNN that is nearly always a missing Flatten",
            advice,
            flatten,
        )
    in_f = layer.infer("in_features", features, "features")
    out_f = a["out_features"]
    params = in_f * out_f + (out_f if a["bias"] else 0)
    return _Result(shape[:-1] + (out_f,), params, 0, params * shape[0])


def _flatten(layer: _Layer) -> _Result:
    if layer.shape is None:
        return _Result(None)
    shape, rank = layer.shape, len(layer.shape)
    start, end = layer.args["start_dim"], layer.args["end_dim"]
    for name, dim in (("start_dim", start), ("end_dim", end)):
        if -rank <= dim < rank:
            continue
        message = f"{name} = {dim} is out of range for a {rank}-D tensor {shape}"
        if rank < 2:  # even the defaults are: there is nothing left to flatten
            layer.error(
                name,
                message,
                "remove this Flatten: the tensor is already flat",
                Fix("remove this Flatten", layer.index, remove_layer=True, path=layer.nested),
            )
        else:
            layer.error(
                name,
                message,
                f"use {name} = {1 if name == 'start_dim' else -1}",
                layer.set_fix(f"reset {name}", **{name: None}),
            )
        return _Result(None)
    start, end = start % rank, end % rank
    if start > end:
        layer.error(
            "start_dim",
            f"start_dim ({start}) comes after end_dim ({end})",
            "use the defaults",
            Fix(
                "reset start_dim and end_dim", layer.index, (("start_dim", None), ("end_dim", None)), path=layer.nested
            ),
        )
        return _Result(None)
    merged = math.prod(shape[start : end + 1])
    return _Result(shape[:start] + (merged,) + shape[end + 1 :])


def _channel_dropout(layer: _Layer) -> _Result:
    """Dropout2d: it zeroes whole channels, so it expects (N, C, H, W)."""
    if layer.shape is None or len(layer.shape) == 4:
        return _Result(layer.shape)
    # PyTorch still runs it on 2-D and 3-D tensors (deprecated) but not on 1-D ones.
    report = layer.error if len(layer.shape) < 2 else layer.warn
    report(
        None,
        f"Dropout2d zeroes whole channels of an (N, C, H, W) tensor but gets {layer.shape}",
        "use Dropout after the Flatten",
        Fix("change to Dropout", layer.index, new_type="Dropout", path=layer.nested),
    )
    return _Result(layer.shape if len(layer.shape) >= 2 else None)


def _elementwise(layer: _Layer) -> _Result:
    return _Result(layer.shape)


#: Each catalogued type's shape rule: its output, figures and diagnostics. Every type has one
#: (tests/domain/test_catalogue.py); an activation acts value by value, so it keeps the shape.
SHAPE_RULES: dict[str, Callable[[_Layer], _Result]] = {
    "Conv2d": _conv2d,
    "MaxPool2d": _pool2d,
    "AvgPool2d": _pool2d,
    "AdaptiveAvgPool2d": _adaptive_pool2d,
    "AdaptiveMaxPool2d": _adaptive_pool2d,
    "BatchNorm2d": _batchnorm2d,
    "Linear": _linear,
    "Flatten": _flatten,
    "Dropout": _elementwise,
    "Dropout2d": _channel_dropout,
    **{name: _elementwise for name, t in LAYER_TYPES.items() if t.category == "activation"},
}
# Layers that keep the tensor as it is, so a flat feature count keeps its origin.
_KEEPS_ORIGIN = {"activation", "dropout", "norm"}


def _unknown_layer(path: Path, spec: LayerSpec, where: str) -> Diagnostic:
    nested = path if len(path) > 1 else ()
    message = _placed(where, f"unknown layer type {spec.type!r}")
    close = difflib.get_close_matches(spec.type, [*LAYER_TYPES, *BLOCK_TYPES], n=1, cutoff=0.5)
    if close:
        fix = Fix(f"change to {close[0]}", path[0], new_type=close[0], path=nested)
        return Diagnostic(path[0], "type", "error", message, f"did you mean {close[0]}?", fix, nested)
    known = ", ".join([*LAYER_TYPES, *BLOCK_TYPES])
    return Diagnostic(path[0], "type", "error", message, f"supported: {known}", path=nested)


@dataclass(frozen=True, slots=True)
class FlatRow:
    """A layer in a listing of the whole model: a block's row first, then its paths' layers,
    one level deeper. ``name`` is the module's name in the built model (``3.body.1``)."""

    depth: int
    name: str
    report: LayerReport


def flat_reports(reports: Sequence[LayerReport], depth: int = 0, prefix: str = "") -> list[FlatRow]:
    rows = []
    for number, report in enumerate(reports):
        name = f"{prefix}{number}" if prefix else str(report.index)
        rows.append(FlatRow(depth, name, report))
        for branch, inner in enumerate(report.branches):
            rows.extend(flat_reports(inner, depth + 1, f"{name}.{module_path(report.type, branch)}."))
    return rows


def module_path(block_type: str, branch: int) -> str:
    """A block's path as the built module names it: body, shortcut, branches.1."""
    return ("body", "shortcut")[branch] if block_type == "Residual" else f"branches.{branch}"


def path_name(block_types: Sequence[str], path: Path) -> str:
    """A path as the built module names it: (3, 0, 1) inside a Residual is ``3.body.1``;
    ``block_types`` are the types of the blocks along the path, outermost first."""
    parts = [str(path[0])]
    for kind, branch, index in zip(block_types, path[1::2], path[2::2]):
        parts += [module_path(kind, branch), str(index)]
    return ".".join(parts)


def name_path(name: str) -> Path:
    """The inverse of ``path_name``: ``3.branches.2.0`` is (3, 2, 0)."""
    parts, path = name.split("."), []
    while parts:
        part = parts.pop(0)
        if part == "body":
            path.append(0)
        elif part == "shortcut":
            path.append(1)
        elif part != "branches":
            path.append(int(part))
    return tuple(path)


def report_at(reports: Sequence[LayerReport], path: Path) -> LayerReport | None:
    """The report of the layer at ``path``; None where there is none."""
    try:
        report = reports[path[0]]
        for branch, index in zip(path[1::2], path[2::2]):
            report = report.branches[branch][index]
        return report
    except IndexError:
        return None


def block_call(report: LayerReport) -> str:
    """A block's one-line description where a layer shows its call."""
    if report.type == "Residual":
        has_shortcut = len(report.branches) > 1 and report.branches[1]
        return f"Residual: body + {'shortcut' if has_shortcut else 'identity'}"
    return f"Concat of {len(report.branches)} branch{'es' if len(report.branches) != 1 else ''}"


def branch_name(block_type: str, branch: int) -> str:
    """What a block's path is called: a Residual's body or shortcut, a Concat's branch 1."""
    if block_type == "Residual":
        return ("body", "shortcut")[branch] if branch < 2 else f"path {branch}"
    return f"branch {branch}"


def _placed(where: str, message: str) -> str:
    """A message about a layer inside a block starts with where it is in the block (the
    diagnostic's layer number says which top-level block): "body layer 2: ..."."""
    return f"{where}: {message}" if where else message


def _check_input(spec: ModelSpec, batch_size: int) -> tuple[Shape | None, list[Diagnostic]]:
    diagnostics = []
    shape = tuple(spec.input_shape)
    if len(shape) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE for v in shape):
        huge = [isinstance(v, int) and v > MAX_SIZE for v in shape]
        shown = "[" + ", ".join(f"{v:.3g}" if big else repr(v) for v, big in zip(shape, huge)) + "]"
        bound = f" up to {MAX_SIZE:,}" if any(huge) else ""
        diagnostics.append(
            Diagnostic(
                None,
                "input_shape",
                "error",
                f"input_shape must be three positive integers (C, H, W){bound}, got {shown}",
                "use e.g. input_shape = [1, 28, 28] for MNIST",
            )
        )
        return None, diagnostics
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and 1 <= batch_size <= MAX_SIZE):
        too_big = isinstance(batch_size, int) and batch_size > MAX_SIZE
        shown, bound = (f"{batch_size:.3g}", f" up to {MAX_SIZE:,}") if too_big else (repr(batch_size), "")
        diagnostics.append(
            Diagnostic(
                None, "batch_size", "error", f"batch size must be a positive integer{bound}, got {shown}", "use e.g. 64"
            )
        )
        return None, diagnostics
    return (batch_size, *shape), diagnostics


@dataclass(frozen=True, slots=True)
class _Flow:
    """The tensor between two layers, as far as it is known: its shape, how a flat feature
    count came about ("64x7x7"), and the receptive field and jump of its positions."""

    shape: Shape | None
    origin: str | None = None
    rf: Pair | None = None
    jump: Pair | None = None


def analyze(spec: ModelSpec, batch_size: int = 64) -> Analysis:
    """Walk the stack once: shapes, parameters, MACs, memory, receptive field, diagnostics.

    Every layer after an error is still checked as far as it can be: its own arguments always,
    its shapes whenever the incoming shape is known. A block's paths are walked from the
    block's input, each in turn, and merged.
    """
    input_shape, diagnostics = _check_input(spec, batch_size)
    start = _Flow(input_shape, None, (1, 1), (1, 1)) if input_shape else _Flow(None)
    walk = _Walk(input_shape, diagnostics)
    reports, _ = walk.layers(spec.layers, start, (), "", 0)
    totals = _totals(input_shape, reports)
    if totals.training_bytes_mixed > TRAINING_MEMORY_WARNING_BYTES:  # a GPU's need: with bf16 autocast
        diagnostics.append(
            Diagnostic(
                None,
                "batch_size",
                "warning",
                f"training needs about {binary_bytes(totals.training_bytes_mixed)} on a GPU (estimate, batch "
                f"{batch_size}, bf16 autocast), more than "
                f"any single GPU holds ({binary_bytes(TRAINING_MEMORY_WARNING_BYTES)} at most)",
                "use a smaller batch size or smaller layers",
            )
        )
    return Analysis(
        spec, batch_size, input_shape or (batch_size, *spec.input_shape), tuple(reports), tuple(diagnostics), totals
    )


class _Walk:
    """One pass over a model: every layer's report, and its diagnostics in the model's list
    in the order the layers come (a block's inner ones before its merge)."""

    def __init__(self, image: Shape | None, diagnostics: list[Diagnostic]):
        self.image = image
        self.diagnostics = diagnostics

    def layers(
        self, specs: Sequence[LayerSpec], flow: _Flow, prefix: Path, where: str, depth: int
    ) -> tuple[list[LayerReport], _Flow]:
        reports = []
        for index, layer_spec in enumerate(specs):
            path = (*prefix, index)
            place = f"{where} layer {index}" if where else ""
            if isinstance(layer_spec, LayerSpec) and layer_spec.type in BLOCK_TYPES:
                report, flow = self.block(layer_spec, flow, path, place, depth)
            else:
                report, flow = self.layer(layer_spec, flow, path, place)
            reports.append(report)
        return reports, flow

    def layer(self, layer_spec: LayerSpec, flow: _Flow, path: Path, where: str) -> tuple[LayerReport, _Flow]:
        shape = flow.shape
        ltype = LAYER_TYPES.get(layer_spec.type)
        if ltype is None:
            diag = _unknown_layer(path, layer_spec, where)
            self.diagnostics.append(diag)
            return (
                LayerReport(
                    path[0],
                    layer_spec.type,
                    dict(layer_spec.args),
                    shape,
                    None,
                    0,
                    0,
                    0,
                    0,
                    0,
                    None,
                    None,
                    None,
                    (diag,),
                    path=path,
                ),
                _Flow(None),
            )
        layer = _Layer(path, layer_spec, ltype, shape, flow.origin, self.image, where)
        layer.parse()
        result = SHAPE_RULES[ltype.name](layer)
        _check_counts(layer, result)
        if any(d.is_error for d in layer.diagnostics):
            # A layer PyTorch cannot build has no parameters: none of its figures reach the totals.
            result.params = result.buffers = result.macs = 0
        output, rf, jump = result.output, flow.rf, flow.jump
        if output is None or len(output) != 4:
            rf = jump = None
        elif result.geometry is not None and rf is not None and jump is not None:
            rf, jump = grow_receptive_field(rf, jump, result.geometry)
        origin = flow.origin
        if ltype.flattens and _flattens_image(shape, output):
            origin = per_sample(shape)
        elif ltype.category not in _KEEPS_ORIGIN:
            origin = None
        activation = math.prod(output) * BYTES_PER_VALUE if output else 0
        self.diagnostics.extend(layer.diagnostics)
        report = LayerReport(
            path[0],
            ltype.name,
            layer.resolved,
            shape,
            output,
            result.params,
            result.params,
            result.buffers,
            result.macs,
            activation,
            rf,
            jump,
            result.geometry,
            tuple(layer.diagnostics),
            path=path,
        )
        return report, _Flow(output, origin, rf, jump)

    def block(self, spec: LayerSpec, flow: _Flow, path: Path, where: str, depth: int) -> tuple[LayerReport, _Flow]:
        """A Residual or Concat: each path walked from the block's input, then merged."""
        own: list[Diagnostic] = []
        nested = path if len(path) > 1 else ()

        def error(message: str, suggestion: str | None = None, fix: Fix | None = None) -> None:
            own.append(Diagnostic(path[0], None, "error", _placed(where, message), suggestion, fix, nested))

        _check_block_args(spec, error)
        branches = branches_of(spec)
        for number, layers in enumerate(branches):
            if layers and layers[0].args.get("inplace") is True and len(branches) > 1:
                # The other paths would read the overwritten input: torch runs, computing something else.
                own.append(
                    Diagnostic(
                        path[0],
                        None,
                        "warning",
                        _placed(
                            where,
                            f"{branch_name(spec.type, number)} starts with {layers[0].type}(inplace=True): it "
                            "overwrites the block's input, which the other paths read too",
                        ),
                        f"set inplace = false on that {layers[0].type}",
                        None,
                        nested,
                    )
                )
        reports: list[tuple[LayerReport, ...]] = []
        outputs: list[_Flow] = []
        if depth >= MAX_BLOCK_DEPTH:
            error(f"blocks nest more than {MAX_BLOCK_DEPTH} deep", "unwrap some of the blocks")
        else:
            for number, layers in enumerate(branches):
                name = branch_name(spec.type, number)
                inner, out = self.layers(
                    layers, flow, (*path, number), f"{where} > {name}" if where else name, depth + 1
                )
                reports.append(tuple(inner))
                outputs.append(out)
        merged = _Flow(None)
        shapes = [out.shape for out in outputs if out.shape is not None]
        if outputs and len(shapes) == len(outputs) and flow.shape is not None:  # every path's shape known
            merge = _merge_residual if spec.type == "Residual" else _merge_concat
            shape = merge(spec, flow.shape, shapes, path, error)
            if shape is not None:
                merged = _Flow(shape, None, *_merged_field(shape, outputs))
        elif spec.type == "Concat" and not branches:
            error("Concat needs at least one branch", "add a branch, or unwrap the block")
        self.diagnostics.extend(own)
        inner = [r for branch in reports for r in branch]
        activation = sum(r.activation_bytes for r in inner)
        if merged.shape is not None:
            activation += math.prod(merged.shape) * BYTES_PER_VALUE
        params = sum(r.params for r in inner)
        report = LayerReport(
            path[0],
            spec.type,
            {},
            flow.shape,
            merged.shape,
            params,
            sum(r.trainable_params for r in inner),
            sum(r.buffers for r in inner),
            sum(r.macs for r in inner),
            activation,
            merged.rf,
            merged.jump,
            None,
            tuple(own),
            branches=tuple(reports),
            path=path,
        )
        return report, merged


def _check_block_args(spec: LayerSpec, error: Callable[..., None]) -> None:
    """A block takes lists of layers, and nothing else (a spec made in code can hold anything)."""
    names = ("body", "shortcut") if spec.type == "Residual" else ("branches",)
    for name in spec.args:
        if name not in names:
            error(f"{spec.type} has no argument {name!r} (it takes: {', '.join(names)})", f"remove {name}")
    for name in names:
        value = spec.args.get(name, ())
        lists = value if name == "branches" and isinstance(value, tuple) else (value,)
        if not isinstance(value, tuple) or not all(
            isinstance(items, tuple) and all(isinstance(v, LayerSpec) for v in items) for items in lists
        ):
            error(f"{spec.type}'s {name} must be a list of layers, got {value!r:.60}")


def _merged_field(shape: Shape, outputs: list[_Flow]) -> tuple[Pair | None, Pair | None]:
    """At a merge each position sees what any of its inputs saw: the largest field (and
    jump) of the paths (Araujo et al. 2019, as domain.graph does for tracked models)."""
    rfs = [out.rf for out in outputs if out.rf is not None]
    jumps = [out.jump for out in outputs if out.jump is not None]
    if len(shape) != 4 or len(rfs) < len(outputs) or len(jumps) < len(outputs):  # some path's field unknown
        return None, None
    rf = (max(r[0] for r in rfs), max(r[1] for r in rfs))
    jump = (max(j[0] for j in jumps), max(j[1] for j in jumps))
    return rf, jump


def _n(shape: Shape) -> str:
    """A shape as the merge messages show it: (N, 32, 14, 14)."""
    return "(N, " + ", ".join(str(v) for v in shape[1:]) + ")"


def _merge_residual(
    spec: LayerSpec, given: Shape, outputs: list[Shape], path: Path, error: Callable[..., None]
) -> Shape | None:
    """body(x) + shortcut(x): the two must have the same shape (a broadcast would change the
    block's output shape, which no residual block means to do)."""
    body, shortcut = outputs
    if body == shortcut:
        return body
    has_shortcut = bool(branches_of(spec)[1])
    what = "its shortcut" if has_shortcut else "its input (the identity shortcut)"
    differ = []
    if len(body) != len(shortcut):
        differ.append("the number of dimensions")
    else:
        if len(body) >= 2 and body[1] != shortcut[1]:
            differ.append(f"channels ({body[1]} vs {shortcut[1]})")
        if body[2:] != shortcut[2:]:
            differ.append(f"sizes ({' x '.join(map(str, body[2:]))} vs {' x '.join(map(str, shortcut[2:]))})")
    message = (
        f"Residual cannot add its body's output {_n(body)} to {what} {_n(shortcut)}: {' and '.join(differ)} differ"
    )
    shortcut_layers = projection(given, body)
    if shortcut_layers is None:
        error(
            message,
            "make the body keep the shape it gets (stride 1, padding that keeps the size, "
            f"out_channels = {given[1] if len(given) > 1 else '?'})",
        )
        return None
    stride = shortcut_layers[0].args["stride"]
    call = f"Conv2d({given[1]}, {body[1]}, kernel_size=1, stride={stride}, bias=False)"
    label = f"{'replace the shortcut with' if has_shortcut else 'add'} a 1x1 projection shortcut"
    fix = Fix(label, path[0], set_args=(("shortcut", shortcut_layers),), path=path if len(path) > 1 else ())
    keep = (
        f", or set the body's last out_channels = {given[1]}" if body[2:] == given[2:] and body[1] != given[1] else ""
    )
    error(message, f"{label}: {call} + BatchNorm2d{keep}", fix)
    return None


def projection(given: Shape, body: Shape) -> tuple[LayerSpec, ...] | None:
    """A 1x1 conv (+ BatchNorm) from the block's input to the body's output shape: He et
    al.'s option B. None when no stride maps the input's size onto the body's."""
    if len(given) != 4 or len(body) != 4:
        return None
    strides = []
    stride: int | tuple[int, ...] | None  # one per dimension while searching, then the Conv2d's
    for size, target in zip(given[2:], body[2:]):
        stride = next((s for s in range(1, size + 1) if (size - 1) // s + 1 == target), None)
        if stride is None:
            return None
        strides.append(stride)
    stride = strides[0] if strides[0] == strides[1] else tuple(strides)
    return (
        LayerSpec.of("Conv2d", out_channels=body[1], kernel_size=1, stride=stride, bias=False),
        LayerSpec("BatchNorm2d"),
    )


def _merge_concat(
    spec: LayerSpec, given: Shape, outputs: list[Shape], path: Path, error: Callable[..., None]
) -> Shape | None:
    """cat(branches, dim=1): every other size must agree (and there must be a dim 1)."""
    first = outputs[0]
    for number, other in enumerate(outputs[1:], start=1):
        if len(other) != len(first) or len(first) < 2:
            error(
                f"Concat cannot join branch 0 {_n(first)} and branch {number} {_n(other)} along the channels: "
                "they must both be (N, C, H, W) or both (N, features)",
                "end every branch before the Flatten, or every branch after it",
            )
            return None
        if other[2:] != first[2:]:
            error(
                f"Concat cannot join branch 0 {_n(first)} and branch {number} {_n(other)} along the channels: "
                f"sizes ({' x '.join(map(str, first[2:]))} vs {' x '.join(map(str, other[2:]))}) differ",
                "give every branch the same total stride, and padding that keeps the size "
                "(padding = 1 for a 3x3 kernel at stride 1)",
            )
            return None
    if len(first) < 2:
        error(f"Concat joins along the channels (dim 1), but its branch gives {_n(first)}", "unwrap the block")
        return None
    return (first[0], sum(out[1] for out in outputs), *first[2:])


def _check_counts(layer: _Layer, result: _Result) -> None:
    """Sizes that are each in bounds can still multiply past what PyTorch counts in 64 bits
    (a 2**31-channel conv on a 2**31-channel input): say so, rather than let torch overflow."""
    if result.params > MAX_COUNT:
        layer.error(
            None,
            f"{layer.type.name} would have {result.params:.3g} parameters, more than PyTorch can count "
            f"({MAX_COUNT:.3g})",
            "use fewer channels or features",
        )
    if result.output is not None and math.prod(result.output) > MAX_COUNT:
        layer.error(
            None,
            f"the output {result.output} would hold {math.prod(result.output):.3g} values, more than "
            f"PyTorch can count ({MAX_COUNT:.3g})",
            "use a smaller batch, input or fewer channels",
        )
        result.output = None


def _flattens_image(shape: Shape | None, output: Shape | None) -> bool:
    """(N, C, H, W) -> (N, C*H*W): only then is a feature count "C x H x W"."""
    return shape is not None and output is not None and len(shape) == 4 and output == (shape[0], math.prod(shape[1:]))


def grow_receptive_field(rf: Pair, jump: Pair, g: Geometry) -> tuple[Pair, Pair]:
    """A sliding window widens what each output sees by dilation*(kernel-1) input steps of
    the current jump, and multiplies the jump by its stride."""
    rf = (rf[0] + g.dilation[0] * (g.kernel[0] - 1) * jump[0], rf[1] + g.dilation[1] * (g.kernel[1] - 1) * jump[1])
    return rf, (jump[0] * g.stride[0], jump[1] * g.stride[1])


def totals_of(input_shape: Shape | None, reports: Sequence[LayerReport]) -> Totals:
    """The totals of any layer reports: the tracker also sums a tracked nn.Module's layers."""
    return _totals(input_shape, list(reports))


def _totals(input_shape: Shape | None, reports: list[LayerReport]) -> Totals:
    params = sum(r.params for r in reports)
    trainable = sum(r.trainable_params for r in reports)
    buffers = sum(r.buffers for r in reports)
    activations = sum(r.activation_bytes for r in reports)
    input_bytes = math.prod(input_shape) * BYTES_PER_VALUE if input_shape else 0
    param_bytes = (params + buffers) * BYTES_PER_VALUE
    return Totals(
        params,
        trainable,
        buffers,
        sum(r.macs for r in reports),
        param_bytes,
        input_bytes,
        activations,
        training_memory(input_shape, reports, params, buffers, mixed_precision=False),
        training_memory(input_shape, reports, params, buffers, mixed_precision=True),
    )
