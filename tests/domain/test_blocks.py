"""Skip connections in the spec: Residual (body + shortcut) and Concat (branches) blocks, nested,
read from TOML and written back, and the shape engine's figures and diagnostics through them."""

from __future__ import annotations

import pytest

from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.spec import LayerSpec, ModelSpec, concat, residual
from tui_cnn.domain.specfile import SpecError, dumps_spec, loads_spec

L = LayerSpec.of

ISSUE_EXAMPLE = """
[model]
name = "blocks"
input_shape = [16, 32, 32]

[[layers]]
type = "Residual"                 # y = body(x) + shortcut(x)
body = [ {type = "Conv2d", out_channels = 32, kernel_size = 3, stride = 2, padding = 1, bias = false},
         {type = "BatchNorm2d"}, {type = "ReLU"},
         {type = "Conv2d", out_channels = 32, kernel_size = 3, padding = 1, bias = false}, {type = "BatchNorm2d"} ]
shortcut = [ {type = "Conv2d", out_channels = 32, kernel_size = 1, stride = 2, bias = false}, {type = "BatchNorm2d"} ]

[[layers]]
type = "Concat"                   # y = cat([branch(x) for branch in branches], dim=1)
branches = [ [ {type = "Conv2d", out_channels = 8, kernel_size = 1} ],
             [ {type = "MaxPool2d", kernel_size = 3, stride = 1, padding = 1}, {type = "Conv2d", out_channels = 8, kernel_size = 1} ] ]
"""


def test_the_issues_example_reads_and_its_shapes_params_and_receptive_field_follow_both_paths():
    spec = loads_spec(ISSUE_EXAMPLE)
    analysis = analyze(spec, batch_size=2)
    assert analysis.valid
    block, cat = analysis.layers
    assert block.output_shape == (2, 32, 16, 16)
    # body: 32*16*9 + 64 + 32*32*9 + 64; shortcut: 32*16 + 64
    assert block.params == 4608 + 64 + 9216 + 64 + 512 + 64
    assert [len(b) for b in block.branches] == [5, 2]
    assert block.branches[1][0].path == (0, 1, 0)
    # body: 3x3 s2 -> 3, then 3x3 at jump 2 -> 7; the 1x1 shortcut sees 1: the merge sees the largest
    assert block.receptive_field == (7, 7) and block.jump == (2, 2)
    assert cat.output_shape == (2, 16, 16, 16)
    assert cat.params == (32 * 8 + 8) * 2
    assert cat.receptive_field == (7 + 2 * 2, 7 + 2 * 2)  # the 3x3 pool at jump 2 widens one branch
    assert analysis.totals.params == block.params + cat.params
    # the block's activations: its inner layers' and the merged output's
    assert block.activation_bytes == sum(r.activation_bytes for b in block.branches for r in b) + 2 * 32 * 16 * 16 * 4


def test_a_spec_with_nested_blocks_is_written_back_and_reads_the_same():
    inner = residual([L("Conv2d", out_channels=8, kernel_size=3, padding=1)])
    spec = ModelSpec(
        "nested",
        (8, 12, 12),
        (
            concat([inner, L("ReLU")], [], [L("Conv2d", out_channels=4, kernel_size=[1, 3], padding=[0, 1])]),
            residual(
                [L("Conv2d", out_channels=20, kernel_size=3, padding=1)], (L("Conv2d", out_channels=20, kernel_size=1),)
            ),
        ),
    )
    text = dumps_spec(spec)
    assert loads_spec(text) == spec
    assert 'shortcut = [\n    {type = "Conv2d", out_channels = 20, kernel_size = 1},\n]' in text
    assert analyze(spec).output_shape == (64, 20, 12, 12)


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ('type = "Residual"\nbody = 3', "layer 0 (Residual): body must be an array of layer tables"),
        ('type = "Residual"', "layer 0 (Residual) needs a body"),
        ('type = "Residual"\nbody = []\nshortcut = "identity"', "shortcut must be an array of layer tables"),
        ('type = "Residual"\nbody = []\nkernel_size = 3', "has no argument 'kernel_size' (it takes: body, shortcut)"),
        ('type = "Concat"\nbranches = []', "layer 0 (Concat) needs branches"),
        ('type = "Concat"\nbranches = [{type = "ReLU"}]', "branch 0 must be an array of layer tables"),
        ('type = "Concat"\nbranches = [[3]]', "layer 0 (Concat) branch 0 layer 0 needs a type"),
        ('type = "Concat"\nbranches = [[{type = "ReLU", inplace = [[[[[[1]]]]]]}]]', "inplace is nested more than"),
    ],
)
def test_hostile_blocks_give_one_line_errors(layer, expected):
    with pytest.raises(SpecError) as error:
        loads_spec(f"[model]\ninput_shape = [1, 8, 8]\n[[layers]]\n{layer}\n")
    assert expected in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("depth", [17, 400, 5000])
def test_a_depth_bomb_of_blocks_is_refused_in_one_line(depth):
    bomb = '{type = "Residual", body = [' * depth + "]}" * depth
    with pytest.raises(SpecError) as error:
        loads_spec(f'[model]\ninput_shape = [1, 8, 8]\n[[layers]]\ntype = "Residual"\nbody = [{bomb}]\n')
    assert "nested too deeply" in str(error.value) or "blocks nest more than 16 deep" in str(error.value)
    assert "\n" not in str(error.value)


def test_blocks_nested_sixteen_deep_still_read():
    nest = '{type = "Residual", body = [' * 15 + '{type = "ReLU"}' + "]}" * 15
    spec = loads_spec(f'[model]\ninput_shape = [1, 8, 8]\n[[layers]]\ntype = "Residual"\nbody = [{nest}]\n')
    assert analyze(spec).valid


def test_an_add_of_different_shapes_names_the_block_both_shapes_and_fixes_it_with_a_projection():
    body = [L("Conv2d", out_channels=32, kernel_size=3, stride=2, padding=1, bias=False), L("BatchNorm2d")]
    spec = ModelSpec("r", (16, 32, 32), (L("ReLU"), residual(body)))
    analysis = analyze(spec, batch_size=4)
    (error,) = analysis.errors
    assert error.layer == 1
    assert error.message == (
        "Residual cannot add its body's output (N, 32, 16, 16) to its input (the identity "
        "shortcut) (N, 16, 32, 32): channels (32 vs 16) and sizes (16 x 16 vs 32 x 32) differ"
    )
    assert "Conv2d(16, 32, kernel_size=1, stride=2, bias=False) + BatchNorm2d" in error.suggestion
    fixed = error.fix.apply(spec)
    assert fixed.layers[1].args["shortcut"] == (
        L("Conv2d", out_channels=32, kernel_size=1, stride=2, bias=False),
        L("BatchNorm2d"),
    )
    assert analyze(fixed).valid and analyze(fixed).output_shape == (64, 32, 16, 16)


def test_an_add_that_only_changes_channels_also_offers_matching_out_channels():
    spec = ModelSpec("r", (16, 8, 8), (residual([L("Conv2d", out_channels=32, kernel_size=3, padding=1)]),))
    (error,) = analyze(spec).errors
    assert "channels (32 vs 16) differ" in error.message
    assert "stride=1" in error.suggestion and "or set the body's last out_channels = 16" in error.suggestion


def test_a_concat_of_different_sizes_names_both_shapes():
    spec = ModelSpec("c", (3, 9, 9), (concat([L("Conv2d", out_channels=4, kernel_size=3)], [L("ReLU")]),))
    (error,) = analyze(spec).errors
    assert error.message == (
        "Concat cannot join branch 0 (N, 4, 7, 7) and branch 1 (N, 3, 9, 9) along the channels: "
        "sizes (7 x 7 vs 9 x 9) differ"
    )
    assert "padding" in error.suggestion


def test_a_concat_without_branches_is_invalid():
    assert "at least one branch" in analyze(ModelSpec("c", (3, 9, 9), (concat(),))).errors[0].message


def test_a_broken_layer_deep_inside_blocks_says_where_and_its_fix_edits_that_layer():
    deep = L("Conv2d", out_channel=8, kernel_size=3, padding=1)
    spec = ModelSpec("n", (8, 8, 8), (L("ReLU"), concat([], [residual([L("ReLU"), deep])])))
    first = analyze(spec).errors[0]
    assert first.layer == 1 and first.path == (1, 1, 0, 0, 1)
    assert first.message.startswith("branch 1 layer 0 > body layer 1: Conv2d has no argument 'out_channel'")
    fixed = first.fix.apply(spec)
    assert fixed.layer_at((1, 1, 0, 0, 1)).args == {"out_channels": 8, "kernel_size": 3, "padding": 1}
    assert analyze(fixed).valid and analyze(fixed).output_shape == (64, 16, 8, 8)


def test_in_features_are_inferred_after_a_concat():
    spec = ModelSpec(
        "f",
        (1, 4, 4),
        (concat([L("Conv2d", out_channels=2, kernel_size=1)], []), L("Flatten"), L("Linear", out_features=5)),
    )
    analysis = analyze(spec)
    assert analysis.layers[2].args["in_features"] == 3 * 16
    assert analysis.layers[0].branches[0][0].args["in_channels"] == 1


def test_an_inplace_activation_at_the_start_of_a_path_warns_that_it_overwrites_the_blocks_input():
    spec = ModelSpec("r", (4, 8, 8), (residual([L("ReLU", inplace=True), L("Conv2d", out_channels=4, kernel_size=1)]),))
    (warning,) = analyze(spec).diagnostics
    assert not warning.is_error and "body starts with ReLU(inplace=True)" in warning.message
