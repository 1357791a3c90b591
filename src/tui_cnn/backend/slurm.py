"""SLURM's commands for a run: write its job (request.json and job.sbatch in the run
directory), submit it with ``sbatch --parsable`` (the job id goes to job.json), ask SLURM
where it stands (squeue, then scontrol, then sacct where the cluster keeps accounting) and
cancel it. No torch: the CLI and the app call these."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from ..domain.slurm import (
    JOB_FILE,
    REQUEST_FILE,
    SCRIPT_FILE,
    SlurmError,
    SlurmJobRecord,
    SlurmJobs,
    SlurmOptions,
    job_script,
    read_jobs,
)
from ..domain.specfile import atomic_writer


def available() -> bool:
    """Whether this machine can submit jobs (sbatch on the PATH)."""
    return shutil.which("sbatch") is not None


def write_job(run_dir: Path, request: dict, options: SlurmOptions, cuda: bool, job_name: str) -> str:
    """request.json and job.sbatch in ``run_dir`` (made if needed); the script's text."""
    problems = options.problems(run_dir)
    if problems:
        raise SlurmError("; ".join(problems))
    run_dir.mkdir(parents=True, exist_ok=True)
    script = job_script(run_dir, sys.executable, options, cuda, job_name)
    with atomic_writer(run_dir / REQUEST_FILE) as out:
        out.write(json.dumps(request).encode())
    with atomic_writer(run_dir / SCRIPT_FILE) as out:
        out.write(script.encode())
    return script


def submit(run_dir: Path, options: SlurmOptions) -> str:
    """Submit ``run_dir``/job.sbatch; its job id (recorded in job.json). SlurmError says why not."""
    try:
        done = subprocess.run(
            ["sbatch", "--parsable", str(run_dir / SCRIPT_FILE)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"sbatch could not run: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise SlurmError(f"sbatch refused the job: {lines[-1] if lines else f'exit status {done.returncode}'}")
    job_id = done.stdout.strip().split(";")[0]
    jobs = read_jobs(run_dir)
    record = SlurmJobRecord(job_id, time.time(), options.nodes, options.nproc_per_node, options.partition)
    with atomic_writer(run_dir / JOB_FILE) as out:
        out.write(msgspec.json.encode(SlurmJobs([*jobs.jobs, record])))
    return job_id


def job_problems(spec, config, options: SlurmOptions) -> list[str]:
    """Why this model and these settings cannot be submitted as a job of ``options``, in
    words; [] when they can. The CLI's --slurm and the monitor's SLURM fields ask the same."""
    from ..domain.model_source import check_source_matches

    ranks = options.nodes * options.nproc_per_node
    problems = [*config.validate()]
    if config.batch_size % ranks:
        problems.append(
            f"the batch size ({config.batch_size}) is the global batch and must divide evenly among the "
            f"{ranks} ranks of the job ({options.nodes} nodes x {options.nproc_per_node})"
        )
    mismatch = check_source_matches(spec, config.dataset, config.data_dir)
    return problems + ([mismatch] if mismatch else []) + options.problems(config.run_dir or "runs/new")


def submit_run(spec, config, options: SlurmOptions, runs_dir: str | Path | None = None) -> tuple[Path, str]:
    """Write a run's job into its directory (config.run_dir, else a new one under
    ``runs_dir``) and submit it: (the run directory, the job id). SlurmError says why not
    in one line; OSError when the directory cannot be written."""
    from dataclasses import replace

    from ..domain.paths import RUNS_DIR
    from ..domain.run_dir import new_run_dir
    from .launch import request_line

    problems = job_problems(spec, config, options)
    if problems:
        raise SlurmError("; ".join(problems))
    if not available():
        raise SlurmError(
            "SLURM submits with sbatch, which is not on this machine's PATH (run it on the cluster's login node)"
        )
    run_dir = Path(config.run_dir) if config.run_dir else new_run_dir(spec.name, runs_dir or RUNS_DIR)
    config = replace(config, run_dir=str(run_dir))  # a resumed run's config already names it
    write_job(run_dir, json.loads(request_line(spec, config)), options, config.device == "cuda", spec.name)
    return run_dir, submit(run_dir, options)
