"""Datasets on the training device: the fast path.

Each of the built-in datasets (MNIST, Fashion-MNIST, KMNIST, CIFAR-10: 47 to 184 MB as
uint8) fits in memory, so it is read once through torchvision and kept as one uint8 tensor
on the training device. Every batch is a slice of a seeded permutation made on the device,
converted to float and normalised there, optionally shifted and flipped there: no
per-sample Python, no DataLoader workers, no host-to-device copy per batch. A DataLoader
would only pay for datasets larger than memory, which none of these is.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ..domain.datasets import DATASETS, FOLDER, DatasetInfo, dataset_root, missing_files, require_folder
from ..domain.image_folder import FolderError
from ..domain.specfile import atomic_writer

MAX_SHIFT = 2  # pixels, random translation when augmenting


class MissingDataError(RuntimeError):
    """The dataset's files are not there and could not be downloaded, or a folder of images
    cannot be trained on; says what to do."""


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8 (N, C, H, W), on the training device
    labels: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: str) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def subset(self, index: torch.Tensor) -> "Split":
        return Split(self.images[index], self.labels[index])


class DeviceData:
    """A dataset's train / validation / test splits on one device, batched there."""

    def __init__(self, info: DatasetInfo, train: Split, val: Split, test: Split, *, channels_last: bool = False):
        self.info, self.train, self.val, self.test = info, train, val, test
        self.channels_last = channels_last
        self.source = ""  # how a folder of images was read (config.json says it); "" for the built-in datasets
        device = train.images.device
        # Normalise uint8 pixels in one fused step: (x - 255 mean) / (255 std).
        self._mean = torch.tensor(info.mean, device=device).view(1, -1, 1, 1) * 255
        self._inv_std = 1 / (torch.tensor(info.std, device=device).view(1, -1, 1, 1) * 255)

    def batches_per_epoch(self, batch_size: int) -> int:
        return len(self.train) // batch_size

    def train_batches(
        self,
        batch_size: int,
        generator: torch.Generator,
        augment: bool = False,
        skip: int = 0,
        shard: tuple[int, int] = (0, 1),
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch in a seeded random order, less its first ``skip`` batches (a resumed run
        stopped part-way). The ragged last batch is dropped, so every batch has the same
        shape (cudnn.benchmark and torch.compile tune for one shape).

        ``shard=(rank, ranks)``: of each batch of ``batch_size`` (the global batch, the same
        images on every rank since every rank draws the same permutation), this rank's slice
        of ``batch_size // ranks``. Augmented, the whole batch is shifted with the shared
        generator and then sliced, so ranks draw the shifts a one-process run draws."""
        rank, ranks = shard
        local = batch_size // ranks
        order = torch.randperm(len(self.train), generator=generator, device=generator.device)
        for start in range(skip * batch_size, self.batches_per_epoch(batch_size) * batch_size, batch_size):
            index = order[start : start + batch_size]
            mine = slice(rank * local, (rank + 1) * local)
            if augment:
                images = self._augment(self.train.images[index], generator)[mine]
            else:
                images = self.train.images[index[mine]]
            yield self.normalise(images), self.train.labels[index[mine]]

    def eval_batches(self, split: Split, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(split), batch_size):
            yield self.normalise(split.images[start : start + batch_size]), split.labels[start : start + batch_size]

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() - self._mean) * self._inv_std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        images = random_translate(images, MAX_SHIFT, generator)
        if self.info.flips:
            flip = torch.rand(len(images), generator=generator, device=generator.device) < 0.5
            images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
        return images


def random_translate(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by its own random offset of up to ``max_shift`` pixels along each
    axis, filling with zeros: one pad and one gather for the whole batch."""
    n, c, h, w = images.shape
    device = images.device
    padded = F.pad(images, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator, device=generator.device)
    rows = (torch.arange(h, device=device) + dy)[:, None, :, None]
    cols = (torch.arange(w, device=device) + dx)[:, None, None, :]
    return padded[
        torch.arange(n, device=device)[:, None, None, None],
        torch.arange(c, device=device)[None, :, None, None],
        rows,
        cols,
    ]


def load_data(
    name: str,
    data_dir: str | os.PathLike[str] | None,
    device: str,
    *,
    val_fraction: float = 0.0,
    seed: int = 0,
    channels_last: bool = False,
    log: Callable[[str], None] = lambda message: None,
    input_shape: tuple[int, int, int] | None = None,
    resize: str = "crop",
) -> DeviceData:
    """Read the dataset (unpacking the built-in sample or downloading when needed) and put it
    on ``device``. Validation is the test split unless ``val_fraction`` of train is held out.
    ``--dataset folder`` (the user's images in ``data_dir``) is decoded to ``input_shape``."""
    if name == FOLDER:
        info, train, test, source = _read_folder(data_dir, input_shape, resize, seed, log)
    else:
        info, source = DATASETS[name], ""
        root = dataset_root(name, data_dir)
        if info.packaged:
            unpack_sample(root)
        elif missing_files(name, data_dir):
            _download(info, root, log)
        train, test = (_read(info, root, train=is_train) for is_train in (True, False))
    train, test = train.to(device), test.to(device)
    val = test  # the same tensors: one copy on the device, not two
    if val_fraction > 0:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).to(device)
        held_out = round(len(train) * val_fraction)
        train, val = train.subset(order[held_out:]), train.subset(order[:held_out])
    data = DeviceData(info, train, val, test, channels_last=channels_last)
    data.source = source
    return data


def _read_folder(data_dir, input_shape, resize: str, seed: int, log: Callable[[str], None]):
    from .folder_data import load_folder

    if input_shape is None:
        raise ValueError("a folder of images is decoded to the model's input shape: pass input_shape")
    try:
        decoded = load_folder(require_folder(data_dir), tuple(input_shape), resize, seed, log)
    except FolderError as exc:
        raise MissingDataError(str(exc)) from None
    return (
        decoded.info,
        Split(decoded.train_images, decoded.train_labels),
        Split(decoded.test_images, decoded.test_labels),
        decoded.source,
    )


def _read(info: DatasetInfo, root: Path, train: bool) -> Split:
    import torchvision

    dataset = getattr(torchvision.datasets, info.torchvision_class)(str(root), train=train, download=False)
    images = torch.as_tensor(dataset.data)
    # MNIST-like: (N, H, W); CIFAR-10: (N, H, W, C) numpy
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    return Split(images.contiguous(), torch.as_tensor(dataset.targets, dtype=torch.long))


def _download(info: DatasetInfo, root: Path, log: Callable[[str], None]) -> None:
    import torchvision

    log(f"{info.name}: not found in {root}; downloading it there")
    try:
        for train in (True, False):
            getattr(torchvision.datasets, info.torchvision_class)(str(root), train=train, download=True)
    except Exception as exc:  # noqa: BLE001 - offline, proxy, disk full: the message below covers it
        missing = missing_files(info.name, root)
        folders = sorted({str(path.parent) for path in missing})
        names = ", ".join(path.name for path in missing)
        raise MissingDataError(
            f"{info.name} is not in {' / '.join(folders)} and could not be downloaded "
            f"({_last_line(exc)}). Put {names} there (as torchvision lays them out), "
            f"or pass --data-dir with the folder that holds {info.files[0].split('/')[0]}/, "
            f"or train on the built-in sample with --dataset mnist-sample"
        ) from None


def _last_line(exc: Exception) -> str:
    """The cause in a download error (torchvision puts it on the last line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def unpack_sample(root: Path) -> None:
    """Decompress the packaged MNIST sample into ``root`` once (torchvision reads only the
    uncompressed IDX files). Each file is written beside its target and renamed into place,
    so two processes unpacking at once never see half a file."""
    packaged = resources.files("tui_cnn").joinpath("data", "mnist-sample")
    for relative in DATASETS["mnist-sample"].files:
        target = root / relative
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            packaged.joinpath(f"{relative}.gz").open("rb") as compressed,
            gzip.open(compressed) as source,
            atomic_writer(target) as out,
        ):
            shutil.copyfileobj(source, out)
