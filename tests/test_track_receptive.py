"""Receptive fields of tracked models checked against the empirical one (the gradient support
of one output position, tests/empirical_rf.py): functional convolutions and pooling, a
Conv2d subclass with its own forward, adaptive pooling whose sizes do not divide,
interpolation, transposed convolutions, padding, permutes, and real models (inception_v3,
vgg16 at 640, convnext_tiny, a small U-Net). Where the tracer cannot know a window it shows
no field rather than one that is too small."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.empirical_rf import gradient_support, largest_gradient_support, positive_weights
from tui_cnn.backend.introspect import track


def tracked_rf(model: nn.Module, input_shape, row: str | None = None):
    """Our receptive field of ``row`` (None: the last row) and the summary."""
    summary = track(copy.deepcopy(model), input_shape, 1, "model")
    rows = {r.name: r for r in summary.rows}
    chosen = rows[row] if row else summary.rows[-1]
    return chosen.report.receptive_field, summary


def empirical(model: nn.Module, input_shape, at: str | None = None, dims=(2, 3)):
    return gradient_support(positive_weights(copy.deepcopy(model)), input_shape, at, dims)


class FunctionalConv(nn.Module):
    """The issue's first case: F.conv2d(x, w, padding=1) after a 3x3 conv (was shown 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.weight = nn.Parameter(torch.ones(4, 4, 3, 3))

    def forward(self, x):
        return F.conv2d(self.conv(x), self.weight, padding=1)


class StandardizedConv2d(nn.Conv2d):
    """BiT/NFNet's weight standardisation: a Conv2d subclass whose forward calls F.conv2d."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(x, w.abs(), self.bias, self.stride, self.padding, self.dilation, self.groups)


class WeightStandardized(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.ws = StandardizedConv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.ws(self.stem(x))


class FunctionalPools(nn.Module):
    """F.avg_pool2d(x, 3, 1, 1) (size kept: was taken as elementwise), then F.max_pool2d."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        x = F.avg_pool2d(self.conv(x), 3, 1, 1)
        return F.max_pool2d(x, 2)


class ChannelsLast(nn.Module):
    """ConvNeXt's block: a depthwise 7x7, permutes around a LayerNorm and Linears, a layer scale."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.dw = nn.Conv2d(4, 4, 7, padding=3, groups=4)
        self.norm = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4, 1, 1))
        self.after = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        x = self.stem(x)
        y = self.fc(self.norm(self.dw(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return self.after(x + self.scale * y)


class SmallUNet(nn.Module):
    """Down twice, up twice (a transposed convolution, then interpolation and F.pad), with
    skip connections concatenated."""

    def __init__(self, up: str = "bilinear") -> None:
        super().__init__()
        self.enc1 = nn.Conv2d(3, 4, 3, padding=1)
        self.enc2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bottom = nn.Conv2d(4, 4, 3, padding=1)
        self.up1 = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.dec1 = nn.Conv2d(8, 4, 3, padding=1)
        self.up_mode = up
        self.dec2 = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        e1 = torch.relu(self.enc1(x))
        e2 = torch.relu(self.enc2(F.max_pool2d(e1, 2)))
        b = torch.relu(self.bottom(F.max_pool2d(e2, 2)))
        d1 = torch.relu(self.dec1(torch.cat([self.up1(b), e2], 1)))
        up = F.interpolate(d1, scale_factor=2, mode=self.up_mode)
        up = F.pad(up, (0, e1.shape[-1] - up.shape[-1], 0, e1.shape[-2] - up.shape[-2]))
        return self.dec2(torch.cat([up, e1], 1))


@pytest.mark.parametrize(
    "model, expected",
    [
        (FunctionalConv(), 5),
        (WeightStandardized(), 5),
        (FunctionalPools(), 6),  # 3, 5 after the average pool, 6 after the 2x2 max pool
        (ChannelsLast(), 9),  # 7, then 3 more
    ],
)
@pytest.mark.slow
def test_windows_read_from_functional_calls_and_subclasses(model, expected):
    ours, _ = tracked_rf(model, (3, 32, 32))
    assert ours == (expected, expected)
    assert empirical(model, (3, 32, 32)) == ours


def test_every_row_of_a_channels_last_block_keeps_its_field_through_the_permutes():
    _, summary = tracked_rf(ChannelsLast(), (3, 32, 32))
    fields = {row.name: row.report.receptive_field for row in summary.rows}
    assert fields["norm"] == fields["fc"] == fields["mul"] == (7, 7)
    assert fields["after"] == (9, 9)


@pytest.mark.parametrize(
    "size, expected",
    [
        (20, (4, 3)),  # windows 3 or 4 wide, 2 or 3 apart: the largest
        (14, (2, 2)),  # 14 / 7: every window 2
    ],
)
def test_adaptive_pooling_gets_its_largest_window(size, expected):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(7))
    summary = track(copy.deepcopy(model), (3, size, size), 1, "pool")
    pool = summary.rows[-1].report
    kernel, step = expected
    assert pool.receptive_field == (3 + kernel - 1,) * 2 and pool.jump == (step, step)
    measured = empirical(model, (3, size, size))
    assert measured[0] <= pool.receptive_field[0]  # never too small; equal where the centre window is widest


@pytest.mark.parametrize("up, over", [("nearest", 0), ("bilinear", 4)])
@pytest.mark.slow
def test_a_unet_keeps_its_field_after_upsampling(up, over):
    """After upsampling, neighbouring positions see different amounts (some see the same
    thing): the field shown is the largest, never smaller than any position's. Exact with
    nearest upsampling and a 2x2 transposed convolution; bilinear's second tap may repeat a
    position, counted as new (4 pixels over)."""
    model = SmallUNet(up)
    ours, summary = tracked_rf(model, (3, 64, 64))
    assert all(row.report.receptive_field is not None for row in summary.rows if len(row.report.output_shape) == 4)
    rows = {row.name: row.report for row in summary.rows}
    assert rows["up1"].receptive_field == rows["bottom"].receptive_field == (18, 18)  # each output sees one input
    assert rows["up1"].jump is None  # neighbours unevenly spaced: no single jump to show
    largest = largest_gradient_support(positive_weights(copy.deepcopy(model)), (3, 64, 64))
    assert ours == (largest + over, largest + over)


class Unknowable(nn.Module):
    """F.unfold mixes positions in a way the tracer does not model: after it, no field."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        patches = F.unfold(x, 3, padding=1)  # (N, C*9, H*W)
        return patches.view(x.shape[0], -1, x.shape[2], x.shape[3])


def test_an_operation_whose_window_is_unknown_shows_no_field_rather_than_a_small_one():
    _, summary = tracked_rf(Unknowable(), (3, 16, 16))
    assert summary.rows[0].report.receptive_field == (3, 3)
    assert summary.rows[-1].report.output_shape == (1, 36, 16, 16)
    assert summary.rows[-1].report.receptive_field is None


@pytest.mark.slow
def test_inception_v3_branch_pool():
    """Mixed_5b's branch_pool: F.avg_pool2d(x, 3, 1, 1) then a 1x1 conv: 47 (was 31)."""
    import torchvision.models

    model = torchvision.models.inception_v3(init_weights=False, aux_logits=False)
    ours, _ = tracked_rf(model, (3, 299, 299), "Mixed_5b.branch_pool.conv")
    assert ours == (47, 47)
    assert empirical(model, (3, 299, 299), at="Mixed_5b.branch_pool") == ours


@pytest.mark.slow
@pytest.mark.heavy  # a big model at 640x640; adaptive pooling's windows are checked small in the default run
def test_vgg16_at_640_adaptive_pooling_that_does_not_divide():
    """20x20 -> 7x7: windows of up to 4 features 3 apart: 212 + 3*32 = 308, jump 96 (was 276/64).
    Measured on vgg16's layout with 1/16 of its channels (the field does not depend on them)."""
    import torchvision.models
    from torchvision.models.vgg import make_layers

    real = torchvision.models.vgg16()
    _, summary = tracked_rf(real, (3, 640, 640))
    avgpool = {r.name: r for r in summary.rows}["avgpool"].report
    assert (avgpool.receptive_field, avgpool.jump) == ((308, 308), (96, 96))
    thin = nn.Sequential(
        make_layers([c if c == "M" else c // 16 for c in torchvision.models.vgg.cfgs["D"]]), nn.AdaptiveAvgPool2d(7)
    )
    ours, _ = tracked_rf(thin, (3, 640, 640))
    assert ours == avgpool.receptive_field
    assert empirical(thin, (3, 640, 640)) == ours


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage, row",
    [("features.1", "features.1.2/add"), pytest.param("features.3", "features.3.2/add", marks=pytest.mark.heavy)],
)
def test_convnext_tiny_through_its_permutes(stage, row):
    import torchvision.models

    model = torchvision.models.convnext_tiny()
    ours, _ = tracked_rf(model, (3, 256, 256), row)  # features.3's 224 fits without touching a border
    assert ours == {"features.1": (76, 76), "features.3": (224, 224)}[stage]
    assert empirical(model, (3, 256, 256), at=stage) == ours
