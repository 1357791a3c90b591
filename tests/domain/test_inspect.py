"""The explanations of Inspect: receptive fields, dot products and pooling winners, checked by hand and against torch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tui_cnn.domain.inspect import (
    Box,
    dot_product_lines,
    layer_names,
    normalise,
    pool_lines,
    pool_winner,
    receptive_box,
)
from tui_cnn.domain.shapes import analyze

pytestmark = pytest.mark.torch  # runs torch: outside the quick domain tier (-m "not torch")


def test_layer_names_follow_the_built_model(simple_cnn):
    assert layer_names(simple_cnn.layers) == [f"features.{i}" for i in range(6)] + ["classifier.0", "classifier.1"]


def test_receptive_box_walks_back_through_conv_and_pool(simple_cnn):
    reports = analyze(simple_cnn, batch_size=1).layers
    assert receptive_box(reports, 0, 0, 0) == Box(-1, -1, 1, 1)  # 3x3 with padding 1: one pixel of padding
    assert receptive_box(reports, 2, 3, 4) == Box(5, 7, 8, 10)  # pool 2 of conv 3: 4x4 from (2*3-1, 2*4-1)
    box = receptive_box(reports, 5, 0, 0)
    assert (box.bottom - box.top + 1, box.right - box.left + 1) == reports[5].receptive_field
    assert receptive_box(reports, 6, 0, 0) is None  # flat: no place on the image


def test_dot_product_matches_conv2d():
    torch.manual_seed(0)
    weight, bias, image = torch.randn(1, 1, 3, 3), torch.randn(1), torch.randn(1, 1, 5, 5)
    value = F.conv2d(image, weight, bias)[0, 0, 1, 2].item()
    lines = dot_product_lines(weight[0].tolist(), image[0, :, 1:4, 2:5].tolist(), bias.item(), "ReLU")
    assert lines[0].startswith("w·x = ") and lines[1].startswith("    + ")
    assert sum(line.count("×") for line in lines[:3]) == 9
    assert lines[-2].endswith(f"= {value:.4g}")
    assert lines[-1] == f"ReLU: max(0, {value:.4g}) = {max(value, 0):.4g}"


def test_many_input_channels_are_summed_per_channel():
    weights = [[[1.0] * 3] * 3] * 16
    lines = dot_product_lines(weights, weights, None)
    assert lines[0] == "in ch 0: Σ w·x over 9 = 9" and "in ch 8..15" in lines[-2] and lines[-1].endswith("= 144")


def test_pool_winner_is_the_max():
    assert pool_winner([[1, 5], [7, 2]]) == (1, 0)
    assert "7*" in pool_lines([[1, 5], [7, 2]])[1]


@pytest.mark.parametrize("values, expected", [([[0, 2], [4, 1]], [[0, 128], [255, 64]]), ([[3, 3]], [[0, 0]])])
def test_normalise_per_map(values, expected):
    assert normalise(values) == expected
