"""`tui-cnn train --headless` as scripts and CI see it: plain lines, exit statuses."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from tui_cnn.cli import main
from tui_cnn.domain.run_files import read_events, read_metrics


def run(*args: str):
    return CliRunner().invoke(main, ["train", *args])


@pytest.mark.slow  # trains
def test_headless_training_prints_one_plain_line_per_epoch(mnist_root, tmp_path):
    result = run(
        "SimpleCNN",
        "--headless",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "2",
        "-b",
        "64",
        "--run-dir",
        str(tmp_path / "run"),
    )

    assert result.exit_code == 0, result.output
    epoch_lines = [line for line in result.output.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert "\r" not in result.output and "\x1b[" not in result.output  # no redrawn bars in a log file
    assert "MNIST found in" in result.output and "test accuracy" in result.output
    assert len(read_metrics(tmp_path / "run")) == 2


@pytest.mark.slow  # trains
def test_resume_takes_the_runs_own_model_and_settings(mnist_root, tmp_path):
    run_dir = str(tmp_path / "run")
    run("SimpleCNN", "--headless", "--data-dir", str(mnist_root), "--epochs", "1", "-b", "64", "--run-dir", run_dir)
    result = run("--resume", run_dir, "--epochs", "2", "--headless")

    assert result.exit_code == 0, result.output
    assert "resuming at epoch 2" in result.output
    assert [m.epoch for m in read_metrics(run_dir)] == [1, 2]


@pytest.mark.slow  # trains
def test_failed_training_exits_1_with_the_reason(tmp_path, offline):
    result = run("SimpleCNN", "--headless", "--dataset", "mnist", "--data-dir", str(tmp_path))

    assert result.exit_code == 1
    assert "training failed" in result.output and "--data-dir" in result.output


def test_bad_arguments_exit_2():
    assert run("SimpleCNN", "--headless", "--dataset", "cifar10").exit_code == 2  # 1x28x28 model, 3x32x32 images
    assert run("SimpleCNN", "--headless", "--epochs", "0").exit_code == 2
    assert run("NoSuchModel", "--headless").exit_code == 2
    assert run("--resume", "/no/such/run", "--headless").exit_code == 2


def test_without_headless_the_app_opens_on_the_monitor_with_the_run(monkeypatch, mnist_root, on_a_terminal):
    from tui_cnn.app.app import TuiCnnApp

    opened = []
    monkeypatch.setattr(TuiCnnApp, "run", lambda app: opened.append(app))
    result = run("LeNet5", "--data-dir", str(mnist_root), "--epochs", "4", "--optimizer", "sgd")

    assert result.exit_code == 0, result.output
    app = opened[0]
    assert app.start_mode == "monitor" and app.spec.name == "LeNet5"
    assert (app.session.train_config.dataset, app.session.train_config.epochs, app.session.train_config.optimizer) == (
        "mnist",
        4,
        "sgd",
    )


#: tui-cnn train in a child process whose first epoch ends with two Ctrl+C, each handled
#: before the next arrives (two SIGINTs sent at once reach Python's handler as one).
TWO_CTRL_C = """
import os, signal, sys
from tui_cnn.backend.trainer import Trainer
from tui_cnn.cli import main

end_epoch = Trainer._end_epoch

def end_epoch_then_ctrl_c_twice(self, loop, epoch):
    end_epoch(self, loop, epoch)
    if epoch == 1:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

Trainer._end_epoch = end_epoch_then_ctrl_c_twice
sys.argv[0] = "tui-cnn"
main()
"""


@pytest.mark.slow
def test_a_second_ctrl_c_still_ends_the_run_with_its_checkpoint(mnist_root, tmp_path):
    """Ctrl+C twice (impatience) was "Aborted!", exit 1, no checkpoint, no end event."""
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            TWO_CTRL_C,
            "train",
            "SimpleCNN",
            "--headless",
            "--data-dir",
            str(mnist_root),
            "--epochs",
            "3",
            "-b",
            "32",
            "--run-dir",
            str(run_dir),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 130, result.stderr
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr
    assert "already stopping" in result.stderr
    assert type(read_events(run_dir)[-1]).__name__ == "Stopped"
    assert (run_dir / "checkpoint-last.pt").is_file()
