"""The job a run is submitted to SLURM with, read as a person would read it, and SLURM's job
states read into a run's status."""

from __future__ import annotations

import pytest

from tui_cnn.domain.slurm import SlurmOptions, job_script, job_status, read_sacct, read_scontrol, read_squeue


def test_the_script_asks_for_nodes_gpus_and_time_and_runs_torchrun_through_srun(tmp_path):
    options = SlurmOptions(
        nodes=2,
        nproc_per_node=4,
        partition="gpu",
        time="01:30:00",
        account="lab",
        sbatch_args=("--exclusive", "--mail-type=END $(rm -rf x)"),
    )
    script = job_script(tmp_path / "run", "/opt/venv/bin/python", options, cuda=True, job_name="ResNet20")
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gres=gpu:4",
        "#SBATCH --time=01:30:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab",
        "#SBATCH --exclusive",
        f"#SBATCH --output={tmp_path / 'run' / 'slurm-%j.out'}",
        "#SBATCH --job-name=ResNet20",
    ):
        assert line in lines
    assert "#SBATCH --mail-type=END (rm -rf x)" in lines  # no expansion reaches an #SBATCH line
    assert "srun --kill-on-bad-exit=1 /opt/venv/bin/python -P -m torch.distributed.run \\" in lines
    assert '--rdzv-backend=c10d --rdzv-id="$SLURM_JOB_ID" --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT"' in script
    assert '--nnodes="$SLURM_NNODES"' in script and "--nproc-per-node=4" in script
    assert f"-m tui_cnn.backend.child --request {tmp_path / 'run' / 'request.json'}" in script


def test_a_cpu_job_asks_for_no_gpu(tmp_path):
    assert "--gres" not in job_script(tmp_path, "python", SlurmOptions(nproc_per_node=2), cuda=False)


@pytest.mark.parametrize(
    "options, words",
    [
        (SlurmOptions(nodes=2), "under /tmp"),
        (SlurmOptions(time="tomorrow"), "--time takes"),
        (SlurmOptions(nodes=0), "--nodes must be"),
    ],
)
def test_what_cannot_be_a_job_is_said(options, words):
    assert any(words in problem for problem in options.problems("/tmp/run"))


def test_one_node_may_use_tmp():
    assert SlurmOptions(nodes=1).problems("/tmp/run") == []


def test_slurm_answers_are_read():
    assert read_squeue("PENDING|Resources\n") == ("PENDING", "Resources")
    assert read_squeue("") is None
    assert read_scontrol("JobId=5 JobName=x\n   JobState=CANCELLED Reason=None Dependency=(null)") == (
        "CANCELLED",
        "None",
    )
    assert read_sacct("TIMEOUT\n") == ("TIMEOUT", "")


@pytest.mark.parametrize(
    "state, reason, started, ended, expected",
    [
        ("PENDING", "Resources", False, False, ("queued", "waiting in SLURM's queue (Resources)")),
        ("RUNNING", "None", False, False, ("starting", None)),
        ("RUNNING", "None", True, False, ("running", None)),
        ("CANCELLED", "None", False, False, ("cancelled", "cancelled before it started")),
        ("CANCELLED+", "None", True, False, ("failed", "SLURM ended the job: CANCELLED")),
        ("TIMEOUT", "None", True, False, ("failed", "SLURM ended the job: TIMEOUT")),
        ("COMPLETED", "None", True, True, ("", None)),
    ],
)
def test_a_jobs_state_becomes_the_runs_status(state, reason, started, ended, expected):
    assert job_status(state, reason, started, ended) == expected
