"""``tui-cnn inspect RUN_DIR --index N | --image FILE [--json]`` on a tiny trained run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from tui_cnn.backend.data import load_data
from tui_cnn.cli import main

pytestmark = pytest.mark.slow  # a model trained for the command (tiny_run)


def inspect(*args: str):
    return CliRunner().invoke(main, ["inspect", *map(str, args)])


def test_json_has_the_prediction_and_every_layer(tiny_run: Path):
    result = inspect(tiny_run, "--index", 3, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["label"] == int(
        load_data("mnist", json.loads((tiny_run / "config.json").read_text())["config"]["data_dir"], "cpu").test.labels[
            3
        ]
    )
    assert len(report["probabilities"]) == 10 and sum(report["probabilities"]) == pytest.approx(1, abs=1e-5)
    assert report["predicted"] == int(np.argmax(report["probabilities"]))
    assert [layer["name"] for layer in report["layers"]] == [
        "features.0",
        "features.1",
        "features.2",
        "features.3",
        "features.4",
        "features.5",
        "classifier.0",
        "classifier.1",
    ]
    assert report["layers"][0]["output_shape"] == [4, 28, 28]
    assert report["layers"][-1]["output_shape"] == [10]
    relu = report["layers"][1]
    assert relu["min"] == 0 and 0 < relu["zero_fraction"] < 1 and relu["min"] <= relu["mean"] <= relu["max"]


def test_probabilities_equal_a_plain_forward_pass_of_the_runs_model_py(tiny_run: Path):
    """The run's own exported model.py with its checkpoint, on the image normalised by hand."""
    spec = importlib.util.spec_from_file_location("run_model", tiny_run / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.TinyCNN()
    model.load_state_dict(torch.load(tiny_run / "checkpoint-best.pt", weights_only=True)["model"])
    model.eval()
    data_dir = json.loads((tiny_run / "config.json").read_text())["config"]["data_dir"]
    for index in (0, 7):
        image = load_data("mnist", data_dir, "cpu").test.images[index].float()
        expected = model(((image / 255 - 0.1307) / 0.3081).unsqueeze(0)).softmax(1)[0]
        report = json.loads(inspect(tiny_run, "--index", index, "--json").output)
        assert report["probabilities"] == pytest.approx(expected.tolist(), abs=1e-5)


def test_text_output_names_the_prediction(tiny_run: Path):
    result = inspect(tiny_run, "--index", 0)
    assert result.exit_code == 0
    assert "predicted" in result.output and "top 3" in result.output and "features.0" in result.output


def test_an_image_of_another_size_is_resized_with_a_note(tiny_run: Path, tmp_path: Path):
    picture = np.full((56, 40), 255, dtype=np.uint8)  # dark digit on white, as people draw
    picture[10:46, 18:22] = 0
    Image.fromarray(picture).save(tmp_path / "one.png")
    result = inspect(tiny_run, "--image", tmp_path / "one.png", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["label"] is None and len(report["probabilities"]) == 10
    notes = " ".join(report["notes"])
    assert "resized from 40x56 to 28x28" in notes and "inverted" in notes


def test_a_colour_image_for_a_gray_model_is_turned_gray_with_a_note(tiny_run: Path, tmp_path: Path):
    Image.new("RGB", (28, 28), (200, 30, 30)).save(tmp_path / "red.png")
    report = json.loads(inspect(tiny_run, "--image", tmp_path / "red.png", "--json").output)
    assert any("converted to gray" in note for note in report["notes"])


@pytest.mark.parametrize("content", [b"not a picture at all", b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_a_file_that_is_not_an_image_exits_2_with_one_line(tiny_run: Path, tmp_path: Path, content: bytes):
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    result = inspect(tiny_run, "--image", path)
    assert result.exit_code == 2
    assert "is not an image" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--index", 64), "there are 64 test images"),
        ((), "exactly one of --index"),
        (("--image", "/nonexistent.png"), "cannot read /nonexistent.png"),
    ],
)
def test_bad_arguments_exit_2(tiny_run: Path, args, message):
    result = inspect(tiny_run, *args)
    assert result.exit_code == 2 and message in result.output


def test_a_folder_that_is_not_a_run_or_a_garbage_checkpoint_exits_2(tiny_run: Path, tmp_path: Path):
    assert "not a run directory" in inspect(tmp_path, "--index", 0).output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_run / "config.json").read_text())
    (broken / "checkpoint-best.pt").write_bytes(b"garbage")
    result = inspect(broken, "--index", 0)
    assert result.exit_code == 2 and "not a readable checkpoint" in result.output
