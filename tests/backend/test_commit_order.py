"""The commit order of an epoch's writes (Trainer._commit_epoch), proven by killing the trainer
at every point of it (TUI_CNN_FAULT, backend/faults.py) during epoch 2 and resuming: every
epoch is recorded once, none is missing, checkpoint-best.pt holds the best epoch, and the
killed epoch's progress never mixes into the resumed one's plot. And a full or read-only
disk: one line, the run failed (not crashed), never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from tui_cnn.backend import faults
from tui_cnn.backend.runs import load_checkpoint
from tui_cnn.cli import main
from tui_cnn.domain.run_dir import BEST_CHECKPOINT, LAST_CHECKPOINT
from tui_cnn.domain.run_events import BatchProgress, EpochEnd, Failed, Finished, RunStarted
from tui_cnn.domain.run_files import read_evaluation, read_events, read_metrics
from tui_cnn.domain.run_list import run_row
from tui_cnn.domain.run_state import RunState

pytestmark = pytest.mark.slow

EPOCHS = 3
#: A slow learner on the tiny data: validation accuracy rises every epoch (0.08, 0.16, 0.39
#: measured), so each epoch is the best so far and the best checkpoint's points are reached.
SETTINGS = ["--epochs", str(EPOCHS), "-b", "32", "--lr", "3e-5", "--val-fraction", "0.25", "--device", "cpu"]


def train_until_killed(mnist_root: Path, run_dir: Path, fault: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-c",
        "from tui_cnn.cli import main; main()",
        "train",
        "SimpleCNN",
        "--headless",
        "--data-dir",
        str(mnist_root),
        "--run-dir",
        str(run_dir),
        *SETTINGS,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), faults.ENV: fault}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, start_new_session=True)


def best_epoch_of(run_dir: Path) -> int:
    metrics = read_metrics(run_dir)
    return max(metrics, key=lambda m: m.val_acc).epoch  # the first of equals, as the trainer picks


#: Killed at each side of the epoch's commit point (checkpoint-last.pt renamed into place) in the
#: default run; at every point with --heavy.
ACROSS_THE_COMMIT = ("in-epoch", "after-staging", "after-last", "after-epoch-end")


@pytest.mark.parametrize(
    "point",
    [
        point if point in ACROSS_THE_COMMIT else pytest.param(point, marks=pytest.mark.heavy)
        for point in faults.EPOCH_POINTS
    ],
)
def test_a_kill_at_any_point_of_an_epoch_resumes_exactly(mnist_root, tmp_path, point):
    run_dir = tmp_path / "run"
    killed = train_until_killed(mnist_root, run_dir, f"kill:{point}@2")
    assert killed.returncode == -signal.SIGKILL, f"never reached {point}: {killed.stdout}{killed.stderr}"

    resumed = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--headless", "--epochs", str(EPOCHS)])
    assert resumed.exit_code == 0, resumed.output

    assert [m.epoch for m in read_metrics(run_dir)] == list(range(1, EPOCHS + 1))  # once each, in order
    events = read_events(run_dir)
    ends = Counter(e.metrics.epoch for e in events if isinstance(e, EpochEnd))
    assert ends == {epoch: 1 for epoch in range(1, EPOCHS + 1)}, ends
    assert isinstance(events[-1], Finished)
    state = RunState()
    for event in events:
        state.apply(event)
    assert [m.epoch for m in state.epochs] == list(range(1, EPOCHS + 1)) and state.problems == []

    best = best_epoch_of(run_dir)
    assert load_checkpoint(run_dir / BEST_CHECKPOINT)["progress"]["epoch"] == best
    assert load_checkpoint(run_dir / LAST_CHECKPOINT)["progress"]["best_epoch"] == best
    assert read_evaluation(run_dir).epoch == best
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*.tmp"))
    assert run_row(run_dir).status == "finished"

    # The resumed epoch's loss plot starts with the resumed process's batches alone.
    resumed_at = max(i for i, e in enumerate(events) if isinstance(e, RunStarted))
    first_batch = next(i for i, e in enumerate(events) if i > resumed_at and isinstance(e, BatchProgress))
    state = RunState()
    for event in events[: first_batch + 1]:
        state.apply(event)
    assert state.batch_losses == [(events[first_batch].batch, events[first_batch].loss)]


def test_every_fault_point_is_on_the_trainers_path(mnist_root, tiny_config, monkeypatch):
    """A point named in EPOCH_POINTS that the trainer never reaches would make its test above
    prove nothing: each one, asked to raise, fails a one-process run at epoch 2."""
    from tui_cnn.backend.trainer import Trainer
    from tui_cnn.domain import load_preset

    for point in faults.EPOCH_POINTS:
        monkeypatch.setattr(faults, "_FAULT", faults._parse(f"enospc:{point}@2"))
        config = replace(
            tiny_config, epochs=2, lr=3e-5, val_fraction=0.25, run_dir=str(Path(tiny_config.run_dir) / point)
        )
        trainer = Trainer(load_preset("SimpleCNN"), config)
        trainer.run()
        assert isinstance(trainer.ending, Failed) and "no space left on device" in trainer.ending.reason.lower(), point


# --- a full disk, a read-only one ---


def test_a_full_disk_fails_the_run_in_one_line_and_it_resumes(mnist_root, tmp_path):
    """ENOSPC while writing epoch 2's checkpoint (injected: a real full disk is below): the run
    fails in one line naming the file and the run directory, without a traceback; epoch 1 is
    kept, and a resume once there is room trains epochs 2 and 3, once each."""
    run_dir = tmp_path / "run"
    full = train_until_killed(mnist_root, run_dir, "enospc:writing-checkpoint-last.pt@2")
    output = full.stdout + full.stderr
    assert full.returncode == 1 and "Traceback" not in output, output
    expected = f"no space left on device writing checkpoint-last.pt in {run_dir}"
    assert expected in output.strip().splitlines()[-1]
    last = read_events(run_dir)[-1]
    assert isinstance(last, Failed) and last.reason.startswith(expected) and "--resume" in last.reason
    assert run_row(run_dir).status == "failed"
    assert [m.epoch for m in read_metrics(run_dir)] == [1]

    resumed = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--headless", "--epochs", str(EPOCHS)])
    assert resumed.exit_code == 0, resumed.output
    assert [m.epoch for m in read_metrics(run_dir)] == [1, 2, 3]


@pytest.fixture
def mount_tmpfs(tmp_path):
    """``mount_tmpfs("2m")``: a real small file system (root with mount rights, as in this
    project's container); the test is skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        mount_point = tmp_path / f"disk-{len(mounted)}"
        mount_point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip("cannot mount a small tmpfs here (needs root)")
        mounted.append(mount_point)
        return mount_point

    yield mount
    for mount_point in mounted:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_a_really_full_disk_fails_the_run_without_an_exception(mount_tmpfs, tiny_config, simple_cnn):
    """A 1 MiB disk takes SimpleCNN's checkpoint-best.pt.tmp (600 kB with Adam's state), not
    checkpoint-last.pt.tmp beside it."""
    from tui_cnn.backend.trainer import Trainer

    run_dir = mount_tmpfs("1m") / "run"
    trainer = Trainer(simple_cnn, replace(tiny_config, epochs=2, run_dir=str(run_dir)))
    trainer.run()  # never raises
    assert isinstance(trainer.ending, Failed)
    assert f"no space left on device writing checkpoint-last.pt in {run_dir}" in trainer.ending.reason
    assert "Traceback" not in (run_dir / "events.jsonl").read_text()
    assert not list(run_dir.glob("*.tmp"))  # the room given back
    assert run_row(run_dir).status == "failed"


def test_resume_into_a_read_only_directory_says_so_in_one_line(mount_tmpfs, mnist_root):
    disk = mount_tmpfs("32m")
    run_dir = disk / "run"
    first = CliRunner().invoke(
        main,
        [
            "train",
            "SimpleCNN",
            "--headless",
            "--data-dir",
            str(mnist_root),
            "--run-dir",
            str(run_dir),
            "--epochs",
            "1",
            "-b",
            "32",
            "--device",
            "cpu",
        ],
    )
    assert first.exit_code == 0, first.output
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    resumed = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--headless", "--epochs", "2"])
    assert resumed.exit_code in (1, 2) and "Traceback" not in resumed.output, resumed.output
    said = [line for line in resumed.output.splitlines() if "read-only file system" in line.lower()]
    assert len(said) == 1 and str(run_dir) in said[0], resumed.output
