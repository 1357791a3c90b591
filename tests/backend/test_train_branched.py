"""A branched spec trains like any other: the trainer builds Residual and Concat blocks through
backend/build.py, and the residual net learns what the same network learns in a plain PyTorch
loop (same data, optimizer, epochs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tui_cnn.backend.data import load_data
from tui_cnn.backend.inspect import Inspector
from tui_cnn.backend.trainer import Trainer
from tui_cnn.domain.run_events import Finished
from tui_cnn.domain.run_files import read_evaluation
from tui_cnn.domain.spec import LayerSpec, ModelSpec, concat, residual
from tui_cnn.domain.train_config import TrainConfig

pytestmark = pytest.mark.slow  # trains on the CPU

L = LayerSpec.of
RESIDUAL_NET = ModelSpec(
    "TinyResNet",
    (1, 28, 28),
    (
        L("Conv2d", out_channels=8, kernel_size=3, stride=2, padding=1),
        L("ReLU"),
        L("MaxPool2d", kernel_size=2),
        residual(
            [
                L("Conv2d", out_channels=8, kernel_size=3, padding=1, bias=False),
                L("BatchNorm2d"),
                L("ReLU"),
                L("Conv2d", out_channels=8, kernel_size=3, padding=1, bias=False),
                L("BatchNorm2d"),
            ]
        ),
        L("ReLU"),
        residual(
            [L("Conv2d", out_channels=16, kernel_size=3, stride=2, padding=1, bias=False), L("BatchNorm2d")],
            (L("Conv2d", out_channels=16, kernel_size=1, stride=2, bias=False), L("BatchNorm2d")),
        ),
        L("ReLU"),
        L("Flatten"),
        L("Linear", out_features=10),
    ),
)


class Block(nn.Module):
    """The residual block as one writes it in PyTorch."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return torch.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


def plain_pytorch_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        Block(
            nn.Sequential(
                nn.Conv2d(8, 8, 3, padding=1, bias=False),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.Conv2d(8, 8, 3, padding=1, bias=False),
                nn.BatchNorm2d(8),
            )
        ),
        Block(
            nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16)),
            nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16)),
        ),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


def plain_loop_accuracy(data_dir, epochs: int, batch_size: int) -> float:
    data = load_data("mnist-sample", data_dir, "cpu")
    torch.manual_seed(0)
    model = plain_pytorch_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        model.train()
        for images, labels in data.train_batches(batch_size, torch.Generator().manual_seed(epoch)):
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in data.eval_batches(data.test, 500))
    return correct / len(data.test)


@pytest.mark.timeout(600)  # two short trainings on the CPU, which other processes may share
def test_a_residual_net_trains_as_well_as_the_same_net_in_a_plain_pytorch_loop(tmp_path):
    epochs, batch = 2, 64
    config = TrainConfig(
        dataset="mnist-sample",
        data_dir=str(tmp_path / "data"),
        epochs=epochs,
        batch_size=batch,
        optimizer="adam",
        lr=1e-3,
        val_fraction=0.0,
        device="cpu",
        run_dir=str(tmp_path / "run"),
    )
    events = []
    trainer = Trainer(RESIDUAL_NET, config, [events.append])
    trainer.run()
    assert isinstance(events[-1], Finished), events[-1]
    ours = read_evaluation(trainer.run_dir).accuracy
    theirs = plain_loop_accuracy(tmp_path / "data", epochs, batch)
    assert theirs > 0.8  # it learns at all: the comparison means something
    assert abs(ours - theirs) <= 0.04, (ours, theirs)
    # Inspect opens the run: feature maps of every top-level row, a block's at its merge
    inspector = Inspector.for_run(trainer.run_dir)
    assert len(inspector.layers) == len(RESIDUAL_NET.layers) == len(inspector.reports)


def test_a_concat_net_trains_and_its_checkpoint_loads(tmp_path, tiny_config):
    from dataclasses import replace

    spec = ModelSpec(
        "TinyInception",
        (1, 28, 28),
        (
            L("Conv2d", out_channels=4, kernel_size=3, padding=1),
            L("MaxPool2d", kernel_size=4),
            concat(
                [L("Conv2d", out_channels=4, kernel_size=1)],
                [L("Conv2d", out_channels=4, kernel_size=3, padding=1)],
                [],
            ),
            L("Flatten"),
            L("Linear", out_features=10),
        ),
    )
    events = []
    trainer = Trainer(spec, replace(tiny_config, epochs=1), [events.append])
    trainer.run()
    assert isinstance(events[-1], Finished), events[-1]
    assert 0 <= read_evaluation(trainer.run_dir).accuracy <= 1
