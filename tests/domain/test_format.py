"""How numbers, shapes and layers are written for people."""

from __future__ import annotations

import pytest

from tui_cnn.domain import format as fmt


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1K"),
        (4096, "4.1K"),
        (401_408, "401K"),
        (999_999, "1M"),
        (16_056_320, "16.1M"),
        (250_000_000, "250M"),
        (2_510_000_000, "2.51G"),
        (2.5, "2.5"),
        (4.2e15, "4.2P"),
        (4 * 10**27, "4e+27"),
    ],
)
def test_compact_keeps_three_significant_figures(n, text):
    assert fmt.compact(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (12, "12 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (802_816, "784.0 KiB"),
        (1_048_560, "1.0 MiB"),
        (2_000_000, "1.9 MiB"),
        (657 << 30, "657.0 GiB"),
        (3 << 40, "3.0 TiB"),
        (900 << 40, "900.0 TiB"),
        (5 << 50, "5.0 PiB"),
        (2 << 60, "2.0 EiB"),
        (1 << 90, "1024.0 YiB"),
    ],
)
def test_binary_bytes(n, text):
    assert fmt.binary_bytes(n) == text


def test_grouped_and_shape():
    assert fmt.grouped(50_186) == "50,186"
    assert fmt.shape((64, 32, 28, 28)) == "(64, 32, 28, 28)"
    assert fmt.shape(None) == "?"


@pytest.mark.parametrize(
    ("type_name", "args", "call"),
    [
        (
            "Conv2d",
            {"in_channels": 1, "out_channels": 32, "kernel_size": 3, "padding": 1},
            "Conv2d(1, 32, kernel_size=3, padding=1)",
        ),
        (
            "Conv2d",
            {"in_channels": 3, "out_channels": 8, "kernel_size": (3, 5), "padding": "same", "stride": 1},
            "Conv2d(3, 8, kernel_size=(3, 5), padding='same')",
        ),
        ("MaxPool2d", {"kernel_size": (2, 2)}, "MaxPool2d(kernel_size=2)"),
        ("Dropout", {}, "Dropout(p=0.5)"),
        ("Linear", {"in_features": 3136, "out_features": 10, "bias": False}, "Linear(3136, 10, bias=False)"),
        ("Dense", {"units": 10}, "Dense(units=10)"),
    ],
)
def test_layer_call_reads_like_pytorch(type_name, args, call):
    assert fmt.layer_call(type_name, args) == call


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name-1.2", "plain name-1.2"),
        ("Ünïcödé 模型 🙂", "Ünïcödé 模型 🙂"),
        ("a\x1b]0;title\x07b", r"a\x1b]0;title\x07b"),
        ("nul\x00", r"nul\x00"),
        ("del\x7f", r"del\x7f"),
        ("c1 csi\x9b2J", r"c1 csi\x9b2J"),
        ("\u202eevil", r"\u202eevil"),
        ("\u2066iso\u2069", r"\u2066iso\u2069"),
        ("two\nlines\ttab\r", r"two\nlines\ttab\r"),
    ],
)
def test_printable_shows_control_characters_as_python_escapes_and_leaves_the_rest(text, shown):
    assert fmt.printable(text) == shown
    assert not fmt.has_controls(fmt.printable(text))


def test_printable_lines_keeps_newlines_and_without_controls_drops_the_rest():
    assert fmt.printable_lines("line \x1b[2J\nnext\u202e") == "line \\x1b[2J\nnext\\u202e"
    assert fmt.without_controls("a\x1b]0;t\x07b\u202e\x00c") == "a]0;tbc"
    assert fmt.has_controls("x\x85") and not fmt.has_controls("x\u00a0y")


def test_every_c0_c1_del_and_bidi_control_is_escaped():
    controls = [
        *map(chr, range(0x20)),
        "\x7f",
        *map(chr, range(0x80, 0xA0)),
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
    ]
    assert all(fmt.printable(char) != char and fmt.printable(char).startswith("\\") for char in controls)


def test_an_unknown_layer_type_or_argument_name_from_a_file_is_printable():
    assert fmt.layer_call("Evil\x1b]0;x\x07", {"k\x1b": "v\x1b"}) == r"Evil\x1b]0;x\x07(k\x1b='v\x1b')"


def test_a_count_of_one_is_singular():
    """The monitor's log said "1 epochs", the continue dialog "of 1 epochs"."""
    from tui_cnn.domain.format import count
    from tui_cnn.domain.run_list import parse_epochs_total
    from tui_cnn.domain.settings import SettingError

    assert [count(n, "epoch") for n in (0, 1, 2, 1000)] == ["0 epochs", "1 epoch", "2 epochs", "1,000 epochs"]
    with pytest.raises(SettingError, match="it has trained 1 epoch: continue to more than 1"):
        parse_epochs_total("1", 1)


def test_a_percentage_and_its_unknown():
    assert fmt.percent(0.375) == "37.50%" and fmt.percent(0.375, 1) == "37.5%"
    assert fmt.percent(None) == fmt.percent(float("nan")) == "" and fmt.percent(None, unknown="--") == "--"
