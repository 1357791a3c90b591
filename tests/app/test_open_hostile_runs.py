"""Opening a spoiled run directory on the monitor (`tui-cnn RUN_DIR`, or `o`): a message or
the readable part of the run, never a crash. The corpus is tests/run_corpus.py."""

from __future__ import annotations

import pytest

from tests.helpers import async_wait_until
from tests.run_corpus import SPOILERS, spoiled_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.monitor import MonitorScreen
from tui_cnn.domain.presets import load_preset


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
