"""The data-flow graph on plain numbers: the gutter a reader follows, folding by depth, and
receptive fields at merges (no torch)."""

from __future__ import annotations

from tui_cnn.domain.graph import fold, gutter, max_depth, receptive_fields
from tui_cnn.domain.shapes import Geometry, LayerReport
from tui_cnn.domain.summary import MODEL_INPUT, LayerRow


def conv(k: int, s: int = 1) -> Geometry:
    return Geometry((k, k), (s, s), (k // 2, k // 2), (k // 2, k // 2), (1, 1))


def row(name: str, inputs: tuple[int, ...], hw: int = 8, geometry: Geometry | None = None, params: int = 0,
        in_hw: int | None = None) -> LayerRow:
    report = LayerReport(0, "Conv2d" if geometry else "add", {}, (1, 4, in_hw or hw, in_hw or hw), (1, 4, hw, hw),
                         params, params, 0, 10, 0, None, None, geometry, ())
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
    flows = receptive_fields(BLOCK)
    assert flows[0] == ((3, 3), (2, 2))
    assert flows[2] == ((11, 11), (2, 2))  # 3 + 2*2 + 2*2
    assert flows[3] == ((11, 11), (2, 2))  # max(11, 3 via the skip)


def test_a_1x1_gate_does_not_widen_the_field():
    gate = LayerRow("se", "se", LayerReport(0, "mean", {}, (1, 4, 8, 8), (1, 4, 1, 1), 0, 0, 0, 0, 0, None, None,
                                            None, ()), inputs=(0,), path=("se",))
    rows = (*BLOCK[:3], gate, row("mul", (2, 3)))
    assert receptive_fields(rows)[4] == ((11, 11), (2, 2))


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
