"""`tui-cnn track` follows the data flow: functional ops as rows, receptive fields along the
graph (not call order), every parameter counted once, mult-adds as torchinfo's, a CPU build
where meta fails. Checked against real torch, torchinfo and figures worked out by hand."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tui_cnn.backend import introspect
from tui_cnn.backend.introspect import TrackError, build_target, track
from tui_cnn.cli import main
from tui_cnn.domain.summary import MODEL_INPUT


class Skippy(nn.Module):
    """A skip connection, a concatenation and a tied weight, small enough to check by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.branch = nn.Conv2d(8, 8, 5, padding=2)
        self.twin = nn.Conv2d(8, 8, 3, padding=1)
        self.mix = nn.Conv2d(16, 8, 3, padding=1)
        self.tied = nn.Conv2d(8, 8, 3, padding=1)
        self.tied.weight = self.twin.weight  # one tensor, two modules
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        d = self.down(self.stem(x))
        c = torch.cat([self.branch(d), self.twin(d)], dim=1)
        y = self.mix(c) + d  # the skip connection
        return self.head(self.tied(y).mean((2, 3)))


def rows_by_name(summary):
    return {row.name: row for row in summary.rows}


def test_a_hand_made_graph_has_the_receptive_fields_worked_out_by_hand():
    with torch.device("meta"):
        model = Skippy()
    summary = track(model, (3, 32, 32), 2, "Skippy")
    rows = rows_by_name(summary)
    assert [row.name for row in summary.rows] == [
        "stem",
        "down",
        "branch",
        "twin",
        "cat",
        "mix",
        "add",
        "tied",
        "mean",
        "head",
    ]
    flow = {name: (row.report.receptive_field, row.report.jump) for name, row in rows.items()}
    assert flow["stem"] == ((3, 3), (1, 1))  # 1 + (3-1)*1
    assert flow["down"] == ((5, 5), (2, 2))  # 3 + (3-1)*1, jump 1*2
    assert flow["branch"] == ((13, 13), (2, 2))  # 5 + (5-1)*2: from down, not after twin
    assert flow["twin"] == ((9, 9), (2, 2))  # 5 + (3-1)*2: a sibling of branch, not its successor
    assert flow["cat"] == ((13, 13), (2, 2))  # the larger of its inputs
    assert flow["mix"] == ((17, 17), (2, 2))  # 13 + (3-1)*2
    assert flow["add"] == ((17, 17), (2, 2))  # max(17 via mix, 5 via the skip from down)
    assert flow["tied"] == ((21, 21), (2, 2))
    assert flow["mean"] == (None, None)  # flat: no receptive field
    index = {row.name: i for i, row in enumerate(summary.rows)}
    assert rows["stem"].inputs == (MODEL_INPUT,)
    assert rows["cat"].inputs == (index["branch"], index["twin"])
    assert rows["add"].inputs == (index["mix"], index["down"])
    # the tied weight counts once, where it is first used (twin); tied keeps its own bias
    assert rows["twin"].report.params == 8 * 8 * 9 + 8 and rows["tied"].report.params == 8
    assert summary.totals.params == sum(p.numel() for p in model.parameters()) == 4204
    assert summary.output_shape == (2, 4)


@pytest.mark.slow
def test_resnet_receptive_fields_follow_the_flow_not_the_call_order():
    import torchvision.models

    # resnet18: conv1 7 (jump 2), maxpool 11 (jump 4); each 3x3 conv adds 2*jump:
    # layer1 4 convs -> 43; layer2 51 then 3 more at jump 8 -> 99; layer3 115 then 3 at 16 -> 211;
    # layer4 243 then 3 at 32 -> 435 (Araujo et al. 2019). resnet34 (3, 4, 6, 3 blocks), the
    # same way: 59, 67 + 7*16 = 179, 195 + 11*32 = 547, 579 + 5*64 = 899.
    for name, last, rf in (("resnet18", "layer4.1.conv2", 435), ("resnet34", "layer4.2.conv2", 899)):
        with torch.device("meta"):
            model = getattr(torchvision.models, name)()
        rows = rows_by_name(track(model, (3, 224, 224), 1, name))
        assert rows[last].report.receptive_field == (rf, rf), name
        assert rows[last].report.jump == (32, 32), name
        assert rows["layer2.0.downsample.0"].report.jump == (8, 8)  # on a 28x28 map of a 224 input
        assert rows["layer4.0/add"].inputs  # the skip connection joins in a row of its own
        assert rows["flatten"].report.output_shape == (1, 512)


@pytest.mark.slow
def test_a_squeeze_excitation_gate_does_not_widen_the_receptive_field():
    import torchvision.models

    with torch.device("meta"):
        model = torchvision.models.mobilenet_v3_small()
    rows = rows_by_name(track(model, (3, 224, 224), 1, "mobilenet_v3_small"))
    gated = rows["features.1.block.1/mul"]  # input * hardsigmoid(fc2(fc1(avgpool(input))))
    assert gated.report.receptive_field == rows["features.1.block.0.2"].report.receptive_field == (7, 7)
    assert gated.report.jump == (4, 4)


def test_vgg16_last_pooling():
    import torchvision.models

    with torch.device("meta"):
        model = torchvision.models.vgg16()
    rows = rows_by_name(track(model, (3, 224, 224), 1, "vgg16"))
    assert rows["features.30"].report.type == "MaxPool2d"
    assert rows["features.30"].report.receptive_field == (212, 212)
    assert rows["features.30"].report.jump == (32, 32)


# Models that build on meta in well under a second: one of each family's traits (residual,
# plain, squeeze-excitation, layer scale, attention with a class token).
TORCHINFO_MODELS = ("resnet18", "vgg11", "mobilenet_v3_small", "convnext_tiny", "vit_b_16")


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHINFO_MODELS)
def test_totals_against_torchinfo(name):
    torchinfo = pytest.importorskip("torchinfo")
    import torchvision.models

    with torch.device("meta"):
        model = getattr(torchvision.models, name)()
    summary = track(model, (3, 224, 224), 2, name)
    expected = torchinfo.summary(model, input_size=(2, 3, 224, 224), device="meta", verbose=0)
    assert summary.totals.params == sum(p.numel() for p in model.parameters()) == expected.total_params
    assert not summary.model_diagnostics  # nothing left outside the table
    # Where tui-cnn counts what an operation computes and torchinfo does not (issue 19), and
    # nowhere else, the two differ: torchinfo sums leaf modules only, so nn.MultiheadAttention
    # (it has a child, out_proj, that its forward never calls) adds nothing there, here its
    # projections per token and its two attention products; and torchinfo counts a Linear once
    # per sample, here once per position it is applied at (convnext's channels-last MLP: N x H
    # x W; vit's MLP: N x 197 tokens).
    whole = [row for row in summary.rows if row.report.type == "MultiheadAttention"]
    assert bool(whole) == (name == "vit_b_16")
    for row in whole:  # 197 tokens x (q, k, v and out projections with biases) + 2 products of 197 x 197 x 768
        assert row.report.macs == 2 * 197 * (4 * 768 * 768 + 4 * 768) + 2 * 2 * 197 * 197 * 768
    per_position = sum(
        row.report.params * (math.prod(row.report.output_shape[:-1]) - 2)
        for row in summary.rows
        if row.report.type == "Linear" and len(row.report.output_shape) > 2
    )
    assert bool(per_position) == (name in ("convnext_tiny", "vit_b_16"))
    assert summary.totals.macs - sum(row.report.macs for row in whole) - per_position == expected.total_mult_adds


@pytest.mark.slow
@pytest.mark.parametrize("name", ["convnext_tiny", "vit_b_16", "swin_t", "resnet18"])
def test_macs_against_torchs_flop_counter(name):
    """What the operations compute (FlopCounterMode: a multiply-add is 2 FLOPs), within 1%: the
    biases and norms tui-cnn counts as torchinfo does, FlopCounterMode not at all. Before,
    convnext_tiny's channels-last MLP counted once per sample came out far under."""
    import torchvision.models
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = getattr(torchvision.models, name)()
    summary = track(model, (3, 224, 224), 2, name)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(2, 3, 224, 224, device="meta"))
    assert summary.totals.macs == pytest.approx(counter.get_total_flops() / 2, rel=0.01)


class ChannelsLastMLP(nn.Module):
    """ConvNeXt's block in small: a Linear on an (N, H, W, C) map, then a matrix product."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 32)
        self.mix = nn.Parameter(torch.ones(32, 16))

    def forward(self, x):
        y = self.fc(self.conv(x).permute(0, 2, 3, 1))
        return y @ self.mix


def test_a_linear_counts_every_position_it_is_applied_at():
    model = ChannelsLastMLP()
    summary = track(model, (3, 10, 12), 2, "mlp")
    rows = rows_by_name(summary)
    assert rows["fc"].report.macs == 2 * 10 * 12 * (8 * 32 + 32)  # torchinfo: 2 * (8 * 32 + 32)
    assert rows["matmul"].report.macs == 2 * 10 * 12 * 16 * 32  # a functional product: torchinfo 0
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(2, 3, 10, 12, device="meta"))  # track moved it to meta
    biases = 2 * 10 * 12 * (8 + 32)  # counted here as torchinfo does; not FLOPs of a product
    assert summary.totals.macs - biases == counter.get_total_flops() // 2
    from tui_cnn.domain.explain import as_text, explain

    text = as_text(explain(rows["fc"].report))
    assert "288 * 2 * 10 * 12 = 69,120" in text and "torchinfo counts 576 here: a Linear once per sample" in text
    assert "torchinfo counts 0 here: modules only" in as_text(explain(rows["matmul"].report))


class Volumes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(4, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def test_a_3d_layer_given_a_4d_input_says_the_batch_became_one_volume():
    summary = track(Volumes(), (1, 16, 16), 4, "volumes")  # (4, 1, 16, 16): torch reads C=4, D=1
    warnings = [d.message for d in summary.diagnostics]
    assert any(
        "Conv3d takes a 5-D batch but got a 4-D tensor (4, 1, 16, 16)" in w and "batch of 4" in w for w in warnings
    ), warnings
    data = summary.to_json()
    assert any("one unbatched sample" in d["message"] for d in data["diagnostics"])
    fine = track(nn.Conv2d(1, 2, 3), (1, 16, 16), 4, "flat")
    assert not fine.diagnostics


@pytest.mark.slow
def test_parameters_outside_leaf_modules_are_in_rows():
    import torchvision.models

    with torch.device("meta"):
        vit = torchvision.models.vit_b_16()
    rows = track(vit, (3, 224, 224), 1, "vit_b_16").rows
    by_name = {row.name: row for row in rows}
    assert by_name["expand"].report.params == 768  # the class token, then joined to the patches
    assert by_name["cat"].inputs == (by_name["expand"].report.index, by_name["permute"].report.index)
    assert by_name["encoder/add"].report.params == 197 * 768  # the positional embedding
    assert by_name["encoder.layers.encoder_layer_0.self_attention"].report.params == 4 * 768 * 768 + 4 * 768
    with torch.device("meta"):
        convnext = torchvision.models.convnext_tiny()
    scaled = [row for row in track(convnext, (3, 224, 224), 1, "convnext_tiny").rows if row.name.endswith("/mul")]
    assert sum(row.report.params for row in scaled) == 6624  # every block's layer_scale


@pytest.mark.slow
def test_a_model_that_cannot_be_built_on_meta_is_built_on_the_cpu(monkeypatch):
    result = CliRunner().invoke(
        main, ["track", "torchvision.models:regnet_y_400mf", "--input", "3,224,224", "-b", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["built_on"] == "cpu"
    assert any("built on the CPU" in d["message"] for d in data["diagnostics"])
    assert data["totals"]["params"] == 4344144 and data["output_shape"] == [1, 1000]
    monkeypatch.setattr(introspect, "CPU_BUILD_LIMIT_BYTES", 1024)
    with pytest.raises(TrackError, match=r"fails on the meta device .* on the CPU it needs more than 1.0 KiB"):
        build_target("torchvision.models:regnet_y_400mf")


@pytest.mark.parametrize(
    "target, message",
    [
        ("torch.nn:Conv2d", r"needs arguments \(in_channels, out_channels, kernel_size\)"),  # not "it failed"
        ("sys:exit", r"calling sys:exit\(\) failed: SystemExit"),  # exiting must not end tui-cnn silently
        ("os:getcwd", r"returned a str, not an nn.Module"),
    ],
)
def test_a_target_that_is_no_model_builder_is_told_so(target, message):
    with pytest.raises(TrackError, match=message):
        build_target(target)


def test_a_forward_that_exits_is_an_error_not_an_exit():
    class Quits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            raise SystemExit(3)

    with pytest.raises(TrackError, match="failed: SystemExit: 3"):
        track(Quits(), (3, 8, 8), 1, "Quits")


@pytest.mark.slow
def test_json_has_the_top_level_fields_of_shapes_json():
    runner = CliRunner()
    shapes = json.loads(runner.invoke(main, ["shapes", "SimpleCNN", "--json"]).output)
    tracked = json.loads(
        runner.invoke(main, ["track", "torchvision.models:resnet18", "--input", "3,64,64", "-b", "1", "--json"]).output
    )
    assert set(shapes) <= set(tracked) and set(tracked) - set(shapes) == {"built_on"}
    assert tracked["output_shape"] == [1, 1000] and tracked["built_on"] == "meta"
    add = next(layer for layer in tracked["layers"] if layer["name"] == "layer1.0/add")
    assert len(add["inputs"]) == 2 and add["depth"] == 3


@pytest.mark.slow
def test_a_model_that_returns_a_dict_has_an_output_shape():
    class Heads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Conv2d(3, 4, 3)
            self.logits = nn.Linear(4, 2)

        def forward(self, x):
            features = self.body(x).mean((2, 3))
            return {"logits": self.logits(features), "features": features}

    summary = track(Heads(), (3, 8, 8), 2, "Heads")
    assert summary.output_shape == (2, 2)
    assert [row.name for row in summary.rows] == ["body", "mean", "logits"]
