"""A folder of the user's own images, as plain data: which classes it has and which files
belong to the training and test splits. Pure Python (no torch, no image decoding), so the
command line and the app can check a folder, and say what is wrong with it in one line,
before anything heavy is imported.

Two layouts are read, as torchvision's ImageFolder lays them out:

    ROOT/train/<class>/*.png   and   ROOT/test/<class>/*.png   (or ROOT/val/<class>/...)
    ROOT/<class>/*.png         one level: a seeded, per-class hold-out becomes the test split

Class names are the folder names, sorted (torchvision's order: the label of a class is its
index in that list).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

#: The endings read as images (JPEG, PNG, WebP, BMP, GIF, TIFF: what Pillow decodes everywhere).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
#: The share of each class held out as the test split when the folder has no train/ and test/.
HOLD_OUT = 0.2
#: The split folders a two-level layout may name its test split (first found wins).
TEST_FOLDERS = ("test", "val")


class FolderError(ValueError):
    """The folder cannot be trained on; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class ImageFolder:
    """Which image files make each split, with their labels (indexes into ``classes``)."""

    root: str
    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]  # (path, label)
    test: tuple[tuple[str, int], ...]
    test_source: str  # "test/", "val/" or "held out (20% of each class, seeded)"

    def counts(self, split: tuple[tuple[str, int], ...]) -> list[int]:
        """Images per class in ``split``."""
        counts = [0] * len(self.classes)
        for _, label in split:
            counts[label] += 1
        return counts

    def describe(self) -> str:
        return (
            f"{self.root}: {len(self.classes)} classes, {len(self.train):,} training images, "
            f"{len(self.test):,} test images ({self.test_source})"
        )


def scan_image_folder(root: str | os.PathLike[str], seed: int = 0) -> ImageFolder:
    """The classes and splits of ``root``; FolderError, in one line, if it has none to train on."""
    root_path = Path(root)
    where = str(root_path)
    if not root_path.exists():
        raise FolderError(
            f"the image folder {where} does not exist: pass --data-dir with a folder that holds "
            "one folder of images per class (or train/ and test/ folders holding those)"
        )
    if not root_path.is_dir():
        raise FolderError(f"the image folder {where} is not a folder")
    entries = _subfolders(root_path)
    if "train" in entries:
        return _two_level(root_path, entries)
    return _one_level(root_path, entries, seed)


def _two_level(root: Path, entries: list[str]) -> ImageFolder:
    test_name = next((name for name in TEST_FOLDERS if name in entries), None)
    if test_name is None:
        raise FolderError(
            f"{root} has train/ but no test/ or val/ folder beside it: add one with the same "
            "class folders, or put the class folders directly in the folder to hold out a share"
        )
    train_classes = _class_folders(root / "train")
    test_classes = _class_folders(root / test_name)
    if set(train_classes) != set(test_classes):
        only_train = sorted(set(train_classes) - set(test_classes))
        only_test = sorted(set(test_classes) - set(train_classes))
        parts = ([f"only in train/: {', '.join(only_train)}"] if only_train else []) + (
            [f"only in {test_name}/: {', '.join(only_test)}"] if only_test else []
        )
        raise FolderError(
            f"the classes of {root / 'train'} and {root / test_name} differ ({'; '.join(parts)}): "
            "both splits need the same class folders"
        )
    classes = tuple(train_classes)
    train = _labelled(root / "train", classes)
    test = _labelled(root / test_name, classes)
    return ImageFolder(str(root), classes, train, test, f"{test_name}/")


def _one_level(root: Path, entries: list[str], seed: int) -> ImageFolder:
    classes = tuple(_class_folders(root, entries))
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    rng = random.Random(seed)
    for label, name in enumerate(classes):
        files = _images(root / name)
        rng.shuffle(files)
        held = max(1, round(len(files) * HOLD_OUT)) if len(files) > 1 else 0
        test += [(path, label) for path in sorted(files[:held])]
        train += [(path, label) for path in sorted(files[held:])]
    return ImageFolder(
        str(root), classes, tuple(train), tuple(test), f"held out ({HOLD_OUT:.0%} of each class, seeded)"
    )


def _class_folders(folder: Path, entries: list[str] | None = None) -> list[str]:
    names = sorted(entries if entries is not None else _subfolders(folder))
    if not names:
        raise FolderError(
            f"{folder} has no class folders: put each class's images in a folder named after "
            f"the class ({folder}/cat/*.jpg, {folder}/dog/*.jpg ...)"
        )
    if len(names) < 2:
        raise FolderError(f"{folder} has one class folder ({names[0]}): a classifier needs two or more")
    for name in names:
        if not _images(folder / name):
            raise FolderError(
                f"the class folder {folder / name} holds no images "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}): add some or remove the folder"
            )
    return names


def _labelled(folder: Path, classes: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    return tuple((path, label) for label, name in enumerate(classes) for path in _images(folder / name))


def _subfolders(folder: Path) -> list[str]:
    """The folders in ``folder`` (hidden ones left out), never following a link out of a loop."""
    try:
        with os.scandir(folder) as listing:
            return sorted(entry.name for entry in listing if not entry.name.startswith(".") and _is_dir(entry))
    except PermissionError:
        raise FolderError(f"cannot read {folder}: permission denied") from None
    except OSError as exc:
        raise FolderError(f"cannot read {folder}: {exc.strerror or exc}") from None


def _images(folder: Path) -> list[str]:
    """The image files of one class folder (any depth below it), sorted."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()  # (device, inode) of each folder walked: a link loop ends
    for current, folders, files in os.walk(folder, followlinks=True):
        try:
            stat = os.stat(current)
        except OSError:
            folders[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in seen:
            folders[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found += [
            os.path.join(current, name)
            for name in files
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES
        ]
    return sorted(found)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link loop or a vanished entry
        return False
