"""Figure 4: images/s of the engine's device-resident data path against the classic
torchvision DataLoader with ToTensor + Normalize (num_workers 0 and 2).

Both read the same IDX files through torchvision: the packaged MNIST sample, repeated to
MNIST's 60,000 training images in full mode (the sample's 4,000 in quick mode). An epoch is
every batch of 64 put on the training device as normalised floats and read in full.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .harness import Figure, Options, Skipped, alternate, median

if TYPE_CHECKING:
    import torch

BATCH_SIZE = 64
FULL_IMAGES = 60_000
WORKERS = (0, 2)


def write_idx(path: Path, data: torch.Tensor, magic: int) -> None:
    """An IDX file as MNIST ships it: magic, big-endian sizes, then uint8 values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(f">I{data.ndim}I", magic, *data.shape)
    path.write_bytes(header + data.numpy().tobytes())


def mnist_sized_root(root: Path, images: int) -> Path:
    """A torchvision root holding ``MNIST/raw``: the packaged sample, repeated to ``images``."""
    import torch
    import torchvision

    from tui_cnn.backend.data import unpack_sample

    sample_root = root / "sample"
    unpack_sample(sample_root)
    raw = root / "mnist" / "MNIST" / "raw"
    for split, prefix in ((True, "train"), (False, "t10k")):
        sample = torchvision.datasets.MNIST(str(sample_root), train=split, download=False)
        repeats = -(-images // len(sample.data)) if split else 1
        data = sample.data.repeat(repeats, 1, 1)[:images] if split else sample.data
        targets = sample.targets.repeat(repeats)[:images] if split else sample.targets
        write_idx(raw / f"{prefix}-images-idx3-ubyte", data.to(torch.uint8), 2051)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", targets.to(torch.uint8), 2049)
    return root / "mnist"


def device_epoch(root: Path, device: str) -> Callable[[], int]:
    import torch

    from tui_cnn.backend.data import load_data

    data = load_data("mnist", root, device)
    generator = torch.Generator(device=device).manual_seed(0)

    def epoch() -> int:
        return consume(data.train_batches(BATCH_SIZE, generator), device)

    return epoch


def dataloader_epoch(root: Path, device: str, workers: int) -> Callable[[], int]:
    import torch
    from torchvision import datasets, transforms

    from tui_cnn.domain.datasets import DATASETS

    info = DATASETS["mnist"]
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(info.mean, info.std)])
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=workers, drop_last=True, pin_memory=device == "cuda"
    )
    return lambda: consume(loader, device)


def consume(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: str) -> int:
    """Put every batch on the device and read all of it; returns the images seen."""
    import torch

    checksum = torch.zeros((), device=device)
    seen = 0
    for images, labels in batches:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        checksum += images.sum() + labels.sum()
        seen += len(labels)
    checksum.item()  # wait for the device
    return seen


def run(options: Options) -> list[Figure]:
    try:
        from tui_cnn.backend.data import load_data, unpack_sample  # noqa: F401
    except ImportError as missing:
        raise Skipped(f"the engine's data path is not there yet ({missing})") from None
    images = 4_000 if options.quick else FULL_IMAGES
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-") as tmp:
        root = mnist_sized_root(Path(tmp), images)
        contenders = {"device-resident": device_epoch(root, options.device)}
        for workers in WORKERS:
            contenders[f"DataLoader, {workers} workers"] = dataloader_epoch(root, options.device, workers)
        rounds = options.runs(full=3, quick=1)
        times = alternate(contenders, rounds=rounds, warmup=0 if options.quick else 1)
    images_seen = images // BATCH_SIZE * BATCH_SIZE
    speed = {name: images_seen / median(samples) for name, samples in times.items()}
    how = f"{images:,} MNIST images, batch {BATCH_SIZE}, {options.device}, alternating, median of {rounds}"
    figures = [Figure("datapath", name, speed[name], "images/s", how, samples=times[name]) for name in contenders]
    fast = "device-resident"
    for name in contenders:
        if name != fast:
            figures.append(
                Figure(
                    "datapath",
                    f"speed-up vs {name}",
                    speed[fast] / speed[name],
                    "x",
                    f"{fast} images/s / {name} images/s",
                )
            )
    return figures
