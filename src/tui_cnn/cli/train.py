"""``tui-cnn train``: train a spec or preset, in the app's monitor or, with --headless, in
the terminal (rich progress bars on a TTY; one plain line per epoch in a log file)."""

from __future__ import annotations

import contextlib
import signal
import sys
from dataclasses import fields, replace
from typing import Any

import click

from ..domain.training import DATASETS, DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig
from .common import EXIT_INVALID, EXIT_OK, fail, load_model_or_exit, load_run_or_exit, model_argument

EXIT_STOPPED = 130  # stopped with Ctrl+C (the shell's convention for SIGINT); checkpoint kept
_DEFAULTS = TrainConfig()


def _default(name: str) -> str:
    return f"(default: {getattr(_DEFAULTS, name)})"


@click.command()
@model_argument(required=False)
@click.option("--dataset", type=click.Choice(DATASETS), help="default: mnist if found in --data-dir, else mnist-sample")
@click.option("--data-dir", type=click.Path(file_okay=False), help="torchvision root holding MNIST/raw/... "
              "(default: ~/.cache/tui-cnn/data)")
@click.option("--epochs", type=click.IntRange(min=1), help=_default("epochs"))
@click.option("--batch-size", "-b", type=click.IntRange(min=1), help=_default("batch_size"))
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help=_default("lr"))
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), help=_default("optimizer"))
@click.option("--schedule", type=click.Choice(SCHEDULES), help=_default("schedule"))
@click.option("--weight-decay", type=click.FloatRange(min=0), help=_default("weight_decay"))
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True), help=_default("label_smoothing"))
@click.option("--device", type=click.Choice(DEVICES), help="auto: CUDA, then Apple MPS, then the CPU")
@click.option("--seed", type=int, help=_default("seed"))
@click.option("--no-amp", "amp", flag_value=False, default=None, help="no bfloat16 autocast on CUDA")
@click.option("--compile", "compile_", is_flag=True, default=None, help="torch.compile the model")
@click.option("--augment", is_flag=True, default=None, help="random shifts (and flips for CIFAR-10), on the device")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True),
              help="hold out this much of the training split for validation (default: validate on test)")
@click.option("--run-dir", type=click.Path(file_okay=False), help="default: runs/<date>-<time>-<model>/")
@click.option("--resume", "resume", type=click.Path(exists=True, file_okay=False),
              help="continue this run directory at the epoch after its last checkpoint")
@click.option("--nproc-per-node", type=click.IntRange(min=1),
              help="train on this many processes under torchrun: one per GPU, or on the CPU (gloo); "
                   "--batch-size is the global batch (default: 1)")
@click.option("--headless", is_flag=True, help="train in the terminal, without the app")
def train(model: str | None, resume: str | None, headless: bool, **options: Any) -> None:
    """Train a spec file or preset (default SimpleCNN). Exit 0 when training finished, 1 when
    it failed, 2 for bad arguments, 130 when stopped with Ctrl+C (the checkpoint is kept)."""
    from ..backend.train_process import too_many_processes, under_torchrun
    from ..domain.datasets import check_spec_matches

    given = {name.rstrip("_"): value for name, value in options.items() if value is not None}
    spec, config = _resumed(resume, model, given) if resume else _new_run(model, given)
    problems = [*config.validate(), too_many_processes(config.nproc_per_node, config.device)]
    if any(problems):
        fail("; ".join(filter(None, problems)))
    mismatch = check_spec_matches(spec, config.dataset)
    if mismatch:
        fail(mismatch)
    if not headless and not under_torchrun():  # under torchrun each rank is a process of one run: no app
        from ..app.app import TuiCnnApp

        TuiCnnApp(spec, start_mode="monitor", train_config=config).run_and_exit()
        return
    sys.exit(_train_headless(spec, config))


def _new_run(model: str | None, given: dict[str, Any]):
    from ..domain.datasets import default_dataset

    spec = load_model_or_exit(model)
    if "dataset" not in given:
        given["dataset"], why = default_dataset(given.get("data_dir"))
        click.echo(why, err=True)
    return spec, TrainConfig(**given)


def _resumed(run_dir: str, model: str | None, given: dict[str, Any]):
    """The run's own spec and configuration, with the options given now on top (e.g. more
    --epochs). A spec given as well must be the run's."""
    spec, config = load_run_or_exit(run_dir)
    if model is not None and load_model_or_exit(model) != spec:
        fail(f"{model} is not the model {run_dir} trained ({spec.name}); leave it out to resume that run")
    known = {f.name for f in fields(TrainConfig)}
    overrides = {k: v for k, v in given.items() if k in known} | {"resume": run_dir, "run_dir": run_dir}
    return spec, replace(config, **overrides)


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

    def stop_on_ctrl_c(signum: int, frame: Any) -> None:
        reporter.note("stopping after this batch (Ctrl+C again to abort)")
        trainer.stop()
        signal.signal(signal.SIGINT, previous)

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
