"""A run whose process is killed (kill -9: no end event) is listed as crashed, and continues
from its last checkpoint with --resume to Finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.helpers import wait_until
from tui_cnn.cli import main
from tui_cnn.domain.run_events import Finished
from tui_cnn.domain.run_files import read_events, read_metrics
from tui_cnn.domain.run_list import run_row

pytestmark = pytest.mark.slow


def test_a_killed_run_is_crashed_and_resumes_to_finished(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-c",
        "from tui_cnn.cli import main; main()",
        "train",
        "SimpleCNN",
        "--headless",
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
    ]
    child = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        wait_until(lambda: (run_dir / "checkpoint-last.pt").exists() and read_metrics(run_dir), timeout=120)
        assert run_row(run_dir).status == "running"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    assert run_row(run_dir).status == "crashed"
    result = CliRunner().invoke(
        main, ["train", "--resume", str(run_dir), "--headless", "--epochs", str(len(read_metrics(run_dir)) + 1)]
    )
    assert result.exit_code == 0, result.output
    assert "resuming at epoch" in result.output
    assert isinstance(read_events(run_dir)[-1], Finished)
    assert run_row(run_dir).status == "finished"
