"""``tui-cnn runs``: the runs under ./runs (or --runs-dir), newest first, with their status."""

from __future__ import annotations

import json
import math

import click


@click.command("runs")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="the folder holding run directories")
@click.option("--json", "as_json", is_flag=True, help="a JSON list of objects instead of a table")
def runs(runs_dir: str, as_json: bool) -> None:
    """List runs: status (starting, running, paused, finished, stopped, failed, crashed), model,
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
        click.echo(json.dumps([{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in msgspec.to_builtins(row).items()} for row in rows], indent=2))
        return
    if not rows:
        click.echo(f"no runs in {runs_dir}/ (train one with tui-cnn train)")
        return
    print_table(rows)


def print_table(rows, out=None) -> None:
    """Plain aligned columns (a rich Table took 0.7 s to lay out 1,000 rows)."""
    from ..domain.run_table import RUN_COLUMNS, run_cells, run_name

    cells = [[run_cells(row)[column.key] for column in RUN_COLUMNS] for row in rows]
    header = [column.key for column in RUN_COLUMNS]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(RUN_COLUMNS))]
    lines = ["  ".join(f"{cell:{'>' if column.right else '<'}{width}}" for cell, column, width
                       in zip(line, RUN_COLUMNS, widths)).rstrip()
             for line in [header, *cells]]
    click.echo("\n".join(lines), file=out)
    for row in rows:
        if row.problem:
            click.echo(f"{run_name(row.path)}: {row.problem}", err=True)


def _control_command(command: str, doc: str) -> click.Command:
    @click.command(command, help=doc)
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
    def control(run_dir: str) -> None:
        from ..domain.run_list import NotTraining, steer_run
        from .common import fail

        try:
            steer_run(run_dir, command)
        except NotTraining as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write to {run_dir}: {exc.strerror or exc}")
        click.echo(f"asked {run_dir} to {command} (its process looks 4 times a second)")

    return control


stop = _control_command("stop", "Stop a training run after its current batch (the checkpoint is kept).")
pause = _control_command("pause", "Pause a training run (from any terminal).")
resume = _control_command("resume", "Resume a paused training run.")


@click.command("attach")
@click.argument("run_dir", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="where to look for the newest live run when RUN_DIR is not given")
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
