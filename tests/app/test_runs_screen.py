"""The Runs screen (key 4): `tui-cnn runs`' table kept up to date while runs change on disk,
and its keys: open, stop, pause, continue, delete, mark and compare. Hand-made run
directories (no training), but for one slow test that continues a real stopped run."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import async_wait_until, record_notifications
from tests.run_corpus import SPOILERS, spoiled_run, write_good_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.compare import CompareScreen
from tui_cnn.app.screens.runs import RunsScreen, RunTable
from tui_cnn.app.widgets.confirm import ConfirmScreen
from tui_cnn.app.widgets.continue_run import ContinueRunScreen
from tui_cnn.domain.run_control import read_control
from tui_cnn.domain.run_events import EpochEnd, Failed, Finished, Paused, RunStarted, Stopped
from tui_cnn.domain.run_files import read_events
from tui_cnn.domain.run_records import EpochMetrics, ProcessRecord, encode_record

STARTED = RunStarted("r", "SimpleCNN", {}, "cpu", "a CPU", "mnist", 256, 0, 64, 1000, 3, 8)
#: A fixed start (2023-11-14 22:13 UTC): no row's text depends on when the test runs.
T0 = 1_700_000_000.0


def epoch_end(epoch: int, val_acc: float = 0.8) -> EpochEnd:
    return EpochEnd(EpochMetrics(epoch, 0.5, 0.9, 0.6, val_acc, 1e-3, 12.0, 1500.0), best=True)


def event_lines(*events) -> str:
    return "".join(encode_record(event) for event in events)


def write_run(base: Path, name: str, *events, epochs_done: int = 1, started_at: float = T0, live: bool = False) -> Path:
    """A run directory as the trainer leaves it: config, metrics, eval, events (RunStarted,
    an EpochEnd an epoch, then ``events``) and process.json. ``live``: this test's own
    process trains it (alive on this host); else a process on another machine that wrote
    its last line long ago (gone: a run with no end event is crashed)."""
    run_dir = write_good_run(base / name, epochs_done=epochs_done)
    epochs = [epoch_end(n, 0.7 + n / 100) for n in range(1, epochs_done + 1)]
    (run_dir / "events.jsonl").write_text(event_lines(STARTED, *epochs, *events))
    process = (
        ProcessRecord(os.getpid(), socket.gethostname(), started_at)
        if live
        else ProcessRecord(4242, "elsewhere", started_at)
    )
    (run_dir / "process.json").write_text(encode_record(process))
    if not live:
        os.utime(run_dir / "events.jsonl", (started_at, started_at))
    return run_dir


def table_rows(app) -> list[tuple[str, ...]]:
    table = app.screen.query_one(RunTable)
    return [tuple(str(cell) for cell in table.get_row_at(index)) for index in range(table.row_count)]


def statuses(app) -> dict[str, str]:
    """Run name -> status, as the table shows them (columns: mark, status, run...)."""
    return {row[2]: row[1] for row in table_rows(app)}


def cursor_to(app, name: str) -> None:
    table = app.screen.query_one(RunTable)
    names = [row[2] for row in table_rows(app)]
    table.move_cursor(row=names.index(name))


async def typing_into(app, selector: str):
    """The continue dialog's field, once it has the focus (enter before that reaches no field)."""
    await async_wait_until(
        lambda: (
            isinstance(app.screen, ContinueRunScreen)
            and app.focused is not None
            and app.focused is app.screen.query_one(selector)
        ),
        timeout=5,
        what="the field's focus",
    )
    return app.focused


async def opened(app, pilot, rows: int) -> RunsScreen:
    await async_wait_until(
        lambda: isinstance(app.screen, RunsScreen) and len(table_rows(app)) == rows and not app.screen._loading,
        timeout=10,
        what=f"{rows} rows",
    )
    await pilot.pause()
    return app.screen


@pytest.fixture
def runs(tmp_path) -> Path:
    base = tmp_path / "runs"
    write_run(base, "a-finished", Finished(3, 0.73, 36.0), epochs_done=3, started_at=T0)
    write_run(base, "b-stopped", Stopped(1, None), started_at=T0 + 60)
    write_run(base, "c-crashed", started_at=T0 + 120)
    write_run(base, "d-running", live=True, started_at=T0 + 180)
    write_run(base, "e-paused", Paused(), live=True, started_at=T0 + 240)
    return base


@pytest.mark.slow
async def test_the_table_lists_the_runs_newest_first_with_their_status(runs):
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        rows = table_rows(app)
        assert [row[1:3] for row in rows] == [
            ("paused", "e-paused"),
            ("running", "d-running"),
            ("crashed", "c-crashed"),
            ("stopped", "b-stopped"),
            ("finished", "a-finished"),
        ]
        assert rows[-1][3:] == ("3/3", "73.00%", "50.00%")  # epoch, best val, test at 80 columns
        summary = str(app.screen.query_one("#runs-summary").render())
        assert "5 runs in" in summary and "1 running" in summary and "1 paused" in summary


@pytest.mark.slow
async def test_the_key_4_shows_it_and_an_empty_folder_says_how_to_start_a_run(tmp_path):
    app = TuiCnnApp(runs_dir=str(tmp_path / "no-runs-yet"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await async_wait_until(lambda: isinstance(app.screen, RunsScreen) and not app.screen._loading, timeout=10)
        await pilot.pause()
        summary = str(app.screen.query_one("#runs-summary").render())
        assert "No runs in" in summary and "Train screen" in summary and "--detach" in summary
        assert app.current_mode == "runs"


@pytest.mark.slow
async def test_a_new_theme_recolours_the_statuses(runs):
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        table = app.screen.query_one(RunTable)
        dark = table.get_row_at(1)[1]  # d-running's status
        app.theme = "textual-light"
        await pilot.pause()
        light = table.get_row_at(1)[1]
        assert str(dark) == str(light) == "running" and light.style != dark.style


@pytest.mark.slow
async def test_a_run_appearing_then_ending_shows_within_seconds(runs):
    """Polled twice a second: shown within one poll and a read (4 s: room for a loaded machine)."""
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        cursor_to(app, "b-stopped")
        new = write_run(runs, "f-new", live=True, started_at=T0 + 300)
        await async_wait_until(lambda: statuses(app).get("f-new") == "running", timeout=4, what="the new run")
        assert table_rows(app)[0][2] == "f-new"  # newest first, at the top
        assert app.screen._cursor_path().endswith("b-stopped")  # the cursor stays on its run
        with (new / "events.jsonl").open("a") as events:
            events.write(event_lines(epoch_end(2, 0.9), Finished(2, 0.9, 24.0)))
        await async_wait_until(lambda: statuses(app).get("f-new") == "finished", timeout=4, what="the end")
        row = next(row for row in table_rows(app) if row[2] == "f-new")
        assert row[3:] == ("2/3", "90.00%", "50.00%")


@pytest.mark.slow
async def test_a_live_run_whose_process_is_gone_shows_crashed(tmp_path):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    base = tmp_path / "runs"
    run_dir = write_run(base, "dies", live=True)
    (run_dir / "process.json").write_text(encode_record(ProcessRecord(child.pid, socket.gethostname(), T0)))
    app = TuiCnnApp(start_mode="runs", runs_dir=str(base))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await opened(app, pilot, 1)
            assert statuses(app) == {"dies": "running"}
            child.kill()
            child.wait()
            # No file changed: its process is asked for every 2 s.
            await async_wait_until(lambda: statuses(app) == {"dies": "crashed"}, timeout=5, what="crashed")
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
async def test_marking_two_runs_and_v_compares_them(runs):
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    notes = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot, 5)
        cursor_to(app, "a-finished")
        await pilot.press("space", "v")
        assert "Mark two runs or more" in notes[-1] and app.screen is screen
        assert table_rows(app)[-1][0] == "✓"  # marked: a sign, not a colour alone
        await pilot.press("up")  # the table's own keys move its cursor (enter is the screen's)
        assert app.screen._cursor_path().endswith("b-stopped")
        await pilot.press("space")
        assert "2 marked" in str(screen.query_one("#runs-summary").render())
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert [Path(path).name for path in app.screen.run_dirs] == ["b-stopped", "a-finished"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        cursor_to(app, "b-stopped")
        await pilot.press("space")  # unmarked
        assert [row[0] for row in table_rows(app)].count("✓") == 1


@pytest.mark.slow
async def test_delete_asks_first_cancel_keeps_the_run_and_yes_deletes_it(runs):
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        cursor_to(app, "b-stopped")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # the safe default: cancel
        await pilot.pause()
        assert (runs / "b-stopped").is_dir() and "b-stopped" in statuses(app)
        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await async_wait_until(
            lambda: not (runs / "b-stopped").exists() and "b-stopped" not in statuses(app),
            timeout=5,
            what="the deletion",
        )
        assert len(table_rows(app)) == 4


@pytest.mark.slow
async def test_a_live_run_is_not_deleted_nor_a_link_out_of_the_folder(runs, tmp_path):
    elsewhere = write_run(tmp_path / "elsewhere", "precious", Finished(1, 0.71, 12.0), started_at=T0 - 60)
    (runs / "z-link").symlink_to(elsewhere, target_is_directory=True)
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    notes = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 6)
        for name, said in (
            ("d-running", "stop it (x) before deleting it"),
            ("e-paused", "stop it (x)"),
            ("z-link", "is a link"),
        ):
            cursor_to(app, name)
            await pilot.press("d")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert said in notes[-1]
        assert (runs / "d-running").is_dir() and (elsewhere / "config.json").is_file()


@pytest.mark.slow
async def test_stop_and_pause_write_the_run_control_file_and_an_ended_run_refuses(runs):
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    notes = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        cursor_to(app, "d-running")
        await pilot.press("x")
        assert read_control(runs / "d-running").command == "stop"
        await pilot.press("p")
        assert read_control(runs / "d-running").command == "pause"
        cursor_to(app, "e-paused")
        await pilot.press("p")
        assert read_control(runs / "e-paused").command == "resume"
        cursor_to(app, "a-finished")
        await pilot.press("x")
        assert "is finished, not training: nothing to stop" in notes[-1]
        assert read_control(runs / "a-finished") is None


@pytest.mark.slow
async def test_enter_opens_the_run_on_the_monitor(runs):
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        cursor_to(app, "a-finished")
        await pilot.press("enter")
        await async_wait_until(lambda: app.current_mode == "monitor", timeout=5)
        await pilot.pause()
        assert app.session.latest_run_dir == str(runs / "a-finished")
        assert app.screen.state.status == "finished" and app.screen.state.run_dir == str(runs / "a-finished")
        await pilot.press("4")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)  # the same screen, its rows kept
        assert len(table_rows(app)) == 5


@pytest.mark.slow
async def test_unreadable_runs_are_listed_as_such_and_never_end_the_screen(tmp_path):
    base = tmp_path / "runs"
    for name in SPOILERS:
        spoiled_run(base, name)
    (base / "not-a-run").mkdir()  # no config.json: not listed
    (base / "a-file.txt").write_text("not a folder")
    app = TuiCnnApp(start_mode="runs", runs_dir=str(base))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, len(SPOILERS))
        shown = statuses(app)
        for name, (opens, _) in SPOILERS.items():
            if not opens:
                assert shown[name] == "unreadable", name
        cursor_to(app, "config-not-json")
        await pilot.pause()
        assert "config.json" in str(app.screen.query_one("#run-detail").render())  # why it is unreadable
        for key in ("x", "p", "c", "space", "v", "r"):
            await pilot.press(key)
        await pilot.press("d", "y")
        await async_wait_until(lambda: "config-not-json" not in statuses(app), timeout=5)
        assert app.is_running and len(table_rows(app)) == len(SPOILERS) - 1


@pytest.mark.slow
async def test_continue_asks_how_many_epochs_and_starts_the_run_detached(runs, monkeypatch):
    started = []

    class Launched:
        exit_status = None  # its process lives

    def start_detached(spec, config):
        started.append((spec.name, config))
        return launched

    launched = Launched()

    monkeypatch.setattr("tui_cnn.backend.launch.start_detached", start_detached)
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    notes = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        cursor_to(app, "a-finished")
        await pilot.press("c")
        assert "has no checkpoint-last.pt" in notes[-1] and not isinstance(app.screen, ContinueRunScreen)
        for name in ("a-finished", "c-crashed"):
            (runs / name / "checkpoint-last.pt").write_bytes(b"weights")
        cursor_to(app, "d-running")
        await pilot.press("c")
        assert "is running" in notes[-1]
        cursor_to(app, "c-crashed")  # 1 of 3 epochs when it crashed: it goes on to the 3
        await pilot.press("c")
        assert (await typing_into(app, "#epochs")).value == "3"
        await pilot.press("escape")
        cursor_to(app, "a-finished")  # it trained what it was to: 5 more
        await pilot.press("c")
        field = await typing_into(app, "#epochs")
        assert field.value == "8"
        field.value = "3"
        await pilot.press("enter")
        assert isinstance(app.screen, ContinueRunScreen) and not started
        assert "more than 3" in str(app.screen.query_one("#continue-error").render())
        field.value = "10"
        await pilot.press("enter")
        await async_wait_until(lambda: started, timeout=5, what="the run to start")
        name, config = started[0]
        assert name == "SimpleCNN" and config.epochs == 10 and config.resume == str(runs / "a-finished")
        await async_wait_until(lambda: "Continuing a-finished to 10 epochs" in notes[-1], timeout=5)
        await pilot.press("c")  # its process is starting: not twice
        assert "is being continued" in notes[-1] and len(started) == 1
        (runs / "a-finished" / "output.log").write_text("training...\ntui-cnn: training failed: no data\n")
        launched.exit_status = 1  # it failed before its first event: no row changes, the screen says it
        await async_wait_until(lambda: "exit status 1: no data" in notes[-1], timeout=5)


@pytest.fixture
def utc():
    """Times shown in UTC (the started column), whatever the machine's time zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("size, theme", [((80, 24), None), ((160, 50), "textual-light")], ids=["80x24", "160x50-light"])
@pytest.mark.slow
def test_snapshot(snap_compare, runs, size, theme, monkeypatch, utc):
    """Every status once, a marked run, a long name cut, an unreadable run under the cursor;
    the wide one in a light theme (the statuses' colours come from the theme)."""
    spoiled_run(runs, "config-not-json")
    write_run(runs, "20260102-030405-a-run-with-a-very-long-name-resnet18", Failed("diverged"), started_at=T0 - 60)
    app = TuiCnnApp(start_mode="runs", runs_dir="runs")

    async def loaded(pilot) -> None:
        if theme:
            app.theme = theme
        await async_wait_until(
            lambda: isinstance(app.screen, RunsScreen) and len(table_rows(app)) == 7 and not app.screen._loading,
            timeout=10,
        )
        cursor_to(app, "b-stopped")
        await pilot.press("space")
        cursor_to(app, "config-not-json")
        await pilot.pause()

    monkeypatch.chdir(runs.parent)  # the folder's name is in the picture: runs/, wherever the test runs
    assert snap_compare(app, terminal_size=size, run_before=loaded)


@pytest.mark.slow
@pytest.mark.timeout(300)  # a run trained in the test, then one more epoch in a process of its own
async def test_c_continues_a_real_run_to_two_epochs(mnist_root, tmp_path):
    from tui_cnn.cli import main

    base = tmp_path / "runs"
    run_dir = base / "real"
    result = CliRunner().invoke(
        main,
        [
            "train",
            "SimpleCNN",
            "--data-dir",
            str(mnist_root),
            "--epochs",
            "1",
            "-b",
            "32",
            "--device",
            "cpu",
            "--run-dir",
            str(run_dir),
            "--headless",
        ],
    )
    assert result.exit_code == 0, result.output
    app = TuiCnnApp(start_mode="runs", runs_dir=str(base))
    async with app.run_test(size=(100, 24)) as pilot:
        await opened(app, pilot, 1)
        assert statuses(app) == {"real": "finished"}
        await pilot.press("c")
        field = await typing_into(app, "#epochs")
        field.value = "2"
        await pilot.press("enter")

        def finished_two_of_two() -> bool:
            row = table_rows(app)[0]
            return row[1] == "finished" and "2/2" in row

        try:
            await async_wait_until(finished_two_of_two, timeout=150, interval=0.2, what="finished 2/2")
        except AssertionError as exc:
            log = run_dir / "output.log"
            raise AssertionError(f"{exc}; output.log: {log.read_text() if log.exists() else 'none'}") from None
    started = [event for event in read_events(run_dir) if isinstance(event, RunStarted)]
    assert [(event.start_epoch, event.epochs) for event in started] == [(1, 1), (2, 2)]
    assert (run_dir / "output.log").is_file()


@pytest.mark.slow
async def test_home_and_end_go_to_the_newest_and_the_oldest_run(runs):
    """DataTable's own home and end scroll sideways: x after home stopped the run the cursor
    was left on, not the newest."""
    app = TuiCnnApp(start_mode="runs", runs_dir=str(runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(app, pilot, 5)
        table = app.screen.query_one(RunTable)
        await pilot.press("end")
        assert table_rows(app)[table.cursor_row][2] == "a-finished"
        await pilot.press("home")
        assert table_rows(app)[table.cursor_row][2] == "e-paused"


@pytest.mark.slow
async def test_queued_runs_move_in_the_queue_and_x_cancels_one(tmp_path):
    from tui_cnn.domain.run_queue import enqueue, waiting_runs

    base = tmp_path / "runs"
    app = TuiCnnApp(start_mode="runs", runs_dir=str(base))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        base.mkdir(exist_ok=True)
        request = '{"spec": {"model": {"name": "Net"}}, "config": {"epochs": 2}}'
        for name in ("q1", "q2", "q3"):  # queued once the app has looked for work: no runner starts them here
            (base / name).mkdir()
            enqueue(base / name, request)
        await pilot.press("r")
        await opened(app, pilot, 3)
        assert set(statuses(app).values()) == {"queued"}
        cursor_to(app, "q3")
        await pilot.press("shift+up")
        await async_wait_until(
            lambda: [p.name for p, _ in waiting_runs(base)] == ["q1", "q3", "q2"], timeout=5, what="q3 moved up"
        )
        cursor_to(app, "q1")
        await pilot.press("x")
        await async_wait_until(lambda: statuses(app).get("q1") == "cancelled", timeout=10, what="q1 cancelled")
        assert [p.name for p, _ in waiting_runs(base)] == ["q3", "q2"]
        cursor_to(app, "q1")
        await pilot.press("shift+down")  # a cancelled run is not in the queue: nothing moves
        await pilot.pause()
        assert [p.name for p, _ in waiting_runs(base)] == ["q3", "q2"]
