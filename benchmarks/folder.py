"""A folder of the user's images: the engine's decode-once path against torchvision's
ImageFolder through a DataLoader with 2 workers, the way such a folder is usually read.

The folder: 20,000 small PNG images (the packaged MNIST sample's digits, 10 classes, saved
at 32x32, a quarter of them in colour), read as 1x28x28 by both (resize + centre crop,
gray). The engine's first epoch pays the decoding (reported apart, with the memory its
cache takes); every later epoch is a slice of device tensors. An epoch is every batch of 64
put on the device as normalised floats and read in full (datapath.consume).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

from .datapath import BATCH_SIZE, consume
from .harness import Figure, Options, alternate, median

FULL_IMAGES = 20_000
QUICK_IMAGES = 1_000
INPUT = (1, 28, 28)


def write_folder(root: Path, images: int) -> Path:
    """``root/train/<digit>/*.png`` and ``root/test/<digit>/*.png`` (a tenth as many)."""
    import torchvision
    from PIL import Image

    from tui_cnn.backend.data import unpack_sample

    unpack_sample(root / "sample")
    sample = torchvision.datasets.MNIST(str(root / "sample"), train=True, download=False)
    pixels, labels = sample.data.numpy(), sample.targets.tolist()
    spread = 7919  # a prime: consecutive images walk through the sample's classes (it is sorted by class)
    for split, count in (("train", images), ("test", images // 10)):
        for index in range(count):
            source = index * spread % len(labels)
            folder = root / "folder" / split / str(labels[source])
            folder.mkdir(parents=True, exist_ok=True)
            picture = Image.fromarray(pixels[source]).resize((32, 32))
            (picture.convert("RGB") if index % 4 == 0 else picture).save(folder / f"{index:05d}.png")
    return root / "folder"


def engine_epoch(root: Path, device: str) -> tuple[Callable[[], int], float, int]:
    """An epoch of the engine's path, the seconds its decoding took, and its cache's bytes."""
    import torch

    from tui_cnn.backend.data import load_data

    start = time.perf_counter()
    data = load_data("folder", root, device, input_shape=INPUT)
    decode_s = time.perf_counter() - start
    generator = torch.Generator(device=device).manual_seed(0)
    cache_bytes = sum(split.images.numel() for split in (data.train, data.test))
    return (lambda: consume(data.train_batches(BATCH_SIZE, generator), device)), decode_s, cache_bytes


def imagefolder_epoch(root: Path, device: str, workers: int = 2) -> Callable[[], int]:
    import torch
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.Grayscale(),
            transforms.Resize(INPUT[1:]),
            transforms.CenterCrop(INPUT[1:]),
            transforms.ToTensor(),
            transforms.Normalize((0.13,), (0.31,)),
        ]
    )
    dataset = datasets.ImageFolder(str(root / "train"), transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=BATCH_SIZE,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
    )
    return lambda: consume(loader, device)


def run(options: Options) -> list[Figure]:
    import os

    images = QUICK_IMAGES if options.quick else FULL_IMAGES
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-folder-") as tmp:
        previous = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # a cold cache: the decoding is measured
        try:
            root = write_folder(Path(tmp), images)
            engine, decode_s, cache_bytes = engine_epoch(root, options.device)
            contenders = {
                "decoded once": engine,
                "ImageFolder + DataLoader, 2 workers": imagefolder_epoch(root, options.device),
            }
            rounds = options.runs(full=3, quick=1)
            times = alternate(contenders, rounds=rounds, warmup=1)
        finally:
            if previous is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = previous
    seen = images // BATCH_SIZE * BATCH_SIZE
    speed = {name: seen / median(samples) for name, samples in times.items()}
    how = (
        f"{images:,} 32x32 PNGs (a quarter RGB) read as 1x28x28, batch {BATCH_SIZE}, {options.device}, "
        f"epochs after the first, alternating, median of {rounds}"
    )
    engine_name, loader_name = contenders
    return [
        Figure(
            "folder",
            "decoded once: images/s from the second epoch",
            speed[engine_name],
            "images/s",
            how,
            samples=times[engine_name],
        ),
        Figure(
            "folder",
            "ImageFolder + DataLoader (2 workers): images/s",
            speed[loader_name],
            "images/s",
            how,
            samples=times[loader_name],
        ),
        Figure(
            "folder",
            "speed-up from the second epoch",
            speed[engine_name] / speed[loader_name],
            "x",
            "decoded once / ImageFolder + DataLoader",
            target=">= 5",
        ),
        Figure(
            "folder",
            "first epoch: decoding the folder",
            decode_s,
            "s",
            f"{images + images // 10:,} images, threads, cold cache (read from the cache the next time)",
        ),
        Figure("folder", "decoded cache in memory", cache_bytes, "bytes", "uint8, train + test"),
    ]
