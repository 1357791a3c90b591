"""A run started in the app trains on when the app is gone: the terminal closing (a hang-up,
as when an SSH connection drops) or the app killed outright; it still obeys a stop after. The app runs as a person runs
it, in a real pseudo-terminal that is its controlling terminal."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from benchmarks.harness import start_in_a_terminal
from tests.helpers import wait_until
from tui_cnn.domain.run_control import write_control
from tui_cnn.domain.run_events import EpochEnd, Failed, Finished, RunStarted, Stopped
from tui_cnn.domain.run_files import read_events, read_process
from tui_cnn.domain.run_list import run_row

pytestmark = pytest.mark.slow

EPOCHS = 10_000  # never ends by itself while the test looks: it is told to stop once it trained on alone


def start_app_in_a_terminal(*args: str) -> tuple[int, int]:
    """The app in a real 80x24 terminal; what it draws is read and dropped, as a terminal
    would show it."""
    pid, master = start_in_a_terminal(list(args))
    threading.Thread(target=_drain, args=(master,), daemon=True).start()
    return pid, master


def _drain(master: int) -> None:
    try:
        while os.read(master, 65536):
            pass
    except OSError:  # the terminal is closed
        pass


def epochs_ended(run_dir) -> int:
    return sum(1 for event in read_events(run_dir) if isinstance(event, EpochEnd))


def ended(run_dir) -> bool:
    events = read_events(run_dir)
    return bool(events) and isinstance(events[-1], (Finished, Stopped, Failed))


@pytest.mark.parametrize(
    "how",
    [
        "the terminal hangs up",  # as SSH drops: the case that matters
        pytest.param("the app is killed", marks=pytest.mark.heavy),
    ],
)
def test_a_run_started_in_the_app_trains_on_when_the_app_is_gone(mnist_root, tmp_path, how):
    run_dir = tmp_path / "run"
    pid, master = start_app_in_a_terminal(
        "train",
        "SimpleCNN",
        "--dataset",
        "mnist",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        str(EPOCHS),
        "-b",
        "32",
        "--device",
        "cpu",
        "--run-dir",
        str(run_dir),
    )
    trainer = None
    try:
        wait_until(lambda: any(isinstance(e, RunStarted) for e in read_events(run_dir)), timeout=120)
        trainer = read_process(run_dir).pid
        assert not ended(run_dir)  # the app goes while its run trains
        if how == "the terminal hangs up":
            os.close(master)  # the terminal goes: the kernel hangs up the app's session
            master = None
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) or os.WIFEXITED(status)  # the app is gone
        epochs_when_the_app_went = epochs_ended(run_dir)
        # it trains on alone (however slow a loaded machine is), then obeys a stop as any run does
        wait_until(
            lambda: epochs_ended(run_dir) > epochs_when_the_app_went,
            timeout=150,
            what="an epoch trained after the app was gone",
        )
        write_control(run_dir, "stop")
        wait_until(lambda: ended(run_dir), timeout=60, what="the run to end on the stop")
        events = read_events(run_dir)
        assert isinstance(events[-1], Stopped), events[-1]
        assert sum(1 for path in run_dir.iterdir() if path.name.startswith("checkpoint")) >= 1
        row = run_row(run_dir)
        assert row.status == "stopped" and row.epoch >= epochs_when_the_app_went + 1
    finally:
        if master is not None:
            os.close(master)
        for leftover in (pid, trainer):
            if leftover:
                try:
                    os.kill(leftover, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
