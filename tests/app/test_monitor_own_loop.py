"""The monitor follows a run of your own training loop (tui_cnn.init) as it follows one tui-cnn
trains: opened when it has ended (its epoch rows, the figures it did not log as --, the test
accuracy it gave), and live (its epochs as they come; x stops the script's loop)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.app.test_monitor import log_text, table_rows, wait_for_status
from tests.helpers import async_wait_until
from tests.test_logging_api import ENDLESS_LOOP, PLAIN_LOOP, run_script, start_script, write_script
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain.run_files import read_metrics
from tui_cnn.domain.run_list import run_row

pytestmark = pytest.mark.slow


async def test_the_monitor_opens_an_ended_run_of_your_own_loop(tmp_path):
    script = write_script(tmp_path, PLAIN_LOOP)
    assert run_script(script, "runs/mine").returncode == 0
    app = TuiCnnApp(start_mode="monitor", run_dir=str(tmp_path / "runs" / "mine"))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await async_wait_until(lambda: screen.state.status == "finished", what="the run read")
        await pilot.pause()
        rows = table_rows(screen)
        assert [row[1] for row in rows] == ["1", "2", "3"]
        assert rows[-1][0] == "★" and rows[-1][2:7] == ["0.3333", "--", "--", "80.00%", "--"]
        assert str(screen.query_one("#eval-summary").render()) == "Test accuracy 80.00%"
        log = " ".join((await log_text(screen, pilot)).split())  # wrapped lines joined
        assert f"started: your own training loop, {script} (tui_cnn.init)" in log
        assert "saved checkpoint" not in log  # a loop of its own keeps no checkpoint of ours


async def test_the_monitor_follows_your_loop_live_and_x_stops_it(tmp_path):
    run_dir = tmp_path / "runs" / "live"
    child = start_script(write_script(tmp_path, ENDLESS_LOOP), str(run_dir))
    try:
        await async_wait_until(lambda: read_metrics(run_dir), timeout=60, what="an epoch")
        app = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            await wait_for_status(screen, "running")
            shown = len(table_rows(screen))
            await async_wait_until(lambda: len(table_rows(screen)) > shown, timeout=30, what="epochs as they come")
            await pilot.press("x")
            await wait_for_status(screen, "stopped", timeout=60)
        out, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert out.strip() == "stopped" and run_row(run_dir).status == "stopped"


async def test_the_monitor_says_a_killed_loop_crashed_and_to_run_the_script_again(tmp_path):
    import os
    import signal

    run_dir = tmp_path / "runs" / "killed"
    child = start_script(write_script(tmp_path, ENDLESS_LOOP), str(run_dir))
    try:
        await async_wait_until(lambda: read_metrics(run_dir), timeout=60, what="an epoch")
        app = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
        async with app.run_test(size=(140, 40)):
            screen = app.screen
            await wait_for_status(screen, "running")
            os.kill(child.pid, signal.SIGKILL)
            await wait_for_status(screen, "crashed", timeout=60)
            assert screen.state.failure.endswith("with no end event; run your script again")
    finally:
        child.kill()
        child.communicate()


def test_tui_cnn_run_dir_opens_a_run_of_your_own_loop(tmp_path):
    """`tui-cnn RUN_DIR` (and attach) read the model from config.json: a loop's run has none of
    ours, and opens all the same (no terminal here: the refusal is the terminal's, not the run's)."""
    script = write_script(tmp_path, PLAIN_LOOP)
    assert run_script(script, "runs/mine").returncode == 0
    opened = subprocess.run(
        [sys.executable, "-m", "tui_cnn", "runs/mine"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert opened.returncode == 2 and "no terminal" in opened.stderr, opened.stderr
