"""Word when a run ends: the attached app rings the terminal's bell and sends a desktop
notification escape (OSC 9 / OSC 777) once; a --notify command runs with the run's status
and summary, and neither blocks nor fails the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from benchmarks.harness import start_in_a_terminal
from tests.helpers import wait_until
from tui_cnn.domain.notify import end_notice, notify_environment, terminal_notification
from tui_cnn.domain.run_events import RunStarted
from tui_cnn.domain.run_files import read_events
from tui_cnn.domain.run_records import Evaluation
from tui_cnn.domain.run_state import RunState


def test_a_finished_runs_notice_names_the_model_and_its_figures():
    state = RunState(
        status="finished",
        model="SimpleCNN",
        run_dir="runs/a",
        evaluation=Evaluation(accuracy=0.9812, per_class_accuracy=[], confusion_matrix=[]),
    )
    assert end_notice(state) == ("tui-cnn: SimpleCNN finished", "test accuracy 98.12% (runs/a)")
    failed = RunState(status="failed", model="Net", failure="loss is NaN at step 12\nsecond line")
    assert end_notice(failed) == ("tui-cnn: Net failed", "loss is NaN at step 12 second line")
    env = notify_environment(state, base={"PATH": "/bin"})
    assert env["TUI_CNN_STATUS"] == "finished" and env["TUI_CNN_TEST_ACCURACY"] == "0.981200"
    assert env["PATH"] == "/bin"


def test_the_escapes_ring_once_and_carry_no_control_character_of_a_name():
    sequence = terminal_notification("tui-cnn: \x1b]0;evil\x07Net finished", "a;b\nc")
    assert sequence.startswith("\x07")
    assert "\x1b]9;tui-cnn: \\x1b]0,evil\\x07Net finished: a,b c\x07" in sequence
    assert "\x1b]777;notify;tui-cnn: \\x1b]0,evil\\x07Net finished;a,b c\x07" in sequence
    wrapped = terminal_notification("t", "b", in_tmux=True)
    assert wrapped.count("\x1bPtmux;") == 2 and "\x1b\x1b]9;t: b\x07\x1b\\" in wrapped


@pytest.mark.slow
def test_an_attached_app_rings_once_when_its_run_finishes(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_cnn",
            "train",
            "SimpleCNN",
            "--dataset",
            "mnist",
            "--data-dir",
            str(mnist_root),
            "--epochs",
            "6",
            "-b",
            "32",
            "--device",
            "cpu",
            "--run-dir",
            str(run_dir),
            "--detach",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    wait_until(lambda: any(isinstance(e, RunStarted) for e in read_events(run_dir)), timeout=120)
    pid, master = start_in_a_terminal(["attach", str(run_dir)], columns=80, rows=24)
    written = bytearray()

    def drain() -> None:
        try:
            while chunk := os.read(master, 65536):
                written.extend(chunk)
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    try:
        wait_until(lambda: b"\x1b]9;" in written, timeout=170)
        time.sleep(1.5)  # the monitor reads the run 4 times a second: a second ring would come now
        assert written.count(b"\x1b]9;tui-cnn: SimpleCNN finished: test accuracy") == 1
        assert written.count(b"\x1b]777;notify;tui-cnn: SimpleCNN finished;") == 1
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)


@pytest.mark.slow
def test_the_notify_command_gets_the_runs_status_and_never_holds_the_run(mnist_root, tmp_path):
    told = tmp_path / "told.txt"
    sleeper = tmp_path / "sleeper.pid"
    # slow (a child that outlives it by minutes) and failing: the run must not care
    command = f"sleep 300 & echo $! > {sleeper}; env | grep ^TUI_CNN_ > {told}; exit 3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_cnn",
            "train",
            "SimpleCNN",
            "--dataset",
            "mnist",
            "--data-dir",
            str(mnist_root),
            "--epochs",
            "1",
            "-b",
            "32",
            "--device",
            "cpu",
            "--run-dir",
            str(tmp_path / "run"),
            "--headless",
            "--notify",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stderr
    wait_until(lambda: told.is_file() and "TUI_CNN_STATUS=finished" in told.read_text(), timeout=30)
    sleeping = int(sleeper.read_text())
    try:
        os.kill(sleeping, 0)  # still asleep when train had returned: never waited for it nor its output
    finally:
        os.kill(sleeping, signal.SIGKILL)
    told_text = told.read_text()
    assert f"TUI_CNN_RUN_DIR={tmp_path / 'run'}" in told_text and "TUI_CNN_TEST_ACCURACY=" in told_text
    assert "TUI_CNN_NOTIFY" not in told_text
    assert (
        "--notify" not in (tmp_path / "run" / "config.json").read_text()
        and "sleep" not in (tmp_path / "run" / "config.json").read_text()
    )
