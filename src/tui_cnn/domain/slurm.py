"""Training on a SLURM cluster, as plain data: the job script a run is submitted with, the
job record it leaves in its run directory (job.json), and SLURM's words for a job's state
read into a run's status. Pure Python: backend/slurm.py runs sbatch, squeue, scontrol and
scancel; this decides what they are asked and what their answers mean.

The script is meant to be read: `#SBATCH` lines (one task per node, GPUs per node when the
run trains on CUDA, output into the run directory), then `srun torchrun` with a c10d
rendezvous on the allocation's first host, every rank reading the run's request from the
run directory (which the nodes must share).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from .settings import Setting, SettingError, parse_setting

JOB_FILE = "job.json"
SCRIPT_FILE = "job.sbatch"
REQUEST_FILE = "request.json"
SLURM_OUTPUT = "slurm-%j.out"

#: SLURM job states (squeue/scontrol/sacct) before the job runs.
WAITING = ("PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED")
#: States in which the job's processes run.
RUNNING = ("RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING")
#: States SLURM ends a job in; a run that wrote no end event by then failed with this state.
ENDED = (
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
)
#: squeue and scontrol answer at once on a healthy cluster; a hung controller must not hang a listing.
QUERY_TIMEOUT_S = 10
_TIME = re.compile(r"^(\d+-)?\d{1,2}(:\d{2}){0,2}$")


class SlurmError(ValueError):
    """A job that cannot be written or submitted; the message says why in one line."""


#: The job's settings a person sets, declared once: the CLI's --nodes/--partition/--time/--account
#: and the monitor's SLURM fields are made from these, and parse what is typed with them.
SLURM_SETTINGS: dict[str, Setting] = {
    "nodes": Setting(int, "--slurm: nodes (each runs --nproc-per-node ranks)", label="nodes", minimum=1, maximum=4096),
    "partition": Setting(
        str,
        "--slurm: the partition (default: the cluster's)",
        label="partition",
        optional=True,
        placeholder="cluster default",
    ),
    "time": Setting(
        str,
        "--slurm: the job's time limit, HH:MM:SS, MM:SS or D-HH:MM:SS",
        label="time limit",
        optional=True,
        placeholder="partition limit",
    ),
    "account": Setting(
        str, "--slurm: the account to charge", label="account", optional=True, placeholder="your default"
    ),
}


@dataclass(frozen=True)
class SlurmOptions:
    nodes: int = 1
    nproc_per_node: int = 1  # ranks on each node: its GPUs on CUDA, else CPU processes
    partition: str | None = None
    time: str | None = None  # HH:MM:SS, MM:SS, or D-HH:MM:SS
    account: str | None = None
    sbatch_args: tuple[str, ...] = field(default_factory=tuple)  # passed to sbatch as they are
    cpus_per_task: int | None = None  # default: one per rank

    @classmethod
    def typed(cls, texts: dict[str, str], nproc_per_node: int = 1) -> tuple[SlurmOptions | None, dict[str, str]]:
        """The options as typed in SLURM_SETTINGS' fields (by name), or each field's problem."""
        values, errors = {}, {}
        for name, declared in SLURM_SETTINGS.items():
            try:
                values[name] = parse_setting(name, declared, texts.get(name, ""))
            except SettingError as exc:
                errors[name] = str(exc)
        if "time" not in errors and values["time"] is not None and not _TIME.match(values["time"]):
            errors["time"] = f"the time limit takes HH:MM:SS, MM:SS or D-HH:MM:SS, got {values['time']!r}"
        if errors:
            return None, errors
        return cls(values["nodes"], nproc_per_node, values["partition"], values["time"], values["account"]), {}

    def problems(self, run_dir: str | Path) -> list[str]:
        """Why the job cannot be written as asked, in words; [] when it can."""
        found = []
        if not 1 <= self.nodes <= 4096:
            found.append(f"--nodes must be 1 to 4096, got {self.nodes}")
        if not 1 <= self.nproc_per_node <= 1024:
            found.append(f"--nproc-per-node must be 1 to 1024, got {self.nproc_per_node}")
        if self.time is not None and not _TIME.match(self.time):
            found.append(f"--time takes HH:MM:SS, MM:SS or D-HH:MM:SS, got {self.time!r}")
        resolved = Path(run_dir).resolve()
        if self.nodes > 1 and (resolved == Path("/tmp") or Path("/tmp") in resolved.parents):
            found.append(
                f"{run_dir} is under /tmp, which each node has its own of: a job on {self.nodes} nodes "
                "needs a run directory on a filesystem every node shares (your home or a project folder)"
            )
        return found


class SlurmJobRecord(msgspec.Struct, frozen=True):
    """job.json: the job that trains (or trained) a run. A continued run appends its new job."""

    job_id: str
    submitted_at: float
    nodes: int = 1
    nproc_per_node: int = 1
    partition: str | None = None
    cancelled: bool = False  # by tui-cnn stop while pending: said even after SLURM forgets the job


class SlurmJobs(msgspec.Struct, frozen=True):
    jobs: list[SlurmJobRecord] = []

    @property
    def current(self) -> SlurmJobRecord | None:
        return self.jobs[-1] if self.jobs else None


def job_script(run_dir: str | Path, python: str, options: SlurmOptions, cuda: bool, job_name: str = "tui-cnn") -> str:
    """The sbatch script that trains the run whose request is ``run_dir``/request.json."""
    run_dir = Path(run_dir).resolve()
    cpus = options.cpus_per_task or options.nproc_per_node
    lines = [
        "#!/bin/bash",
        f"# tui-cnn: trains the run in {run_dir} ({options.nodes} node(s) x {options.nproc_per_node} rank(s)).",
        "# Written by `tui-cnn train --slurm`; submit it again with sbatch to retry.",
        f"#SBATCH --job-name={_safe(job_name)}",
        f"#SBATCH --nodes={options.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --cpus-per-task={cpus}",
        f"#SBATCH --output={run_dir / SLURM_OUTPUT}",
        f"#SBATCH --chdir={run_dir}",
    ]
    if cuda:
        lines.append(f"#SBATCH --gres=gpu:{options.nproc_per_node}")
    if options.time:
        lines.append(f"#SBATCH --time={options.time}")
    if options.partition:
        lines.append(f"#SBATCH --partition={_safe(options.partition)}")
    if options.account:
        lines.append(f"#SBATCH --account={_safe(options.account)}")
    lines += [f"#SBATCH {_safe(arg)}" for arg in options.sbatch_args]
    lines += [
        "",
        "set -euo pipefail",
        "# The rendezvous: the allocation's first host (where this script runs), on a port free there.",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f'MASTER_PORT=$({shlex.quote(python)} -c \'import socket; s = socket.socket(); s.bind(("", 0)); '
        "print(s.getsockname()[1])')",
        "export MASTER_ADDR MASTER_PORT",
        f"export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-{max(1, cpus // options.nproc_per_node)}}}",
        "export PYTHONSAFEPATH=1  # no module from the working directory runs inside the trainer",
        "",
        f"srun --kill-on-bad-exit=1 {shlex.quote(python)} -P -m torch.distributed.run \\",
        '    --nnodes="$SLURM_NNODES" --node-rank="$SLURM_NODEID" \\',
        f"    --nproc-per-node={options.nproc_per_node} \\",
        '    --rdzv-backend=c10d --rdzv-id="$SLURM_JOB_ID" --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" \\',
        f"    -m tui_cnn.backend.child --request {shlex.quote(str(run_dir / REQUEST_FILE))}",
        "",
    ]
    return "\n".join(lines)


def _safe(text: str) -> str:
    """A value on an #SBATCH line: one line, no shell expansion (sbatch reads these lines itself)."""
    return " ".join(str(text).split()).replace("$", "")


def read_squeue(output: str) -> tuple[str, str] | None:
    """(state, reason) from ``squeue -h -j ID -o '%T|%r'``; None when the job is not listed."""
    for line in output.splitlines():
        if "|" in line:
            state, reason = line.split("|", 1)
            return state.strip().upper(), reason.strip()
    return None


def read_scontrol(output: str) -> tuple[str, str] | None:
    """(state, reason) from ``scontrol show job ID`` (SLURM keeps an ended job there a while)."""
    state = re.search(r"\bJobState=(\S+)", output)
    if state is None:
        return None
    reason = re.search(r"\bReason=(\S+)", output)
    return state.group(1).upper(), (reason.group(1) if reason else "")


def read_sacct(output: str) -> tuple[str, str] | None:
    """(state, "") from ``sacct -n -X -P -j ID -o State`` (accounting, where the cluster keeps it)."""
    for line in output.splitlines():
        if line.strip():
            return line.split()[0].strip().upper(), ""
    return None


def job_status(state: str, reason: str, run_has_started: bool, run_has_ended: bool) -> tuple[str, str | None]:
    """A run's status from its job's SLURM state, when the run's own events do not settle it:
    (status, what to say). ``queued`` while pending; ``cancelled`` when cancelled before it
    trained; ``failed`` with SLURM's state when SLURM ended the job before the run's end event."""
    state = state.split()[0].rstrip("+") if state else ""
    if state in WAITING:
        return (
            "queued",
            f"waiting in SLURM's queue ({reason})" if reason and reason != "None" else "waiting in SLURM's queue",
        )
    if state in RUNNING:
        return ("running" if run_has_started else "starting"), None
    if state in ENDED and not run_has_ended:
        if state == "CANCELLED" and not run_has_started:
            return "cancelled", "cancelled before it started"
        if state == "COMPLETED":
            return "failed", "the SLURM job completed without the run writing its end"
        return "failed", f"SLURM ended the job: {state}" + (f" ({reason})" if reason and reason != "None" else "")
    return "", None


# --- asking SLURM (its commands, no torch: `tui-cnn runs` and the Runs screen ask it) ---


def read_jobs(run_dir: str | Path) -> SlurmJobs:
    """job.json; no jobs when there is none or it cannot be read."""
    try:
        return msgspec.json.decode((Path(run_dir) / JOB_FILE).read_bytes(), type=SlurmJobs)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return SlurmJobs()


def job_state(job_id: str) -> tuple[str, str] | None:
    """(SLURM state, reason) of a job; None when SLURM no longer knows it (or cannot be asked)."""
    for command, read in (
        (["squeue", "-h", "-j", job_id, "-o", "%T|%r"], read_squeue),
        (["scontrol", "show", "job", job_id], read_scontrol),
        (["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], read_sacct),
    ):
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=QUERY_TIMEOUT_S, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            found = read(done.stdout)
            if found is not None:
                return found
    return None


def cancel_job(job_id: str) -> None:
    """scancel the job; SlurmError when SLURM refuses or cannot be asked."""
    try:
        done = subprocess.run(["scancel", job_id], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"scancel could not run: {exc}") from None
    if done.returncode != 0:
        raise SlurmError(f"scancel refused: {done.stderr.strip() or done.returncode}")


def slurm_status(
    run_dir: str | Path, started: bool, ended: bool, since: float | None = None
) -> tuple[str, str | None, SlurmJobRecord] | None:
    """What the run's current SLURM job says of it, where its own files cannot: (status, what
    to say, the job); None for a run that was never submitted, or whose job SLURM no longer
    knows or leaves to the run's events. ``since``: when the run's events last ended it (a
    job submitted after that continues it, and is asked about even though the run ended)."""
    job = read_jobs(run_dir).current
    if job is None or (ended and (since is None or job.submitted_at <= since)):
        return None
    if job.cancelled and not started:
        return "cancelled", "cancelled before it started", job
    found = job_state(job.job_id)
    if found is None:
        return None
    status, said = job_status(found[0], found[1], started, ended and job.submitted_at <= (since or 0))
    return (status, said, job) if status else None


def cancel_pending(run_dir: str | Path) -> SlurmJobRecord:
    """Cancel the run's pending job (tui-cnn stop on a queued run) and record it in job.json,
    so the run says cancelled after SLURM has forgotten the job. SlurmError says why not."""
    from .specfile import atomic_writer

    jobs = read_jobs(run_dir)
    job = jobs.current
    if job is None:
        raise SlurmError(f"{run_dir} has no SLURM job to cancel")
    cancel_job(job.job_id)
    cancelled = msgspec.structs.replace(job, cancelled=True)
    with atomic_writer(Path(run_dir) / JOB_FILE) as out:
        out.write(msgspec.json.encode(SlurmJobs([*jobs.jobs[:-1], cancelled])))
    return cancelled
