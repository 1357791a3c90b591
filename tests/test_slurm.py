"""Training on SLURM for real: a one-node cluster on this machine (scripts/slurm-one-node.sh),
jobs of 2 ranks (gloo, on the CPU) submitted with `tui-cnn train --slurm` and followed as any
run. Skipped, with the reason, where sbatch is absent or the cluster cannot be started."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tui_cnn.domain.run_list import run_row
from tui_cnn.domain.slurm import read_jobs

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "slurm-one-node.sh"


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("sbatch") is None:
        pytest.skip("sbatch is not installed (scripts/slurm-one-node.sh installs SLURM and starts a one-node cluster)")
    if os.geteuid() == 0:
        started = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300)
        if started.returncode != 0:
            pytest.skip(f"the one-node SLURM cluster did not start: {started.stderr.strip()[-300:]}")
    if subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("no SLURM controller answers (sinfo fails)")


def tui_cnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_cnn", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def submit(run_dir: Path, data: Path, epochs: int, *more: str) -> str:
    done = tui_cnn(
        "train",
        "SimpleCNN",
        "--dataset",
        "mnist",
        "--data-dir",
        str(data),
        "--epochs",
        str(epochs),
        "-b",
        "32",
        "--device",
        "cpu",
        "--slurm",
        "--nproc-per-node",
        "2",
        "--run-dir",
        str(run_dir),
        *more,
        cwd=run_dir.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "submitted SimpleCNN to SLURM as job" in done.stdout
    return read_jobs(run_dir).current.job_id


def in_squeue(job_ids: list[str]) -> list[str]:
    listed = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=30).stdout.split()
    return [job for job in job_ids if job in listed]


def test_dry_run_prints_an_srun_torchrun_script_and_submits_nothing(cluster, tmp_path):
    done = tui_cnn(
        "train",
        "SimpleCNN",
        "--dataset",
        "mnist-sample",
        "--slurm",
        "--nodes",
        "1",
        "--nproc-per-node",
        "2",
        "--time",
        "00:10:00",
        "--run-dir",
        str(tmp_path / "run"),
        "--dry-run",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("#!/bin/bash") and "#SBATCH --time=00:10:00" in done.stdout
    assert "srun --kill-on-bad-exit=1" in done.stdout and "-m torch.distributed.run" in done.stdout
    assert not (tmp_path / "run").exists()
    # no job from here (other tests' jobs may come and go meanwhile: each job's working directory tells)
    working_dirs = subprocess.run(["squeue", "-h", "-o", "%Z"], capture_output=True, text=True, timeout=30).stdout
    assert str(tmp_path) not in working_dirs


@pytest.mark.heavy  # three jobs one after another; one job and its cancel are in the default run
def test_three_exclusive_jobs_queue_two_train_to_the_end_and_one_cancelled_while_pending_never_trains(
    cluster, mnist_root, tmp_path
):
    runs = [tmp_path / name for name in ("first", "second", "third")]
    jobs = [submit(run, mnist_root, 3, "--sbatch-arg=--exclusive") for run in runs]
    # one node, exclusive jobs: one trains, the others wait in SLURM's queue
    wait_until(lambda: sum(run_row(run).status == "queued" for run in runs) >= 1, timeout=60)
    waiting = [run for run in runs if run_row(run).status == "queued"]
    assert waiting and "waiting in SLURM's queue" in run_row(waiting[0]).problem
    stopped = tui_cnn("stop", str(runs[2]), cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert "it will not start" in stopped.stdout
    assert run_row(runs[2]).status == "cancelled"
    wait_until(lambda: all(run_row(run).status in ("finished", "failed", "crashed") for run in runs[:2]), timeout=170)
    for run in runs[:2]:
        row = run_row(run)
        assert row.status == "finished", (
            row,
            (run / read_jobs(run).current.job_id)
            .with_name(f"slurm-{read_jobs(run).current.job_id}.out")
            .read_text()[-2000:],
        )
        assert (run / "eval.json").is_file() and (run / "job.sbatch").is_file() and row.epoch == 3
        config = json.loads((run / "config.json").read_text())
        assert config["spec"]["model"]["name"] == "SimpleCNN"
    assert not (runs[2] / "config.json").exists() and not (runs[2] / "events.jsonl").exists()
    assert run_row(runs[2]).status == "cancelled"
    wait_until(lambda: not in_squeue(jobs), timeout=30)


def test_a_job_scancelled_while_it_trains_is_failed_with_slurms_state(cluster, mnist_root, tmp_path):
    run = tmp_path / "long"
    job = submit(run, mnist_root, 100_000)
    wait_until(lambda: run_row(run).status == "running", timeout=120)
    subprocess.run(["scancel", job], check=True, timeout=30)
    wait_until(lambda: run_row(run).status not in ("running", "starting"), timeout=60)
    row = run_row(run)
    assert row.status == "failed" and "CANCELLED" in row.problem
    wait_until(lambda: not in_squeue([job]), timeout=30)


async def test_s_on_the_monitor_submits_the_setup_as_a_job_that_trains_to_the_end(cluster, mnist_root, tmp_path):
    """The monitor's SLURM fields (shown where sbatch is): S submits the run set up there; the
    job trains on the cluster and its run is followed as any run."""
    from textual.widgets import Input

    from tests.helpers import async_wait_until, record_notifications
    from tui_cnn.app.app import TuiCnnApp

    runs = tmp_path / "runs"
    app = TuiCnnApp(start_mode="monitor", runs_dir=str(runs))
    async with app.run_test(size=(120, 48)) as pilot:
        said = record_notifications(app)
        screen = app.screen
        for name, value in (("epochs", "1"), ("batch_size", "32"), ("data_dir", str(mnist_root))):
            screen.query_one(f"#field-{name}", Input).value = value
        screen.query_one("#field-dataset").value = "mnist"
        screen.query_one("#field-device").value = "cpu"
        screen.query_one("#slurm-time", Input).value = "soon"
        await pilot.pause()
        screen.set_focus(None)
        await pilot.press("S")
        await async_wait_until(lambda: any("HH:MM:SS" in line for line in said), what="the refusal of the time")
        assert not runs.exists()  # nothing written for a job that cannot be submitted
        screen.query_one("#slurm-time", Input).value = "00:05:00"
        await pilot.pause()
        screen.set_focus(None)
        await pilot.press("S")
        await async_wait_until(
            lambda: any("is SLURM job" in line for line in said), timeout=60, what="the job's submission"
        )
    [run] = list(runs.iterdir())
    job = read_jobs(run).current
    assert job.nodes == 1 and job.nproc_per_node == 1
    assert "#SBATCH --time=00:05:00" in (run / "job.sbatch").read_text()
    wait_until(lambda: run_row(run).status not in ("queued", "starting", "running"), timeout=170, what="the job to end")
    row = run_row(run)
    assert row.status == "finished" and row.epoch == 1, (row, (run / f"slurm-{job.job_id}.out").read_text()[-2000:])
    wait_until(lambda: not in_squeue([job.job_id]), timeout=30)


async def test_without_sbatch_the_form_has_no_slurm_fields_and_s_says_why(monkeypatch):
    from tests.helpers import async_wait_until, record_notifications
    from tui_cnn.app.app import TuiCnnApp

    app = TuiCnnApp(start_mode="monitor")  # the autouse fixture: a machine without sbatch
    async with app.run_test(size=(120, 48)) as pilot:
        said = record_notifications(app)
        assert not app.screen.query("#slurm-fields")
        app.screen.set_focus(None)
        await pilot.press("S")
        await async_wait_until(
            lambda: any("not on this machine's PATH" in line for line in said), what="the app to say there is no sbatch"
        )


async def test_the_slurm_fields_say_what_they_refuse_as_it_is_typed(monkeypatch):
    from textual.widgets import Input

    from tests.helpers import async_wait_until
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.backend import slurm

    monkeypatch.setattr(slurm, "available", lambda: True)  # the fields as on a login node (nothing is submitted)
    app = TuiCnnApp(start_mode="monitor")
    async with app.run_test(size=(100, 34)) as pilot:
        app.screen.query_one("#slurm-time", Input).value = "soon"
        app.screen.query_one("#slurm-nodes", Input).value = "0"
        await pilot.pause()
        said = lambda: str(app.screen.query_one("#slurm-problems").render())  # noqa: E731
        await async_wait_until(lambda: "HH:MM:SS" in said() and "nodes" in said(), what="both refusals")
        app.screen.query_one("#slurm-time", Input).value = "1-00:00:00"
        app.screen.query_one("#slurm-nodes", Input).value = "2"
        await async_wait_until(lambda: said() == "", what="the refusals gone")
