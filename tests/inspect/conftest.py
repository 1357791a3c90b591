"""A tiny trained run to inspect: a two-conv model trained for a few seconds on the tiny
MNIST-layout data, written as the training engine writes a run directory."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tui_cnn.domain.run_records import DatasetRecord, DeviceRecord, RunConfigFile
from tui_cnn.domain.spec import LayerSpec, ModelSpec
from tui_cnn.domain.specfile import spec_to_dict
from tui_cnn.domain.train_config import TrainConfig

TINY = ModelSpec(
    "TinyCNN",
    (1, 28, 28),
    (
        LayerSpec.of("Conv2d", out_channels=4, kernel_size=3, padding=1),
        LayerSpec.of("ReLU"),
        LayerSpec.of("MaxPool2d", kernel_size=2),
        LayerSpec.of("Conv2d", out_channels=6, kernel_size=3, padding=1),
        LayerSpec.of("ReLU"),
        LayerSpec.of("MaxPool2d", kernel_size=2),
        LayerSpec.of("Flatten"),
        LayerSpec.of("Linear", out_features=10),
    ),
)


def train_tiny_run(run_dir: Path, data_root: Path, epochs: int = 1) -> Path:
    """Plain Adam on one CPU thread (the same weights on every machine and run), then the files
    a finished run has: config.json, model.py, checkpoint-best.pt, eval.json."""
    import torch
    import torch.nn.functional as F

    from tui_cnn.backend import runs
    from tui_cnn.backend.build import build_model
    from tui_cnn.backend.data import load_data
    from tui_cnn.backend.evaluate import evaluate
    from tui_cnn.domain.run_dir import BEST_CHECKPOINT

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        data = load_data("mnist", data_root, "cpu")
        model = build_model(TINY)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        generator = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            for images, labels in data.train_batches(32, generator):
                optimizer.zero_grad()
                F.cross_entropy(model(images), labels).backward()
                optimizer.step()
        model.eval()
        run_dir.mkdir(parents=True)
        config = TrainConfig(dataset="mnist", data_dir=str(data_root), epochs=epochs)
        runs.write_config(
            run_dir, RunConfigFile(spec_to_dict(TINY), config.to_json(), DatasetRecord("mnist"), DeviceRecord("cpu"))
        )
        runs.write_model_code(run_dir, TINY)
        runs.save_checkpoint(run_dir / BEST_CHECKPOINT, {"model": model.state_dict()})
        runs.write_evaluation(run_dir, evaluate(model, data, 64, contextlib.nullcontext))
    finally:
        torch.set_num_threads(threads)
    return run_dir


@pytest.fixture(scope="session")
def tiny_run(mnist_root: Path, tmp_path_factory) -> Path:  # noqa: F811
    return train_tiny_run(tmp_path_factory.mktemp("inspect") / "tiny-run", mnist_root)
