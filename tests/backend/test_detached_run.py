"""`tui-cnn train --detach`: the run trains in its own session (no terminal can hang it up),
and any terminal steers it through its directory: `tui-cnn pause|resume|stop RUN_DIR`."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from tests.helpers import wait_until
from tui_cnn.cli import main
from tui_cnn.domain.run_events import Paused, Resumed, Stopped
from tui_cnn.domain.run_files import read_events, read_metrics, read_process
from tui_cnn.domain.run_list import run_row

pytestmark = pytest.mark.slow


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_detached_run_has_its_own_session_and_obeys_the_run_directory(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    started = cli(
        "train",
        "SimpleCNN",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "500",
        "-b",
        "32",
        "--device",
        "cpu",
        "--run-dir",
        str(run_dir),
        "--detach",
    )
    assert started.exit_code == 0, started.output
    wait_until(lambda: read_process(run_dir) is not None and read_metrics(run_dir), timeout=120)
    pid = read_process(run_dir).pid
    try:
        assert os.getsid(pid) == pid != os.getsid(0)  # a session of its own: our hang-up is not its
        assert cli("pause", str(run_dir)).exit_code == 0
        wait_until(lambda: run_row(run_dir).status == "paused", timeout=30)
        assert cli("resume", str(run_dir)).exit_code == 0
        wait_until(
            lambda: (
                isinstance(read_events(run_dir)[-1], Resumed)
                or any(isinstance(e, Resumed) for e in read_events(run_dir))
            ),
            timeout=30,
        )
        assert cli("stop", str(run_dir)).exit_code == 0
        wait_until(lambda: run_row(run_dir).status == "stopped", timeout=60)
    finally:
        if run_row(run_dir).status in ("running", "paused"):
            os.kill(pid, 9)
    events = read_events(run_dir)
    assert any(isinstance(e, Paused) for e in events) and isinstance(events[-1], Stopped)
    assert (run_dir / "checkpoint-last.pt").is_file() and (run_dir / "output.log").is_file()
    again = cli("stop", str(run_dir))
    assert again.exit_code == 2 and "is stopped" in again.output


def test_a_run_started_by_an_app_goes_on_to_finished_when_the_app_is_gone(mnist_root, tmp_path):
    """The app's side of a monitor run is the child's stdin and stdout: an app killed (or its
    terminal closed) closes both. The run must not care."""
    import json
    import subprocess
    import sys

    from tui_cnn.domain.presets import load_preset
    from tui_cnn.domain.run_events import Finished
    from tui_cnn.domain.specfile import spec_to_dict
    from tui_cnn.domain.train_config import TrainConfig

    run_dir = tmp_path / "run"
    config = TrainConfig(
        dataset="mnist", data_dir=str(mnist_root), epochs=2, batch_size=32, device="cpu", run_dir=str(run_dir)
    )
    child = subprocess.Popen(
        [sys.executable, "-P", "-m", "tui_cnn.backend.child", "--device", "cpu"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    child.stdin.write(json.dumps({"spec": spec_to_dict(load_preset("SimpleCNN")), "config": config.to_json()}) + "\n")
    child.stdin.close()  # the app is gone: no more controls,
    child.stdout.close()  # and nobody reads the events (a broken pipe)
    try:
        assert child.wait(timeout=120) == 0
    finally:
        child.kill()
    assert isinstance(read_events(run_dir)[-1], Finished) and run_row(run_dir).status == "finished"
