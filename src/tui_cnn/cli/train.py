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
from ..domain.train_config import SETTINGS, TrainConfig
from .common import (
    EXIT_INVALID,
    EXIT_OK,
    InputShape,
    SettingType,
    fail,
    load_model_or_exit,
    require_terminal,
    say,
    spec_file,
)

EXIT_STOPPED = 130  # stopped with Ctrl+C (the shell's convention for SIGINT); checkpoint kept
_DEFAULTS = TrainConfig()


def _option(name: str, declared: Setting) -> Callable[[Callable], Callable]:
    default = getattr(_DEFAULTS, name)
    if declared.kind is bool:  # a flag that sets the value other than the default
        return click.option(
            declared.flag,
            name,
            flag_value=not default,
            default=None,
            help=declared.help if not default else f"no {declared.help}",
        )
    shown = "" if default is None or "default:" in declared.help else f" (default: {default})"
    names = [f"--{name.replace('_', '-')}", *([declared.short] if declared.short else [])]
    return click.option(*names, name, type=SettingType(name, declared), help=declared.help + shown)


def slurm_options(command: Callable) -> Callable:
    """--nodes, --partition, --time, --account from their one declaration (domain.slurm)."""
    from ..domain.slurm import SLURM_SETTINGS

    for name, declared in reversed(SLURM_SETTINGS.items()):
        dest = "time_limit" if name == "time" else name  # not the module's name
        command = click.option(
            f"--{name}",
            dest,
            type=SettingType(name, declared),
            help=declared.help,
            default=1 if name == "nodes" else None,
            show_default=name == "nodes",
        )(command)
    return command


def training_options(command: Callable) -> Callable:
    """One click option per declared training setting (TrainConfig), in declaration order."""
    for name, declared in reversed(SETTINGS.items()):
        if declared.cli:
            command = _option(name, declared)(command)
    return command


@click.command()
@click.argument("model", metavar="SPEC_OR_PRESET | MODULE:ATTR", required=False)
@click.option(
    "--input",
    "input_shape",
    type=InputShape(),
    help="with MODULE:ATTR: your own nn.Module (a class with "
    "a no-argument constructor, or a function returning one, from the current directory or an installed "
    "package, as tui-cnn track takes it) for images of this shape C,H,W, e.g. 1,28,28; the run keeps a "
    "copy of its source files",
)
@training_options
@click.option(
    "--resume",
    "resume",
    type=click.Path(exists=True, file_okay=False),
    help="continue this run directory at the epoch after its last checkpoint",
)
@click.option("--headless", is_flag=True, help="train in the terminal, without the app")
@click.option(
    "--queue",
    "queued",
    is_flag=True,
    help="add the run to this box's queue and return at once: queued "
    "runs start one at a time, first in first out, each when the one before ends (a runner in the "
    "background starts them); see them with tui-cnn runs, cancel one with tui-cnn stop RUN_DIR",
)
@click.option(
    "--slurm",
    is_flag=True,
    help="submit the run to a SLURM cluster (sbatch): RUN_DIR/job.sbatch runs "
    "srun torchrun on --nodes nodes x --nproc-per-node ranks; the run directory must be on a filesystem "
    "every node shares (not /tmp); follow it with tui-cnn runs / attach as any run",
)
@slurm_options
@click.option(
    "--sbatch-arg",
    "sbatch_args",
    metavar="ARG",
    multiple=True,
    help="--slurm: one more #SBATCH line, as sbatch takes it (e.g. --sbatch-arg=--exclusive); repeatable",
)
@click.option("--dry-run", is_flag=True, help="--slurm: print the job script and submit nothing")
@click.option(
    "--notify",
    "notify",
    metavar="CMD",
    help="run this shell command once the run ends (finished, "
    "stopped, failed), with TUI_CNN_STATUS, TUI_CNN_SUMMARY, TUI_CNN_RUN_DIR, TUI_CNN_TEST_ACCURACY ... in "
    "its environment (e.g. curl to ntfy or a Slack webhook); never blocks or fails the run; not saved "
    "with the run (default: $TUI_CNN_NOTIFY)",
)
@click.option(
    "--detach",
    is_flag=True,
    help="train in the background, in its own session: the run outlives this "
    "terminal (its output goes to RUN_DIR/output.log); see it with tui-cnn runs, steer it with "
    "tui-cnn stop|pause|resume RUN_DIR",
)
def train(
    model: str | None,
    input_shape: tuple[int, int, int] | None,
    resume: str | None,
    headless: bool,
    detach: bool,
    notify: str | None,
    queued: bool,
    slurm: bool,
    nodes: int,
    partition: str | None,
    time_limit: str | None,
    account: str | None,
    sbatch_args: tuple[str, ...],
    dry_run: bool,
    **options: Any,
) -> None:
    """Train a spec file or preset (default SimpleCNN). Exit 0 when training finished, 1 when
    it failed, 2 for bad arguments, 130 when stopped with Ctrl+C (the checkpoint is kept)."""
    if notify is not None:  # to the training process through its environment, never into the run's files
        from ..domain.notify import NOTIFY_ENV

        os.environ[NOTIFY_ENV] = notify
    from ..backend.launch import under_torchrun
    from ..backend.train_process import too_many_processes
    from ..domain.model_source import check_source_matches, is_module

    given = {name: value for name, value in options.items() if value is not None}
    opens_app = not headless and not detach and not slurm and not queued and not under_torchrun()
    if input_shape is not None and resume:
        fail("--input goes with MODULE:ATTR for a new run: --resume trains the run's own model")
    spec, config = _resumed(resume, model, given) if resume else _new_run(model, given, opens_app, input_shape)
    if slurm:
        from ..domain.slurm import SlurmOptions

        sys.exit(
            _submit(
                spec,
                config,
                SlurmOptions(nodes, config.nproc_per_node, partition, time_limit, account, sbatch_args),
                dry_run,
                resume is not None,
            )
        )
    if dry_run or nodes != 1 or partition or time_limit or account or sbatch_args:
        fail("--nodes, --partition, --time, --account, --sbatch-arg and --dry-run go with --slurm")
    problems = [*config.validate(), too_many_processes(config.nproc_per_node, config.device)]
    if any(problems):
        fail("; ".join(filter(None, problems)))
    mismatch = check_source_matches(spec, config.dataset, config.data_dir)
    if mismatch:
        fail(mismatch)
    if queued:
        sys.exit(_enqueue(spec, config))
    if detach:
        sys.exit(_start_detached(spec, config))
    if opens_app:
        from ..app.app import TuiCnnApp

        require_terminal("without one, add --headless")
        if is_module(spec):  # the app trains the module its tracker shows
            from ..app.session import Tracked

            TuiCnnApp(
                spec.stub_spec,
                start_mode="monitor",
                train_config=config,
                tracked=Tracked(spec.target, spec.input_shape),
            ).run_and_exit()
            return
        TuiCnnApp(
            spec, start_mode="monitor", train_config=config, spec_path=None if resume else spec_file(model)
        ).run_and_exit()
        return
    sys.exit(_train_headless(spec, config))


def _enqueue(spec, config: TrainConfig) -> int:
    """Add the run to the queue of its runs folder, and make sure a runner works through it."""
    from ..backend.queue_runner import queue_run
    from ..domain.run_queue import QueueError

    try:
        run_dir, place = queue_run(spec, config)
    except QueueError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot queue the run in {config.run_dir or 'runs/'}: {exc.strerror or exc}")
    say(
        f"queued {spec.name} in {run_dir}: position {place} in {run_dir.parent}/'s queue (runs start one at a time)\n"
        f"  list: tui-cnn runs   cancel: tui-cnn stop {run_dir}   watch it once it starts: tui-cnn attach {run_dir}"
    )
    return EXIT_OK


def _submit(spec, config: TrainConfig, options, dry_run: bool, resumed: bool) -> int:
    """Write the run's SLURM job into its directory and submit it (or print it, --dry-run)."""
    from pathlib import Path

    from ..backend import slurm
    from ..domain.slurm import SlurmError, job_script

    if dry_run:
        problems = slurm.job_problems(spec, config, options)
        if problems:
            fail("; ".join(problems))
        click.echo(
            job_script(
                Path(config.run_dir or f"runs/<date>-<time>-{spec.name}"),
                sys.executable,
                options,
                config.device == "cuda",
                spec.name,
            )
        )
        return EXIT_OK
    try:
        run_dir, job_id = slurm.submit_run(spec, config, options)
    except SlurmError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the job into {config.run_dir or 'runs/'}: {exc.strerror or exc}")
    say(
        f"submitted {spec.name} to SLURM as job {job_id}: {run_dir} ({options.nodes} node(s) x "
        f"{options.nproc_per_node} rank(s))\n  watch: tui-cnn attach {run_dir}   list: tui-cnn runs   "
        f"stop or cancel: tui-cnn stop {run_dir}   script: {run_dir}/job.sbatch"
    )
    return EXIT_OK


def _new_run(model: str | None, given: dict[str, Any], opens_app: bool, input_shape: tuple[int, int, int] | None):
    from ..domain.datasets import default_dataset

    spec = (
        _module_or_exit(model, input_shape) if input_shape or _looks_like_a_module(model) else load_model_or_exit(model)
    )
    if opens_app:  # before the dataset note: without a terminal, the refusal is the one line
        require_terminal("without one, add --headless")
    if "dataset" not in given:
        given["dataset"], why = default_dataset(given.get("data_dir"), spec.input_shape)
        say(why, err=True)
    return spec, TrainConfig(**given)


def _looks_like_a_module(model: str | None) -> bool:
    from pathlib import Path

    return model is not None and ":" in model and not Path(model).exists()


def _module_or_exit(model: str | None, input_shape: tuple[int, int, int] | None):
    """MODULE:ATTR and --input: a user's own module (built by the training process)."""
    from ..domain.model_source import ModuleSource

    if model is None or ":" not in model:
        fail(f"--input goes with MODULE:ATTR (e.g. mymodel:Net), not {model or 'no model'}")
    if input_shape is None:
        fail(f"{model} is your own module: give its input shape with --input C,H,W (e.g. --input 1,28,28)")
    return ModuleSource(model, input_shape)


def _resumed(run_dir: str, model: str | None, given: dict[str, Any]):
    """The run's own spec and configuration, with the options given now on top (e.g. more
    --epochs). A spec given as well must be the run's."""
    from ..domain.run_list import continuation
    from ..domain.run_records import RunFileError

    known = {f.name for f in fields(TrainConfig)}
    try:
        spec, config = continuation(run_dir, **{k: v for k, v in given.items() if k in known})
    except RunFileError as exc:
        fail(str(exc))
    if model is not None and model != getattr(spec, "target", None) and load_model_or_exit(model) != spec:
        fail(f"{model} is not the model {run_dir} trained ({spec.name}); leave it out to resume that run")
    _refuse_a_live_run(run_dir)
    _check_checkpoint_or_exit(run_dir)
    return spec, config


def _refuse_a_live_run(run_dir: str) -> None:
    """One trainer per run directory: a run that still trains (or is starting) is not resumed
    (its trainer would refuse it too, after torch and the data had loaded)."""
    from ..domain.run_list import run_trainer
    from ..domain.run_lock import locked_message

    if run_trainer(run_dir).state != "gone":
        fail(locked_message(run_dir))


def _check_checkpoint_or_exit(run_dir: str) -> None:
    """A missing or garbage checkpoint is a bad argument (exit 2, one line), found before the
    data loads; never torch's advice to load it with weights_only=False."""
    from pathlib import Path

    from ..backend import runs
    from ..domain.run_dir import LAST_CHECKPOINT

    path = Path(run_dir) / LAST_CHECKPOINT
    if not path.is_file():
        fail(f"{run_dir} has no {LAST_CHECKPOINT}: nothing to resume (one is written after each epoch)")
    try:
        runs.load_checkpoint(path)
    except runs.CheckpointError as exc:
        fail(f"cannot resume: {exc}")


#: How long `train --detach` waits for the run to start (or to fail before it could) before
#: it returns: long enough for torch to load and a dataset on disk to be read.
DETACH_WAIT_S = 60.0


def _start_detached(spec, config: TrainConfig) -> int:
    """Start the run in its own session (backend.launch) and return once it has started
    (exit 0), or failed before it could (exit 1, with why)."""
    from ..backend.launch import start_detached, wait_for_start
    from ..domain.run_files import last_output_line
    from ..domain.run_lock import RunLocked

    try:
        run = start_detached(spec, config)
    except RunLocked as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot make the run directory {config.run_dir or 'under runs/'}: {exc.strerror or exc}")
    started = wait_for_start(run, DETACH_WAIT_S)
    if started == "ended":
        said = last_output_line(run.run_dir)
        fail(
            f"the run in {run.run_dir} ended before it started: {said or f'exit status {run.exit_status}'} "
            f"(its output: {run.run_dir}/output.log)",
            EXIT_INVALID,
        )
    say(
        f"training {spec.name} in {run.run_dir} (pid {run.process.pid}), detached from this terminal"
        + (" (still starting: loading torch and the data)" if started == "starting" else "")
        + "\n"
        f"  watch: tui-cnn attach {run.run_dir}   list: tui-cnn runs   "
        f"steer: tui-cnn stop|pause|resume {run.run_dir}   output: {run.run_dir}/output.log"
    )
    return 0


def _train_headless(spec, config: TrainConfig) -> int:
    from ..backend.launch import under_torchrun
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
        os.write(
            sys.stderr.fileno(),
            b"\nstopping after this batch: the checkpoint is written, then it exits\n"
            if presses == 1
            else b"\nalready stopping: the run ends after this batch with its checkpoint\n",
        )

    signal.signal(signal.SIGINT, stop_on_ctrl_c)
    try:
        with reporter:
            trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    from ..backend.notify import run_notify_command

    run_notify_command(reporter.state)  # --notify CMD: started, never waited for
    if reporter.failure is not None:
        say(f"tui-cnn: training failed: {reporter.failure}", err=True)
        return EXIT_INVALID
    return EXIT_STOPPED if reporter.stopped else EXIT_OK


def _train_rank(spec, config: TrainConfig) -> int:
    """This process is one rank of a torchrun group: rank 0 prints as a one-process run
    does, the others train silently. torchrun ends the ranks on Ctrl+C; a stopped run
    resumes from its last epoch's checkpoint."""
    from ..backend.child import finish_rank
    from ..backend.distributed import join_torchrun_group
    from ..backend.trainer import Trainer
    from .train_report import make_reporter

    group = join_torchrun_group(config.device)
    reporter = make_reporter(sys.stdout.isatty()) if group.is_main else None
    trainer = Trainer(spec, config, [reporter] if reporter else [], group=group)
    with reporter or contextlib.nullcontext():
        trainer.run()
    if reporter is not None and reporter.failure is not None:
        say(f"tui-cnn: training failed: {reporter.failure}", err=True)
    return finish_rank(trainer, group) or (EXIT_STOPPED if reporter is not None and reporter.stopped else EXIT_OK)
