"""The data-flow graph on plain numbers: the gutter a reader follows, folding by depth, and
receptive fields at merges (no torch)."""

from __future__ import annotations

from fractions import Fraction

from tui_cnn.domain.graph import (
    GLOBAL,
    IMAGE,
    UNKNOWN,
    fold,
    gutter,
    max_depth,
    merged,
    resampled,
    shown,
    sliding_window,
    transposed_window,
)
from tui_cnn.domain.shapes import Geometry, LayerReport
from tui_cnn.domain.summary import MODEL_INPUT, LayerRow


def conv(k: int, s: int = 1) -> Geometry:
    return Geometry((k, k), (s, s), (k // 2, k // 2), (k // 2, k // 2), (1, 1))


def row(
    name: str,
    inputs: tuple[int, ...],
    hw: int = 8,
    geometry: Geometry | None = None,
    params: int = 0,
    in_hw: int | None = None,
) -> LayerRow:
    report = LayerReport(
        0,
        "Conv2d" if geometry else "add",
        {},
        (1, 4, in_hw or hw, in_hw or hw),
        (1, 4, hw, hw),
        params,
        params,
        0,
        10,
        0,
        None,
        None,
        geometry,
        (),
    )
    return LayerRow(name, name, report, inputs=inputs, path=tuple(name.split(".")))


# a residual block: stem -> (a -> b) + stem -> relu
BLOCK = (
    row("stem", (MODEL_INPUT,), hw=8, in_hw=16, geometry=conv(3, 2), params=5),
    row("block.a", (0,), geometry=conv(3), params=7),
    row("block.b", (1,), geometry=conv(3), params=11),
    row("block.add", (2, 0)),
    row("relu", (3,)),
)


def test_a_skip_connection_reads_like_git_log_graph():
    assert gutter(BLOCK) == ["●", "├─●", "│ ●", "●─┘", "●"]


def test_receptive_field_at_a_merge_is_the_largest_input_with_its_jump():
    stem = sliding_window(IMAGE, (3, 3), (2, 2), (1, 1))
    assert shown(stem, (1, 4, 8, 8)) == ((3, 3), (2, 2))
    b = sliding_window(sliding_window(stem, (3, 3), (1, 1), (1, 1)), (3, 3), (1, 1), (1, 1))
    assert shown(b, (1, 4, 8, 8)) == ((11, 11), (2, 2))  # 3 + 2*2 + 2*2
    assert shown(merged([(b, (8, 8)), (stem, (8, 8))]), (1, 4, 8, 8)) == ((11, 11), (2, 2))


def test_a_1x1_gate_does_not_widen_the_field_and_an_unknown_window_wins():
    b = sliding_window(IMAGE, (5, 5), (1, 1), (1, 1))
    gate = sliding_window(IMAGE, (8, 8), (8, 8), (1, 1))
    assert shown(merged([(b, (8, 8)), (gate, (1, 1))]), (1, 4, 8, 8)) == ((5, 5), (1, 1))
    assert merged([(b, (8, 8)), (GLOBAL, None)]) == b
    assert merged([(b, (8, 8)), (UNKNOWN, None)]) == UNKNOWN
    assert shown(UNKNOWN, (1, 4, 8, 8)) == (None, None)


def test_upsampling_keeps_the_largest_field_of_unevenly_spaced_neighbours():
    down = sliding_window(IMAGE, (2, 2), (2, 2), (1, 1))  # rf 2, jump 2
    up = resampled(down, 1, (4, 4), (8, 8))  # nearest x2: neighbours see the same or the next
    assert shown(up, (1, 1, 8, 8)) == ((2, 2), None)
    after = sliding_window(up, (3, 3), (1, 1), (1, 1))  # 3 positions hold at most 2 distinct ones
    assert after.rf == (Fraction(4), Fraction(4))
    transposed = transposed_window(down, (2, 2), (2, 2), (1, 1))  # each output sees one input
    assert transposed.rf == down.rf


def test_folding_sums_a_module_and_keeps_the_flow():
    folded = fold(BLOCK, 1, {"block": "BasicBlock"})
    assert [r.name for r in folded] == ["stem", "block", "relu"]
    block = folded[1]
    assert block.report.type == "BasicBlock" and block.report.params == 18 and block.report.macs == 30
    assert block.inputs == (0,) and folded[2].inputs == (1,)
    assert [r.report.index for r in folded] == [0, 1, 2]
    unfolded = fold(BLOCK, 2)
    assert max_depth(BLOCK) == 2
    assert [(r.name, r.inputs) for r in unfolded] == [(r.name, r.inputs) for r in BLOCK]


def test_the_detail_panel_says_where_a_row_takes_from_and_gives_to():
    from tui_cnn.domain.explain import as_text
    from tui_cnn.domain.graph import explain_flow

    merge = as_text(explain_flow(BLOCK, 3))
    assert "takes block.b (4x8x8), stem (4x8x8)" in merge and "merges 2 branches" in merge
    stem = as_text(explain_flow(BLOCK, 0))
    assert "takes the model's input" in stem and "branches into 2" in stem
