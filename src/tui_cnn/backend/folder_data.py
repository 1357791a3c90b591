"""A folder of the user's images on the training device, decoded once.

Every image is decoded, converted to the model's channels and resized to its input size
once (threads: Pillow releases the GIL while it decodes and resizes), into one uint8 tensor
per split, which then serves every epoch exactly as the built-in datasets' tensors do
(data.py's DeviceData: slices of a permutation on the device, no per-sample Python). The
decoded tensors are also kept in a cache file (per-user cache folder, keyed by every file's
name, size and time, the input shape and the resize mode), so the next run on the same
folder skips decoding.

What cannot be an image (unreadable, truncated, a decompression bomb) is skipped and
counted, never a crash; the run's log says how many and the first reason.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..domain import format as fmt
from ..domain.datasets import DatasetInfo, default_data_dir, folder_info
from ..domain.image_folder import FolderError, ImageFolder, scan_image_folder
from ..domain.specfile import atomic_writer

#: Larger pictures are refused as decompression bombs (Pillow's own warning starts at ~89 Mpx).
MAX_PIXELS = 64_000_000
#: Decoded folders larger than this are not kept in memory (nor in the cache).
MAX_CACHE_BYTES = 4 * 2**30
#: Cache files kept in the per-user cache folder (the oldest go first).
CACHE_FILES_KEPT = 4
CACHE_VERSION = 1


@dataclass(frozen=True)
class DecodedFolder:
    info: DatasetInfo  # classes, and the mean and std of the training images
    train_images: torch.Tensor  # uint8 (N, C, H, W)
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    skipped: tuple[str, ...]  # "path: why" of each image left out
    source: str  # one line for config.json: the layout, the resize, what was skipped, whether cached


def load_folder(
    root: str | os.PathLike[str],
    input_shape: tuple[int, int, int],
    resize: str,
    seed: int = 0,
    log: Callable[[str], None] = lambda message: None,
) -> DecodedFolder:
    """The folder's images as uint8 tensors of ``input_shape``; FolderError in one line if the
    folder cannot be trained on (bad layout, too big for memory, a class left with no image)."""
    folder = scan_image_folder(root, seed)
    channels, height, width = input_shape
    size = (len(folder.train) + len(folder.test)) * channels * height * width
    if size > MAX_CACHE_BYTES:
        raise FolderError(
            f"{folder.root} decodes to {fmt.binary_bytes(size)} at {fmt.dims(input_shape)}, more than the "
            f"{fmt.binary_bytes(MAX_CACHE_BYTES)} tui-cnn keeps in memory: train at a smaller input size or "
            "on a subset"
        )
    cache = _cache_path(folder, input_shape, resize)
    cached = _read_cache(cache)
    if cached is not None:
        log(f"{folder.describe()}; decoded images read from the cache {cache}")
        decoded = cached
    else:
        log(f"{folder.describe()}; decoding each image once to {fmt.dims(input_shape)}")
        decoded = _decode_all(folder, input_shape, resize)
        _write_cache(cache, decoded)
    train_images, train_labels, test_images, test_labels, skipped = decoded
    if skipped:
        log(f"skipped {len(skipped)} image(s) that could not be read (first: {skipped[0]})")
    _check_every_class_left(folder, train_labels, "training")
    mean, std = _channel_statistics(train_images)
    info = replace(folder_info(folder, input_shape), mean=mean, std=std)
    how = "resized (shorter side) and centre-cropped" if resize == "crop" else "resized (stretched)"
    source = f"{folder.root} (test: {folder.test_source}); images {how} to {fmt.dims(input_shape)}" + (
        f"; {len(skipped)} unreadable skipped" if skipped else ""
    )
    return DecodedFolder(info, train_images, train_labels, test_images, test_labels, tuple(skipped), source)


def decode_image(path: str, input_shape: tuple[int, int, int], resize: str) -> np.ndarray:
    """One picture as uint8 (C, H, W) of ``input_shape``: turned gray or colour to the model's
    channels (transparency over black), then resized (``crop``: the shorter side to fit and
    the centre kept; ``stretch``: to the size). ValueError with the reason when it cannot be."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = input_shape
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"{image.width}x{image.height} pixels: a decompression bomb?")
            image.draft("L" if channels == 1 else "RGB", (width, height))  # JPEG: decode at a smaller scale
            image = _flatten_alpha(image)
            image = image.convert("L" if channels == 1 else "RGB")
            image = _resized(image, width, height, resize)
            pixels = np.asarray(image, dtype=np.uint8)
    except UnidentifiedImageError:
        raise ValueError("not an image Pillow can read") from None
    except Image.DecompressionBombError:
        raise ValueError("too many pixels: a decompression bomb?") from None
    except (OSError, SyntaxError, EOFError) as exc:  # truncated, corrupted or unreadable
        raise ValueError(str(exc) or type(exc).__name__) from None
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _flatten_alpha(image):
    """An image with transparency, laid over black (the background MNIST-like digits have)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba)
    return image


def _resized(image, width: int, height: int, resize: str):
    from PIL import Image

    if image.size == (width, height):
        return image
    if resize == "stretch":
        return image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    scale = max(width / image.width, height / image.height)
    scaled = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(scaled, Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (scaled[0] - width) // 2, (scaled[1] - height) // 2
    return image.crop((left, top, left + width, top + height))


def _decode_all(folder: ImageFolder, input_shape: tuple[int, int, int], resize: str):
    skipped: list[str] = []
    splits = []
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for files in (folder.train, folder.test):
            results = pool.map(lambda item: _try_decode(item[0], input_shape, resize), files, chunksize=64)
            images, labels = [], []
            for (path, label), result in zip(files, results):
                if isinstance(result, str):
                    skipped.append(f"{path}: {result}")
                else:
                    images.append(result)
                    labels.append(label)
            stacked = np.stack(images) if images else np.zeros((0, *input_shape), dtype=np.uint8)
            splits += [torch.from_numpy(stacked), torch.tensor(labels, dtype=torch.long)]
    return (*splits, skipped)


def _try_decode(path: str, input_shape: tuple[int, int, int], resize: str) -> np.ndarray | str:
    try:
        return decode_image(path, input_shape, resize)
    except ValueError as exc:
        return str(exc)


def _check_every_class_left(folder: ImageFolder, labels: torch.Tensor, split: str) -> None:
    counts = torch.bincount(labels, minlength=len(folder.classes)).tolist()
    empty = [name for name, count in zip(folder.classes, counts) if count == 0]
    if empty:
        raise FolderError(
            f"no readable {split} image is left in class {empty[0]!r} of {folder.root}: every image there was skipped"
        )


def _channel_statistics(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the images scaled to 0..1 (in float64 chunks: no copy of
    the whole set as floats)."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(images), 4096):
        chunk = images[start : start + 4096].to(torch.float64) / 255
        total += chunk.sum(dim=(0, 2, 3))
        squares += (chunk * chunk).sum(dim=(0, 2, 3))
    count = max(1, images.numel() // channels)
    mean = total / count
    std = (squares / count - mean * mean).clamp_min(1e-12).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def _cache_path(folder: ImageFolder, input_shape: tuple[int, int, int], resize: str) -> Path:
    """The cache file of this folder as it is now: any file added, removed or changed (size or
    time), another input shape or resize mode makes another key."""
    digest = hashlib.sha256(
        f"{CACHE_VERSION} {os.path.abspath(folder.root)} {input_shape} {resize} {folder.classes}".encode()
    )
    for split in (folder.train, folder.test):
        digest.update(b"|")
        for path, label in split:
            try:
                stat = os.stat(path)
                digest.update(f"{path}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{path}\0gone\n".encode())
    return default_data_dir() / "folder-cache" / f"{digest.hexdigest()[:32]}.pt"


def _read_cache(path: Path):
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return (
            saved["train_images"],
            saved["train_labels"],
            saved["test_images"],
            saved["test_labels"],
            list(saved["skipped"]),
        )
    except Exception:  # noqa: BLE001 - absent, partial or foreign: decode again
        return None


def _write_cache(path: Path, decoded) -> None:
    """Best effort: a cache that cannot be written (read-only home, full disk) costs the next
    run its decoding time, nothing else."""
    train_images, train_labels, test_images, test_labels, skipped = decoded
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as out:
            torch.save(
                {
                    "train_images": train_images,
                    "train_labels": train_labels,
                    "test_images": test_images,
                    "test_labels": test_labels,
                    "skipped": list(skipped),
                },
                out,
            )
        kept = sorted(path.parent.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CACHE_FILES_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
