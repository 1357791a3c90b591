"""The training monitor, driven as a person would: real (tiny) training runs started from
the screen, stop / pause / failure, switching screens mid-run, and a finished run opened
from its directory (snapshot)."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import pytest
from textual.widgets import ProgressBar, TabbedContent

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.monitor import MonitorScreen
from tui_cnn.app.widgets.monitor.epoch_table import BEST_MARK, EpochTable
from tui_cnn.app.widgets.monitor.evaluation import ConfusionGrid
from tui_cnn.domain.training import TrainConfig

pytestmark = pytest.mark.slow

TRAIN_IMAGES, TEST_IMAGES = 256, 64


def _digit_image(label: int, variant: int) -> bytes:
    """A 28x28 image whose bright 6x6 square sits where its label says: easy to learn."""
    pixels = bytearray(28 * 28)
    top, left = 2 + (label // 5) * 12 + variant % 3, 2 + (label % 5) * 5
    for row in range(top, top + 6):
        for col in range(left, min(left + 6, 28)):
            pixels[row * 28 + col] = 255
    return bytes(pixels)


def write_tiny_mnist(root: Path) -> Path:
    """The four IDX files of torchvision's MNIST layout (root/MNIST/raw/...)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count in (("train", TRAIN_IMAGES), ("t10k", TEST_IMAGES)):
        labels = [i % 10 for i in range(count)]
        images = b"".join(_digit_image(label, i) for i, label in enumerate(labels))
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + images)
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + bytes(labels))
    return root


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return write_tiny_mnist(tmp_path / "data")


def tiny_config(data: Path, run_dir: Path, **changes) -> TrainConfig:
    values = dict(dataset="mnist", data_dir=str(data), epochs=2, batch_size=32, device="cpu",
                  run_dir=str(run_dir), progress_every=2)
    return TrainConfig(**{**values, **changes})


async def wait_for_status(screen: MonitorScreen, *statuses: str, timeout: float = 60) -> None:
    for _ in range(int(timeout * 20)):
        if screen.state.status in statuses:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"status stayed {screen.state.status!r}, expected {statuses}")


async def finish(app: TuiCnnApp, pilot) -> MonitorScreen:
    """Wait for the run's worker and let the screen drain the last events."""
    await app.workers.wait_for_complete()
    await pilot.pause(0.3)
    return app.screen


def table_rows(screen: MonitorScreen) -> list[list[str]]:
    table = screen.query_one(EpochTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def bar_fraction(screen: MonitorScreen, bar_id: str) -> float:
    bar = screen.query_one(bar_id, ProgressBar)
    return bar.progress / bar.total


def fill_form(screen: MonitorScreen, **values: str) -> None:
    for name, value in values.items():
        screen.query_one(f"#field-{name}").value = value


async def test_a_run_set_up_on_the_screen_trains_to_the_end(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the form's run goes to runs/<date>-<time>-<model>/ here
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        fill_form(screen, dataset="mnist", data_dir=str(tiny_data), epochs="2", batch_size="32", device="cpu")
        await pilot.pause()
        await pilot.press("r")
        await wait_for_status(screen, "finished", "failed")
        screen = await finish(app, pilot)

        assert screen.state.status == "finished", screen.state.failure
        rows = table_rows(screen)
        assert [row[1] for row in rows] == ["1", "2"]
        assert sum(row[0] == BEST_MARK for row in rows) == 1
        assert bar_fraction(screen, "#run-bar") == 1.0
        assert bar_fraction(screen, "#epoch-bar") == 1.0
        assert screen.query_one(TabbedContent).active == "evaluation"
        evaluation = screen.state.evaluation
        assert evaluation is not None and len(evaluation.confusion_matrix) == 10
        assert "Test accuracy" in str(screen.query_one("#eval-summary").render())
        assert str(evaluation.confusion_matrix[0][0]) in str(screen.query_one(ConfusionGrid).render())
        assert (Path(screen.state.run_dir) / "eval.json").is_file()
