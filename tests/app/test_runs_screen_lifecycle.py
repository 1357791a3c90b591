"""The Runs screen lists what the run directories say: a run a process holds before its
first file shows `starting` (and takes a stop), a loop of links is listed unreadable beside
the other runs, and a runs folder that cannot be read is said in one line."""

from __future__ import annotations

import os

import pytest

from tests.app.test_runs_screen import cursor_to, opened, statuses
from tests.domain.test_run_lock import hold_in_a_process, holders  # noqa: F401 - the fixture
from tests.helpers import async_wait_until, record_notifications
from tests.run_corpus import write_good_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.domain.run_control import read_control


@pytest.mark.slow
async def test_a_starting_run_and_a_loop_of_links_are_listed_with_the_rest(tmp_path, holders):  # noqa: F811
    base = tmp_path / "runs"
    write_good_run(base / "good")
    starting = base / "starting"
    starting.mkdir()
    holders.append(hold_in_a_process(starting))
    os.symlink(base / "loop", base / "loop")
    app = TuiCnnApp(start_mode="runs", runs_dir=str(base))
    notes = record_notifications(app)
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await opened(app, pilot, 3)
        assert statuses(app) == {"good": "crashed", "starting": "starting", "loop": "unreadable"}
        assert "1 starting" in str(screen.query_one("#runs-summary").render())
        cursor_to(app, "starting")
        await pilot.press("x")
        assert read_control(starting).command == "stop" and "Asked starting to stop" in notes[-1]
        holders[0].kill()  # it ended before it could start: the screen says so on its next look
        await async_wait_until(lambda: statuses(app).get("starting") == "failed", timeout=10, what="failed")


@pytest.mark.slow
async def test_a_runs_folder_that_cannot_be_read_says_why(tmp_path):
    looped = tmp_path / "runs"
    os.symlink(looped, looped)
    app = TuiCnnApp(start_mode="runs", runs_dir=str(looped))
    async with app.run_test(size=(100, 24)) as pilot:
        await async_wait_until(
            lambda: "symbolic links" in str(app.screen.query_one("#runs-summary").render()),
            timeout=10,
            what="the reason",
        )
        await pilot.pause()
