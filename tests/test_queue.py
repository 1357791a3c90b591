"""The queue with real processes: runs queued with `tui-cnn train --queue` train one at a
time in the order they were queued, each when the one before ends; a cancelled one never
starts; the runner exits when none waits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import wait_until
from tui_cnn.domain.run_events import Finished, RunStarted
from tui_cnn.domain.run_files import read_events
from tui_cnn.domain.run_list import run_row
from tui_cnn.domain.run_queue import runner_running

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]  # four runs one after another


def test_four_queued_runs_train_one_at_a_time_in_order_and_a_cancelled_one_never_starts(mnist_root, tmp_path):
    runs = [tmp_path / "runs" / f"r{i}" for i in range(1, 6)]
    for run in runs:
        done = subprocess.run(
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
                "2",
                "-b",
                "32",
                "--device",
                "cpu",
                "--queue",
                "--run-dir",
                str(run),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert f"queued SimpleCNN in {run}" in done.stdout
    cancelled = subprocess.run(
        [sys.executable, "-m", "tui_cnn", "stop", str(runs[3])], capture_output=True, text=True, timeout=60
    )
    assert cancelled.returncode == 0 and "it will not start" in cancelled.stdout
    trained = runs[:3] + runs[4:]
    wait_until(lambda: all(run_row(run).status == "finished" for run in trained), timeout=330)
    spans = []
    for run in trained:
        events = read_events(run)
        spans.append(
            (
                next(e.at for e in events if isinstance(e, RunStarted)),
                next(e.at for e in events if isinstance(e, Finished)),
            )
        )
    assert spans == sorted(spans)  # in the order queued
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))  # one at a time
    assert run_row(runs[3]).status == "cancelled" and not (runs[3] / "events.jsonl").exists()
    wait_until(lambda: not runner_running(tmp_path / "runs"), timeout=30)
