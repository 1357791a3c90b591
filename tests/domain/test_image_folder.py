"""A folder of the user's images read as classes and splits (no image decoded), and every
folder that cannot be trained on said in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_cnn.domain.datasets import check_spec_matches
from tui_cnn.domain.image_folder import FolderError, scan_image_folder


def touch(root: Path, *relative: str) -> None:
    for name in relative:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_train_and_test_folders_give_sorted_classes_and_labels(tmp_path):
    touch(
        tmp_path,
        "train/dog/1.jpg",
        "train/cat/1.png",
        "train/cat/2.PNG",
        "test/cat/9.webp",
        "test/dog/8.jpeg",
        "train/cat/notes.txt",
        "train/.hidden/1.png",
    )
    folder = scan_image_folder(tmp_path)
    assert folder.classes == ("cat", "dog")
    assert [(Path(p).name, label) for p, label in folder.train] == [("1.png", 0), ("2.PNG", 0), ("1.jpg", 1)]
    assert [(Path(p).name, label) for p, label in folder.test] == [("9.webp", 0), ("8.jpeg", 1)]
    assert folder.test_source == "test/"


def test_val_stands_for_test(tmp_path):
    touch(tmp_path, "train/a/1.png", "train/b/1.png", "val/a/2.png", "val/b/2.png")
    assert scan_image_folder(tmp_path).test_source == "val/"


def test_one_level_is_split_by_a_seeded_hold_out_per_class(tmp_path):
    touch(tmp_path, *(f"{name}/{i}.png" for name in ("a", "b") for i in range(10)))
    folder = scan_image_folder(tmp_path, seed=3)
    assert folder.counts(folder.train) == [8, 8] and folder.counts(folder.test) == [2, 2]
    assert not {p for p, _ in folder.train} & {p for p, _ in folder.test}
    assert scan_image_folder(tmp_path, seed=3) == folder
    assert scan_image_folder(tmp_path, seed=4).test != folder.test


@pytest.mark.parametrize(
    "files, words",
    [
        ((), "has no class folders"),
        (("only/1.png",), "one class folder (only)"),
        (("a/1.png", "b/readme.txt"), "b holds no images"),
        (("train/a/1.png", "train/b/1.png"), "no test/ or val/"),
        (("train/a/1.png", "train/b/1.png", "test/a/1.png", "test/c/1.png"), "only in train/: b; only in test/: c"),
    ],
)
def test_a_folder_that_cannot_be_trained_on_says_why(tmp_path, files, words):
    touch(tmp_path, *files)
    with pytest.raises(FolderError) as refused:
        scan_image_folder(tmp_path)
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_a_missing_folder_or_a_file_is_refused(tmp_path):
    with pytest.raises(FolderError, match="does not exist"):
        scan_image_folder(tmp_path / "nope")
    touch(tmp_path, "file.png")
    with pytest.raises(FolderError, match="is not a folder"):
        scan_image_folder(tmp_path / "file.png")


def test_a_link_loop_inside_a_class_ends(tmp_path):
    touch(tmp_path, "a/1.png", "b/1.png")
    os.symlink(tmp_path / "a", tmp_path / "a" / "again")
    folder = scan_image_folder(tmp_path)
    assert folder.classes == ("a", "b") and len(folder.train) + len(folder.test) == 2


def test_the_model_must_end_in_as_many_outputs_as_the_folder_has_classes(tmp_path, simple_cnn):
    touch(tmp_path, *(f"{name}/{i}.png" for name in ("a", "b", "c") for i in range(3)))
    refusal = check_spec_matches(simple_cnn, "folder", str(tmp_path))
    assert refusal == (
        f"SimpleCNN ends in 10 outputs but the folder {tmp_path} has 3 classes: end the model with "
        "Flatten and a Linear layer with out_features = 3"
    )
    assert "pass --data-dir" in check_spec_matches(simple_cnn, "folder", None)
