"""--dataset folder: a user's own images, of any format and size, decoded once and trained on;
what cannot be an image is skipped and counted, never a crash."""

from __future__ import annotations

import json

import pytest

from tui_cnn.backend.data import MissingDataError, load_data
from tui_cnn.backend.folder_data import decode_image
from tui_cnn.domain.train_config import TrainConfig


def test_every_format_and_mode_becomes_the_models_input(tmp_path):
    from PIL import Image

    pictures = {
        "gray.png": Image.new("L", (28, 28), 200),
        "rgb.jpg": Image.new("RGB", (64, 48), (255, 0, 0)),
        "rgba.png": Image.new("RGBA", (30, 30), (0, 255, 0, 0)),  # fully transparent: black
        "palette.gif": Image.new("RGB", (10, 40), (0, 0, 255)).convert("P"),
        "web.webp": Image.new("RGB", (100, 20), (10, 20, 30)),
    }
    for name, picture in pictures.items():
        picture.save(tmp_path / name)
    for shape in ((1, 28, 28), (3, 32, 32)):
        for name in pictures:
            for resize in ("crop", "stretch"):
                assert decode_image(str(tmp_path / name), shape, resize).shape == shape
    assert decode_image(str(tmp_path / "gray.png"), (1, 28, 28), "crop").min() == 200
    assert decode_image(str(tmp_path / "rgba.png"), (3, 8, 8), "crop").max() == 0
    red = decode_image(str(tmp_path / "rgb.jpg"), (3, 8, 8), "crop")
    assert red[0].min() > 240 and red[1].max() < 15


def test_crop_keeps_the_centre_and_stretch_keeps_everything(tmp_path):
    from PIL import Image

    picture = Image.new("L", (90, 30), 0)  # three squares: black, white, black
    picture.paste(255, (30, 0, 60, 30))
    picture.save(tmp_path / "wide.png")
    cropped = decode_image(str(tmp_path / "wide.png"), (1, 10, 10), "crop")[0]
    assert cropped[:, 1:-1].min() == 255  # the white middle (its edge columns blend with the black)
    stretched = decode_image(str(tmp_path / "wide.png"), (1, 10, 30), "stretch")[0]
    assert stretched[:, 0].max() == 0 and stretched[:, 15].min() == 255


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\x89PNG\r\n\x1a\nnot really a png", "Truncated"),
        (b"plain text", "not an image"),
    ],
)
def test_what_cannot_be_read_says_why(tmp_path, content, reason):
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(ValueError, match=reason):
        decode_image(str(tmp_path / "bad.png"), (1, 28, 28), "crop")


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path):
    from PIL import Image

    Image.new("1", (9000, 9000)).save(tmp_path / "bomb.png")  # 81 Mpx in a few KB
    with pytest.raises(ValueError, match="decompression bomb"):
        decode_image(str(tmp_path / "bomb.png"), (1, 28, 28), "crop")


@pytest.mark.slow
def test_a_truncated_jpeg_is_skipped_and_counted(digit_folder, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "digits"
    shutil.copytree(digit_folder, root)
    good = next((root / "train" / "digit1").glob("*.png"))
    (root / "train" / "digit1" / "cut.jpg").write_bytes(good.read_bytes()[:40])
    logged: list[str] = []
    data = load_data("folder", root, "cpu", input_shape=(1, 28, 28), log=logged.append)
    assert len(data.train) == 450 and len(data.test) == 120
    assert data.info.classes == ("digit0", "digit1", "digit2")
    assert any(line.startswith("skipped 1 image(s)") and "cut.jpg" in line for line in logged)
    assert "1 unreadable skipped" in data.source
    # MNIST-like: mostly black, so the measured mean is far below the placeholder 0.5
    assert 0.05 < data.info.mean[0] < 0.25


@pytest.mark.slow
def test_the_decoded_folder_is_cached_until_a_file_changes(digit_folder, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "digits"
    shutil.copytree(digit_folder, root)
    first: list[str] = []
    load_data("folder", root, "cpu", input_shape=(1, 28, 28), log=first.append)
    again: list[str] = []
    cached = load_data("folder", root, "cpu", input_shape=(1, 28, 28), log=again.append)
    assert "decoding each image" in first[0] and "read from the cache" in again[0]
    next((root / "test" / "digit2").iterdir()).unlink()
    changed: list[str] = []
    fewer = load_data("folder", root, "cpu", input_shape=(1, 28, 28), log=changed.append)
    assert "decoding each image" in changed[0] and len(fewer.test) == len(cached.test) - 1


def test_a_class_left_with_no_readable_image_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for split in ("train", "test"):
        for name in ("a", "b"):
            (tmp_path / "f" / split / name).mkdir(parents=True)
            (tmp_path / "f" / split / name / "x.png").write_bytes(b"garbage")
    with pytest.raises(MissingDataError, match="no readable training image is left in class 'a'"):
        load_data("folder", tmp_path / "f", "cpu", input_shape=(1, 28, 28))


@pytest.mark.slow
def test_a_folder_trains_to_what_a_plain_torch_loop_reaches_and_names_its_classes(digit_folder, tmp_path, monkeypatch):
    """The engine on a folder against a hand-written loop over the same decoded images, same
    model, optimizer, batch size and epochs: within a few points. eval.json names the classes;
    inspect names the predicted class."""
    import torch
    from click.testing import CliRunner

    from tui_cnn.backend.build import build_model
    from tui_cnn.backend.trainer import Trainer
    from tui_cnn.cli import main
    from tui_cnn.domain.specfile import spec_from_dict

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = spec_from_dict(
        {
            "model": {"name": "Three", "input_shape": [1, 28, 28]},
            "layers": [
                {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
                {"type": "ReLU"},
                {"type": "MaxPool2d", "kernel_size": 2},
                {"type": "Flatten"},
                {"type": "Linear", "out_features": 3},
            ],
        }
    )
    config = TrainConfig(
        dataset="folder",
        data_dir=str(digit_folder),
        epochs=3,
        batch_size=32,
        val_fraction=0,
        run_dir=str(tmp_path / "run"),
        device="cpu",
    )
    Trainer(spec, config).run()
    run = tmp_path / "run"
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["classes"] == ["digit0", "digit1", "digit2"]
    saved = json.loads((run / "config.json").read_text())
    assert saved["dataset"]["source"].startswith(str(digit_folder)) and saved["config"]["resize"] == "crop"

    data = load_data("folder", digit_folder, "cpu", input_shape=(1, 28, 28))
    torch.manual_seed(0)
    model = build_model(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        for images, labels in data.train_batches(32, generator):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in data.eval_batches(data.test, 256))
    plain = correct / len(data.test)
    assert plain > 0.8 and abs(evaluation["accuracy"] - plain) <= 0.05

    shown = CliRunner().invoke(main, ["inspect", str(run), "--index", "0", "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["classes"] == ["digit0", "digit1", "digit2"]
    assert report["predicted_class"] == report["classes"][report["predicted"]]
