"""The yardstick: a plain hand-written PyTorch training loop, as a careful person writes it.

Whole dataset as normalised float tensors on the device, a randperm per epoch, slices,
forward / loss / backward / step, the loss summed on the device (one sync per epoch, not
one per batch). No events, metrics files or checkpoints: what the engine adds costs
whatever the engine is slower than this.
"""

from __future__ import annotations

import torch
from torch import nn

from tui_cnn.backend.build import build_model
from tui_cnn.domain.presets import load_preset


def simple_cnn(device: str, channels_last: bool = False) -> nn.Module:
    model = build_model(load_preset("SimpleCNN")).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def adam(model: nn.Module, device: str) -> torch.optim.Optimizer:
    """Adam at 1e-3, fused into one kernel on CUDA (as the engine does there)."""
    return torch.optim.Adam(model.parameters(), lr=1e-3, fused=device.startswith("cuda"))


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    *,
    amp: bool = False,
) -> int:
    """One epoch over ``images`` (float, normalised, on the model's device); the ragged last
    batch is dropped. Returns the number of images trained on."""
    device_type = images.device.type
    order = torch.randperm(len(images), device=images.device)
    loss_sum = torch.zeros((), device=images.device)
    steps = len(images) // batch_size
    model.train()
    for start in range(0, steps * batch_size, batch_size):
        index = order[start : start + batch_size]
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            loss = nn.functional.cross_entropy(model(images[index]), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
    loss_sum.item()  # the epoch's one sync: every step has really run
    return steps * batch_size


@torch.no_grad()
def validate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, amp: bool = False
) -> float:
    """Accuracy on a held-out split, in batches, with one sync at the end."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    for start in range(0, len(images), batch_size):
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(images[start : start + batch_size])
        correct += (logits.argmax(1) == labels[start : start + batch_size]).sum()
    model.train()
    return correct.item() / max(len(images), 1)
