"""``tui-cnn shapes`` and ``tui-cnn presets`` as a user or a script calls them: exit codes,
the JSON contract, the table at 80 columns, one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tui_cnn.cli import main

BROKEN_MODEL = """
[model]
name = "Broken"
input_shape = [1, 28, 28]

[[layers]]
type = "Conv2d"
out_channels = 8
kernel_size = 3
stride = 2
padding = "same"

[[layers]]
type = "MaxPool2d"
kernel_size = 2
padding = 2
"""


def run(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "80"})


def test_shapes_prints_the_table_and_totals_within_80_columns():
    result = run("shapes", "simplecnn")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("SimpleCNN  input (64, 1, 28, 28)")
    assert all(len(line) <= 80 for line in lines)
    first_conv = next(line for line in lines if line.startswith("0 "))
    assert first_conv.split() == [
        "0",
        "Conv2d(1,",
        "32,",
        "kernel_size=3,",
        "padding=1)",
        "(64,",
        "32,",
        "28,",
        "28)",
        "320",
        "16.1M",
        "3",
    ]
    assert any(line.startswith("7  Linear(3136, 10)") for line in lines)
    assert "Parameters              50,186" in result.output


def test_long_layer_calls_are_cut_short_not_wrapped():
    result = run("shapes", "vggsmall")
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line[:2].strip().isdigit()]
    assert len(rows) == 27  # one line a layer
    assert any("…" in row for row in rows)


def test_a_wide_terminal_also_shows_input_shapes():
    result = CliRunner().invoke(main, ["shapes", "simplecnn"], env={"COLUMNS": "140"})
    header = next(line for line in result.output.splitlines() if "Layer" in line)
    assert header.split() == ["#", "Layer", "Input", "shape", "Output", "shape", "Params", "MACs", "Act.", "mem", "RF"]


def test_json_follows_the_contract():
    result = run("shapes", "SimpleCNN", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"model", "valid", "input_shape", "layers", "totals", "diagnostics"} <= data.keys()
    assert (data["model"], data["valid"], data["input_shape"]) == ("SimpleCNN", True, [64, 1, 28, 28])
    first = data["layers"][0]
    assert {
        "index",
        "type",
        "input_shape",
        "output_shape",
        "params",
        "trainable_params",
        "macs",
        "activation_bytes",
        "receptive_field",
        "jump",
    } <= first.keys()
    assert first == first | {
        "index": 0,
        "type": "Conv2d",
        "input_shape": [64, 1, 28, 28],
        "output_shape": [64, 32, 28, 28],
        "params": 320,
        "trainable_params": 320,
        "macs": 16_056_320,
        "activation_bytes": 64 * 32 * 28 * 28 * 4,
        "receptive_field": 3,
        "jump": 1,
    }
    assert data["layers"][-1]["output_shape"] == [64, 10]
    assert {"params", "trainable_params", "macs"} <= data["totals"].keys()
    assert data["totals"]["params"] == data["totals"]["trainable_params"] == 50_186
    assert data["totals"]["macs"] == sum(layer["macs"] for layer in data["layers"])
    assert data["diagnostics"] == []


def test_invalid_model_exits_1_and_prints_its_diagnostics(tmp_path):
    spec = tmp_path / "broken.toml"
    spec.write_text(BROKEN_MODEL)
    result = run("shapes", str(spec))
    assert result.exit_code == 1
    assert 'error: layer 0 [padding]: padding = "same" needs stride 1' in result.output
    assert "error: layer 1 [padding]: padding = 2 is more than half the 2x2 window" in result.output
    assert "fix: use padding = 1, or a larger kernel_size" in result.output


def test_invalid_model_as_json(tmp_path):
    spec = tmp_path / "broken.toml"
    spec.write_text(BROKEN_MODEL)
    result = run("shapes", str(spec), "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["valid"] is False
    assert [(d["layer"], d["field"], d["severity"]) for d in data["diagnostics"]] == [
        (0, "padding", "error"),
        (1, "padding", "error"),
    ]
    assert all(d["message"] and d["suggestion"] for d in data["diagnostics"])


def test_input_and_batch_size_options():
    data = json.loads(run("shapes", "simplecnn", "--input", "3,32,32", "--batch-size", "8", "--json").output)
    assert data["input_shape"] == [8, 3, 32, 32]
    assert data["layers"][0]["params"] == 32 * 3 * 9 + 32
    assert data["layers"][6]["output_shape"] == [8, 4096]  # 64x8x8: Linear's in_features follows
    assert data["layers"][-1]["output_shape"] == [8, 10]


def test_the_batch_size_is_the_training_settings_everywhere():
    """One parser and one limit (the training settings'): 1e3 is 1000, and past 1,048,576 is
    refused with the words the monitor's form and the tracker use (shapes took 10**9)."""
    assert json.loads(run("shapes", "simplecnn", "-b", "1e3", "--json").output)["input_shape"][0] == 1000
    refused = run("shapes", "simplecnn", "-b", str(2**20 + 1))
    assert refused.exit_code == 2 and "batch size must be >= 1 and <= 1,048,576, got 1,048,577" in refused.stderr
    tracked = run("track", "nowhere:Net", "--input", "1,28,28", "-b", "1e9")
    assert tracked.exit_code == 2 and "batch size must be >= 1 and <= 1,048,576" in tracked.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("shapes", "simplecnn", "--batch-size", "0"),
        ("shapes", "simplecnn", "--input", "1,28"),
        ("shapes", "simplecnn", "--input", "a,b,c"),
        ("shapes", "simplecnn", "--colour"),
        ("shapes",),
    ],
)
def test_bad_command_lines_exit_2_without_a_traceback(args):
    result = run(*args)
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["no such file", "not toml", "no model table", "a folder"])
def test_unreadable_specs_exit_2_with_one_line(tmp_path, kind):
    path = tmp_path / "model.toml"
    if kind == "not toml":
        path.write_text("[model\n")
    elif kind == "no model table":
        path.write_text('[[layers]]\ntype = "ReLU"\n')
    elif kind == "a folder":
        path.mkdir()
    result = run("shapes", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"tui-cnn: {path}")


def test_presets_lists_them_all():
    result = run("presets")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == ["SimpleCNN", "LeNet5", "VGGSmall", "ResNet20", "InceptionMini"]
    assert "50,186 params" in result.output
    # He et al.'s CIFAR-10 ResNet-20 with 1x1 projection shortcuts: torch counts 272,474
    assert "ResNet20      3x32x32    272,474 params" in result.output


def test_shapes_lists_a_blocks_layers_under_it_by_their_module_names():
    result = run("shapes", "ResNet20", "--batch-size", "1")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()[:1].isdigit()}
    assert "Residual: body + shortcut" in rows["9"] and "(1, 32, 16, 16)" in rows["9"]
    assert "Conv2d(16, 32" in rows["9.shortcut.0"] and "512" in rows["9.shortcut.0"]
    assert "Linear(64, 10)" in rows["23"]
    data = json.loads(run("shapes", "InceptionMini", "--json").output)
    assert data["valid"] and [len(b) for b in data["layers"][3]["branches"]] == [2, 4, 4, 3]


@pytest.mark.slow  # a child process
def test_shapes_never_imports_torch():
    """The shape engine is pure Python: `tui-cnn shapes` answers without loading torch."""
    probe = (
        "import sys; from click.testing import CliRunner; from tui_cnn.cli import main; "
        "assert CliRunner().invoke(main, ['shapes', 'simplecnn']).exit_code == 0; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'textual')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
