"""The datasets a model can train on, as plain data: what their images look like, their
classes, and which files torchvision reads from where. Pure Python (no torch), so the app
and the command line can check a spec against a dataset and tell whether its files are
present before anything heavy is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, cast

from . import format as fmt
from . import paths
from .image_folder import FolderError, ImageFolder, scan_image_folder
from .shapes import analyze
from .spec import ModelSpec

_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # what --dataset takes
    title: str
    input_shape: tuple[int, int, int]  # C, H, W
    classes: tuple[str, ...]
    torchvision_class: str  # torchvision.datasets.<this>(root, train=..., download=...)
    files: tuple[str, ...]  # relative to the torchvision root
    mean: tuple[float, ...]  # per channel, of the training images scaled to 0..1
    std: tuple[float, ...]
    flips: bool = False  # a mirrored image keeps its class (CIFAR-10 yes, digits no)
    packaged: bool = False  # shipped inside tui-cnn: always available, never downloaded
    train_images: int = 0  # the training split, before the validation hold-out (0: not known here)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _idx_files(folder: str) -> tuple[str, ...]:
    return tuple(f"{folder}/raw/{name}" for name in _MNIST_FILES)


_DIGITS = tuple(str(d) for d in range(10))

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "mnist",
            "MNIST handwritten digits (60,000 / 10,000)",
            (1, 28, 28),
            _DIGITS,
            "MNIST",
            _idx_files("MNIST"),
            (0.1307,),
            (0.3081,),
            train_images=60_000,
        ),
        DatasetInfo(
            "mnist-sample",
            "MNIST sample shipped with tui-cnn (4,000 / 1,000)",
            (1, 28, 28),
            _DIGITS,
            "MNIST",
            _idx_files("MNIST"),
            (0.1307,),
            (0.3081,),
            packaged=True,
            train_images=4_000,
        ),
        DatasetInfo(
            "fashion-mnist",
            "Fashion-MNIST clothing (60,000 / 10,000)",
            (1, 28, 28),
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            "FashionMNIST",
            _idx_files("FashionMNIST"),
            (0.2860,),
            (0.3530,),
            train_images=60_000,
        ),
        DatasetInfo(
            "kmnist",
            "Kuzushiji-MNIST cursive Japanese (60,000 / 10,000)",
            (1, 28, 28),
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            "KMNIST",
            _idx_files("KMNIST"),
            (0.1918,),
            (0.3483,),
            train_images=60_000,
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10 colour photos (50,000 / 10,000)",
            (3, 32, 32),
            ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            "CIFAR10",
            tuple(f"cifar-10-batches-py/{name}" for name in _CIFAR10_FILES),
            (0.4914, 0.4822, 0.4465),
            (0.2470, 0.2435, 0.2616),
            flips=True,
            train_images=50_000,
        ),
    )
}


#: --dataset folder: the user's own images, in the folder --data-dir names (image_folder.py).
FOLDER = "folder"
#: Every name --dataset takes.
DATASET_NAMES = (*DATASETS, FOLDER)
#: How a folder's images of any size become the model's input size (the setting `resize`).
RESIZE_MODES = ("crop", "stretch")


def folder_info(folder: ImageFolder, input_shape: tuple[int, int, int]) -> DatasetInfo:
    """A folder of images as a dataset of the model's input shape. Its mean and std are
    placeholders here: the training process measures them on the decoded training images."""
    channels = input_shape[0]
    # tuple(): a caller may pass the shape as a list (read from a file); it keeps C, H, W.
    shape = cast("tuple[int, int, int]", tuple(input_shape))
    return DatasetInfo(
        FOLDER,
        f"your images in {folder.root}",
        shape,
        folder.classes,
        "",
        (),
        (0.5,) * channels,
        (0.25,) * channels,
        flips=channels == 3,
    )


def require_folder(data_dir: str | os.PathLike[str] | None) -> Path:
    """The folder of --dataset folder; FolderError when none was given."""
    if data_dir is None or not str(data_dir).strip():
        raise FolderError(
            "--dataset folder trains on your own images: pass --data-dir with the folder that holds "
            "one folder of images per class (or train/ and test/ folders holding those)"
        )
    return Path(data_dir)


def default_data_dir() -> Path:
    """The per-user torchvision root: $XDG_CACHE_HOME/tui-cnn/data (~/.cache/tui-cnn/data) on Linux."""
    return paths.data_dir()


def dataset_root(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The torchvision root for a dataset. The packaged sample is unpacked into its own
    folder so it never mixes with a full MNIST download."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    return root / "mnist-sample" if DATASETS[name].packaged else root


def missing_files(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    root = dataset_root(name, data_dir)
    return [root / file for file in DATASETS[name].files if not (root / file).is_file()]


def is_available(name: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether training on the dataset needs no download (the packaged sample always is)."""
    return DATASETS[name].packaged or not missing_files(name, data_dir)


def default_dataset(
    data_dir: str | os.PathLike[str] | None = None, input_shape: tuple[int, int, int] | list[int] | None = None
) -> tuple[str, str]:
    """The dataset a run trains on when none is named, and why, in words: for a model of
    ``input_shape`` that MNIST does not fit, the dataset of that shape (one already downloaded
    first); else full MNIST when its files are present, else the built-in sample."""
    where = Path(data_dir) if data_dir is not None else default_data_dir()
    shape = tuple(input_shape) if input_shape is not None else DATASETS["mnist"].input_shape
    if shape != DATASETS["mnist"].input_shape:
        fitting = [name for name, info in DATASETS.items() if info.input_shape == shape]
        present = [name for name in fitting if is_available(name, data_dir)]
        if present:
            return present[0], f"the model takes {fmt.dims(shape)} images; {present[0]} found in {where}"
        if fitting:
            return fitting[0], (
                f"the model takes {fmt.dims(shape)} images: {fitting[0]} (downloaded into {where} when the run starts)"
            )
    if is_available("mnist", data_dir):
        return "mnist", f"MNIST found in {where}"
    return "mnist-sample", f"MNIST not found in {where}; using the built-in 5,000-digit sample"


def training_images(dataset: str, val_fraction: float) -> int | None:
    """How many images one epoch trains on (the training split less the validation hold-out,
    rounded as the training process rounds it); None when not known without reading the data."""
    info = DATASETS.get(dataset)
    if info is None or not info.train_images:
        return None
    return info.train_images - round(info.train_images * val_fraction)


def check_spec_matches(spec: ModelSpec, dataset: str, data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Why the model cannot train on the dataset as it stands, with the fix; None if it can.
    A folder of images takes any input shape (its images are converted to it) and is read
    here (its folder names only, no image is decoded) to count its classes."""

    def outputs() -> tuple[int, ...] | None:
        return analyze(spec, batch_size=1).output_shape

    return check_model_matches(spec.name, tuple(spec.input_shape), outputs, dataset, data_dir)


def check_model_matches(
    name: str,
    input_shape: tuple[int, ...],
    outputs: Callable[[], tuple[int, ...] | None],
    dataset: str,
    data_dir: str | os.PathLike[str] | None = None,
    module: bool = False,
) -> str | None:
    """``check_spec_matches`` for any model: ``outputs()`` is its output shape for a batch of
    one (None: unknown, not checked); ``module``: a user's nn.Module, whose fix is in its code."""
    if dataset == FOLDER:
        try:
            folder = scan_image_folder(require_folder(data_dir))
        except FolderError as exc:
            return str(exc)
        return _classes_match(name, outputs(), f"the folder {folder.root}", len(folder.classes), module)
    info = DATASETS[dataset]
    if tuple(input_shape) != info.input_shape:
        same_shape = [n for n, d in DATASETS.items() if d.input_shape == tuple(input_shape)]
        alternative = f", or train on {' / '.join(same_shape)}" if same_shape else ""
        fix = (
            f"use --input {','.join(map(str, info.input_shape))}"
            if module
            else f"set the model's input_shape to {list(info.input_shape)}"
        )
        return (
            f"{name} takes {fmt.dims(input_shape)} images but {dataset} images are "
            f"{fmt.dims(info.input_shape)}: {fix}{alternative}"
        )
    return _classes_match(name, outputs(), dataset, info.num_classes, module)


def _classes_match(name: str, output: tuple[int, ...] | None, dataset: str, classes: int, module: bool) -> str | None:
    if output is None or output == (1, classes):
        return None
    got = f"{output[1]} outputs" if len(output) == 2 else f"an output of shape {fmt.dims(output[1:])}"
    if module:
        return f"{name} gives {got}; {dataset} has {classes} classes: make its last layer give {classes}"
    return (
        f"{name} ends in {got} but {dataset} has {classes} classes: "
        f"end the model with Flatten and a Linear layer with out_features = {classes}"
    )
