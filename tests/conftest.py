"""Shared fixtures, for the backend, app, CLI and inspect tests alike: the tiny MNIST-layout
data set (written in the test, read through torchvision like the real one) lives here once.
numpy and torchvision load inside the fixtures, so the quick tests never import them."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tui_cnn.domain import load_preset
from tui_cnn.domain.spec import ModelSpec
from tui_cnn.domain.train_config import TrainConfig

if TYPE_CHECKING:
    import numpy as np


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--heavy", action="store_true", help="run the heavy tier too: the long end-to-end proofs (see the README)"
    )


def pytest_collection_modifyitems(config, items) -> None:
    """The heavy tier (``@pytest.mark.heavy``) waits for --heavy: each of its tests repeats,
    longer or at more points, what a test of the default run already proves (CI's 12 minutes
    hold the default run). Left out, they still show in the summary as skipped, with why."""
    if config.getoption("--heavy"):
        return
    skip = pytest.mark.skip(reason="heavy tier: run with --heavy")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_slurm_unless_asked(request, monkeypatch):
    """Whether sbatch is on this machine's PATH changes the monitor's setup form (its SLURM
    fields): every test sees a machine without SLURM, the same everywhere, except those on
    the one-node cluster (the ``cluster`` fixture), which see the real one."""
    if "cluster" not in request.fixturenames:
        from tui_cnn.backend import slurm

        monkeypatch.setattr(slurm, "available", lambda: False)


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path, monkeypatch):
    """Each test has its own $XDG_STATE_HOME: a crash recovery file a test writes never
    reaches the user's, and the user's never makes the app open on a restore dialog."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


@pytest.fixture(autouse=True)
def no_run_outlives_its_test(monkeypatch):
    """Runs started through backend.launch live in sessions of their own, on purpose: a
    test that fails before stopping its run would leave it training. Each one still alive
    when its test ends is killed (its whole session: torchrun's ranks too)."""
    import os
    import signal

    from tui_cnn.backend import launch

    started = []
    start = launch.start_detached

    def start_and_keep(*args, **kwargs):
        run = start(*args, **kwargs)
        started.append(run)
        return run

    monkeypatch.setattr(launch, "start_detached", start_and_keep)
    yield started
    for run in started:
        if run.exit_status is None:
            try:
                os.killpg(run.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def simple_cnn() -> ModelSpec:
    return load_preset("SimpleCNN")


@pytest.fixture
def on_a_terminal(monkeypatch):
    """The command line as if run in a terminal: CliRunner's stdin and stdout are not one,
    and the app commands refuse to start without a terminal."""
    monkeypatch.setattr("tui_cnn.cli.common.stdio_is_terminal", lambda: True)


# --- tiny MNIST ----------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format MNIST ships in: magic (0, 0, type 0x08 = uint8, ndim), big-endian sizes, bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype("uint8").tobytes())


def learnable_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faint noise with a bright square whose place depends on the class: easy to learn."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for image, label in zip(images, labels):
        row, col = (label // 5) * 12 + 4, (label % 5) * 5 + 2
        image[row : row + 6, col : col + 4] = 255
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
    return TrainConfig(
        dataset="mnist",
        data_dir=str(mnist_root),
        epochs=1,
        batch_size=32,
        progress_every=2,
        run_dir=str(tmp_path / "run"),
    )


@pytest.fixture
def offline(monkeypatch):
    """Downloads fail as they do on a machine without a network, and never reach one."""
    import torchvision

    def no_network(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n<urlopen error no network (test)>")

    for name in ("MNIST", "FashionMNIST", "KMNIST", "CIFAR10"):
        monkeypatch.setattr(getattr(torchvision.datasets, name), "download", no_network)


# --- a tiny folder of images, as a user's own would be -------------------------------------


def write_digit_folder(root: Path, classes: int, per_class: int, test_per_class: int, seed: int = 0) -> Path:
    """``root/train/digit<k>/`` and ``root/test/digit<k>/``: real digits of the packaged MNIST
    sample, saved as a user's folder would hold them, every format and mode mixed (gray PNG,
    colour JPEG, WebP, RGBA PNG, palette GIF) at sizes other than 28x28."""
    import random

    import torchvision
    from PIL import Image

    from tui_cnn.backend.data import unpack_sample

    sample = root.parent / f"{root.name}-sample"
    unpack_sample(sample)
    rng = random.Random(seed)
    savers = (
        lambda im, n: im.save(f"{n}.png"),
        lambda im, n: im.convert("RGB").resize((40, 40)).save(f"{n}.jpg", quality=90),
        lambda im, n: im.resize((56, 48)).save(f"{n}.webp"),
        lambda im, n: im.convert("RGBA").save(f"{n}.png"),
        lambda im, n: im.convert("P").save(f"{n}.gif"),
        lambda im, n: im.resize((100, 80)).save(f"{n}.png"),
    )
    for split, train, wanted in (("train", True, per_class), ("test", False, test_per_class)):
        data = torchvision.datasets.MNIST(str(sample), train=train, download=False)
        counts = [0] * classes
        for pixels, label in zip(data.data.numpy(), data.targets.tolist()):
            if label >= classes or counts[label] >= wanted:
                continue
            counts[label] += 1
            folder = root / split / f"digit{label}"
            folder.mkdir(parents=True, exist_ok=True)
            rng.choice(savers)(Image.fromarray(pixels), folder / f"{counts[label]:04d}")
    return root


@pytest.fixture(scope="session")
def digit_folder(tmp_path_factory) -> Path:
    """3 classes of real MNIST digits in mixed formats and sizes: 150 training and 40 test images each."""
    return write_digit_folder(tmp_path_factory.mktemp("images") / "digits", classes=3, per_class=150, test_per_class=40)
