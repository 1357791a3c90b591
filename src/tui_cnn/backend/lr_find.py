"""The learning-rate range test on a model and dataset: train a fresh copy of the model for at
most a few hundred batches while the learning rate grows exponentially, record the smoothed
loss, stop when it diverges. Nothing is saved and no run is left behind (the weights are
thrown away with the copy)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..domain.lr_range import END_LR, MAX_BATCHES, START_LR, LossSmoother, RangeResult, learning_rates, read_curve
from ..domain.spec import ModelSpec
from ..domain.train_config import TrainConfig
from .build import build_model
from .data import load_data
from .devices import resolve_device
from .trainer import make_optimizer


def lr_range_test(
    spec: ModelSpec,
    config: TrainConfig,
    start: float = START_LR,
    end: float = END_LR,
    batches: int = MAX_BATCHES,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> RangeResult:
    """The range test of ``spec`` on ``config``'s dataset, optimizer, weight decay and batch
    size (its learning rate and schedule are the test's). MissingDataError when there is no data."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = build_model(spec).to(device).train()
    data = load_data(
        config.dataset,
        config.data_dir,
        device,
        val_fraction=config.val_fraction,
        seed=config.seed,
        input_shape=tuple(spec.input_shape),
        resize=config.resize,
    )
    optimizer = make_optimizer(model, config)
    rates = learning_rates(start, end, batches)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    smoother = LossSmoother()
    tried: list[float] = []
    losses: list[float] = []
    stream = _endless(data, config.batch_size, generator)
    for step, lr in enumerate(rates):
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, labels = next(stream)
        loss = F.cross_entropy(model(images), labels, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        smoothed = smoother.add(loss.item())
        tried.append(lr)
        losses.append(smoothed)
        progress(step + 1, len(rates))
        if smoother.diverged(smoothed):
            break
    return read_curve(tried, losses)


def _endless(data, batch_size: int, generator: torch.Generator):
    """Training batches epoch after epoch (a small dataset may have fewer batches than the test)."""
    if data.batches_per_epoch(batch_size) == 0:
        raise ValueError(f"batch size {batch_size} is larger than the training set ({len(data.train)} images)")
    while True:
        yield from data.train_batches(batch_size, generator)
