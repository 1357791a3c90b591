"""Field text as people type it, to argument values the layer catalogue accepts."""

import pytest

from tui_cnn.domain.field_values import parse_field, parse_text, show_value
from tui_cnn.domain.layers import LAYER_TYPES, ArgError
from tui_cnn.domain.spec import parse_input_shape


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3),
        (" 3 ", 3),
        ("3,5", (3, 5)),
        ("(3, 5)", (3, 5)),
        ("[3, 5]", (3, 5)),
        ("same", "same"),
        ("'valid'", "valid"),
        ("true", True),
        ("False", False),
        ("0.25", 0.25),
        ("1e-5", 1e-5),
        ("7, none", (7, None)),
    ],
)
def test_text_parses_to_values(text, value):
    assert parse_text(text) == value


def conv(name):
    return LAYER_TYPES["Conv2d"].field(name)


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("kernel_size", "3,5", (3, 5)),
        ("padding", "same", "same"),
        ("bias", "false", False),
        ("in_channels", "", None),
        ("stride", "", None),
        ("padding_mode", "reflect", "reflect"),
    ],
)
def test_a_field_keeps_what_pytorch_accepts(name, text, value):
    assert parse_field(conv(name), text) == value


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("kernel_size", "0", "positive integer"),
        ("kernel_size", "-3", "positive integer"),
        ("kernel_size", "3,4,5", "pair"),
        ("kernel_size", "", "required"),
        ("padding", "full", "'same', 'valid'"),
        ("bias", "yes", "true or false"),
        ("out_channels", "2.5", "positive integer"),
        ("groups", "1/2", "not a number"),
    ],
)
def test_a_field_rejects_with_a_message(name, text, message):
    with pytest.raises(ArgError, match=message):
        parse_field(conv(name), text)


def test_a_probability_out_of_range_is_rejected():
    with pytest.raises(ArgError, match="between 0 and 1"):
        parse_field(LAYER_TYPES["Dropout"].field("p"), "1.5")


@pytest.mark.parametrize("value", [3, (3, 5), "same", True, False, 0.5, (7, None)])
def test_shown_values_parse_back(value):
    assert parse_text(show_value(value)) == value


def test_input_shape():
    assert parse_input_shape("3x32x32") == parse_input_shape("(3, 32, 32)") == (3, 32, 32)
    for bad in ("1,28", "0,28,28", "a,b,c"):
        with pytest.raises(ArgError):
            parse_input_shape(bad)
