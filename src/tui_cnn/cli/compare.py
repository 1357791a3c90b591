"""``tui-cnn compare``: two or more runs side by side (curves and settings)."""

from __future__ import annotations

import json

import click

from .common import fail, require_terminal, say


@click.command()
@click.argument("run_dirs", metavar="RUN_DIR_OR_SWEEP_DIR [...]", nargs=-1, required=True)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print JSON: each run's settings and per-epoch metrics, the settings that differ, the runs left out",
)
def compare(run_dirs: tuple[str, ...], as_json: bool) -> None:
    """Compare runs: their validation and training curves overlaid, one plot per metric, and
    their settings side by side with the differences marked (on the app's Compare screen, or
    as JSON). A sweep's directory stands for its trials' runs. A run that cannot be read is named with the reason and left out; exit 2 when
    fewer than two can be read."""
    from ..domain.compare import compare_runs
    from ..domain.sweep import expand_sweeps

    run_dirs = expand_sweeps(run_dirs)
    if len(run_dirs) < 2:
        fail("give two or more run directories to compare")
    comparison = compare_runs(run_dirs)
    for out in comparison.left_out:
        say(f"tui-cnn: left out: {out.reason}", err=True)
    if len(comparison.runs) < 2:
        fail(f"{len(comparison.runs)} of the runs could be read: nothing to compare")
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=2))
        return
    require_terminal("without one, use tui-cnn compare --json")
    from ..app.app import TuiCnnApp

    TuiCnnApp(compare_run_dirs=list(run_dirs)).run_and_exit()  # the screen names the runs left out too
