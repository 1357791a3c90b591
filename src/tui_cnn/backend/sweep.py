"""Sweeps through Optuna: ``python -P -m tui_cnn.backend.sweep SWEEP_DIR`` is a sweep's
driver. It asks the study (SWEEP_DIR/study.db) for a trial, queues it as an ordinary run in
the box's queue (queue_runner.queue_run, so it waits its turn behind the runs already
queued), follows the run's metrics as its epochs end (reporting each epoch's validation
accuracy: with --prune, Optuna's MedianPruner may stop it), tells the study how it ended, and
asks for the next, until the sweep has all its trials. One trial at a time, so that TPE
learns from each. It runs detached, in a session of its own, one per sweep (its lock in the
sweep's directory), like the queue's runner; ``ensure_driver`` brings it back after a reboot
(`tui-cnn sweep resume`). No torch here: each trial's own process loads it."""

from __future__ import annotations

import fcntl
import math
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import msgspec

from ..domain.paths import RUNS_DIR
from ..domain.run_files import read_metrics
from ..domain.run_list import ENDED, NotTraining, run_row, steer_run
from ..domain.run_queue import QueueError, held_by_a_process
from ..domain.spec import ModelSpec
from ..domain.specfile import spec_from_dict, spec_to_dict
from ..domain.sweep import (
    DRIVER_LOCK,
    DRIVER_LOG,
    STUDY_FILE,
    Param,
    SweepError,
    SweepRecord,
    mark_done,
    mark_pruned,
    mark_trial,
    new_sweep_dir,
    read_sweep,
    stop_requested,
    trial_dir,
    unfinished_sweeps,
    was_pruned,
    write_sweep,
)
from ..domain.train_config import TrainConfig
from .launch import child_environment, python_command
from .queue_runner import queue_run

#: How often the driver looks at the run of the trial it follows.
LOOK_EVERY_S = 0.5
#: Trials end as one of these (the study's states, lower case).
ENDINGS = ("complete", "pruned", "fail")
OPTUNA_MISSING = "sweeps need Optuna: pip install 'optuna>=4' (or pip install 'tui-cnn[sweep]')"


def import_optuna():
    """Optuna, quietened (its INFO lines would fill the driver's log); SweepError in one line
    when it is not installed."""
    try:
        import optuna
    except ImportError:
        raise SweepError(OPTUNA_MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage_url(sweep_dir: Path) -> str:
    return f"sqlite:///{(sweep_dir / STUDY_FILE).resolve()}"


def _sampler(optuna, record: SweepRecord):
    if record.sampler == "random":
        return optuna.samplers.RandomSampler(seed=record.seed)
    return optuna.samplers.TPESampler(seed=record.seed)


def _pruner(optuna, record: SweepRecord):
    # MedianPruner's defaults wait for 5 finished trials and 0 warm-up epochs; a few-trial sweep
    # on a GPU box prunes from the second trial on, from its first epoch.
    if not record.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)


def load_study(sweep_dir: Path, record: SweepRecord | None = None):
    """The sweep's study; SweepError, in one line, when its study.db cannot be read."""
    optuna = import_optuna()
    record = read_sweep(sweep_dir) if record is None else record
    try:
        return optuna.load_study(
            study_name=record.study_name,
            storage=storage_url(sweep_dir),
            sampler=_sampler(optuna, record),
            pruner=_pruner(optuna, record),
        )
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's, Optuna's (KeyError: no such study), a hand edit
        raise SweepError(
            f"{sweep_dir}/{STUDY_FILE} cannot be read as the sweep's study "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def create_sweep(
    spec: ModelSpec,
    config: TrainConfig,
    params: list[Param],
    trials: int,
    *,
    prune: bool = False,
    sampler: str = "tpe",
    base: str | Path = RUNS_DIR,
) -> Path:
    """Make the sweep's directory, its study and sweep.json, and start its driver: the
    sweep's directory. OSError when it cannot be written; SweepError without Optuna."""
    optuna = import_optuna()
    sweep_dir = new_sweep_dir(spec.name, base)
    record = SweepRecord(
        study_name=sweep_dir.name,
        trials=trials,
        params=params,
        spec=spec_to_dict(spec),
        config=replace(config, run_dir=None).to_json(),
        runs=str(base),
        sampler=sampler,
        seed=config.seed,
        prune=prune,
        created_at=time.time(),
    )
    optuna.create_study(
        study_name=record.study_name,
        storage=storage_url(sweep_dir),
        direction="maximize",
        sampler=_sampler(optuna, record),
        pruner=_pruner(optuna, record),
    )
    write_sweep(sweep_dir, record)
    ensure_driver(sweep_dir)
    return sweep_dir


def driver_running(sweep_dir: Path) -> bool:
    """Whether a driver holds the sweep's lock now (probed without keeping it)."""
    return held_by_a_process(sweep_dir / DRIVER_LOCK)


def ensure_driver(sweep_dir: Path) -> bool:
    """Start the sweep's driver unless one runs; whether one was started. (A driver with
    nothing left to do exits at once.)"""
    if driver_running(sweep_dir):
        return False
    with open(sweep_dir / DRIVER_LOG, "ab") as log:
        subprocess.Popen(
            python_command("tui_cnn.backend.sweep", str(sweep_dir)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=child_environment(),
        )
    return True


def ensure_drivers(base: str | Path) -> int:
    """Bring back the driver of every sweep under ``base`` that has trials to go (the machine
    rebooted under it): what the app's start and `tui-cnn queue run` do. How many started."""
    return sum(ensure_driver(sweep_dir) for sweep_dir in unfinished_sweeps(base))


# --- the driver ---


def drive(sweep_dir: Path, log: Callable[[str], None] = print) -> None:
    """Run the sweep's trials until it has all of them (or `tui-cnn sweep stop` asked for no
    more): first any trial an earlier driver left running, then new ones."""
    optuna = import_optuna()
    record = read_sweep(sweep_dir)
    study = load_study(sweep_dir, record)
    spec = spec_from_dict(record.spec)
    base = TrainConfig.from_json(record.config)
    for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        trial = optuna.trial.Trial(study, frozen._trial_id)
        if "run_dir" not in frozen.user_attrs:  # asked, never queued: the driver died in between
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        _settle(study, trial, trial_dir(sweep_dir, frozen.number), record, sweep_dir, log)
    distributions = {param.name: _distribution(optuna, param) for param in record.params}
    while len(study.trials) < record.trials and not stop_requested(sweep_dir):
        trial = study.ask(distributions)
        config = replace(base, **trial.params, run_dir=str(trial_dir(sweep_dir, trial.number)))
        problems = config.validate()
        if problems:  # a combination the settings refuse (e.g. a batch that nproc does not divide)
            trial.set_user_attr("status", "refused: " + "; ".join(problems))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            log(f"trial {trial.number} refused: {'; '.join(problems)}")
            continue
        try:
            run_dir, place = queue_run(spec, config)
        except (QueueError, OSError) as exc:
            trial.set_user_attr("status", f"could not be queued: {exc}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            log(f"trial {trial.number} could not be queued: {exc}")
            continue
        mark_trial(run_dir, sweep_dir, trial.number, trial.params)
        trial.set_user_attr("run_dir", str(run_dir))
        log(f"{_now()} trial {trial.number} queued as {run_dir} (position {place}): {trial.params}")
        _settle(study, trial, run_dir, record, sweep_dir, log)
    mark_done(sweep_dir)
    log(f"{_now()} sweep done: {len(study.trials)} trial(s)" + (" (stopped)" if stop_requested(sweep_dir) else ""))


def _distribution(optuna, param: Param):
    if param.choices is not None:
        return optuna.distributions.CategoricalDistribution(param.choices)
    if isinstance(param.low, int) and isinstance(param.high, int):
        return optuna.distributions.IntDistribution(param.low, param.high, log=param.log)
    return optuna.distributions.FloatDistribution(float(param.low), float(param.high), log=param.log)


def _settle(study, trial, run_dir: Path, record: SweepRecord, sweep_dir: Path, log: Callable[[str], None]) -> None:
    """Follow the trial's run until it ends, reporting each epoch's validation accuracy (and
    stopping it when pruned), then tell the study how it ended."""
    optuna = import_optuna()
    seen = 0  # lines of metrics.jsonl reported
    pruned = was_pruned(run_dir)
    stopping = False
    while True:
        status = run_row(run_dir).status  # read before the metrics: the last epoch's are there when it ended
        lines = read_metrics(run_dir)
        for metrics in lines[seen:]:
            if not math.isfinite(metrics.val_acc):
                continue
            trial.report(metrics.val_acc, metrics.epoch)
            if record.prune and not pruned and trial.should_prune():
                pruned = True
                mark_pruned(run_dir, metrics.epoch, metrics.val_acc)
                log(
                    f"{_now()} trial {trial.number} pruned after epoch {metrics.epoch} "
                    f"(validation accuracy {metrics.val_acc:.4f})"
                )
                _stop(run_dir)
        seen = len(lines)
        if status in ENDED or status == "unreadable":
            break
        if stop_requested(sweep_dir) and not pruned and not stopping:  # `tui-cnn sweep stop`: this trial too
            stopping = True
            _stop(run_dir)
        time.sleep(LOOK_EVERY_S)
    best = best_val_acc(run_dir)
    if status == "finished" and best is not None:  # a prune heard after its last batch: it ran to the end
        study.tell(trial, best)
    elif pruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        trial.set_user_attr("status", status)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    log(f"{_now()} trial {trial.number} ended: {status}, best validation accuracy {best}")


def _stop(run_dir: Path) -> None:
    try:
        steer_run(run_dir, "stop")
    except (NotTraining, OSError):
        pass  # it ended meanwhile (or never started): the next look says how


def best_val_acc(run_dir: str | Path) -> float | None:
    """The objective: the run's best validation accuracy (metrics.jsonl), None before its first epoch."""
    values = [m.val_acc for m in read_metrics(run_dir) if math.isfinite(m.val_acc)]
    return max(values) if values else None


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


# --- what a sweep has done ---


class TrialRow(msgspec.Struct):
    """One trial of ``tui-cnn sweep show --json`` (and --wait --json)."""

    number: int
    run_dir: str | None
    params: dict[str, Any]
    value: float | None  # the study's: the best validation accuracy of a complete trial
    state: str  # the study's: waiting, running, complete, pruned, fail
    status: str | None = None  # the run's, as `tui-cnn runs` says it
    best_val_acc: float | None = None


class SweepSummary(msgspec.Struct):
    study: str
    sweep_dir: str
    storage: str
    trials_planned: int
    params: list[str]  # as given: lr=1e-4:1e-1:log
    trials: list[TrialRow]
    best: TrialRow | None
    driver_running: bool
    prune: bool = False
    stopped: bool = False  # `tui-cnn sweep stop` asked for no more trials

    @property
    def done(self) -> bool:
        """Every trial has ended: all it planned, or all it asked before it was stopped."""
        ended = sum(trial.state in ENDINGS for trial in self.trials)
        return ended >= self.trials_planned or (self.stopped and ended == len(self.trials))


def sweep_summary(sweep_dir: str | Path) -> SweepSummary:
    """What the sweep's study and its trials' runs say now. SweepError, in one line."""
    sweep_dir = Path(sweep_dir)
    record = read_sweep(sweep_dir)
    study = load_study(sweep_dir, record)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        # where it runs, next to the sweep as the caller names it (the attribute holds the
        # path as the driver's working directory saw it)
        run_dir = str(trial_dir(sweep_dir, trial.number)) if "run_dir" in trial.user_attrs else None
        row = run_row(run_dir) if run_dir else None
        rows.append(
            TrialRow(
                number=trial.number,
                run_dir=run_dir,
                params=dict(trial.params),
                value=trial.value,
                state=trial.state.name.lower(),
                status=row.status if row else trial.user_attrs.get("status"),
                best_val_acc=row.best_val_acc if row else None,
            )
        )
    complete = [row for row in rows if row.state == "complete" and row.value is not None]
    best = max(complete, key=lambda row: row.value) if complete else None
    return SweepSummary(
        study=record.study_name,
        sweep_dir=str(sweep_dir),
        storage=storage_url(sweep_dir),
        trials_planned=record.trials,
        params=[f"{p.name}={p.values_text}" for p in record.params],
        trials=rows,
        best=best,
        driver_running=driver_running(sweep_dir),
        prune=record.prune,
        stopped=stop_requested(sweep_dir),
    )


def _hold_lock(sweep_dir: Path) -> int | None:
    fd = os.open(sweep_dir / DRIVER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(5):  # a probe by driver_running holds it for an instant
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            time.sleep(0.1)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who drives it, for a person (or a test) to look up
        return fd
    os.close(fd)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -P -m tui_cnn.backend.sweep SWEEP_DIR", file=sys.stderr)
        return 2
    sweep_dir = Path(argv[0])
    lock = _hold_lock(sweep_dir)
    if lock is None:
        return 0  # another driver has the sweep
    try:
        drive(sweep_dir, log=lambda line: print(line, flush=True))
    except SweepError as exc:
        print(f"tui-cnn: {exc}", flush=True)
        return 1
    finally:
        os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
