"""The CUDA path, on a real GPU: bf16 autocast, channels_last, fused Adam, cudnn.benchmark,
torch.compile (the memory estimate's check is tests/backend/test_gpu.py). Skipped where
there is no CUDA (CI); run on a GPU box with the rest of the suite."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tui_cnn.backend.trainer import Trainer
from tui_cnn.domain.run_events import EpochEnd, Finished

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
