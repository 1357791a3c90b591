"""The training monitor, driven as a person would: real (tiny) training runs started from
the screen, stop / pause / failure, switching screens mid-run, and a finished run opened
from its directory (snapshot)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from textual.widgets import ProgressBar, TabbedContent

from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.monitor import MonitorScreen
from tui_cnn.app.widgets.monitor.epoch_table import BEST_MARK, EpochTable
from tui_cnn.app.widgets.monitor.evaluation import ConfusionGrid
from tui_cnn.domain.run_control import write_control
from tui_cnn.domain.run_events import Stopped
from tui_cnn.domain.run_files import read_events, read_metrics, read_process
from tui_cnn.domain.run_list import run_row
from tui_cnn.domain.train_config import TrainConfig

pytestmark = pytest.mark.slow


def monitor_config(data: Path, run_dir: Path, **changes) -> TrainConfig:
    values = dict(
        dataset="mnist",
        data_dir=str(data),
        epochs=2,
        batch_size=32,
        device="cpu",
        run_dir=str(run_dir),
        progress_every=2,
    )
    return TrainConfig(**{**values, **changes})


#: For runs a test stops itself: tiny data trains 50 epochs in well under a second, faster
#: than the monitor redraws, so a shorter run could end before the test sees it running.
UNTIL_STOPPED = 100_000


async def wait_for_status(screen: MonitorScreen, *statuses: str, timeout: float = 60) -> None:
    await async_wait_until(
        lambda: screen.state.status in statuses,
        timeout,
        what=f"status {' or '.join(statuses)} (it is {screen.state.status!r})",
    )


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


async def test_a_run_set_up_on_the_screen_trains_to_the_end(mnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the form's run goes to runs/<date>-<time>-<model>/ here
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        fill_form(screen, dataset="mnist", data_dir=str(mnist_root), epochs="2", batch_size="32", device="cpu")
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
        assert "peak (process RSS)" in str(screen.query_one("#device").render())  # trained on the CPU


async def log_text(screen: MonitorScreen, pilot) -> str:
    """The log as shown (RichLog renders its lines once visible)."""
    await pilot.press("l")
    await pilot.pause()
    return "\n".join(line.text for line in screen.query_one("#log-pane").lines)


async def test_pause_resume_and_stop_keep_the_checkpoint_and_survive_switching_screens(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    app = TuiCnnApp(
        start_mode="monitor", train_config=monitor_config(mnist_root, run_dir, epochs=UNTIL_STOPPED, progress_every=1)
    )
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await wait_for_status(screen, "running")
        await async_wait_until(lambda: screen.state.batch is not None, what="the first batch")
        await pilot.press("p")
        await wait_for_status(screen, "paused")
        await pilot.pause(0.3)
        step = screen.state.batch.step
        assert "PAUSED" in str(screen.query_one("#run-stats").render())

        await pilot.press("1")  # the tracker, then back: the run and what the monitor shows stay
        assert app.current_mode == "tracker"
        await pilot.press("3")
        assert app.screen is screen and screen.state.status == "paused"
        assert screen.state.batch.step == step  # nothing trained while paused

        await pilot.press("p")
        await wait_for_status(screen, "running")
        await async_wait_until(lambda: screen.state.batch.step != step, what="a batch after the resume")
        await pilot.press("x")
        await wait_for_status(screen, "stopped")
        await finish(app, pilot)
        assert (run_dir / "checkpoint-last.pt").is_file()
        assert "checkpoint kept" in await log_text(screen, pilot)
        assert screen.quit_warning() is None


async def test_a_diverging_run_shows_why_and_the_app_stays_usable(mnist_root, tmp_path):
    config = monitor_config(mnist_root, tmp_path / "run", optimizer="sgd", lr=1e9, epochs=1, progress_every=1)
    app = TuiCnnApp(start_mode="monitor", train_config=config)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await wait_for_status(screen, "failed", "finished")
        screen = await finish(app, pilot)
        assert screen.state.status == "failed"
        stats = str(screen.query_one("#run-stats").render())
        assert "FAILED" in stats and "lower the learning rate" in stats
        assert "lower the learning rate" in await log_text(screen, pilot)
        await pilot.press("s")  # keys still work, and a new run may start
        assert screen.query_one(TabbedContent).active == "setup"
        assert screen.quit_warning() is None and not screen.state.active


async def test_quitting_leaves_the_run_training_and_says_where(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    app = TuiCnnApp(
        start_mode="monitor", train_config=monitor_config(mnist_root, run_dir, epochs=UNTIL_STOPPED, progress_every=1)
    )
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await wait_for_status(screen, "running")
        assert screen.quit_warning() is None  # nothing is lost by quitting: no question
        assert f"tui-cnn attach {run_dir}" in screen.leave_note()
        await pilot.press("ctrl+q")
    assert not app.is_running
    try:
        await async_wait_until(lambda: len(read_metrics(run_dir)) >= 2, what="epochs after the app quit")
        assert run_row(run_dir).status == "running"
    finally:
        write_control(run_dir, "stop")
    await async_wait_until(lambda: run_row(run_dir).status == "stopped", what="the run stopped from its directory")


async def test_two_apps_watch_one_run_and_either_stops_it(mnist_root, tmp_path):
    """A second app attaches to a run the first started (as `tui-cnn attach` does), follows
    it live, and stops it; the first sees the stop too. The run keeps its checkpoint."""
    run_dir = tmp_path / "run"
    first = TuiCnnApp(
        start_mode="monitor", train_config=monitor_config(mnist_root, run_dir, epochs=UNTIL_STOPPED, progress_every=1)
    )
    async with first.run_test(size=(100, 32)):
        starter = first.screen
        await wait_for_status(starter, "running")
        await async_wait_until(lambda: starter.state.epochs, what="an epoch")
        second = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
        async with second.run_test(size=(100, 32)) as pilot:
            watcher = second.screen
            await wait_for_status(watcher, "running")
            assert watcher.state.epochs[0] == starter.state.epochs[0]  # its past, folded from the start
            epochs = len(watcher.state.epochs)
            await async_wait_until(lambda: len(watcher.state.epochs) > epochs, what="an epoch, followed live")
            await pilot.press("x")
            await wait_for_status(watcher, "stopped")
            assert "checkpoint kept" in await log_text(watcher, pilot)
        await wait_for_status(starter, "stopped")
    assert isinstance(read_events(run_dir)[-1], Stopped)
    assert (run_dir / "checkpoint-last.pt").is_file()


async def test_a_run_killed_shows_as_crashed(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    app = TuiCnnApp(
        start_mode="monitor", train_config=monitor_config(mnist_root, run_dir, epochs=UNTIL_STOPPED, progress_every=1)
    )
    async with app.run_test(size=(100, 32)):
        screen = app.screen
        await wait_for_status(screen, "running")
        os.kill(read_process(run_dir).pid, signal.SIGKILL)
        await wait_for_status(screen, "crashed", timeout=30)
        stats = str(screen.query_one("#run-stats").render())
        assert "CRASHED" in stats and "killed by signal 9" in stats and "--resume" in screen.state.failure


async def test_a_run_that_cannot_start_says_why(mnist_root, tmp_path):
    """It fails before it can write an event (no data here): its output says why."""
    config = monitor_config(tmp_path / "no-data-here", tmp_path / "run", dataset="fashion-mnist")
    app = TuiCnnApp(start_mode="monitor", train_config=config)
    async with app.run_test(size=(100, 32)):
        screen = app.screen
        await wait_for_status(screen, "failed")
        assert "fashion" in screen.state.failure.lower() and "training failed" not in screen.state.failure
