"""The monitor showing a finished run opened from its directory: fixed metrics, no clock,
so the picture only changes when the screen does."""

from __future__ import annotations

import gzip
import struct
from importlib import resources
from pathlib import Path

import pytest

from tests.helpers import async_wait_until, record_notifications
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.run_events import EpochEnd, Evaluated, Finished, RunStarted
from tui_cnn.domain.run_records import (
    DatasetRecord,
    DeviceRecord,
    EpochMetrics,
    Evaluation,
    Misclassified,
    RunConfigFile,
    encode_record,
)
from tui_cnn.domain.specfile import spec_to_dict

EPOCHS = [  # epoch, train loss, train acc, val loss, val acc, lr
    (1, 0.6123, 0.8212, 0.2871, 0.9140, 1e-3),
    (2, 0.2217, 0.9345, 0.1902, 0.9420, 1e-3),
    (3, 0.1410, 0.9581, 0.1377, 0.9610, 1e-3),
    (4, 0.1032, 0.9690, 0.1451, 0.9580, 1e-3),
]
WRONG = [(0, 4, 9), (1, 7, 1), (2, 3, 5), (3, 2, 7)]  # (test image index, true, predicted)


def packaged_test_digits(count: int) -> list[list[list[int]]]:
    """The first test images of the MNIST sample shipped with tui-cnn (real digits)."""
    path = resources.files("tui_cnn").joinpath("data/mnist-sample/MNIST/raw/t10k-images-idx3-ubyte.gz")
    with path.open("rb") as raw, gzip.open(raw) as idx:
        _, _, rows, cols = struct.unpack(">IIII", idx.read(16))
        data = idx.read(count * rows * cols)
    return [[list(data[(n * rows + r) * cols : (n * rows + r + 1) * cols]) for r in range(rows)] for n in range(count)]


def confusion_matrix() -> list[list[int]]:
    matrix = [[0] * 10 for _ in range(10)]
    for true in range(10):
        matrix[true][true] = 95 + true % 4
        matrix[true][(true + 3) % 10] = true % 3
        matrix[true][(true + 7) % 10] = 1 + true % 2 * 4
    return matrix


def write_finished_run(run_dir: Path) -> Path:
    """config.json, metrics.jsonl, eval.json and events.jsonl as the training engine writes them."""
    run_dir.mkdir(parents=True)
    config = {
        "dataset": "mnist-sample",
        "epochs": 4,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 1e-3,
        "device": "cpu",
        "seed": 0,
    }
    classes = [str(d) for d in range(10)]
    (run_dir / "config.json").write_text(
        encode_record(
            RunConfigFile(
                spec_to_dict(load_preset("SimpleCNN")),
                config,
                DatasetRecord("mnist-sample", 4000, 1000, 1000, classes),
                DeviceRecord("cpu", "Example CPU (2 cores)"),
                {"torch": "2.14.1", "torchvision": "0.29.1"},
            )
        )
    )
    metrics = [
        EpochMetrics(e, tl, ta, vl, va, lr, epoch_time_s=11.0 + e, images_per_s=3400.0 + 10 * e)
        for e, tl, ta, vl, va, lr in EPOCHS
    ]
    (run_dir / "metrics.jsonl").write_text("".join(encode_record(m) for m in metrics))
    matrix = confusion_matrix()
    digits = packaged_test_digits(len(WRONG))
    evaluation = Evaluation(
        accuracy=sum(matrix[i][i] for i in range(10)) / sum(map(sum, matrix)),
        per_class_accuracy=[row[i] / sum(row) for i, row in enumerate(matrix)],
        confusion_matrix=matrix,
        classes=classes,
        misclassified=[Misclassified(digits[index], true, predicted) for index, true, predicted in WRONG],
    )
    (run_dir / "eval.json").write_text(encode_record(evaluation))
    at = 1_790_000_000.0  # the events' fixed times: the run took 60 s
    events = [
        RunStarted(
            str(run_dir),
            "SimpleCNN",
            config,
            "cpu",
            "Example CPU (2 cores)",
            "mnist-sample",
            4000,
            1000,
            1000,
            421642,
            4,
            63,
            at=at,
        ),
        *(EpochEnd(m, m.epoch == 3, at=at + 12 * m.epoch) for m in metrics),
        Evaluated(evaluation, at=at + 59),
        Finished(3, 0.961, 60.0, at=at + 60),
    ]
    (run_dir / "events.jsonl").write_text("".join(encode_record(e) for e in events))
    return run_dir


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    return write_finished_run(tmp_path / "run")


@pytest.mark.slow
def test_finished_run_curves_and_table(snap_compare, finished_run):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(finished_run))
    assert snap_compare(app, terminal_size=(120, 36))


@pytest.mark.slow
def test_finished_run_evaluation(snap_compare, finished_run):
    app = TuiCnnApp(start_mode="monitor", run_dir=str(finished_run))
    assert snap_compare(app, press=["e"], terminal_size=(120, 44))


@pytest.mark.slow
async def test_o_opens_a_run_directory_and_says_when_it_is_not_one(finished_run, tmp_path):
    from tui_cnn.app.widgets.monitor.epoch_table import EpochTable

    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        notes = record_notifications(app)
        await pilot.press("o")
        app.screen.query_one("#run-path").value = str(tmp_path / "nowhere")
        await pilot.press("enter")
        assert app.screen.state.status == "idle"
        assert any("is not a run directory: no readable config.json" in message for message in notes)

        await pilot.press("o")
        app.screen.query_one("#run-path").value = str(finished_run)
        await pilot.press("enter")
        screen = app.screen
        assert screen.state.status == "finished"  # its events say so
        assert screen.query_one(EpochTable).row_count == len(EPOCHS)
        assert screen.state.best_epoch == 3 and screen.state.evaluation.accuracy > 0.9


@pytest.mark.slow
async def test_a_batch_too_big_for_the_device_asks_before_starting():
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        form = app.screen.query_one("RunSetupForm")
        form.query_one("#field-device").value = "cpu"
        # the real probe answers from a worker: after it, so that its answer cannot overwrite ours
        await async_wait_until(
            lambda: form._free_bytes.get("cpu") is not None, timeout=20, what="the cpu's probe to answer"
        )
        form.show_device("cpu", 1 << 20)  # as if the device had 1 MiB free
        await pilot.pause()
        assert "free" in str(form.query_one("#memory-note").render())
        assert form.query_one("#memory-note").has_class("-warning")
        await pilot.press("r")
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("n")
        assert app.screen.state.status == "idle"  # not started


@pytest.mark.slow
async def test_the_processes_field_checks_the_machine_and_splits_the_memory_estimate(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("tui_cnn.backend.devices.gpu_count", lambda: 0)
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        form = app.screen.query_one("RunSetupForm")
        form.query_one("#field-device").value = "cpu"
        field = form.query_one("#field-nproc_per_node")
        field.focus()  # the form scrolls: the field may be below the fold at 100x32
        await pilot.pause()
        await pilot.press("end", "backspace", "4")  # more processes than this (2-core) machine has cores
        await pilot.pause()
        assert "CPU cores (2)" in str(form.query_one("#problems").render())
        assert form.query_one("#start").disabled
        await pilot.press("backspace", "2")
        await pilot.pause()
        assert str(form.query_one("#problems").render()) == ""
        note = str(form.query_one("#memory-note").render())
        assert "batch size 32 per process" in note  # the default global batch 64, halved
        config, _ = form.read()
        assert config.nproc_per_node == 2
