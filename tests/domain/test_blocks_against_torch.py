"""Branched specs against real PyTorch: random Residual and Concat blocks, nested, with layers
that keep the shape (so merges often work) and layers that change it (so they often do not).

PyTorch runs each spec the way a user would write it by hand (in_channels read off the tensor
that arrives, ``a + b`` and ``torch.cat(..., dim=1)`` at the merges), independently of the
backend's builder. Where the engine accepts a spec, PyTorch must run it to the same output
shape with the same parameter count, and so must the backend's built model; where the engine
refuses, PyTorch must refuse too, or the merge must be one the engine refuses on purpose: an
add of two different shapes that PyTorch broadcasts into a shape the block's input never had.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.domain.test_against_torch import _run_layer, activation, batch_norm, image_layer
from tui_cnn.backend.build import build_model
from tui_cnn.domain.shapes import analyze
from tui_cnn.domain.spec import LayerSpec, ModelSpec, branches_of, concat, residual

pytestmark = pytest.mark.torch  # runs torch: outside the quick domain tier (-m "not torch")

L = LayerSpec.of


@dataclass
class TorchRun:
    params: int = 0
    error: str | None = None  # PyTorch raised
    nonsense: list[str] = field(default_factory=list)  # ran, but as the engine refuses on purpose


def run_layers(layers: tuple[LayerSpec, ...], x: torch.Tensor, run: TorchRun) -> torch.Tensor | None:
    for layer in layers:
        if x is None:
            return None
        if layer.type == "Residual":
            body, shortcut = (run_layers(path, x, run) for path in branches_of(layer))
            if body is None or shortcut is None:
                return None
            if body.shape != shortcut.shape:
                run.nonsense.append(f"add of {tuple(body.shape)} and {tuple(shortcut.shape)}")
            try:
                x = body + shortcut
            except RuntimeError as exc:
                run.error = str(exc)
                return None
        elif layer.type == "Concat":
            outputs = [run_layers(path, x, run) for path in branches_of(layer)]
            if any(out is None for out in outputs):
                return None
            try:
                x = torch.cat(outputs, dim=1)
            except (RuntimeError, IndexError, ValueError) as exc:
                run.error = str(exc)
                return None
        else:
            step, x = _run_layer(layer, x)
            run.params += step.params
            if step.error is not None:
                run.error = step.error
                return None
            if step.nonsense_accepted:
                run.nonsense.append(step.nonsense_accepted)
    return x


# Layers that keep (N, C, H, W) as it is, and a few that change channels or size.
_same_conv = st.sampled_from([4, 6]).map(lambda c: L("Conv2d", out_channels=c, kernel_size=3, padding=1, bias=False))
_one_by_one = st.sampled_from([2, 4, 6]).map(lambda c: L("Conv2d", out_channels=c, kernel_size=1))
_strided = st.sampled_from([1, 2]).map(lambda s: L("Conv2d", out_channels=4, kernel_size=3, stride=s, padding=1))
_pool_same = st.just(L("MaxPool2d", kernel_size=3, stride=1, padding=1))
plain_layer = st.one_of(_same_conv, _same_conv, _one_by_one, _strided, _pool_same, activation, batch_norm, image_layer)


def _blocks(inner: st.SearchStrategy) -> st.SearchStrategy:
    path = st.lists(inner, max_size=3)
    return st.one_of(
        st.tuples(path, path).map(lambda parts: residual(parts[0], tuple(parts[1]))),
        st.lists(path, min_size=1, max_size=3).map(lambda branches: concat(*branches)),
    )


any_layer = st.recursive(plain_layer, _blocks, max_leaves=10)
specs = st.builds(
    lambda layers, shape, classify: ModelSpec(
        "branched", shape, tuple(layers) + ((L("Flatten"), L("Linear", out_features=3)) if classify else ())
    ),
    st.lists(any_layer, min_size=1, max_size=4),
    st.tuples(st.integers(1, 4), st.integers(4, 12), st.integers(4, 12)),
    st.booleans(),
)


def _has_block(layers) -> bool:
    return any(branches_of(layer) for layer in layers)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.integers(1, 2))
@pytest.mark.slow
def test_branched_specs_agree_with_torch_or_are_refused_where_torch_refuses(spec, batch_size):
    analysis = analyze(spec, batch_size)
    run = TorchRun()
    with torch.no_grad():
        y = run_layers(spec.layers, torch.randn(batch_size, *spec.input_shape), run)
    if analysis.valid:
        assert run.error is None and not run.nonsense, (run, spec)
        assert tuple(y.shape) == analysis.output_shape
        assert run.params == analysis.totals.params
        built = build_model(spec).train()
        with torch.no_grad():
            out = built(torch.randn(max(batch_size, 2), *spec.input_shape))
        assert tuple(out.shape)[1:] == analysis.output_shape[1:]
        assert sum(p.numel() for p in built.parameters()) == analysis.totals.params
    else:
        assert run.error is not None or run.nonsense, (analysis.errors, spec)


@pytest.mark.slow
def test_random_branched_specs_cover_valid_and_invalid_models():
    """The property test's specs exercise both verdicts, on specs with blocks: drawn as it
    draws them and judged by the engine alone, so this holds on its own, on any xdist worker."""
    outcomes = {"valid": 0, "invalid": 0, "blocks": 0}

    @settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(specs, st.integers(1, 2))
    def judge(spec, batch_size):
        outcomes["blocks"] += _has_block(spec.layers)
        outcomes["valid" if analyze(spec, batch_size).valid else "invalid"] += 1

    judge()
    assert outcomes["valid"] >= 40 and outcomes["invalid"] >= 40 and outcomes["blocks"] >= 100, outcomes


@pytest.mark.parametrize("shortcut", [(), (L("Conv2d", out_channels=8, kernel_size=1),)])
def test_a_refused_add_is_one_torch_refuses(shortcut):
    spec = ModelSpec(
        "r", (4, 8, 8), (residual([L("Conv2d", out_channels=8, kernel_size=3, stride=2, padding=1)], shortcut),)
    )
    assert not analyze(spec).valid
    run = TorchRun()
    run_layers(spec.layers, torch.randn(2, 4, 8, 8), run)
    assert run.error is not None
