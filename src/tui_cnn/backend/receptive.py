"""The receptive field of every tensor of a traced forward pass: each torch operation's
window read from its arguments, functional or inside a module (``F.conv2d(x, w, padding=1)``,
a Conv2d subclass with its own forward, ``F.avg_pool2d(x, 3, 1, 1)``, interpolation, a
transposed convolution, padding), and the H and W dimensions followed through permutes and
reshapes. An operation whose window it cannot know makes the field UNKNOWN from there on:
no number rather than one that is too small. The arithmetic is domain/graph.py's.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch.utils._pytree import tree_leaves

from ..domain.graph import GLOBAL, UNKNOWN, Reach, State, merged, resampled, skipped, sliding_window, transposed_window
from ..domain.shapes import adaptive_window

# Each output position sees the same position of its inputs (elementwise maths, activations,
# dropout, dtype and memory changes). Normalisations too: their statistics are not counted.
_POINTWISE = {
    "add",
    "sub",
    "mul",
    "div",
    "truediv",
    "floordiv",
    "true_divide",
    "floor_divide",
    "neg",
    "pos",
    "abs",
    "pow",
    "mod",
    "remainder",
    "fmod",
    "and",
    "or",
    "xor",
    "invert",
    "bitwise_and",
    "bitwise_or",
    "bitwise_not",
    "sqrt",
    "rsqrt",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sinh",
    "cosh",
    "asin",
    "acos",
    "atan",
    "atan2",
    "erf",
    "erfc",
    "sigmoid",
    "logit",
    "reciprocal",
    "square",
    "sign",
    "sgn",
    "round",
    "floor",
    "ceil",
    "trunc",
    "frac",
    "clamp",
    "clip",
    "clamp_min",
    "clamp_max",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "where",
    "masked_fill",
    "lerp",
    "addcmul",
    "addcdiv",
    "hypot",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "isnan",
    "isinf",
    "isfinite",
    "nan_to_num",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "hardswish",
    "hardsigmoid",
    "hardtanh",
    "hardshrink",
    "softshrink",
    "softplus",
    "softsign",
    "tanhshrink",
    "threshold",
    "prelu",
    "rrelu",
    "logsigmoid",
    "glu",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
    "batch_norm",
    "instance_norm",
    "group_norm",
    "layer_norm",
    "rms_norm",
    "local_response_norm",
    "channel_shuffle",
    "native_channel_shuffle",
    "pixel_shuffle_channels",
    "contiguous",
    "clone",
    "detach",
    "to",
    "float",
    "half",
    "double",
    "bfloat16",
    "type",
    "type_as",
    "requires_grad",
    "copy",
    "fill",
    "zero",
    "cpu",
    "cuda",
    "pad",
    "constant_pad_nd",
}
_CONSTANT = {"zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like"}
_REDUCTIONS = {
    "mean",
    "sum",
    "amax",
    "amin",
    "max",
    "min",
    "std",
    "var",
    "std_mean",
    "var_mean",
    "norm",
    "logsumexp",
    "prod",
    "argmax",
    "argmin",
    "median",
    "nansum",
    "nanmean",
    "all",
    "any",
    "count_nonzero",
}
_ALONG_A_DIM = {
    "softmax",
    "log_softmax",
    "softmin",
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "sort",
    "argsort",
    "topk",
    "normalize",
    "kthvalue",
}
_SPLITS = {"split", "chunk", "narrow", "tensor_split", "split_with_sizes", "hsplit", "vsplit"}
_OPERATORS = {"add", "sub", "mul", "truediv", "floordiv", "matmul", "pow", "and", "or", "xor", "mod"}


class ReachOfTensors:
    """The Reach (domain/graph.py) of every tensor seen, by identity (the tracer keeps its
    tensors alive, so an id is never reused)."""

    def __init__(self) -> None:
        self.states: dict[int, tuple[torch.Tensor, State]] = {}

    def set(self, tensor: torch.Tensor, state: State) -> None:
        self.states[id(tensor)] = (tensor, state)

    def of(self, tensor: Any) -> State | None:
        entry = self.states.get(id(tensor))
        return entry[1] if entry is not None and entry[0] is tensor else None

    def seen(self, func: Any, args: tuple, kwargs: dict[str, Any], out: Any) -> State | None:
        """Record what ``func``'s outputs see; returns that state (None: made from constants)."""
        outs = _tensors(out)
        if not outs:
            return None
        ins = [(t, self.of(t)) for t in _tensors((args, kwargs))]
        ins = [(t, state) for t, state in ins if state is not None]
        if not ins:
            return None
        name = _name(func)
        if name in _CONSTANT:
            return None
        states = [state for _, state in ins]
        if UNKNOWN in states:
            state = UNKNOWN
        elif all(state == GLOBAL for state in states):
            state = GLOBAL
        else:
            try:
                state = self._state(name, args, kwargs, ins, outs)
            except (TypeError, ValueError, IndexError, ZeroDivisionError):
                state = UNKNOWN  # arguments read some way not foreseen: no field rather than a wrong one
        for tensor in outs:  # in place too (relu_(x), x += y): x sees what it now holds
            self.set(tensor, state)
        return state

    def _state(
        self,
        name: str,
        args: tuple,
        kwargs: dict[str, Any],
        ins: list[tuple[torch.Tensor, State]],
        outs: list[torch.Tensor],
    ) -> State:
        out = outs[0]
        x, reach = _main_input(ins)
        if reach is None:  # only pooled values (GLOBAL) among maps' inputs
            return GLOBAL
        if name in _POINTWISE:
            return _pointwise(ins, out)
        window = _WINDOWS.get(name)
        if window is not None:
            if not _spatial_last(reach, x):
                return UNKNOWN
            return window(reach, x, out, args, kwargs)
        layout = _LAYOUT.get(name)
        if layout is not None:
            return layout(reach, x, out, args, kwargs, ins)
        if name in _REDUCTIONS:
            return _reduced(name, reach, x, out, args, kwargs, ins)
        if name in _ALONG_A_DIM:
            dim = _arg(args, kwargs, 2 if name == "normalize" else 1, "dim", 1 if name == "normalize" else None)
            if dim is None or _touches(reach, x, dim):
                return UNKNOWN
            return _pointwise(ins, out)
        if name in _SPLITS:
            return reach  # a crop or a channel split: each position still sees what it saw
        if name in ("linear", "matmul", "mm", "bmm", "baddbmm", "addmm", "einsum", "bilinear"):
            # the last dimension is contracted (and a matmul's second-to-last): fine on channels
            if any(
                isinstance(s, Reach) and _index(s.dims, t.dim())[1] >= t.dim() - (1 if name == "linear" else 2)
                for t, s in ins
            ):
                return UNKNOWN
            return _pointwise(ins, out)
        return UNKNOWN


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]


def _name(func: Any) -> str:
    """``Tensor.__iadd__`` -> add, ``torch.relu_`` -> relu, ``F.max_pool2d`` -> max_pool2d."""
    name = (getattr(func, "__name__", None) or str(func)).strip("_")
    if name[:1] in ("i", "r") and name[1:] in _OPERATORS:
        name = name[1:]
    return name


def _arg(args: tuple, kwargs: dict[str, Any], index: int, key: str, default: Any = None) -> Any:
    if key in kwargs:
        return kwargs[key]
    return args[index] if len(args) > index else default


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list, torch.Size)):
        values = [int(v) for v in value]
        return (values[0], values[0]) if len(values) == 1 else (values[-2], values[-1])
    return int(value), int(value)


def _main_input(ins: list[tuple[torch.Tensor, State]]) -> tuple[torch.Tensor | None, Reach | None]:
    for tensor, state in ins:
        if isinstance(state, Reach):
            return tensor, state
    return None, None


def _index(dims: tuple[int, int], ndim: int) -> tuple[int, int]:
    """Reach keeps H and W counted from the end (broadcasting aligns there); as indices."""
    return ndim + dims[0], ndim + dims[1]


def _spatial_last(reach: Reach, x: torch.Tensor) -> bool:
    """Convolution, pooling and interpolation work on the last two dimensions."""
    return reach.dims == (-2, -1) and x.dim() >= 3


def _hw(tensor: torch.Tensor, state: State) -> tuple[int, int] | None:
    if not isinstance(state, Reach) or tensor.dim() < -state.dims[0]:
        return None
    return int(tensor.shape[state.dims[0]]), int(tensor.shape[state.dims[1]])


def _pointwise(ins: list[tuple[torch.Tensor, State]], out: torch.Tensor) -> State:
    state = merged([(state, _hw(tensor, state)) for tensor, state in ins])
    if isinstance(state, Reach) and out.dim() < -state.dims[0]:
        return UNKNOWN
    return state if state is not None else GLOBAL


def _touches(reach: Reach, x: torch.Tensor, dims: Any) -> bool:
    """Whether ``dims`` (an int or a sequence) include H or W."""
    spatial = set(_index(reach.dims, x.dim()))
    wanted = dims if isinstance(dims, (tuple, list)) else (dims,)
    return any(int(d) % x.dim() in spatial for d in wanted)


# --- windows: convolution, pooling, interpolation ---


def _conv(reach: Reach, x, out, args, kwargs) -> State:
    weight = _arg(args, kwargs, 1, "weight")
    return sliding_window(
        reach,
        tuple(weight.shape[-2:]),
        _pair(_arg(args, kwargs, 3, "stride", 1)),
        _pair(_arg(args, kwargs, 5, "dilation", 1)),
    )


def _conv_transpose(reach: Reach, x, out, args, kwargs) -> State:
    weight = _arg(args, kwargs, 1, "weight")
    return transposed_window(
        reach,
        tuple(weight.shape[-2:]),
        _pair(_arg(args, kwargs, 3, "stride", 1)),
        _pair(_arg(args, kwargs, 7, "dilation", 1)),
    )


def _pool(kernel_at: int, with_dilation: bool):
    def pool(reach: Reach, x, out, args, kwargs) -> State:
        kernel = _pair(_arg(args, kwargs, kernel_at, "kernel_size"))
        stride = _arg(args, kwargs, kernel_at + 1, "stride")
        dilation = _arg(args, kwargs, kernel_at + 3, "dilation", 1) if with_dilation else 1
        return sliding_window(reach, kernel, _pair(stride) if stride not in (None, (), []) else kernel, _pair(dilation))

    return pool


def _adaptive(reach: Reach, x, out, args, kwargs) -> State:
    windows = [adaptive_window(int(x.shape[i]), int(out.shape[i])) for i in (-2, -1)]
    return sliding_window(reach, (windows[0][0], windows[1][0]), (windows[0][1], windows[1][1]), (1, 1))


_TAPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2, "bicubic": 4}


def _interpolate(default_mode: str, align_default: bool | None = None):
    def interpolate(reach: Reach, x, out, args, kwargs) -> State:
        mode = _arg(args, kwargs, 3, "mode", default_mode)
        size_in, size_out = tuple(int(v) for v in x.shape[-2:]), tuple(int(v) for v in out.shape[-2:])
        if mode == "area":
            return _adaptive(reach, x, out, args, kwargs)
        taps = _TAPS.get(mode)
        downsampled = any(o < i for i, o in zip(size_in, size_out))
        if taps is None or (kwargs.get("antialias") and downsampled):
            return UNKNOWN  # an antialiased filter widens with the scale
        if _arg(args, kwargs, 4, "align_corners", align_default) and taps > 1 and min(size_out) > 1:
            size_in, size_out = (size_in[0] - 1, size_in[1] - 1), (size_out[0] - 1, size_out[1] - 1)
            if min(size_in) < 1:
                return reach
        return resampled(reach, taps, size_in, size_out)

    return interpolate


_WINDOWS = {
    "conv2d": _conv,
    "conv_transpose2d": _conv_transpose,
    "max_pool2d": _pool(1, True),
    "max_pool2d_with_indices": _pool(1, True),
    "avg_pool2d": _pool(1, False),
    "lp_pool2d": _pool(2, False),
    "adaptive_avg_pool2d": _adaptive,
    "adaptive_max_pool2d": _adaptive,
    "adaptive_max_pool2d_with_indices": _adaptive,
    "interpolate": _interpolate("nearest"),
    "upsample": _interpolate("nearest"),
    "upsample_nearest": _interpolate("nearest"),
    "upsample_bilinear": _interpolate("bilinear", True),
}


# --- layout: H and W followed to where they go ---


def _moved(reach: Reach, x: torch.Tensor, out: torch.Tensor, old_to_new: dict[int, int]) -> State:
    h, w = _index(reach.dims, x.dim())
    if h not in old_to_new or w not in old_to_new:
        return UNKNOWN
    return Reach(reach.branches, (old_to_new[h] - out.dim(), old_to_new[w] - out.dim()))


def _permute(reach, x, out, args, kwargs, ins) -> State:
    order = (
        args[1:] if len(args) > 2 or (len(args) == 2 and isinstance(args[1], int)) else _arg(args, kwargs, 1, "dims")
    )
    order = [int(d) % x.dim() for d in order]
    return _moved(reach, x, out, {old: new for new, old in enumerate(order)})


def _transpose(reach, x, out, args, kwargs, ins) -> State:
    a, b = (int(_arg(args, kwargs, 1, "dim0")) % x.dim(), int(_arg(args, kwargs, 2, "dim1")) % x.dim())
    mapping = {d: d for d in range(x.dim())}
    mapping[a], mapping[b] = b, a
    return _moved(reach, x, out, mapping)


def _movedim(reach, x, out, args, kwargs, ins) -> State:
    source, destination = _arg(args, kwargs, 1, "source"), _arg(args, kwargs, 2, "destination")
    source = [int(d) % x.dim() for d in (source if isinstance(source, (tuple, list)) else (source,))]
    destination = [
        int(d) % x.dim() for d in (destination if isinstance(destination, (tuple, list)) else (destination,))
    ]
    order: list[int | None] = [None] * x.dim()
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(x.dim()) if d not in source)
    order = [d if d is not None else next(rest) for d in order]
    return _moved(reach, x, out, {old: new for new, old in enumerate(order)})


def _reshaped(reach, x, out, args, kwargs, ins) -> State:
    """view, reshape, flatten, unflatten, squeeze, unsqueeze: H and W kept when the dimensions
    before, at and after them keep their sizes (an (N, C, H, W) map flattened to tokens has none)."""
    h, w = _index(reach.dims, x.dim())
    if w != h + 1:
        return UNKNOWN
    before = math.prod(x.shape[:h])
    after = math.prod(x.shape[w + 1 :])
    for new in range(out.dim() - 1):
        if (
            math.prod(out.shape[:new]) == before
            and out.shape[new] == x.shape[h]
            and out.shape[new + 1] == x.shape[w]
            and math.prod(out.shape[new + 2 :]) == after
        ):
            return Reach(reach.branches, (new - out.dim(), new + 1 - out.dim()))
    return UNKNOWN


def _getitem(reach, x, out, args, kwargs, ins) -> State:
    """x[..., a:b:step, ...]: a crop keeps what each position sees; a step widens the jump;
    an integer at H or W, or indexing with tensors, leaves no map the tracer can follow."""
    index = args[1] if len(args) > 1 else None
    index = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (torch.Tensor, list)) or i is True or i is False for i in index):
        return UNKNOWN
    explicit = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded: list[Any] = []
    for i in index:
        expanded += [slice(None)] * (x.dim() - explicit) if i is Ellipsis else [i]
    expanded += [slice(None)] * (x.dim() - sum(1 for i in expanded if i is not None))
    h, w = _index(reach.dims, x.dim())
    mapping, steps, old, new = {}, {}, 0, 0
    for i in expanded:
        if i is None:
            new += 1
            continue
        if isinstance(i, slice):
            mapping[old], steps[old] = new, i.step or 1
            new += 1
        old += 1
    moved = _moved(reach, x, out, mapping)
    if not isinstance(moved, Reach) or (steps.get(h, 1), steps.get(w, 1)) == (1, 1):
        return moved
    return skipped(moved, (steps[h], steps[w]))


def _joined(reach, x, out, args, kwargs, ins) -> State:
    """torch.cat along channels merges what its inputs saw; along H or W, images side by side."""
    dim = int(_arg(args, kwargs, 1, "dim", 0))
    if _touches(reach, x, dim):
        return UNKNOWN
    return _pointwise(ins, out)


def _stacked(reach, x, out, args, kwargs, ins) -> State:
    state = _pointwise(ins, out)
    dim = int(_arg(args, kwargs, 1, "dim", 0)) % out.dim()
    if not isinstance(state, Reach):
        return state
    h, w = _index(state.dims, x.dim())
    if dim <= h:  # a new dimension before H: counted from the end, H and W stay where they were
        return state
    return UNKNOWN


def _expanded(reach, x, out, args, kwargs, ins) -> State:
    """A 1x1 map broadcast over H and W is a pooled value (a gate); a map tiled is not followed."""
    h, w = _index(reach.dims, x.dim())
    size_in = (x.shape[h], x.shape[w])
    size_out = (out.shape[reach.dims[0]], out.shape[reach.dims[1]])
    if size_in == size_out:
        return reach
    return GLOBAL if size_in == (1, 1) else UNKNOWN


def _reduced(name, reach, x, out, args, kwargs, ins) -> State:
    if name in ("max", "min") and len(args) > 1 and isinstance(args[1], torch.Tensor):
        return _pointwise(ins, out)  # torch.max(a, b): elementwise
    dim = _arg(args, kwargs, 1, "dim")
    if dim is None or (isinstance(dim, (tuple, list)) and not dim) or _touches(reach, x, dim):
        return GLOBAL  # pooled over H or W
    if _arg(args, kwargs, 2, "keepdim", False):
        return reach
    dims = [int(d) % x.dim() for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
    kept = [d for d in range(x.dim()) if d not in dims]
    return _moved(reach, x, out, {old: new for new, old in enumerate(kept)})


_LAYOUT = {
    "permute": _permute,
    "transpose": _transpose,
    "swapaxes": _transpose,
    "swapdims": _transpose,
    "movedim": _movedim,
    "moveaxis": _movedim,
    "view": _reshaped,
    "reshape": _reshaped,
    "view_as": _reshaped,
    "reshape_as": _reshaped,
    "flatten": _reshaped,
    "unflatten": _reshaped,
    "squeeze": _reshaped,
    "unsqueeze": _reshaped,
    "getitem": _getitem,
    "cat": _joined,
    "concat": _joined,
    "concatenate": _joined,
    "stack": _stacked,
    "expand": _expanded,
    "expand_as": _expanded,
    "broadcast_to": _expanded,
    "repeat": _expanded,
    "tile": _expanded,
}


def _unbind(reach, x, out, args, kwargs, ins) -> State:
    dim = int(_arg(args, kwargs, 1, "dim", 0)) % x.dim()
    if _touches(reach, x, dim):
        return UNKNOWN
    return _moved(reach, x, out, {old: old - (old > dim) for old in range(x.dim()) if old != dim})


_LAYOUT["unbind"] = _unbind


def unknown_unless_seen(reach: ReachOfTensors, inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
    """A module whose output came from no torch operation the tracer saw (a C++ extension):
    if its inputs came from the image, what its output sees is not known."""
    if any(isinstance(reach.of(t), Reach) for t in _tensors(inputs)):
        for tensor in _tensors(outputs):
            if reach.of(tensor) is None:
                reach.set(tensor, UNKNOWN)
