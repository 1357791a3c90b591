"""The worked formulas of the tracker's detail panel, checked against the shape engine's numbers."""

from __future__ import annotations

from tui_cnn.domain import LayerSpec, ModelSpec, analyze
from tui_cnn.domain.explain import as_text, explain, explain_training_memory, mark


def explained(*layers: LayerSpec, input_shape=(1, 28, 28), batch_size=64, index=-1) -> str:
    analysis = analyze(ModelSpec("t", input_shape, layers), batch_size)
    return as_text(explain(analysis.layers[index]))


def test_a_convolution_is_worked_out_with_its_own_numbers(simple_cnn):
    text = as_text(explain(analyze(simple_cnn, 64).layers[0]))
    assert "H_out = floor((28 + 2*1 - 1*(3-1) - 1)/1 + 1) = 28" in text
    assert "32 * (1*3*3) + 32 = 320" in text
    assert "320 * 64 * 28 * 28 = 16,056,320" in text
    assert "784 x 25,088 = 19,668,992 weights" in text  # the lecture's argument for weight sharing
    assert "RF = 1 + 1*(3-1)*1 = 3" in text


def test_a_linear_layer_is_the_lectures_fully_connected_count():
    text = explained(LayerSpec.of("Flatten"), LayerSpec.of("Linear", out_features=512))
    assert "784 * 512 + 512 = 401,920" in text
    assert "784 x 512 = 401,408 weights" in text


def test_same_padding_with_an_even_kernel_pads_more_at_the_end():
    text = explained(LayerSpec.of("Conv2d", out_channels=4, kernel_size=4, padding="same"), input_shape=(3, 7, 7))
    assert "H_out = floor((7 + 1+2 - 1*(4-1) - 1)/1 + 1) = 7" in text
    assert 'padding "same": 1 before, 2 after' in text


def test_ceil_mode_shows_the_dropped_last_window():
    text = explained(LayerSpec.of("MaxPool2d", kernel_size=2, padding=1, ceil_mode=True), input_shape=(1, 5, 5))
    assert "H_out = ceil((5 + 2*1 - 1*(2-1) - 1)/2 + 1) - 1 = 3" in text
    assert "ceil_mode drops a last window" in text


def test_pooling_says_what_the_window_does():
    text = explained(LayerSpec.of("AvgPool2d", kernel_size=2))
    assert "each 2x2 window, moved 2 at a time, keeps the average of its values" in text
    assert "1 value kept of every 4" in text


def test_an_adaptive_pool_explains_its_windows():
    text = explained(LayerSpec.of("AdaptiveAvgPool2d", output_size=4))
    assert "H_out = output_size = 4, whatever comes in: windows of exactly 7 of the 28 input rows" in text


def test_batchnorm_counts_a_scale_and_a_shift_per_channel():
    text = explained(LayerSpec.of("Conv2d", out_channels=8, kernel_size=3), LayerSpec.of("BatchNorm2d"))
    assert "2 * 8 = 16" in text
    assert "17 buffers" in text


def test_a_broken_layer_leads_with_its_diagnostic():
    analysis = analyze(ModelSpec("t", (1, 4, 4), (LayerSpec.of("Conv2d", out_channels=2, kernel_size=7),)), 1)
    report = analysis.layers[0]
    sections = explain(report)
    assert mark(report) == "✗"
    assert sections[0].severity == "error" and sections[0].heading == "✗ error in kernel_size"
    assert any(line.startswith("fix: reduce kernel_size") for line in sections[0].lines)


def test_training_memory_is_the_rule_with_the_models_numbers(simple_cnn):
    analysis = analyze(simple_cnn, 64)
    text = as_text(explain_training_memory(analysis.totals, 64))
    assert "4 x 50,186 parameters x 4 B" in text
    assert "+ kept for the backward pass at its peak: 13.8 MiB (of 16.1 MiB the forward pass keeps" in text
    assert "= 20.9 MiB for batch 64 in float32 (the CPU)" in text
    assert (
        "with bf16 autocast (a GPU): 10.0 MiB kept + 1.9 MiB of gradients + 98.0 KiB of bf16 weights = 13.0 MiB" in text
    )
