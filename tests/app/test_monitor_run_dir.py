"""The monitor tells a run's status from its directory alone, whoever started it: the app
that started a run which then crashed follows it again once it is continued elsewhere, and
can stop it."""

from __future__ import annotations

import os
import signal

import pytest

from tests.app.test_monitor import UNTIL_STOPPED, monitor_config, wait_for_status
from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain.run_events import Stopped
from tui_cnn.domain.run_files import read_events, read_process
from tui_cnn.domain.run_list import continuation, run_row

pytestmark = pytest.mark.slow


async def test_the_app_that_started_a_crashed_run_follows_it_once_continued_elsewhere(mnist_root, tmp_path):
    from tui_cnn.backend import launch

    run_dir = tmp_path / "run"
    app = TuiCnnApp(
        start_mode="monitor", train_config=monitor_config(mnist_root, run_dir, epochs=UNTIL_STOPPED, progress_every=1)
    )
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await wait_for_status(screen, "running")
        await async_wait_until(lambda: screen.state.epochs, what="an epoch")
        os.kill(read_process(run_dir).pid, signal.SIGKILL)
        await wait_for_status(screen, "crashed", timeout=30)

        spec, config = continuation(run_dir, epochs=UNTIL_STOPPED)  # another app's `c`, or train --resume
        launch.start_detached(spec, config)
        await wait_for_status(screen, "running", timeout=120)
        await pilot.press("x")
        await wait_for_status(screen, "stopped")
    assert isinstance(read_events(run_dir)[-1], Stopped) and run_row(run_dir).status == "stopped"
