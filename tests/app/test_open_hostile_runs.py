"""Opening a spoiled run directory on the monitor (`tui-cnn RUN_DIR`, or `o`): a message or
the readable part of the run, never a crash. The corpus is tests/run_corpus.py."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import msgspec
import pytest

from tests.helpers import async_wait_until
from tests.run_corpus import SPOILERS, spoiled_run, write_good_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.monitor import MonitorScreen
from tui_cnn.app.widgets.monitor.epoch_table import EpochTable
from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.run_events import BatchProgress, EpochEnd, Finished, RunStarted
from tui_cnn.domain.run_records import EpochMetrics, ProcessRecord, encode_record
from tui_cnn.domain.run_state import RunState


@pytest.mark.slow
async def test_a_run_with_nan_metrics_opens_from_the_command_line(tmp_path):
    run_dir = spoiled_run(tmp_path, "metrics-nan-and-infinity")  # crashed in the epoch table and plotext
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", run_dir=str(run_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await async_wait_until(lambda: isinstance(app.screen, MonitorScreen))
        await pilot.pause()
        assert app.screen.state.run_dir == str(run_dir) and app.is_running


@pytest.mark.slow  # the whole corpus, each drawn on two tabs: ~10 s
async def test_every_spoiled_run_opens_or_says_why(tmp_path):
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        await async_wait_until(lambda: isinstance(app.screen, MonitorScreen))
        monitor = app.screen
        for name, (opens, _) in sorted(SPOILERS.items()):
            run_dir = spoiled_run(tmp_path, name)
            monitor.load_run(str(run_dir))
            for tab in ("training", "evaluation"):
                monitor.action_show_tab(tab)
                await pilot.pause()
            assert (monitor.state.run_dir == str(run_dir)) == opens, name
            assert app.is_running, name  # drawn with NaN, a ragged matrix, a missing part: still alive


# --- what two trainers of one run, or a hand on its files, left (issue 18, item 11) ---


def log_text(screen) -> str:
    """The log as shown (its tab open: RichLog renders its lines once visible)."""
    screen.action_show_tab("log")
    return "\n".join(line.text for line in screen.query_one("#log-pane").lines)


def repeated_epochs_run(base: Path) -> Path:
    """A finished run whose events.jsonl and metrics.jsonl hold epoch 1 twice (what two
    trainers started together wrote, before runs were locked)."""
    run_dir = write_good_run(base / "twice", epochs_done=2)
    first, second = (EpochMetrics(epoch, 1.0, 0.5, 1.0, 0.5 + epoch / 10, 1e-3, 2.0, 1000.0) for epoch in (1, 2))
    again = msgspec.structs.replace(first, val_acc=0.55)
    started = RunStarted(str(run_dir), "SimpleCNN", {}, "cpu", "a CPU", "mnist", 256, 0, 64, 1000, 2, 8)
    events = [
        started,
        started,
        EpochEnd(first, True),
        EpochEnd(again, True),
        EpochEnd(second, True),
        EpochEnd(second, True),
        Finished(2, 0.7, 10.0),
    ]
    (run_dir / "events.jsonl").write_text("".join(encode_record(event) for event in events))
    (run_dir / "metrics.jsonl").write_text("".join(encode_record(m) for m in (first, again, second, second)))
    return run_dir


@pytest.mark.slow
async def test_a_run_with_an_epoch_recorded_twice_opens_and_says_so(tmp_path):
    """It ended the app (DuplicateKey in the epoch table); the last record of an epoch stands."""
    run_dir = repeated_epochs_run(tmp_path)
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", run_dir=str(run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await async_wait_until(lambda: isinstance(app.screen, MonitorScreen))
        await pilot.pause()
        screen = app.screen
        assert screen.state.status == "finished" and app.is_running
        assert [m.epoch for m in screen.state.epochs] == [1, 2] and screen.state.epochs[0].val_acc == 0.55
        assert screen.query_one(EpochTable).row_count == 2
        said = await async_wait_until(lambda: log_text(screen), what="the log")
        assert "epoch 1 ended twice" in said and "epoch 2 ended twice" in said
    state = RunState.from_run_dir(run_dir)  # the files alone (the runs list, compare)
    assert [m.epoch for m in state.epochs] == [1, 2] and "epoch 1, 2 recorded more than once" in state.problems[0]


@pytest.mark.slow
async def test_events_truncated_or_deleted_under_a_followed_run_are_said(tmp_path):
    """A run training (this process stands for its trainer) whose events.jsonl is truncated,
    then deleted, while the monitor follows it: each is said; the run is neither crashed nor
    shown with fewer epochs than it trained."""
    run_dir = write_good_run(tmp_path / "live", epochs_done=2)
    (run_dir / "process.json").write_text(encode_record(ProcessRecord(os.getpid(), socket.gethostname(), 1.0)))
    started = RunStarted(str(run_dir), "SimpleCNN", {}, "cpu", "a CPU", "mnist", 256, 0, 64, 1000, 3, 8)
    metrics = [EpochMetrics(epoch, 1.0, 0.5, 1.0, 0.5, 1e-3, 2.0, 1000.0) for epoch in (1, 2)]
    events = run_dir / "events.jsonl"
    events.write_text("".join(encode_record(e) for e in (started, *(EpochEnd(m, False) for m in metrics))))
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", run_dir=str(run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await async_wait_until(lambda: isinstance(app.screen, MonitorScreen))
        screen = app.screen
        await async_wait_until(lambda: screen.state.status == "running", what="the run followed")
        events.write_text(encode_record(BatchProgress(3, 2, 8, 18, 0.5, 0.5, 100.0, 1e-3, 1.0)))  # truncated
        await async_wait_until(lambda: "events.jsonl was truncated" in log_text(screen), what="the truncation said")
        assert screen.state.status == "running" and screen.state.epochs_done == 2 and screen.state.epochs_total == 3
        events.unlink()
        await async_wait_until(lambda: "events.jsonl was deleted" in log_text(screen), what="the deletion said")
        await pilot.pause(0.3)
        assert screen.state.status == "running" and screen.state.epochs_done == 2 and app.is_running
