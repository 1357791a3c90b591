"""One trainer per run directory, told by the run directory alone: its lock (held by a live
process, released by the kernel when it dies), process.json's pid and start time, numbered
control commands, and a runs folder whose bad entries lose only themselves. Real processes
hold the locks; nothing is mocked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.run_corpus import write_good_run
from tui_cnn.cli import main
from tui_cnn.domain.run_control import (
    CONTROL_FILE,
    CONTROL_KEPT,
    CONTROL_MAX_BYTES,
    ControlFileRefused,
    read_control,
    read_control_commands,
    write_control,
)
from tui_cnn.domain.run_dir import new_run_dir
from tui_cnn.domain.run_events import RunStarted, event_to_json
from tui_cnn.domain.run_list import (
    RunWatch,
    continue_refused,
    deletion_refused,
    list_runs,
    run_row,
    run_trainer,
    steer_run,
)
from tui_cnn.domain.run_lock import LOCK_FILE, RunLock, RunLocked, lock_held, process_start_time

STARTED = RunStarted("r", "SimpleCNN", {}, "cpu", "a CPU", "mnist", 256, 0, 64, 1000, 3, 8)

#: A process that takes a run directory's lock, says so, and holds it until killed.
HOLDER = (
    "import sys, time; from tui_cnn.domain.run_lock import RunLock; RunLock.acquire(sys.argv[1]); "
    "print('held', flush=True); time.sleep(600)"
)


def hold_in_a_process(run_dir: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def holders():
    started: list[subprocess.Popen] = []
    yield started
    for holder in started:
        holder.kill()
        holder.wait()


def write_process_json(run_dir: Path, pid: int, create_time: float | None) -> None:
    (run_dir / "process.json").write_text(
        json.dumps({"pid": pid, "host": socket.gethostname(), "started_at": 1.0, "create_time": create_time})
    )


# --- the lock ---


@pytest.mark.slow
def test_a_second_taker_is_refused_naming_the_live_process_and_the_kernel_frees_it_on_death(tmp_path, holders):
    holder = hold_in_a_process(tmp_path)
    holders.append(holder)
    assert lock_held(tmp_path) is True
    with pytest.raises(RunLocked, match=f"being trained by process {holder.pid}"):
        RunLock.acquire(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lock_held(tmp_path) is False  # no one let go: the kernel did
    RunLock.acquire(tmp_path).release()


def test_a_readers_probe_never_keeps_a_trainer_from_the_lock(tmp_path):
    (tmp_path / LOCK_FILE).touch()
    stop = threading.Event()

    def probe_without_pause() -> None:
        while not stop.is_set():
            lock_held(tmp_path)

    readers = [threading.Thread(target=probe_without_pause) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(20):
            RunLock.acquire(tmp_path).release()
    finally:
        stop.set()
        for reader in readers:
            reader.join()


def test_no_lock_file_is_no_answer_and_a_run_folder_of_old_is_judged_by_its_pid(tmp_path):
    assert lock_held(tmp_path) is None
    run_dir = write_good_run(tmp_path / "old")
    write_process_json(run_dir, os.getpid(), None)  # before locks and start times: the pid alone
    assert run_trainer(run_dir).state == "live"


# --- liveness: the lock and the process's start time ---


def test_a_pid_the_os_gave_to_another_process_is_no_trainer(tmp_path):
    """process.json names a live process (this test's) that is not the run's trainer: the
    run's lock is free and the start time differs. The run crashed: it can be continued and
    deleted, not stopped."""
    base = tmp_path / "runs"
    run_dir = write_good_run(base / "reused")
    (run_dir / "events.jsonl").write_text(json.dumps(event_to_json(STARTED)) + "\n")
    (run_dir / "checkpoint-last.pt").write_bytes(b"weights")
    write_process_json(run_dir, os.getpid(), process_start_time() - 3600)
    RunLock.acquire(run_dir).release()  # the trainer held it, and is gone
    row = run_row(run_dir)
    assert row.status == "crashed"
    assert continue_refused(row) is None and deletion_refused(run_dir, base) is None
    with pytest.raises(ValueError, match="is crashed, not training"):
        steer_run(run_dir, "stop")
    write_process_json(run_dir, os.getpid(), process_start_time() - 3600)
    (run_dir / LOCK_FILE).unlink()  # no lock to go on: the start time alone tells it apart
    assert run_row(run_dir).status == "crashed"


def test_a_run_held_by_its_live_trainer_is_running(tmp_path, holders):
    run_dir = write_good_run(tmp_path / "live")
    holders.append(hold_in_a_process(run_dir))
    write_process_json(run_dir, holders[0].pid, process_start_time(holders[0].pid))
    (run_dir / "events.jsonl").write_text(
        json.dumps(
            event_to_json(
                STARTED.__class__(**{**{f: getattr(STARTED, f) for f in STARTED.__struct_fields__}, "at": 2.0})
            )
        )
        + "\n"
    )
    assert run_row(run_dir).status == "running"


@pytest.mark.skipif(os.geteuid() != 0, reason="starting a process of another user takes root")
def test_a_pid_of_another_user_is_not_our_trainer(tmp_path):
    run_dir = write_good_run(tmp_path / "theirs")
    other = subprocess.Popen(["sleep", "60"], user=65534, cwd="/")
    try:
        write_process_json(run_dir, other.pid, process_start_time(other.pid))  # no lock file: a run of old
        assert run_trainer(run_dir).state == "gone"
    finally:
        other.kill()
        other.wait()


# --- starting ---


def test_a_folder_held_before_its_first_file_is_starting_and_a_stop_waits_for_it(tmp_path, holders):
    base = tmp_path / "runs"
    run_dir = base / "20260101-000000-SimpleCNN"
    run_dir.mkdir(parents=True)
    holders.append(hold_in_a_process(run_dir))
    rows = list_runs(base)
    assert [(Path(row.path).name, row.status) for row in rows] == [(run_dir.name, "starting")]
    listed = CliRunner().invoke(main, ["runs", "--runs-dir", str(base), "--json"])
    assert json.loads(listed.stdout)[0]["status"] == "starting"
    assert deletion_refused(run_dir, base) is None  # the screen refuses a live one by its status
    steer_run(run_dir, "stop")
    assert read_control(run_dir).command == "stop"


@pytest.mark.slow
def test_attach_waits_for_a_starting_run_to_write_its_files(tmp_path, holders):
    run_dir = tmp_path / "starting"
    run_dir.mkdir()
    holders.append(hold_in_a_process(run_dir))
    writer = threading.Timer(0.5, write_good_run, args=(run_dir,))
    writer.start()
    attached = CliRunner().invoke(main, ["attach", str(run_dir)])
    writer.join()
    assert "is starting" in attached.stderr and "waiting for it" in attached.stderr
    assert "not a run directory" not in attached.stderr and "terminal" in attached.stderr  # it got to the app


def test_a_folder_whose_process_died_before_the_run_started_is_listed_failed_with_why(tmp_path, holders):
    base = tmp_path / "runs"
    run_dir = base / "died"
    run_dir.mkdir(parents=True)
    (run_dir / "output.log").write_text("tui-cnn: training failed: no MNIST in /nowhere\n")
    holder = hold_in_a_process(run_dir)
    holder.kill()
    holder.wait()
    row = run_row(run_dir)
    assert row.status == "failed" and "no MNIST in /nowhere" in row.problem


# --- new run directories ---


def test_new_run_directories_are_claimed_by_the_mkdir_itself(tmp_path):
    from datetime import datetime

    now = datetime(2026, 1, 2, 3, 4, 5)
    made: list[Path] = []

    def make() -> None:
        made.append(new_run_dir("Simple CNN", tmp_path, now))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and all(path.is_dir() for path in made)
    assert sorted(path.name for path in made)[0] == "20260102-030405-Simple-CNN"


# --- control: numbered, bounded, never blocking ---


def test_commands_are_numbered_in_order_and_none_is_lost(tmp_path):
    write_control(tmp_path, "stop")
    write_control(tmp_path, "pause")
    assert [(c.seq, c.command) for c in read_control_commands(tmp_path)] == [(1, "stop"), (2, "pause")]
    for _ in range(CONTROL_KEPT + 5):
        write_control(tmp_path, "resume")
    commands = read_control_commands(tmp_path)
    assert len(commands) == CONTROL_KEPT and commands[-1].seq == CONTROL_KEPT + 7


def test_a_pipe_or_a_huge_file_as_control_json_is_refused_unread_and_replaced_by_the_next_command(tmp_path):
    os.mkfifo(tmp_path / CONTROL_FILE)
    with pytest.raises(ControlFileRefused, match="not a regular file"):
        read_control_commands(tmp_path)  # opened without blocking: no writer needed
    assert write_control(tmp_path, "stop").seq == 1
    assert read_control(tmp_path).command == "stop"
    (tmp_path / CONTROL_FILE).write_text(
        json.dumps({"commands": [{"seq": 9, "command": "stop", "at": 1.0}]}) + " " * CONTROL_MAX_BYTES
    )
    with pytest.raises(ControlFileRefused, match="more than a control file"):
        read_control_commands(tmp_path)


# --- a runs folder with bad entries ---


def test_a_loop_of_links_in_runs_is_listed_unreadable_and_the_rest_listed(tmp_path):
    base = tmp_path / "runs"
    write_good_run(base / "good")
    os.symlink(base / "loop", base / "loop")
    rows = {Path(row.path).name: row for row in list_runs(base)}
    assert rows["good"].status != "unreadable"
    assert rows["loop"].status == "unreadable" and "symbolic links" in rows["loop"].problem
    listed = CliRunner().invoke(main, ["runs", "--runs-dir", str(base), "--json"])
    assert listed.exit_code == 0 and {Path(row["path"]).name for row in json.loads(listed.stdout)} == {"good", "loop"}
    table = CliRunner().invoke(main, ["runs", "--runs-dir", str(base)])
    assert table.exit_code == 0 and "good" in table.stdout and "loop: " in table.stderr
    assert {Path(path).name for path in RunWatch(base).poll().read} == {"good", "loop"}


def test_a_runs_folder_that_cannot_be_read_is_said_in_one_line(tmp_path):
    looped = tmp_path / "runs"
    os.symlink(looped, looped)  # unreadable for root too
    listed = CliRunner().invoke(main, ["runs", "--runs-dir", str(looped)])
    assert listed.exit_code == 2 and listed.stderr.count("\n") == 1
    assert listed.stderr.startswith("tui-cnn: cannot list the runs in") and "symbolic links" in listed.stderr
    assert "symbolic links" in RunWatch(looped).poll().problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its permissions")
def test_a_runs_folder_without_permission_says_permission_denied(tmp_path):
    base = tmp_path / "runs"
    write_good_run(base / "good")
    base.chmod(0)
    try:
        listed = CliRunner().invoke(main, ["runs", "--runs-dir", str(base)])
        assert listed.exit_code == 2 and "permission denied" in listed.stderr
        assert "permission denied" in RunWatch(base).poll().problem
    finally:
        base.chmod(0o755)
