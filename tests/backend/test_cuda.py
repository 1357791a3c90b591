"""The CUDA path, on a real GPU: bf16 autocast, channels_last, fused Adam, cudnn.benchmark,
torch.compile, and the memory estimate the out-of-memory warning rests on. Skipped where
there is no CUDA (CI); run on a GPU box with the rest of the suite."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tui_cnn.backend.trainer import Trainer
from tui_cnn.domain.run_events import EpochEnd, Finished
from tui_cnn.domain.shapes import analyze

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def train(spec, config):
    events = []
    trainer = Trainer(spec, config, [events.append])
    trainer.run()
    return trainer, events


@pytest.mark.parametrize("options", [{}, {"amp": False}, {"compile": True}], ids=["bf16", "fp32", "compile"])
def test_a_run_on_cuda_learns_and_finishes(simple_cnn, tiny_config, options):
    _, events = train(simple_cnn, replace(tiny_config, device="cuda", epochs=2, **options))
    assert isinstance(events[-1], Finished), events[-1]
    losses = [e.metrics.train_loss for e in events if isinstance(e, EpochEnd)]
    assert losses[1] < losses[0]
    assert all(e.metrics.peak_mem_bytes for e in events if isinstance(e, EpochEnd))


@pytest.mark.parametrize("batch_size", [64, 512])
def test_the_training_memory_estimate_is_within_a_quarter_of_what_torch_allocates(simple_cnn, batch_size):
    import torch.nn.functional as F

    from tui_cnn.backend.build import build_model

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    model = build_model(simple_cnn).cuda()
    optimizer = torch.optim.Adam(model.parameters(), fused=True)
    images = torch.randn(batch_size, *simple_cnn.input_shape, device="cuda")
    labels = torch.randint(0, 10, (batch_size,), device="cuda")
    for _ in range(2):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize()
    measured = torch.cuda.max_memory_allocated() - before
    estimated = analyze(simple_cnn, batch_size).totals.training_bytes
    assert 0.75 <= measured / estimated <= 1.25, (measured, estimated)
