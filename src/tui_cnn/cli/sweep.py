"""``tui-cnn sweep``: a search over training settings through Optuna, each trial a run of the
box's queue; ``tui-cnn sweep show|stop|resume SWEEP_DIR``."""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

import click

from .common import EXIT_INVALID, EXIT_OK, fail, load_model_or_exit, model_argument, say
from .train import training_options

#: How often --wait looks at the study.
WAIT_LOOK_S = 1.0
#: A driver not running this long while the sweep has trials to go has died (it starts in seconds).
DRIVER_START_S = 60.0


class _StartByDefault(click.Group):
    """``tui-cnn sweep SPEC ...`` means ``tui-cnn sweep start SPEC ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_StartByDefault)
def sweep() -> None:
    """Search training settings with Optuna: tui-cnn sweep SPEC_OR_PRESET --trials N
    --param lr=1e-4:1e-1:log --param batch_size=32,64,128 [train options]. Each trial is an
    ordinary run of this box's queue (see it with tui-cnn runs, attach it, stop it, compare
    them with tui-cnn compare SWEEP_DIR); the study is SWEEP_DIR/study.db (optuna.load_study)."""


@sweep.command("start")
@model_argument(required=True)
@click.option("--trials", type=click.IntRange(1, 10_000), required=True, help="how many trials (runs)")
@click.option(
    "--param",
    "params",
    metavar="NAME=LOW:HIGH[:log]|NAME=A,B,C",
    multiple=True,
    help="a training setting to search: a range of a number (lr=1e-4:1e-1:log, epochs=1:5) or a list "
    "of values (batch_size=32,64,128, optimizer=adam,sgd); repeatable",
)
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random"]),
    default="tpe",
    show_default=True,
    help="how Optuna picks each trial's values (seeded by --seed)",
)
@click.option(
    "--prune",
    is_flag=True,
    help="stop a trial whose validation accuracy after an epoch is below the "
    "median of the earlier trials' at that epoch (Optuna's MedianPruner); tui-cnn runs says it pruned",
)
@click.option(
    "--wait",
    is_flag=True,
    help="wait until every trial has ended, saying each as it ends (Ctrl+C stops waiting, not the sweep)",
)
@click.option("--json", "as_json", is_flag=True, help="print the sweep as JSON (with --wait: once it has ended)")
@training_options
def start(
    model: str,
    trials: int,
    params: tuple[str, ...],
    sampler: str,
    prune: bool,
    wait: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Start a sweep: its directory under runs/ and a driver in the background that queues its
    trials one at a time. The objective is each run's best validation accuracy."""
    from dataclasses import replace

    from ..domain.datasets import check_spec_matches, default_dataset
    from ..domain.sweep import SweepError, parse_params
    from ..domain.train_config import TrainConfig

    try:
        searched = parse_params(params)
    except SweepError as exc:
        fail(str(exc))
    spec = load_model_or_exit(model)
    given = {name: value for name, value in options.items() if value is not None}
    if "dataset" not in given:
        given["dataset"], why = default_dataset(given.get("data_dir"))
        say(why, err=True)
    if given.get("run_dir"):
        fail("--run-dir: a sweep names its trials' run directories itself (runs/sweep-.../ and its -t<N> runs)")
    config = TrainConfig(**given)
    first = replace(config, **{param.name: param.extremes()[0] for param in searched})
    problems = first.validate()
    for param in searched:  # every edge of the space, before anything starts
        for value in param.extremes():
            problems += [
                f"--param {param.name}={value}: {problem}"
                for problem in replace(first, **{param.name: value}).validate()
                if problem not in problems
            ]
    if problems:
        fail(problems[0])  # the first: one line
    mismatch = check_spec_matches(spec, config.dataset, config.data_dir)
    if mismatch:
        fail(mismatch)
    from ..backend.sweep import create_sweep

    try:
        sweep_dir = create_sweep(spec, config, searched, trials, prune=prune, sampler=sampler)
    except SweepError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot make the sweep in runs/: {exc.strerror or exc}")
    if not as_json:
        say(
            f"sweep {sweep_dir.name}: {trials} trial(s) of {spec.name}, searching "
            f"{', '.join(p.name for p in searched)}; its trials queue as runs {sweep_dir}-t<N>\n"
            f"  see it: tui-cnn sweep show {sweep_dir}   runs: tui-cnn runs   stop it: tui-cnn sweep stop {sweep_dir}"
        )
    if wait:
        sys.exit(_wait(sweep_dir, as_json))
    if as_json:
        _print_json(sweep_dir)


def _wait(sweep_dir, as_json: bool) -> int:
    from ..backend.sweep import sweep_summary

    told: set[int] = set()
    driverless_since = None
    try:
        while True:
            summary = sweep_summary(sweep_dir)
            if summary.driver_running or summary.done:
                driverless_since = None
            elif driverless_since is None:
                driverless_since = time.monotonic()
            elif time.monotonic() - driverless_since > DRIVER_START_S:  # it died: its log says why
                say(
                    f"tui-cnn: the sweep's driver is not running (see {sweep_dir}/driver.log); start it again with "
                    f"tui-cnn sweep resume {sweep_dir}",
                    err=True,
                )
                return EXIT_INVALID
            for trial in summary.trials:
                if trial.state in ("complete", "pruned", "fail") and trial.number not in told:
                    told.add(trial.number)
                    if not as_json:
                        say(
                            f"trial {trial.number}: {trial.state} {_value(trial.value)} {_params(trial.params)} "
                            f"({trial.run_dir})"
                        )
            if summary.done:
                break
            time.sleep(WAIT_LOOK_S)
    except KeyboardInterrupt:
        say(f"\nstopped waiting; the sweep goes on (tui-cnn sweep show {sweep_dir})", err=True)
        return 130
    if as_json:
        _print_json(sweep_dir)
    else:
        _print_best(summary)
    return EXIT_OK


@sweep.command("show")
@click.argument("sweep_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print JSON: the study, its trials (run_dir, params, value, state), the best",
)
def show(sweep_dir: str, as_json: bool) -> None:
    """A sweep's trials: each one's parameter values against its result, and the best."""
    if as_json:
        _print_json(sweep_dir)
        return
    summary = _summary_or_exit(sweep_dir)
    names = summary.params and [text.split("=", 1)[0] for text in summary.params]
    header = ["trial", "state", "val acc", *names, "run"]
    lines = [
        [
            str(t.number),
            t.status if t.state == "running" and t.status else t.state,
            _value(t.value),
            *[_cell(t.params.get(name)) for name in names],
            t.run_dir or "",
        ]
        for t in summary.trials
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    say(
        f"sweep {summary.study}: {len(summary.trials)} of {summary.trials_planned} trial(s) asked, searching "
        f"{' '.join(summary.params)}{', pruning' if summary.prune else ''}"
        f"{'' if summary.driver_running else ' (its driver is not running)'}"
    )
    for line in [header, *lines]:
        say("  ".join(f"{cell:<{width}}" for cell, width in zip(line, widths)).rstrip())
    _print_best(summary)


@sweep.command("stop")
@click.argument("sweep_dir", type=click.Path(exists=True, file_okay=False))
def stop(sweep_dir: str) -> None:
    """Ask a sweep for no more trials; its running trial stops (its checkpoint kept)."""
    from pathlib import Path

    from ..domain.sweep import SweepError, read_sweep, request_stop

    try:
        read_sweep(sweep_dir)
        request_stop(Path(sweep_dir))
    except SweepError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write into {sweep_dir}: {exc.strerror or exc}")
    say(f"sweep {sweep_dir}: no more trials; its running trial stops")


@sweep.command("resume")
@click.argument("sweep_dir", type=click.Path(exists=True, file_okay=False))
def resume(sweep_dir: str) -> None:
    """Start a sweep's driver again (after a reboot): it follows the trial it left and asks
    for the rest."""
    from pathlib import Path

    from ..backend.sweep import ensure_driver
    from ..domain.sweep import SweepError, read_sweep

    try:
        read_sweep(sweep_dir)
    except SweepError as exc:
        fail(str(exc))
    started = ensure_driver(Path(sweep_dir))
    say(f"sweep {sweep_dir}: " + ("its driver started again" if started else "its driver is already running"))


def _summary_or_exit(sweep_dir):
    from ..backend.sweep import sweep_summary
    from ..domain.sweep import SweepError

    try:
        return sweep_summary(sweep_dir)
    except SweepError as exc:
        fail(str(exc))


def _print_json(sweep_dir) -> None:
    import msgspec

    summary = msgspec.to_builtins(_summary_or_exit(sweep_dir))
    click.echo(json.dumps(_finite(summary), indent=2))


def _finite(value: Any) -> Any:
    """NaN is not JSON: a diverged figure is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _print_best(summary) -> None:
    if summary.best is None:
        say("no trial has completed yet")
        return
    best = summary.best
    say(f"best: trial {best.number}, validation accuracy {_value(best.value)}, {_params(best.params)} ({best.run_dir})")


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{name}={_cell(value)}" for name, value in params.items())
