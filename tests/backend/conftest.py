"""Tiny MNIST-layout datasets written in the test, read through torchvision like the real one."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torchvision

from tui_cnn.domain.training import TrainConfig


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format MNIST ships in: magic (0, 0, type 0x08 = uint8, ndim), big-endian sizes, bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def learnable_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faint noise with a bright square whose place depends on the class: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for image, label in zip(images, labels):
        row, col = (label // 5) * 12 + 4, (label % 5) * 5 + 2
        image[row:row + 6, col:col + 4] = 255
    return images, labels


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A torchvision root holding MNIST/raw/ with 256 training and 64 test images."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count, seed in (("train", 256, 0), ("t10k", 64, 1)):
        images, labels = learnable_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture
def tiny_config(mnist_root: Path, tmp_path: Path) -> TrainConfig:
    return TrainConfig(dataset="mnist", data_dir=str(mnist_root), epochs=1, batch_size=32, progress_every=2,
                       run_dir=str(tmp_path / "run"))


@pytest.fixture
def offline(monkeypatch):
    """Downloads fail as they do on a machine without a network, and never reach one."""
    def no_network(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n<urlopen error no network (test)>")

    for name in ("MNIST", "FashionMNIST", "KMNIST", "CIFAR10"):
        monkeypatch.setattr(getattr(torchvision.datasets, name), "download", no_network)
