"""Datasets: the catalogue (no torch), the packaged sample, on-device batches."""

from __future__ import annotations

import pytest
import torch

from tui_cnn.backend.data import load_data, random_translate
from tui_cnn.backend.devices import describe_device, gpu_stats, resolve_device
from tui_cnn.domain.datasets import DATASETS, check_spec_matches, default_data_dir, default_dataset, is_available
from tui_cnn.domain.presets import load_preset


@pytest.mark.slow
def test_the_packaged_sample_loads_5000_real_digits(tmp_path):
    data = load_data("mnist-sample", tmp_path, "cpu")

    assert (len(data.train), len(data.test)) == (4000, 1000)
    assert data.train.images.shape[1:] == (1, 28, 28) and data.train.images.dtype == torch.uint8
    assert torch.bincount(data.test.labels).tolist() == [100] * 10
    assert data.val is data.test


def test_val_fraction_holds_out_part_of_train(mnist_root):
    data = load_data("mnist", mnist_root, "cpu", val_fraction=0.25)

    assert (len(data.train), len(data.val), len(data.test)) == (192, 64, 64)


def test_batches_are_normalised_full_sized_and_seeded(mnist_root):
    data = load_data("mnist", mnist_root, "cpu")

    def epoch(seed):
        return list(data.train_batches(100, torch.Generator().manual_seed(seed)))

    batches = epoch(0)
    assert [len(labels) for _, labels in batches] == [100, 100]  # 256 images: the ragged 56 are dropped
    images = torch.cat([x for x, _ in batches])
    assert images.dtype == torch.float32 and abs(images.mean()) < 0.5
    assert torch.equal(batches[0][1], epoch(0)[0][1]) and not torch.equal(batches[0][1], epoch(1)[0][1])


def test_random_translate_shifts_each_image_within_the_limit():
    image = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    image[0, 0, 4, 4] = 255
    shifted = random_translate(image.repeat(200, 1, 1, 1), 2, torch.Generator().manual_seed(0))
    rows, cols = (shifted[:, 0] == 255).nonzero()[:, 1:].T

    assert len(rows) == 200 and set(rows.tolist()) == set(range(2, 7)) and set(cols.tolist()) == set(range(2, 7))


def test_the_default_dataset_is_mnist_when_present_else_the_sample(mnist_root, tmp_path):
    assert default_dataset(mnist_root)[0] == "mnist"
    name, why = default_dataset(tmp_path)
    assert name == "mnist-sample" and str(tmp_path) in why and "5,000" in why
    assert is_available("mnist-sample", tmp_path) and not is_available("cifar10", tmp_path)


def test_the_data_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "tui-cnn" / "data"


def test_a_spec_that_does_not_fit_the_dataset_gets_the_fix():
    simple, vgg = load_preset("SimpleCNN"), load_preset("VGGSmall")

    assert check_spec_matches(simple, "mnist") is None and check_spec_matches(vgg, "cifar10") is None
    assert "input_shape to [3, 32, 32]" in check_spec_matches(simple, "cifar10")
    assert "input_shape to [1, 28, 28]" in check_spec_matches(vgg, "fashion-mnist")
    assert all(info.num_classes == 10 for info in DATASETS.values())


def test_devices_resolve_and_describe_without_a_gpu():
    device = resolve_device("auto")
    assert device in ("cpu", "cuda", "mps") and resolve_device("cpu") == "cpu"
    info = describe_device("cpu")
    assert info.kind == "cpu" and info.name
    if not torch.cuda.is_available():
        assert gpu_stats() is None  # no NVIDIA GPU: None, never an exception
