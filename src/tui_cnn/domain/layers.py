"""The catalogue of supported layers: their constructor arguments, PyTorch's defaults,
and how each argument's value is checked and normalised.

Pure Python: the builder, the CLI and the shape engine read this without importing torch.
A layer's ``type`` is the PyTorch class name and its fields are that class's constructor
arguments, so a spec reads like the PyTorch code it stands for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

Pair = tuple[int, int]


class ArgError(ValueError):
    """An argument value PyTorch would reject; ``suggestion`` says what would work."""

    def __init__(self, message: str, suggestion: str | None = None):
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


#: The largest size (channels, features, kernel, stride, padding...) a layer may have.
#: PyTorch keeps sizes in 64-bit integers and multiplies them together (a weight of
#: out_channels x in_channels x kh x kw values): 10**30 channels overflowed inside torch.
#: 2**31 - 1 is also what cuDNN's and many CPU kernels' 32-bit indexing take, and millions
#: of times any real layer, so a size above it is a typo, said here before torch sees it.
MAX_SIZE = 2**31 - 1


def _too_large(name: str, value: Any) -> ArgError:
    return ArgError(
        f"{name} = {value:.3g} is beyond any layer PyTorch can build (sizes go up to {MAX_SIZE:,})",
        f"use e.g. {name} = 1",
    )


# --- value parsers: each takes the raw value and the field name, returns it normalised ---


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_pair(value: Any, name: str, minimum: int, what: str) -> Pair:
    if type(value) is int and minimum <= value <= MAX_SIZE:  # the common case, first: this runs per keystroke
        return (value, value)
    items = (value, value) if _is_int(value) else value
    if isinstance(items, (tuple, list)) and len(items) == 2 and all(_is_int(v) for v in items):
        if any(v > MAX_SIZE for v in items):
            raise _too_large(name, max(items))
        if all(v >= minimum for v in items):
            return (items[0], items[1])
    shown = list(value) if isinstance(value, tuple) else value
    raise ArgError(
        f"{name} must be {what} or a pair (h, w) of them, got {shown!r}",
        f"use e.g. {name} = {max(minimum, 1)}",
    )


def positive_int(value: Any, name: str) -> int:
    if _is_int(value) and 1 <= value <= MAX_SIZE:
        return value
    if _is_int(value) and value > MAX_SIZE:
        raise _too_large(name, value)
    raise ArgError(f"{name} must be a positive integer, got {value!r}", f"use e.g. {name} = 1")


def positive_pair(value: Any, name: str) -> Pair:
    return _as_pair(value, name, 1, "a positive integer")


def non_negative_pair(value: Any, name: str) -> Pair:
    return _as_pair(value, name, 0, "a non-negative integer")


def conv_padding(value: Any, name: str) -> Pair | str:
    if value in ("same", "valid"):
        return value
    if isinstance(value, str):
        raise ArgError(
            f"padding must be 'same', 'valid', an integer or a pair, got {value!r}",
            'use padding = "same" to keep H and W, or an integer such as 1',
        )
    return _as_pair(value, name, 0, "a non-negative integer")


def optional_stride(value: Any, name: str) -> Pair | None:
    return None if value is None else positive_pair(value, name)


def output_size(value: Any, name: str) -> tuple[int | None, int | None]:
    items = (value, value) if (_is_int(value) or value is None) else value
    if isinstance(items, (tuple, list)) and len(items) == 2:
        if any(_is_int(v) and v > MAX_SIZE for v in items):
            raise _too_large(name, max(v for v in items if _is_int(v)))
        if all(v is None or (_is_int(v) and v >= 1) for v in items):
            return (items[0], items[1])
    raise ArgError(
        f"{name} must be a positive integer or a pair (h, w) of them, got {value!r}",
        f"use e.g. {name} = 1 for global pooling",
    )


def boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ArgError(f"{name} must be true or false, got {value!r}")


def number(value: Any, name: str) -> float:
    """A finite number: nan or inf in a layer turns every value it touches into nan."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) or math.isfinite(value):
            return value
        raise ArgError(
            f"{name} must be a finite number, got {value!r}: it would make every output nan",
            f"use a finite number, or leave {name} out for PyTorch's default",
        )
    raise ArgError(f"{name} must be a number, got {value!r}")


def positive_number(value: Any, name: str) -> float:
    """BatchNorm's eps: it divides by sqrt(variance + eps). PyTorch builds the layer with
    eps = 0 but its first training batch raises "batch_norm eps must be positive during
    training" (torch 2.14), so say it here, before a run starts."""
    eps = number(value, name)
    if eps > 0:
        return eps
    raise ArgError(
        f"{name} must be above 0, got {value!r}: it is added to the variance before dividing by its "
        "square root, and PyTorch refuses to train with it",
        f"use {name} = 1e-05 (PyTorch's default)",
    )


def fraction(value: Any, name: str) -> float:
    """BatchNorm's momentum: how much of each batch's statistics the running ones take in."""
    m = number(value, name)
    if 0 <= m <= 1:
        return m
    raise ArgError(
        f"{name} is the share of each batch in the running statistics and must lie between 0 and 1, got {value!r}",
        f"use {name} = 0.1 (PyTorch's default)",
    )


def probability(value: Any, name: str) -> float:
    p = value if isinstance(value, float) and math.isnan(value) else number(value, name)
    if 0 <= p <= 1:
        return p
    raise ArgError(
        f"{name} is a probability and must lie between 0 and 1, got {value!r}",
        f"use e.g. {name} = 0.5",
    )


def integer(value: Any, name: str) -> int:
    if _is_int(value):
        return value
    raise ArgError(f"{name} must be an integer, got {value!r}")


def optional_nonzero_int(value: Any, name: str) -> int | None:
    if _is_int(value) and abs(value) > MAX_SIZE:
        raise _too_large(name, value)
    if value is None or (_is_int(value) and value != 0):
        return value
    raise ArgError(f"{name} must be a non-zero integer or left out, got {value!r}")


def choice(*options: str) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str) -> str:
        if value in options:
            return value
        listed = ", ".join(repr(o) for o in options)
        raise ArgError(f"{name} must be one of {listed}, got {value!r}", f"use {name} = {options[0]!r}")

    return parse


# --- the catalogue ---


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    parse: Callable[[Any, str], Any]
    default: Any = None
    required: bool = False
    inferred: bool = False  # in_channels & co: taken from the incoming tensor unless given
    help: str = ""


WeightLayout = Literal["", "filters", "dense", "per channel"]


@dataclass(frozen=True, slots=True)
class LayerType:
    """One layer type, and what it does as facts the code asks for (never its name): the
    explanations, the inspector, the export and the builder read these."""

    name: str
    category: str  # conv | pool | norm | activation | dropout | reshape | linear
    fields: tuple[Field, ...]
    positional: tuple[str, ...] = ()  # printed without keyword, as people write them
    always_shown: tuple[str, ...] = ()  # printed even when equal to the default
    summary: str = ""  # what it does, in a line: the builder's picker and the formula panel show it
    #: What a new layer starts with in the builder: PyTorch's required arguments, set to the
    #: usual choice (an argument in ``widens`` follows its neighbours instead: domain/starters.py).
    starter_args: tuple[tuple[str, Any], ...] = ()
    #: How its learned weights are laid out: "filters" (out, in/groups, kh, kw) slid over the
    #: image, drawn by the inspector; "dense" (out, in), every input to every output; "per channel"
    #: a scale and a shift per channel; "" for no weights. The parameter formulas follow it.
    weights: WeightLayout = ""
    #: What each pooling window keeps; "" for a layer that does not pool.
    pools: Literal["", "max", "average"] = ""
    #: Its windows are sized from the input to give output_size: they vary in size, so no one
    #: window formula describes them (nor the receptive field's growth, nor a window's winner).
    adaptive: bool = False
    #: Turns each sample into one vector: the classifier starts at the first such layer (the
    #: model's ``features`` and ``classifier`` parts) and nothing after it slides windows.
    flattens: bool = False
    #: The argument a new layer takes from its neighbours rather than from starter_args: twice
    #: the last one of its type before it (how CNNs widen), inside a block the incoming channels.
    widens: str = ""
    #: What its backward pass needs kept from the forward pass (PyTorch's derivative formulas),
    #: so what training holds for it until the backward pass reaches it: its "input" (conv,
    #: Linear, pools, BatchNorm, GELU, SiLU, LeakyReLU), its "output" (ReLU, Sigmoid, Tanh), a
    #: "mask" of its input's size (Dropout), or nothing (Flatten, a view; Dropout2d's mask is a
    #: value a channel). Max pooling keeps its argmax indices besides (``pools``).
    keeps: Literal["", "input", "output", "mask"] = ""
    #: Computes in bfloat16 under autocast (a GPU's mixed precision): it keeps a bfloat16 copy
    #: of a float32 input, and what comes out is bfloat16.
    autocasts: bool = False

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _inplace() -> Field:
    return Field("inplace", boolean, False, help="overwrite the input (saves memory)")


def _activation(name: str, summary: str, keeps: Literal["input", "output"], *extra: Field) -> LayerType:
    return LayerType(name, "activation", extra, summary=summary, keeps=keeps)


_KERNEL = Field("kernel_size", positive_pair, required=True, help="window size (h, w)")

LAYER_TYPES: dict[str, LayerType] = {
    t.name: t
    for t in (
        LayerType(
            "Conv2d",
            "conv",
            (
                Field("in_channels", positive_int, inferred=True, help="channels coming in"),
                Field("out_channels", positive_int, required=True, help="number of filters"),
                _KERNEL,
                Field("stride", positive_pair, 1, help="step between windows"),
                Field("padding", conv_padding, 0, help="zeros added on each side, or 'same'/'valid'"),
                Field("dilation", positive_pair, 1, help="spacing between kernel taps"),
                Field("groups", positive_int, 1, help="split channels into independent groups"),
                Field("bias", boolean, True, help="add a learned bias per filter"),
                Field(
                    "padding_mode",
                    choice("zeros", "reflect", "replicate", "circular"),
                    "zeros",
                    help="what the padding is filled with",
                ),
            ),
            positional=("in_channels", "out_channels"),
            always_shown=("kernel_size",),
            summary="slides out_channels learned filters over the image",
            starter_args=(("kernel_size", 3), ("padding", 1)),
            weights="filters",
            widens="out_channels",
            keeps="input",
            autocasts=True,
        ),
        LayerType(
            "MaxPool2d",
            "pool",
            (
                _KERNEL,
                Field("stride", optional_stride, None, help="defaults to kernel_size"),
                Field("padding", non_negative_pair, 0, help="at most half the kernel"),
                Field("dilation", positive_pair, 1),
                Field("ceil_mode", boolean, False, help="round the output size up"),
            ),
            always_shown=("kernel_size",),
            summary="keeps the largest value of each window",
            starter_args=(("kernel_size", 2),),
            pools="max",
            keeps="input",
        ),
        LayerType(
            "AvgPool2d",
            "pool",
            (
                _KERNEL,
                Field("stride", optional_stride, None, help="defaults to kernel_size"),
                Field("padding", non_negative_pair, 0, help="at most half the kernel"),
                Field("ceil_mode", boolean, False, help="round the output size up"),
                Field("count_include_pad", boolean, True, help="average over padding zeros too"),
                Field("divisor_override", optional_nonzero_int, None),
            ),
            always_shown=("kernel_size",),
            summary="averages each window",
            starter_args=(("kernel_size", 2),),
            pools="average",
            keeps="input",
        ),
        LayerType(
            "AdaptiveAvgPool2d",
            "pool",
            (Field("output_size", output_size, required=True, help="target (h, w)"),),
            always_shown=("output_size",),
            summary="averages into a fixed output size, whatever comes in",
            starter_args=(("output_size", 1),),
            pools="average",
            adaptive=True,
            keeps="input",  # but nothing for output_size 1: PyTorch takes the mean (training_memory.py)
        ),
        LayerType(
            "AdaptiveMaxPool2d",
            "pool",
            (Field("output_size", output_size, required=True, help="target (h, w)"),),
            always_shown=("output_size",),
            summary="max-pools into a fixed output size, whatever comes in",
            starter_args=(("output_size", 1),),
            pools="max",
            adaptive=True,
            keeps="input",
        ),
        LayerType(
            "BatchNorm2d",
            "norm",
            (
                Field("num_features", positive_int, inferred=True, help="channels coming in"),
                Field("eps", positive_number, 1e-5, help="added to the variance before dividing"),
                Field("momentum", fraction, 0.1, help="share of each batch in the running statistics"),
                Field("affine", boolean, True, help="learn a scale and shift per channel"),
                Field("track_running_stats", boolean, True),
            ),
            positional=("num_features",),
            summary="normalises each channel over the batch",
            weights="per channel",
            keeps="input",
        ),
        LayerType(
            "Dropout",
            "dropout",
            (Field("p", probability, 0.5, help="probability of zeroing a value"), _inplace()),
            always_shown=("p",),
            summary="zeroes random values while training",
            starter_args=(("p", 0.5),),
            keeps="mask",
        ),
        LayerType(
            "Dropout2d",
            "dropout",
            (Field("p", probability, 0.5, help="probability of zeroing a channel"), _inplace()),
            always_shown=("p",),
            summary="zeroes whole random channels while training",
            starter_args=(("p", 0.5),),
        ),
        LayerType(
            "Flatten",
            "reshape",
            (Field("start_dim", integer, 1), Field("end_dim", integer, -1)),
            summary="turns (N, C, H, W) into (N, C*H*W) for the classifier",
            flattens=True,
        ),
        LayerType(
            "Linear",
            "linear",
            (
                Field("in_features", positive_int, inferred=True, help="features coming in"),
                Field("out_features", positive_int, required=True, help="outputs (classes)"),
                Field("bias", boolean, True),
            ),
            positional=("in_features", "out_features"),
            summary="fully connected: every input to every output",
            starter_args=(("out_features", 10),),
            weights="dense",
            keeps="input",
            autocasts=True,
        ),
        _activation("ReLU", "max(0, x)", "output", _inplace()),
        _activation(
            "LeakyReLU",
            "x if x > 0 else negative_slope * x",
            "input",
            Field("negative_slope", number, 0.01),
            _inplace(),
        ),
        _activation(
            "GELU", "x * P(X <= x), smooth ReLU", "input", Field("approximate", choice("none", "tanh"), "none")
        ),
        _activation("SiLU", "x * sigmoid(x)", "input", _inplace()),
        _activation("Sigmoid", "1 / (1 + exp(-x))", "output"),
        _activation("Tanh", "tanh(x)", "output"),
    )
}

#: What a type the catalogue does not hold (a tracked module's own class, a functional op)
#: is known to do: nothing, so every question about it answers no.
_UNLISTED = LayerType("", "", ())


def layer_type(name: str) -> LayerType:
    """The catalogue's entry for ``name``, or one with no facts for a name it does not hold."""
    return LAYER_TYPES.get(name, _UNLISTED)


#: Arguments PyTorch accepts but a Sequential classifier cannot use (the output becomes a tuple).
UNSUPPORTED_ARGS = {"return_indices": "it makes the layer return a tuple, which a Sequential cannot pass on"}
