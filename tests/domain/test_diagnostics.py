"""Each diagnostic a learner can meet: where it points, what it says, what it suggests, and
that applying its fix makes the error go away."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_cnn.domain.format import layer_call
from tui_cnn.domain.layers import LAYER_TYPES
from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.spec import Diagnostic, LayerSpec, ModelSpec

conv = LayerSpec.of


def mnist(*layers: LayerSpec) -> ModelSpec:
    return ModelSpec("test", (1, 28, 28), tuple(layers))


def only_error(spec: ModelSpec) -> Diagnostic:
    errors = analyze(spec).errors
    assert len(errors) == 1, errors
    return errors[0]


def assert_fix_clears_it(spec: ModelSpec, diagnostic: Diagnostic) -> ModelSpec:
    assert diagnostic.fix is not None
    fixed = diagnostic.fix.apply(spec)
    analysis = analyze(fixed)
    assert analysis.valid, analysis.errors
    return fixed


def test_output_below_one_says_where_the_image_vanished_and_how_to_fix_it():
    block = (conv("Conv2d", out_channels=8, kernel_size=5), conv("MaxPool2d", kernel_size=2))
    spec = mnist(*block, *block, conv("Conv2d", out_channels=8, kernel_size=5))
    error = only_error(spec)
    assert (error.layer, error.field) == (4, "kernel_size")
    assert error.message == "28x28 shrinks to 0x0 at layer 4: the 5x5 window is larger than the 4x4 input it gets"
    assert error.suggestion == "reduce kernel_size to 4 or add padding"
    fixed = assert_fix_clears_it(spec, error)
    assert analyze(fixed).output_shape == (64, 8, 1, 1)


def test_output_below_one_counts_dilation_and_padding():
    spec = ModelSpec("test", (1, 4, 4), (conv("Conv2d", out_channels=2, kernel_size=5, dilation=2, padding=1),))
    error = only_error(spec)
    assert error.message == (
        "4x4 shrinks to 0x0 at layer 0: the 9x9 window (5x5 dilated) is larger than "
        "the 4x4 input it gets (6x6 with padding)"
    )
    assert_fix_clears_it(spec, error)


def test_same_padding_with_stride_suggests_the_explicit_padding():
    spec = mnist(conv("Conv2d", out_channels=8, kernel_size=3, stride=2, padding="same"))
    error = only_error(spec)
    assert (error.layer, error.field) == (0, "padding")
    assert 'padding = "same" needs stride 1' in error.message
    assert error.suggestion.startswith("use padding = 1")
    fixed = assert_fix_clears_it(spec, error)
    assert analyze(fixed).output_shape == (64, 8, 14, 14)  # halved, as "same" with stride 2 would hope


def test_pool_padding_over_half_the_kernel():
    spec = mnist(conv("MaxPool2d", kernel_size=2, padding=2))
    error = only_error(spec)
    assert error.field == "padding"
    assert error.message == "padding = 2 is more than half the 2x2 window; PyTorch allows at most 1"
    assert error.suggestion == "use padding = 1, or a larger kernel_size"
    assert_fix_clears_it(spec, error)


def test_groups_that_do_not_divide_the_channels():
    spec = mnist(conv("Conv2d", out_channels=6, kernel_size=3), conv("Conv2d", out_channels=8, kernel_size=3, groups=4))
    error = only_error(spec)
    assert (error.layer, error.field) == (1, "groups")
    assert error.message == "groups = 4 must divide both in_channels (6) and out_channels (8)"
    assert_fix_clears_it(spec, error)


def test_given_in_features_that_disagree_say_where_the_number_comes_from(simple_cnn):
    spec = simple_cnn.replace_layer(7, conv("Linear", in_features=3000, out_features=10))
    error = only_error(spec)
    assert (error.layer, error.field) == (7, "in_features")
    assert error.message == "in_features = 3000 but the incoming tensor has 3136 = 64x7x7 features"
    assert error.suggestion == "set in_features = 3136, or leave it out to infer it"
    fixed = assert_fix_clears_it(spec, error)
    assert fixed.layers[7].args["in_features"] == 3136


def test_partial_flatten_does_not_claim_the_features_are_c_x_h_x_w(simple_cnn):
    spec = simple_cnn.replace_layer(6, conv("Flatten", start_dim=2)).replace_layer(
        7, conv("Linear", in_features=50, out_features=10)
    )
    error = only_error(spec)
    assert error.message == "in_features = 50 but the incoming tensor has 49 features"


def test_given_in_channels_that_disagree():
    spec = mnist(conv("Conv2d", in_channels=3, out_channels=8, kernel_size=3))
    error = only_error(spec)
    assert error.message == "in_channels = 3 but the incoming tensor has 1 channel"
    assert_fix_clears_it(spec, error)


@pytest.mark.parametrize(("mode", "limit"), [("reflect", "smaller than"), ("circular", "at most")])
def test_padding_that_copies_pixels_must_fit_in_the_image(mode, limit):
    spec = ModelSpec("test", (1, 2, 2), (conv("Conv2d", out_channels=2, kernel_size=1, padding=3, padding_mode=mode),))
    error = only_error(spec)
    assert error.message == (
        f"{mode} padding of 3 does not fit a 2x2 input: it copies pixels from inside the "
        f"image, so it must be {limit} the image's height and width"
    )
    assert_fix_clears_it(spec, error)


def test_unknown_layer_type_asks_did_you_mean():
    spec = mnist(conv("Conv2D", out_channels=8, kernel_size=3))
    error = only_error(spec)
    assert (error.layer, error.field) == (0, "type")
    assert error.message == "unknown layer type 'Conv2D'"
    assert error.suggestion == "did you mean Conv2d?"
    assert_fix_clears_it(spec, error)


def test_unknown_layer_type_with_no_close_match_lists_the_supported_ones():
    error = only_error(mnist(conv("Transformer")))
    assert error.fix is None
    assert error.suggestion.startswith("supported: Conv2d, MaxPool2d")


def test_misspelt_argument_is_renamed_by_its_fix():
    spec = mnist(conv("Conv2d", out_channels=8, kernal_size=3))
    errors = analyze(spec).errors
    typo = next(e for e in errors if e.field == "kernal_size")
    assert typo.message == "Conv2d has no argument 'kernal_size'"
    assert typo.suggestion == "did you mean kernel_size?"
    fixed = assert_fix_clears_it(spec, typo)
    assert dict(fixed.layers[0].args) == {"out_channels": 8, "kernel_size": 3}


def test_argument_with_no_close_match_is_removed_by_its_fix():
    spec = mnist(conv("ReLU", colour="red"))
    error = only_error(spec)
    assert error.message == "ReLU has no argument 'colour' (it takes: inplace)"
    assert_fix_clears_it(spec, error)


@pytest.mark.parametrize(
    ("layer", "field", "message"),
    [
        (
            conv("Conv2d", out_channels=0, kernel_size=3),
            "out_channels",
            "out_channels must be a positive integer, got 0",
        ),
        (
            conv("Conv2d", out_channels=8.5, kernel_size=3),
            "out_channels",
            "out_channels must be a positive integer, got 8.5",
        ),
        (
            conv("Conv2d", out_channels=8, kernel_size=2.5),
            "kernel_size",
            "kernel_size must be a positive integer or a pair (h, w) of them, got 2.5",
        ),
        (
            conv("Conv2d", out_channels=8, kernel_size=(3, 0)),
            "kernel_size",
            "kernel_size must be a positive integer or a pair (h, w) of them, got [3, 0]",
        ),
        (
            conv("Conv2d", out_channels=8, kernel_size=3, stride=0),
            "stride",
            "stride must be a positive integer or a pair (h, w) of them, got 0",
        ),
        (
            conv("Conv2d", out_channels=8, kernel_size=3, padding=-1),
            "padding",
            "padding must be a non-negative integer or a pair (h, w) of them, got -1",
        ),
        (
            conv("Conv2d", in_channels=0, out_channels=8, kernel_size=3),
            "in_channels",
            "in_channels must be a positive integer, got 0",
        ),
        (
            conv("MaxPool2d", kernel_size=True),
            "kernel_size",
            "kernel_size must be a positive integer or a pair (h, w) of them, got True",
        ),
        (conv("Dropout", p=1.5), "p", "p is a probability and must lie between 0 and 1, got 1.5"),
    ],
)
def test_non_positive_and_non_integer_sizes(layer, field, message):
    spec = mnist(layer)
    error = only_error(spec)
    assert (error.layer, error.field, error.message) == (0, field, message)
    assert error.suggestion
    assert_fix_clears_it(spec, error)


def test_bad_input_shape_is_about_the_model():
    error = only_error(ModelSpec("test", (1, 0, 28), (conv("ReLU"),)))
    assert (error.layer, error.field) == (None, "input_shape")
    assert error.message == "input_shape must be three positive integers (C, H, W), got [1, 0, 28]"


def test_linear_on_an_image_is_a_warning_whose_fix_inserts_a_flatten():
    spec = mnist(conv("Conv2d", out_channels=4, kernel_size=3), conv("Linear", out_features=10))
    analysis = analyze(spec)
    assert analysis.valid  # PyTorch runs it: on the last dimension
    (warning,) = analysis.diagnostics
    assert (warning.layer, warning.severity) == (1, "warning")
    assert "nearly always a missing Flatten" in warning.message
    assert warning.suggestion == "insert a Flatten before it (in_features would then be 2704 = 4x26x26)"
    fixed = warning.fix.apply(spec)
    assert [layer.type for layer in fixed.layers] == ["Conv2d", "Flatten", "Linear"]
    assert analyze(fixed).diagnostics == ()
    assert analyze(fixed).output_shape == (64, 10)


def test_dropout2d_on_features_is_a_warning_whose_fix_changes_it_to_dropout():
    spec = mnist(conv("Flatten"), conv("Dropout2d", p=0.2))
    (warning,) = analyze(spec).diagnostics
    assert warning.severity == "warning"
    assert analyze(warning.fix.apply(spec)).diagnostics == ()


def test_layers_after_the_first_error_are_still_checked():
    spec = mnist(
        conv("Conv2d", out_channels=6, kernel_size=3, groups=4),  # error; shapes still known
        conv("MaxPool2d", kernel_size=2, padding=3),  # error; shapes still known
        conv("Maxpool2d", kernel_size=2),  # unknown type: shapes unknown from here
        conv("Linear", out_features=10, bias="yes"),  # its own argument is still checked
    )
    analysis = analyze(spec)
    assert [(d.layer, d.field) for d in analysis.errors] == [(0, "groups"), (1, "padding"), (2, "type"), (3, "bias")]
    assert analysis.layers[1].output_shape == (64, 6, 14, 14)  # padding taken as 1
    assert analysis.layers[3].output_shape is None


def test_flatten_of_a_flat_tensor_is_removed_by_its_fix():
    spec = mnist(conv("Flatten", start_dim=0), conv("Flatten"))
    error = only_error(spec)
    assert error.message == "start_dim = 1 is out of range for a 1-D tensor (50176,)"
    assert error.suggestion == "remove this Flatten: the tensor is already flat"
    assert [layer.type for layer in error.fix.apply(spec).layers] == ["Flatten"]


# --- whatever is typed, the engine answers with diagnostics, never an exception ---

_any_value = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3).map(tuple),
    max_leaves=4,
)
_field_names = sorted({f.name for t in LAYER_TYPES.values() for f in t.fields}) + ["typo", "return_indices"]
_any_layer = st.builds(
    LayerSpec,
    st.sampled_from([*LAYER_TYPES, "Conv2D", ""]),
    st.dictionaries(st.sampled_from(_field_names), _any_value, max_size=4),
)
_any_input = st.tuples(st.integers(-1, 30) | st.floats(0, 3) | st.just(True), st.integers(-1, 30), st.integers(-1, 30))


@settings(max_examples=300, deadline=None)
@given(st.lists(_any_layer, max_size=6), _any_input, st.integers(-1, 3))
@pytest.mark.slow
def test_any_input_gives_diagnostics_not_exceptions(layers, input_shape, batch_size):
    analysis = analyze(ModelSpec("fuzz", input_shape, tuple(layers)), batch_size)
    json.dumps(analysis.to_json())
    for report in analysis.layers:
        layer_call(report.type, report.args)
    for diagnostic in analysis.diagnostics:
        if diagnostic.fix is not None:
            analyze(diagnostic.fix.apply(analysis.spec))


# --- absurd figures: a broken layer counts for nothing, sizes are bounded, memory warns ---


def test_a_broken_layer_counts_for_nothing_in_the_totals():
    """in_channels = 10**6 on a 1-channel input: the layer cannot be built, so its
    parameters (once 3,999,999,999,992,000,000,000,008 with a 10**30 size) are not the model's."""
    broken = ModelSpec(
        "test",
        (1, 28, 28),
        (
            conv("Conv2d", in_channels=10**6, out_channels=8, kernel_size=3),
            conv("Flatten"),
            conv("Linear", out_features=10),
        ),
    )
    analysis = analyze(broken, batch_size=1)
    assert analysis.layers[0].has_error
    assert analysis.layers[0].params == 0 and analysis.layers[0].macs == 0
    assert analysis.totals.params == analysis.layers[2].params == 8 * 26 * 26 * 10 + 10


@pytest.mark.parametrize(
    ("field", "value"), [("out_channels", 10**30), ("kernel_size", (3, 10**30)), ("stride", 2**31)]
)
def test_sizes_beyond_what_pytorch_builds_are_errors(field, value):
    args = {"out_channels": 8, "kernel_size": 3, field: value}
    error = only_error(ModelSpec("test", (1, 28, 28), (conv("Conv2d", **args),)))
    assert error.field == field and "beyond any layer PyTorch can build" in error.message


def test_sizes_that_multiply_past_64_bits_are_errors():
    spec = ModelSpec("test", (2**31 - 1, 4, 4), (conv("Conv2d", out_channels=2**31 - 1, kernel_size=3),))
    error = only_error(spec)
    assert "more than PyTorch can count" in error.message


@pytest.mark.parametrize(
    ("type_name", "field", "value", "said"),
    [
        ("BatchNorm2d", "eps", 0.0, "must be above 0"),
        ("BatchNorm2d", "eps", -1e-5, "must be above 0"),
        ("BatchNorm2d", "eps", float("nan"), "finite"),
        ("BatchNorm2d", "momentum", float("inf"), "finite"),
        ("BatchNorm2d", "momentum", 1.5, "between 0 and 1"),
        ("LeakyReLU", "negative_slope", float("-inf"), "finite"),
    ],
)
def test_float_fields_refuse_what_breaks_training(type_name, field, value, said):
    spec = ModelSpec(
        "test", (1, 28, 28), (conv("Conv2d", out_channels=4, kernel_size=3), conv(type_name, **{field: value}))
    )
    error = only_error(spec)
    assert error.field == field and said in error.message


def test_training_memory_beyond_any_gpu_is_a_warning_not_an_error():
    from tui_cnn.domain.format import binary_bytes
    from tui_cnn.domain.shapes import TRAINING_MEMORY_WARNING_BYTES

    wide = ModelSpec(
        "test",
        (3, 224, 224),
        (
            conv("Conv2d", out_channels=4096, kernel_size=3, padding=1),
            conv("Conv2d", out_channels=4096, kernel_size=3, padding=1),
        ),
    )
    small = analyze(wide, batch_size=8)
    assert small.totals.training_bytes_mixed < TRAINING_MEMORY_WARNING_BYTES and not small.diagnostics
    big = analyze(wide, batch_size=256)
    assert big.valid and big.totals.training_bytes_mixed > TRAINING_MEMORY_WARNING_BYTES
    (warning,) = big.diagnostics
    assert (warning.layer, warning.field, warning.severity) == (None, "batch_size", "warning")
    assert binary_bytes(big.totals.training_bytes_mixed) in warning.message and "TiB" not in warning.message
