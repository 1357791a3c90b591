"""Figure 2: how long the shape engine takes to re-validate a spec, and how that grows.

The builder re-runs ``analyze`` on every keystroke, so this is the UI's budget per edit.
Specs are realistic valid stacks (Conv2d 3x3 padding 1 / BatchNorm2d / ReLU blocks, which
keep the image size, so any depth stays valid).
"""

from __future__ import annotations

from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.spec import LayerSpec, ModelSpec

from .harness import Figure, Options, median, per_call

DEPTHS = (10, 100, 1000)
_BLOCK = (
    LayerSpec.of("Conv2d", out_channels=32, kernel_size=3, padding=1),
    LayerSpec.of("BatchNorm2d"),
    LayerSpec.of("ReLU"),
)


def conv_stack(layers: int) -> ModelSpec:
    spec = ModelSpec("ConvStack", (3, 32, 32), tuple(_BLOCK[i % len(_BLOCK)] for i in range(layers)))
    if not analyze(spec).valid:
        raise RuntimeError("the stack must be valid: the benchmark measures the common case")
    return spec


def seconds_per_analysis(spec: ModelSpec, repeats: int) -> list[float]:
    analyze(spec)  # warm-up
    return [per_call(lambda: analyze(spec, batch_size=64)) for _ in range(repeats)]


def run(options: Options) -> list[Figure]:
    repeats = options.runs(full=7, quick=2)
    figures = []
    per_layer = {}
    for depth in DEPTHS:
        samples = seconds_per_analysis(conv_stack(depth), repeats)
        per_layer[depth] = median(samples) / depth
        figures.append(
            Figure(
                "shapes",
                f"analyze, {depth:,} layers",
                median(samples),
                "s",
                f"Conv/BN/ReLU stack, median of {repeats}",
                samples=samples,
                target="< 0.002" if depth == 100 else None,
            )
        )
    growth = per_layer[DEPTHS[-1]] / per_layer[DEPTHS[1]]
    figures.append(
        Figure(
            "shapes",
            f"growth, per-layer cost {DEPTHS[1]:,} -> {DEPTHS[-1]:,} layers",
            growth,
            "x",
            "1.0x = linear in the number of layers",
            extra={"seconds_per_layer": per_layer},
        )
    )
    return figures
