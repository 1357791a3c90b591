"""``tui-cnn train``: train a spec or preset, in the app's monitor or, with --headless, in
the terminal (rich progress bars on a TTY; one plain line per epoch in a log file)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import fields
from typing import Any, Callable

import click

from ..domain.settings import Setting
from ..domain.training import SETTINGS, TrainConfig
from .common import (EXIT_INVALID, EXIT_OK, SettingType, fail, load_model_or_exit, model_argument,
                     require_terminal, spec_file)

EXIT_STOPPED = 130  # stopped with Ctrl+C (the shell's convention for SIGINT); checkpoint kept
_DEFAULTS = TrainConfig()


def _option(name: str, declared: Setting) -> Callable[[Callable], Callable]:
    default = getattr(_DEFAULTS, name)
    if declared.kind is bool:  # a flag that sets the value other than the default
        return click.option(declared.flag, name, flag_value=not default, default=None,
                            help=declared.help if not default else f"no {declared.help}")
    shown = "" if default is None or "default:" in declared.help else f" (default: {default})"
    names = [f"--{name.replace('_', '-')}", *([declared.short] if declared.short else [])]
    return click.option(*names, name, type=SettingType(name, declared), help=declared.help + shown)


def training_options(command: Callable) -> Callable:
    """One click option per declared training setting (TrainConfig), in declaration order."""
    for name, declared in reversed(SETTINGS.items()):
        if declared.cli:
            command = _option(name, declared)(command)
    return command


@click.command()
@model_argument(required=False)
@training_options
@click.option("--resume", "resume", type=click.Path(exists=True, file_okay=False),
              help="continue this run directory at the epoch after its last checkpoint")
@click.option("--headless", is_flag=True, help="train in the terminal, without the app")
@click.option("--detach", is_flag=True, help="train in the background, in its own session: the run outlives this "
              "terminal (its output goes to RUN_DIR/output.log); see it with tui-cnn runs, steer it with "
              "tui-cnn stop|pause|resume RUN_DIR")
def train(model: str | None, resume: str | None, headless: bool, detach: bool, **options: Any) -> None:
    """Train a spec file or preset (default SimpleCNN). Exit 0 when training finished, 1 when
    it failed, 2 for bad arguments, 130 when stopped with Ctrl+C (the checkpoint is kept)."""
    from ..backend.train_process import too_many_processes, under_torchrun
    from ..domain.datasets import check_spec_matches

    given = {name: value for name, value in options.items() if value is not None}
    opens_app = not headless and not detach and not under_torchrun()  # under torchrun: one rank, no app
    spec, config = _resumed(resume, model, given) if resume else _new_run(model, given, opens_app)
    problems = [*config.validate(), too_many_processes(config.nproc_per_node, config.device)]
    if any(problems):
        fail("; ".join(filter(None, problems)))
    mismatch = check_spec_matches(spec, config.dataset)
    if mismatch:
        fail(mismatch)
    if detach:
        sys.exit(_start_detached(spec, config))
    if opens_app:
        from ..app.app import TuiCnnApp

        require_terminal("without one, add --headless")
        TuiCnnApp(spec, start_mode="monitor", train_config=config,
                  spec_path=None if resume else spec_file(model)).run_and_exit()
        return
    sys.exit(_train_headless(spec, config))


def _new_run(model: str | None, given: dict[str, Any], opens_app: bool):
    from ..domain.datasets import default_dataset

    spec = load_model_or_exit(model)
    if opens_app:  # before the dataset note: without a terminal, the refusal is the one line
        require_terminal("without one, add --headless")
    if "dataset" not in given:
        given["dataset"], why = default_dataset(given.get("data_dir"))
        click.echo(why, err=True)
    return spec, TrainConfig(**given)


def _resumed(run_dir: str, model: str | None, given: dict[str, Any]):
    """The run's own spec and configuration, with the options given now on top (e.g. more
    --epochs). A spec given as well must be the run's."""
    from ..domain.run_list import continuation
    from ..domain.training import RunFileError

    known = {f.name for f in fields(TrainConfig)}
    try:
        spec, config = continuation(run_dir, **{k: v for k, v in given.items() if k in known})
    except RunFileError as exc:
        fail(str(exc))
    if model is not None and load_model_or_exit(model) != spec:
        fail(f"{model} is not the model {run_dir} trained ({spec.name}); leave it out to resume that run")
    _check_checkpoint_or_exit(run_dir)
    return spec, config


def _check_checkpoint_or_exit(run_dir: str) -> None:
    """A missing or garbage checkpoint is a bad argument (exit 2, one line), found before the
    data loads; never torch's advice to load it with weights_only=False."""
    from pathlib import Path

    from ..backend import runs

    path = Path(run_dir) / runs.LAST_CHECKPOINT
    if not path.is_file():
        fail(f"{run_dir} has no {runs.LAST_CHECKPOINT}: nothing to resume (one is written after each epoch)")
    try:
        runs.load_checkpoint(path)
    except runs.CheckpointError as exc:
        fail(f"cannot resume: {exc}")


def _start_detached(spec, config: TrainConfig) -> int:
    """Start the run in its own session (backend.launch) and return at once."""
    from ..backend.launch import start_detached

    try:
        run = start_detached(spec, config)
    except OSError as exc:
        fail(f"cannot make the run directory {config.run_dir or 'under runs/'}: {exc.strerror or exc}")
    click.echo(f"training {spec.name} in {run.run_dir} (pid {run.process.pid}), detached from this terminal\n"
               f"  watch: tui-cnn attach {run.run_dir}   list: tui-cnn runs   "
               f"steer: tui-cnn stop|pause|resume {run.run_dir}   output: {run.run_dir}/output.log")
    return 0


def _train_headless(spec, config: TrainConfig) -> int:
    from ..backend.train_process import under_torchrun
    from .train_report import make_reporter

    if under_torchrun():  # one rank of a group torchrun started (several machines: see the README)
        return _train_rank(spec, config)
    reporter = make_reporter(sys.stdout.isatty())
    if config.nproc_per_node > 1:  # torchrun in a child process; its rank 0 sends the events
        from ..backend.train_process import TrainingProcess

        trainer = TrainingProcess(spec, config, reporter)
    else:
        from ..backend.trainer import Trainer

        trainer = Trainer(spec, config, [reporter])
    previous = signal.getsignal(signal.SIGINT)
    presses = 0

    def stop_on_ctrl_c(signum: int, frame: Any) -> None:
        # Every Ctrl+C stops the run the same way: a second one used to restore Python's
        # handler, and its KeyboardInterrupt left no checkpoint, no end event, "Aborted!" and
        # exit 1. The stop waits for the current batch at most; kill the process to abandon it.
        nonlocal presses
        presses += 1
        trainer.stop()
        # os.write, not print: the handler runs between two bytecodes of the main thread,
        # which may be inside a print to the same stream (a reentrant call raises).
        os.write(sys.stderr.fileno(), b"\nstopping after this batch: the checkpoint is written, then it exits\n"
                 if presses == 1 else b"\nalready stopping: the run ends after this batch with its checkpoint\n")

    signal.signal(signal.SIGINT, stop_on_ctrl_c)
    try:
        with reporter:
            trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if reporter.failure is not None:
        click.echo(f"tui-cnn: training failed: {reporter.failure}", err=True)
        return EXIT_INVALID
    return EXIT_STOPPED if reporter.stopped else EXIT_OK


def _train_rank(spec, config: TrainConfig) -> int:
    """This process is one rank of a torchrun group: rank 0 prints as a one-process run
    does, the others train silently. torchrun ends the ranks on Ctrl+C; a stopped run
    resumes from its last epoch's checkpoint."""
    from ..backend.distributed import join_torchrun_group
    from ..backend.train_process import finish_rank
    from ..backend.trainer import Trainer
    from .train_report import make_reporter

    group = join_torchrun_group(config.device)
    reporter = make_reporter(sys.stdout.isatty()) if group.is_main else None
    trainer = Trainer(spec, config, [reporter] if reporter else [], group=group)
    with reporter or contextlib.nullcontext():
        trainer.run()
    if reporter is not None and reporter.failure is not None:
        click.echo(f"tui-cnn: training failed: {reporter.failure}", err=True)
    return finish_rank(trainer, group) or (EXIT_STOPPED if reporter is not None and reporter.stopped else EXIT_OK)
