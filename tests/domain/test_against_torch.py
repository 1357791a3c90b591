"""The shape engine against real PyTorch: random layer stacks, valid and invalid, run layer by
layer through real ``torch.nn`` modules on small CPU tensors.

For every layer up to the first one PyTorch rejects, the engine must agree on the output
shape, the parameter and buffer counts, and that nothing is wrong; at the layer PyTorch
rejects (construction or forward), the engine must report an error. Where PyTorch only warns,
the engine warns. A sample of valid stacks also checks MACs against torchinfo.

CPU rather than the meta device: meta raised the same errors in every case sampled (reflect
and circular padding sizes, windows larger than the input, channel mismatches), but real
tensors this small cost microseconds and leave no doubt about the forward pass.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pytest
import torch
import torchinfo
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from tui_cnn.domain.layers import LAYER_TYPES
from tui_cnn.domain.shapes import Analysis, analyze
from tui_cnn.domain.spec import Fix, LayerSpec, ModelSpec

pytestmark = pytest.mark.torch  # runs torch: outside the quick domain tier (-m "not torch")

# --- what PyTorch does, layer by layer ---

#: PyTorch warnings that are about speed or initialisation, not about the model being wrong.
_HARMLESS_WARNINGS = ("even kernel lengths and odd dilation", "zero-element tensors")
#: BatchNorm2d's batch statistics of a single value: a failure of the batch size, not of the
#: model (batch 64 works), so the engine warns. The layer's output shape is its input's.
_ONE_VALUE_PER_CHANNEL = "Expected more than 1 value per channel when training"
#: Image layers PyTorch also runs on a 3-D tensor, as ONE unbatched image whose channels are
#: the batch.
_UNBATCHED_IMAGE_LAYERS = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}


def _nonsense_torch_accepts(layer: LayerSpec, x: torch.Tensor) -> str | None:
    """Where PyTorch runs without complaint but the result is nonsense, the engine is stricter
    on purpose; the reason, or None."""
    if layer.type in _UNBATCHED_IMAGE_LAYERS and x.dim() == 3:
        return "a 3-D tensor taken as one unbatched image: in a CNN, a misplaced Flatten"
    if layer.type == "AdaptiveAvgPool2d" and x.dim() == 2:
        return "output_size = 1 on (N, F) averages over the batch too (a shortcut that skips the check)"
    padding = layer.args.get("padding", 0)
    negative = padding < 0 if isinstance(padding, int) else isinstance(padding, tuple) and min(padding) < 0
    if layer.type == "Conv2d" and negative and layer.args.get("padding_mode", "zeros") != "zeros":
        return "negative padding, which F.pad turns into cropping"
    return None


@dataclass
class TorchStep:
    """One layer as PyTorch ran it; ``error`` set means PyTorch raised there (and stopped)."""

    output_shape: tuple[int, ...] | None = None
    params: int = 0
    buffers: int = 0
    error: str | None = None
    warned: bool = False
    one_value_per_channel: bool = False
    nonsense_accepted: str | None = None  # see _nonsense_torch_accepts


def _inferred_args(layer: LayerSpec, x: torch.Tensor) -> dict:
    """What a PyTorch user would type: the given arguments, plus in_channels & co read off
    the tensor that actually arrives (like nn.LazyConv2d does)."""
    args = dict(layer.args)
    if layer.type == "Conv2d" and "in_channels" not in args:
        args["in_channels"] = x.shape[-3] if x.dim() in (3, 4) else 1
    elif layer.type == "BatchNorm2d" and "num_features" not in args:
        args["num_features"] = x.shape[1] if x.dim() >= 2 else 1
    elif layer.type == "Linear" and "in_features" not in args:
        args["in_features"] = x.shape[-1]
    return args


def _forward_with_a_larger_batch(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Any other error the layer has, with two values per channel to compute statistics of."""
    return module(torch.cat([x, x]))[: len(x)]


def _run_layer(layer: LayerSpec, x: torch.Tensor) -> tuple[TorchStep, torch.Tensor | None]:
    step = TorchStep(nonsense_accepted=_nonsense_torch_accepts(layer, x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            module = getattr(nn, layer.type)(**_inferred_args(layer, x))
            step.params = sum(p.numel() for p in module.parameters())
            step.buffers = sum(b.numel() for b in module.buffers())
            try:
                y = module.train()(x)
            except ValueError as exc:
                if _ONE_VALUE_PER_CHANNEL not in str(exc):
                    raise
                step.one_value_per_channel = True
                y = _forward_with_a_larger_batch(module, x)
        except Exception as exc:  # noqa: BLE001 - any exception is PyTorch saying no
            step.error = f"{type(exc).__name__}: {exc}"
            return step, None
    step.warned = any(not any(h in str(w.message) for h in _HARMLESS_WARNINGS) for w in caught)
    step.output_shape = tuple(y.shape)
    return step, y


def run_in_torch(spec: ModelSpec, batch_size: int) -> list[TorchStep]:
    """Every layer up to and including the first one PyTorch rejects."""
    x = torch.randn(batch_size, *spec.input_shape)
    steps = []
    for layer in spec.layers:
        step, x = _run_layer(layer, x)
        steps.append(step)
        if x is None:
            break
    return steps


def assert_engine_agrees(analysis: Analysis, steps: list[TorchStep]) -> None:
    for report, step in zip(analysis.layers, steps):
        where = (
            f"layer {report.index} {report.type}{dict(analysis.spec.layers[report.index].args)} "
            f"on {report.input_shape}: torch {step}, engine {report.diagnostics}"
        )
        if step.error is not None or step.nonsense_accepted:
            assert report.has_error, where
            return
        assert not report.has_error, where
        assert report.output_shape == step.output_shape, where
        assert report.params == report.trainable_params == step.params, where
        assert report.buffers == step.buffers, where
        if step.warned or step.one_value_per_channel:
            assert report.has_warning, where
    assert analysis.valid, f"torch ran every layer, engine says {analysis.errors}"


# --- random stacks: mostly sensible values, now and then one PyTorch rejects ---


def _sometimes(usual: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """``usual`` seven times in eight, ``odd`` otherwise."""
    return st.integers(0, 7).flatmap(lambda roll: odd if roll == 0 else usual)


def _int_or_pair(low: int, high: int) -> st.SearchStrategy:
    one = st.integers(low, high)
    return st.one_of(one, one, st.tuples(one, one))


def _kernel(high: int = 5) -> st.SearchStrategy:
    return _sometimes(_int_or_pair(1, high), st.sampled_from([0, (2, 0), (1, 2, 3)]))


def _stride() -> st.SearchStrategy:
    return _sometimes(_int_or_pair(1, 3), st.sampled_from([0, (0, 1)]))


def _padding(high: int) -> st.SearchStrategy:
    return _sometimes(_int_or_pair(0, high), st.sampled_from([-1, (1, -1)]))


def _dilation() -> st.SearchStrategy:
    return _sometimes(_int_or_pair(1, 3), st.just(0))


def _optional(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """A dict holding each field with probability 1/3."""
    chosen = {name: st.one_of(st.none(), st.none(), strategy) for name, strategy in fields.items()}
    return st.fixed_dictionaries(chosen).map(lambda d: {k: v for k, v in d.items() if v is not None})


def _layer(type_name: str, required: dict, **optional: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.fixed_dictionaries(required), _optional(**optional)).map(
        lambda parts: LayerSpec.of(type_name, **parts[0], **parts[1])
    )


_channels = _sometimes(st.integers(1, 6), st.just(0))
_probability = _sometimes(st.floats(0, 1), st.sampled_from([-0.1, 1.5]))

conv2d = _layer(
    "Conv2d",
    {"out_channels": _channels, "kernel_size": _kernel()},
    in_channels=st.integers(1, 6),
    stride=_stride(),
    padding=st.one_of(_padding(3), st.sampled_from(["same", "valid", "full"])),
    dilation=_dilation(),
    groups=_sometimes(st.integers(1, 3), st.just(0)),
    bias=st.booleans(),
    padding_mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
)
max_pool = _layer(
    "MaxPool2d",
    {"kernel_size": _kernel(4)},
    stride=_stride(),
    padding=_padding(2),
    dilation=_dilation(),
    ceil_mode=st.booleans(),
)
avg_pool = _layer(
    "AvgPool2d",
    {"kernel_size": _kernel(4)},
    stride=_stride(),
    padding=_padding(2),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    divisor_override=st.sampled_from([1, 3, -1, 0]),
)
_output_size = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4) | st.none(), st.integers(1, 4)))
adaptive_pool = st.sampled_from(["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]).flatmap(
    lambda name: _layer(name, {"output_size": _output_size})
)
batch_norm = _layer(
    "BatchNorm2d", {}, num_features=st.integers(1, 6), affine=st.booleans(), track_running_stats=st.booleans()
)
dropout = st.sampled_from(["Dropout", "Dropout2d"]).flatmap(lambda name: _layer(name, {}, p=_probability))
flatten = _layer("Flatten", {}, start_dim=st.integers(-3, 3), end_dim=st.integers(-4, 2))
linear = _layer(
    "Linear",
    {"out_features": st.integers(1, 10)},
    in_features=st.integers(1, 600),
    bias=st.booleans(),
)
activation = st.one_of(
    st.sampled_from(["ReLU", "SiLU", "Sigmoid", "Tanh"]).map(LayerSpec.of),
    _layer("LeakyReLU", {}, negative_slope=st.floats(-1, 1)),
    _layer("GELU", {}, approximate=st.sampled_from(["none", "tanh", "exact"])),
)
mistyped = st.one_of(
    st.sampled_from(["Conv2D", "Dense", "Maxpool2d"]).map(lambda name: LayerSpec.of(name, kernel_size=3)),
    st.sampled_from(["kernal_size", "strides", "in_channel"]).map(
        lambda typo: LayerSpec.of("MaxPool2d", kernel_size=2, **{typo: 1})
    ),
)
any_layer = st.one_of(
    conv2d,
    conv2d,
    max_pool,
    avg_pool,
    adaptive_pool,
    batch_norm,
    dropout,
    flatten,
    linear,
    linear,
    activation,
    mistyped,
)
# A CNN-shaped stack: image layers, then maybe Flatten and a classifier.
image_layer = st.one_of(conv2d, conv2d, max_pool, avg_pool, batch_norm, activation, adaptive_pool)
cnn_stack = st.tuples(
    st.lists(image_layer, min_size=1, max_size=5),
    st.lists(st.one_of(linear, activation, dropout), max_size=3),
).map(lambda parts: parts[0] + [LayerSpec.of("Flatten")] + parts[1])
stacks = st.one_of(cnn_stack, cnn_stack, st.lists(any_layer, min_size=1, max_size=6))
input_shapes = st.tuples(st.integers(1, 4), st.integers(1, 24), st.integers(1, 24))
batch_sizes = st.integers(1, 2)


def _spec(layers: list[LayerSpec], input_shape: tuple[int, int, int]) -> ModelSpec:
    return ModelSpec("random", input_shape, tuple(layers))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks, input_shapes, batch_sizes)
@pytest.mark.slow
def test_every_layer_agrees_with_torch(layers, input_shape, batch_size):
    spec = _spec(layers, input_shape)
    analysis = analyze(spec, batch_size)
    assert_engine_agrees(analysis, run_in_torch(spec, batch_size))


@pytest.mark.slow
def test_random_stacks_cover_valid_and_invalid_models():
    """The property test's stacks exercise both verdicts, in numbers: drawn as it draws them
    and judged by the engine alone (no torch), so this holds on its own, on any xdist worker."""
    outcomes = {"valid": 0, "invalid": 0}

    @settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stacks, input_shapes, batch_sizes)
    def judge(layers, input_shape, batch_size):
        outcomes["valid" if analyze(_spec(layers, input_shape), batch_size).valid else "invalid"] += 1

    judge()
    assert outcomes["valid"] >= 50 and outcomes["invalid"] >= 50, outcomes


@pytest.mark.filterwarnings("ignore::UserWarning")  # Dropout2d on (N, F), as the engine warns
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(cnn_stack, input_shapes)
@pytest.mark.slow
def test_macs_match_torchinfo(layers, input_shape):
    analysis = analyze(_spec(layers, input_shape), batch_size=2)  # BatchNorm2d needs 2 values
    assume(analysis.valid)  # torchinfo only summarises models that run
    model = nn.Sequential(*(getattr(nn, r.type)(**r.args) for r in analysis.layers))
    summary = torchinfo.summary(model, input_size=analysis.input_shape, verbose=0, mode="eval")
    assert analysis.totals.macs == summary.total_mult_adds
    assert analysis.totals.params == summary.total_params


def test_every_catalogued_layer_is_generated():
    generated = {
        "Conv2d",
        "MaxPool2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "AdaptiveMaxPool2d",
        "BatchNorm2d",
        "Dropout",
        "Dropout2d",
        "Flatten",
        "Linear",
        "ReLU",
        "LeakyReLU",
        "GELU",
        "SiLU",
        "Sigmoid",
        "Tanh",
    }
    assert generated == set(LAYER_TYPES)


# --- receptive field: the input pixels one output pixel's gradient reaches ---

_rf_conv = _layer(
    "Conv2d",
    {"out_channels": st.just(1), "kernel_size": _int_or_pair(1, 4)},
    stride=_int_or_pair(1, 2),
    dilation=_int_or_pair(1, 2),
    padding=_int_or_pair(0, 1),
)
_rf_pool = _layer("AvgPool2d", {"kernel_size": _int_or_pair(1, 3)}, stride=_int_or_pair(1, 2))


def _reach(model: nn.Module, size: int) -> tuple[int, int]:
    """Height and width of the input region that the centre output pixel depends on."""
    x = torch.ones(1, 1, size, size, requires_grad=True)
    y = model(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = x.grad[0, 0].nonzero(as_tuple=True)
    assume(rows.min() > 0 and cols.min() > 0 and rows.max() < size - 1 and cols.max() < size - 1)  # uncut
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_rf_conv, _rf_pool, st.just(LayerSpec.of("ReLU"))), min_size=1, max_size=4))
@pytest.mark.slow
def test_receptive_field_is_what_the_gradient_reaches(layers):
    size = 64
    analysis = analyze(_spec(layers, (1, size, size)), batch_size=1)
    assume(analysis.valid)
    model = nn.Sequential(*(getattr(nn, r.type)(**r.args) for r in analysis.layers))
    for module in model.modules():  # positive weights: every tap in the window counts
        if isinstance(module, nn.Conv2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    assert _reach(model, size) == analysis.layers[-1].receptive_field


# --- every fix the engine offers applies and removes what it was offered for ---


def _index_after(fix: Fix, index: int | None) -> int | None:
    """Where a layer is after the fix: inserting before it moves it down one, removing one
    before it moves it up."""
    if index is not None and fix.insert_before is not None and index >= fix.layer:
        return index + 1
    if index is not None and fix.remove_layer and index > fix.layer:
        return index - 1
    return index


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks, input_shapes)
@pytest.mark.slow
def test_every_offered_fix_removes_its_own_diagnostic(layers, input_shape):
    spec = _spec(layers, input_shape)
    for diagnostic in analyze(spec).diagnostics:
        if diagnostic.fix is None:
            continue
        after = analyze(diagnostic.fix.apply(spec)).diagnostics
        if diagnostic.fix.remove_layer and diagnostic.layer == diagnostic.fix.layer:
            continue  # the layer and all it said are gone
        where = (_index_after(diagnostic.fix, diagnostic.layer), diagnostic.field, diagnostic.message)
        left = [d for d in after if (d.layer, d.field, d.message) == where]
        assert not left, f"{diagnostic.fix} left {left}"
