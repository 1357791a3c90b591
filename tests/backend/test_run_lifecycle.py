"""A run's life with real processes: one trainer per run directory (two starts at once, a
resume of a live run), children that never import from the working directory and that say
when they fail before their first event, a stop of a run still starting, and control
commands that are neither lost nor able to hang the trainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from click.testing import CliRunner

from tests.helpers import wait_until
from tui_cnn.cli import main
from tui_cnn.domain.run_control import CONTROL_FILE, CONTROL_MAX_BYTES, write_control
from tui_cnn.domain.run_events import BatchProgress, Paused, RunStarted, Stopped
from tui_cnn.domain.run_files import read_events, read_process
from tui_cnn.domain.run_list import run_row

pytestmark = pytest.mark.slow


def train_args(mnist_root, run_dir, *more: str) -> list[str]:
    return [
        "train",
        "SimpleCNN",
        "--data-dir",
        str(mnist_root),
        "--dataset",
        "mnist",
        "--epochs",
        "500",
        "-b",
        "32",
        "--device",
        "cpu",
        "--run-dir",
        str(run_dir),
        *more,
    ]


def tui_cnn(*args: str, cwd=None) -> subprocess.Popen:
    """The command line in a process of its own (as a user's shell starts it)."""
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "tui_cnn", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def kill_run(run_dir) -> None:
    record = read_process(run_dir)
    if record is not None and run_row(run_dir).status in ("starting", "running", "paused"):
        os.killpg(record.pid, 9)


def test_two_detached_starts_of_one_run_directory_train_once(mnist_root, tmp_path):
    run_dir = tmp_path / "same"
    starts = [tui_cnn(*train_args(mnist_root, run_dir, "--detach")) for _ in range(2)]
    try:
        results = [(start.wait(timeout=150), *start.communicate()) for start in starts]
        assert sorted(code for code, _, _ in results) == [0, 2], results
        refused = next(err for code, _, err in results if code == 2)
        trainer = read_process(run_dir).pid
        assert refused.startswith("tui-cnn: ") and refused.count("\n") == 1
        assert "being trained by process" in refused, refused
        wait_until(lambda: any(isinstance(e, BatchProgress) for e in read_events(run_dir)), timeout=60)
        assert sum(isinstance(e, RunStarted) for e in read_events(run_dir)) == 1

        resumed = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--headless"])
        assert resumed.exit_code == 2 and f"being trained by process {trainer}" in resumed.stderr
    finally:
        kill_run(run_dir)


def test_a_json_py_in_the_working_directory_never_runs_in_the_trainer(mnist_root, tmp_path, monkeypatch):
    """`python -m` puts the working directory first on sys.path: a json.py there would be
    imported by the trainer instead of the standard library's."""
    here = tmp_path / "project"
    here.mkdir()
    marker = tmp_path / "imported"
    for name in ("json.py", "torch.py"):
        (here / name).write_text(f"open({str(marker)!r}, 'w').write({name!r})\nraise SystemExit('{name} ran')\n")
    monkeypatch.chdir(here)
    run_dir = tmp_path / "run"
    started = CliRunner().invoke(main, train_args(mnist_root, run_dir, "--detach"))
    try:
        assert started.exit_code == 0, started.output
        assert not marker.exists()
        assert any(isinstance(e, RunStarted) for e in read_events(run_dir))
    finally:
        kill_run(run_dir)


def test_every_child_and_torchruns_ranks_keep_the_working_directory_off_their_path():
    from tui_cnn.backend.launch import launch_command, launch_environment, python_command
    from tui_cnn.cli.serve import app_command

    assert python_command("tui_cnn.backend.child")[1] == "-P" and launch_command(2)[1] == "-P"
    assert launch_environment(2, {})["PYTHONSAFEPATH"] == "1"  # torchrun starts its ranks with python -m
    assert app_command(None).split()[1] == "-P"  # serve's tabs


def test_a_detached_run_that_fails_before_its_first_event_says_so_and_exits_non_zero(tmp_path):
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "train",
            "SimpleCNN",
            "--data-dir",
            str(tmp_path / "no-data"),
            "--dataset",
            "fashion-mnist",
            "--device",
            "cpu",
            "--run-dir",
            str(run_dir),
            "--detach",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "ended before it started" in result.stderr and "output.log" in result.stderr
    assert run_row(run_dir).status == "failed"


def test_a_stop_asked_while_the_run_starts_is_obeyed_once_it_trains(mnist_root, tmp_path):
    from tui_cnn.backend.launch import start_detached
    from tui_cnn.domain.presets import load_preset
    from tui_cnn.domain.train_config import TrainConfig

    run_dir = tmp_path / "run"
    config = TrainConfig(
        dataset="mnist", data_dir=str(mnist_root), epochs=500, batch_size=32, device="cpu", run_dir=str(run_dir)
    )
    launched = start_detached(load_preset("SimpleCNN"), config)
    try:
        assert run_row(run_dir).status == "starting"  # held from the first instant, before torch loads
        asked = CliRunner().invoke(main, ["stop", str(run_dir)])
        assert asked.exit_code == 0, asked.output
        assert launched.process.wait(timeout=150) == 0
    finally:
        kill_run(run_dir)
    events = read_events(run_dir)
    assert isinstance(events[-1], Stopped) and events[-1].epoch == 1
    assert not any(isinstance(e, BatchProgress) for e in events)


# --- control.json: ordered, bounded, never blocking (the trainer in a thread, steered from here) ---


def train_in_a_thread(simple_cnn, config):
    from tui_cnn.backend.trainer import Trainer

    events: list = []
    trainer = Trainer(simple_cnn, config, [events.append])
    thread = threading.Thread(target=trainer.run, daemon=True)
    thread.start()
    return trainer, thread, events


def batches(events) -> int:
    return sum(isinstance(e, BatchProgress) for e in events)


def test_a_stop_then_a_pause_50_ms_later_ends_the_run_stopped(simple_cnn, tiny_config):
    config = replace(tiny_config, epochs=500, progress_every=1)
    trainer, thread, events = train_in_a_thread(simple_cnn, config)
    try:
        wait_until(lambda: batches(events), timeout=120, what="training")
        write_control(config.run_dir, "stop")
        time.sleep(0.05)
        write_control(config.run_dir, "pause")
        thread.join(timeout=60)
    finally:
        trainer.stop()
    assert not thread.is_alive() and isinstance(events[-1], Stopped)
    assert not any(isinstance(e, Paused) for e in events)
    assert read_process(config.run_dir).control_seq >= 1  # applied, and said so (the pause may come too late)


@pytest.mark.parametrize("spoil", ["fifo", "huge"])
def test_a_pipe_or_a_huge_control_json_neither_hangs_nor_steers_the_trainer(simple_cnn, tiny_config, spoil, capfd):
    config = replace(tiny_config, epochs=500, progress_every=1)
    control = os.path.join(config.run_dir, CONTROL_FILE)
    trainer, thread, events = train_in_a_thread(simple_cnn, config)
    try:
        wait_until(lambda: batches(events), timeout=120, what="training")
        if spoil == "fifo":
            os.mkfifo(control)
        else:
            with open(control, "w") as file:
                file.write(json.dumps({"commands": [{"seq": 99, "command": "stop", "at": 1.0}]}))
                file.write(" " * (5 * CONTROL_MAX_BYTES))
        seen = batches(events)
        said = ""

        def refusal_said() -> bool:  # the watcher looks 4 times a second: a loaded machine, later
            nonlocal said
            said += capfd.readouterr().err
            return f"{control} " in said

        wait_until(refusal_said, timeout=60, what="the refusal said")
        wait_until(lambda: batches(events) > seen + 4, timeout=60, what="training past it")
        assert thread.is_alive()
        write_control(config.run_dir, "stop")  # replaces it: the run can still be stopped
        thread.join(timeout=60)
    finally:
        trainer.stop()
    assert not thread.is_alive() and isinstance(events[-1], Stopped)
    said += capfd.readouterr().err
    assert said.count(f"{control} ") == 1 and ("not a regular file" in said or "more than a control file" in said)
