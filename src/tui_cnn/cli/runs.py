"""``tui-cnn runs``: the runs under ./runs (or --runs-dir), newest first, with their status."""

from __future__ import annotations

import json
import math

import click

from ..domain.paths import RUNS_DIR
from .common import say


@click.command("runs")
@click.option(
    "--runs-dir",
    default=str(RUNS_DIR),
    show_default=True,
    type=click.Path(file_okay=False),
    help="the folder holding run directories",
)
@click.option("--json", "as_json", is_flag=True, help="a JSON list of objects instead of a table")
def runs(runs_dir: str, as_json: bool) -> None:
    """List runs: status (queued, starting, running, paused, finished, stopped, pruned, failed, crashed), model,
    dataset, epoch n/N, best validation and test accuracy, images/s, device, start, duration.
    A crashed run continues with `tui-cnn train --resume RUN_DIR`."""
    import msgspec

    from ..domain.run_list import list_runs, unreadable_folder_message
    from .common import fail

    try:
        rows = list_runs(runs_dir)
    except OSError as exc:  # not readable, not a folder
        fail(unreadable_folder_message(runs_dir, exc))
    if as_json:
        # NaN is not JSON: a diverged figure is null
        click.echo(
            json.dumps(
                [
                    {
                        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                        for k, v in msgspec.to_builtins(row).items()
                    }
                    for row in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        say(f"no runs in {runs_dir}/ (train one with tui-cnn train)")
        return
    print_table(rows)


def print_table(rows, out=None) -> None:
    """Plain aligned columns (a rich Table took 0.7 s to lay out 1,000 rows)."""
    from ..domain.run_table import RUN_COLUMNS, run_cells, run_name

    cells = [[run_cells(row)[column.key] for column in RUN_COLUMNS] for row in rows]
    header = [column.key for column in RUN_COLUMNS]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(RUN_COLUMNS))]
    lines = [
        "  ".join(
            f"{cell:{'>' if column.right else '<'}{width}}" for cell, column, width in zip(line, RUN_COLUMNS, widths)
        ).rstrip()
        for line in [header, *cells]
    ]
    say("\n".join(lines), file=out)
    for row in rows:
        if row.problem:
            say(f"{run_name(row.path)}: {row.problem}", err=True)


def _control_command(command: str, doc: str) -> click.Command:
    @click.command(command, help=doc)
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
    def control(run_dir: str) -> None:
        from ..domain.run_list import WAITING, NotTraining, run_row, steer_run
        from ..domain.slurm import SlurmError, read_jobs
        from .common import fail

        status = run_row(run_dir).status
        try:
            steer_run(run_dir, command, status)
        except (NotTraining, SlurmError) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write to {run_dir}: {exc.strerror or exc}")
        if status in WAITING:
            job = read_jobs(run_dir).current
            how = f"its SLURM job {job.job_id}" if job is not None and job.cancelled else "taken out of the queue"
            say(f"cancelled {run_dir} ({how}): it will not start")
            return
        say(f"asked {run_dir} to {command} (its process looks 4 times a second)")
        if command == "stop" and read_jobs(run_dir).current is not None:
            _end_the_job_if_it_lingers(run_dir)

    return control


#: How long a SLURM run may take to stop through its directory before its job is cancelled.
STOP_GRACE_S = 60.0


def _end_the_job_if_it_lingers(run_dir: str) -> None:
    """A SLURM run asked to stop: its job ends by itself once the run has (checkpoint kept);
    a job still there after STOP_GRACE_S (a rank stuck on a dead node) is cancelled."""
    import time

    from ..domain.run_list import ENDED, run_row
    from ..domain.slurm import SlurmError, cancel_job, job_state, read_jobs

    job = read_jobs(run_dir).current
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        state = job_state(job.job_id)
        if run_row(run_dir).status in ENDED and (state is None or state[0] not in ("RUNNING", "COMPLETING")):
            return
        time.sleep(1.0)
    try:
        cancel_job(job.job_id)
        say(f"the run did not end within {STOP_GRACE_S:.0f} s: its SLURM job {job.job_id} is cancelled")
    except SlurmError as exc:
        say(f"could not cancel SLURM job {job.job_id}: {exc}", err=True)


stop = _control_command("stop", "Stop a training run after its current batch (the checkpoint is kept).")
pause = _control_command("pause", "Pause a training run (from any terminal).")
resume = _control_command("resume", "Resume a paused training run.")


@click.command("attach")
@click.argument("run_dir", required=False, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--runs-dir",
    default=str(RUNS_DIR),
    show_default=True,
    type=click.Path(file_okay=False),
    help="where to look for the newest live run when RUN_DIR is not given",
)
def attach(run_dir: str | None, runs_dir: str) -> None:
    """Watch a run on the training monitor as it trains (default: the newest live run under
    ./runs): progress, curves, epoch table, log and, when it ends, its evaluation. The run
    does not depend on the app: quitting leaves it training; x, p steer it."""
    from ..domain.run_list import LIVE, list_runs, unreadable_folder_message
    from .common import fail, is_run_dir, load_run_spec_or_exit, require_terminal

    if run_dir is None:
        try:
            live = [row for row in list_runs(runs_dir) if row.status in LIVE]
        except OSError as exc:
            fail(unreadable_folder_message(runs_dir, exc))
        if not live:
            fail(f"no run is training under {runs_dir}/ (tui-cnn runs lists them; tui-cnn RUN_DIR shows any)")
        run_dir = live[0].path
    if not is_run_dir(run_dir) and not _wait_for_its_start(run_dir):
        fail(f"{run_dir} is not a run directory (no config.json, and no process starting a run there)")
    spec = load_run_spec_or_exit(run_dir)
    require_terminal("without one, follow RUN_DIR/output.log or use tui-cnn runs --json")
    from ..app.app import TuiCnnApp

    TuiCnnApp(spec, start_mode="monitor", run_dir=run_dir).run_and_exit()


#: How long `attach` waits for a starting run to write its config.json (torch and the data load).
ATTACH_WAIT_S = 120.0


def _wait_for_its_start(run_dir: str) -> bool:
    """A run whose process holds its folder but has not written config.json yet (starting):
    wait for it, saying so. False when the folder holds no run, or its process ended first."""
    import time

    from ..domain.run_list import run_row
    from .common import is_run_dir

    if run_row(run_dir).status != "starting":
        return False
    click.echo(f"{run_dir} is starting (its process loads torch and the data): waiting for it…", err=True)
    deadline = time.monotonic() + ATTACH_WAIT_S
    while not is_run_dir(run_dir):
        if time.monotonic() > deadline or run_row(run_dir).status != "starting":
            return is_run_dir(run_dir)
        time.sleep(0.2)
    return True


@click.group("queue")
def queue() -> None:
    """The box's run queue (runs added with tui-cnn train --queue)."""


@queue.command("run")
@click.option("--runs-dir", default=None, type=click.Path(file_okay=False), help="the runs folder (default: ./runs)")
def queue_run(runs_dir: str | None) -> None:
    """Start the queue's runner if runs wait and none runs (after a reboot, say), and the
    driver of each sweep with trials to go."""
    from ..backend.queue_runner import ensure_runner
    from ..domain.run_queue import waiting_runs

    base = runs_dir or str(RUNS_DIR)
    waiting = len(waiting_runs(base))
    started = ensure_runner(base)
    say(
        f"{waiting} run(s) waiting in {base}/; "
        + (
            "the runner is started"
            if started
            else "a runner already works through them"
            if waiting
            else "nothing to run"
        )
    )
    from ..backend.sweep import ensure_drivers

    drivers = ensure_drivers(base)
    if drivers:
        say(f"{drivers} sweep(s) with trials to go: their driver(s) started again")
