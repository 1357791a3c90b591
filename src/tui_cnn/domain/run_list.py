"""The runs on this machine, as one row each: the status of a run told from its directory
alone (its events folded by RunState, the one fold; process.json for who trains it), for
`tui-cnn runs` and the Runs screen. Pure Python, no torch."""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Collection

import msgspec

from .format import count
from .model_source import ModuleSource
from .run_control import write_control
from .run_dir import LAST_CHECKPOINT
from .run_events import BatchProgress, Evaluated
from .run_files import (
    failure_in_output,
    iter_events,
    last_output_line,
    read_process,
    read_run_config,
    read_test_accuracy,
)
from .run_lock import LOCK_FILE, is_that_process, lock_held, read_lock_record
from .run_queue import QUEUE_FILE, position, read_queued
from .run_queue import cancel as cancel_queued
from .run_records import ProcessRecord, RunFileError
from .run_state import RunState
from .settings import SettingError, parse_setting
from .slurm import JOB_FILE, REQUEST_FILE, cancel_pending, slurm_status
from .spec import ModelSpec
from .specfile import SpecError, spec_from_dict
from .sweep import PRUNED_FILE, was_pruned
from .train_config import SETTINGS, TrainConfig

#: Statuses of a run read from disk. starting: a process holds the run (its lock) and has not
#: started training yet; crashed: its process is gone and it wrote no end event (it can be
#: continued from its last checkpoint with --resume).
STATUSES = (
    "queued",
    "starting",
    "running",
    "paused",
    "finished",
    "stopped",
    "pruned",
    "failed",
    "crashed",
    "cancelled",
    "unreadable",
)
#: A run on another machine (a shared disk) counts as live while it wrote within this long:
#: BatchProgress lines come every few seconds while it trains.
HEARTBEAT_S = 120.0
#: A process trains these (it can be stopped, paused or resumed; not deleted or continued).
LIVE = ("starting", "running", "paused")
#: These continue from their last checkpoint, to more epochs.
CONTINUABLE = ("stopped", "pruned", "crashed", "finished")
#: pruned: a sweep's trial its driver stopped (domain/sweep.py), behind the median of the others.
ENDED = ("finished", "stopped", "pruned", "failed", "crashed", "cancelled")
#: A run the queue's runner took must be held by its process within this long.
QUEUE_START_S = 30.0
#: Waiting for their turn (in the box's queue, or a SLURM job pending): stop cancels them.
WAITING = ("queued",)


class RunRow(msgspec.Struct):
    """One run of the list (``tui-cnn runs --json`` prints these)."""

    path: str
    status: str
    model: str = ""
    dataset: str = ""
    epoch: int = 0
    epochs: int = 0
    best_val_acc: float | None = None
    test_acc: float | None = None
    images_per_s: float | None = None
    device: str = ""
    started_at: float | None = None  # time.time()
    duration_s: float | None = None
    problem: str | None = None  # why it is unreadable (or why it waits, failed, was cancelled)
    position: int | None = None  # queued in the box's queue: 1 starts next


class Trainer(msgspec.Struct, frozen=True):
    """Who trains a run, as its directory tells: ``state`` is "live" (the run's lock is held by
    the process process.json names), "starting" (the lock is held, and its holder has not
    named itself yet) or "gone"; ``since``: when the live one started (process.json)."""

    state: str
    since: float | None = None
    locked: bool = False  # told by the lock (not by a pid alone: a run from before locks)


def run_trainer(run_dir: str | Path, record: ProcessRecord | None = None, now: float | None = None) -> Trainer:
    """Whether a process trains ``run_dir`` now. On this machine: the run's lock is held AND
    the pid of process.json is still the process that wrote it (its start time; a pid the OS
    gave to another process since is not the trainer). A run from before locks: its pid alone,
    never another user's. On another machine (a shared disk): the run's last write (the heartbeat)."""
    record = read_process(run_dir) if record is None else record
    now = time.time() if now is None else now
    if record is not None and record.host != socket.gethostname():
        beat = heartbeat(run_dir)
        alive = beat is not None and now - beat < HEARTBEAT_S
        return Trainer("live" if alive else "gone", record.started_at)
    held = lock_held(run_dir)
    if held is False:
        return Trainer("gone", locked=True)
    if held is None:  # no lock file: a run from before locks (or a folder being made)
        alive = record is not None and is_that_process(record, same_user=True)
        return Trainer("live" if alive else "gone", record.started_at if alive and record is not None else None)
    if record is not None and is_that_process(record):
        return Trainer("live", record.started_at, locked=True)
    return Trainer("starting", locked=True)


def run_status(state: RunState, run_dir: str | Path, trainer: Trainer | None = None, now: float | None = None) -> str:
    """The one answer to "what is this run doing?", from its directory alone: what its events
    say (``state``, folded from them: the monitor's, the runs list's) against who trains it
    (``run_trainer``). A run whose trainer is gone without an end event crashed; a run held
    by a trainer that has not written its own RunStarted yet (a new run, or one being
    continued) is starting."""
    trainer = run_trainer(run_dir, now=now) if trainer is None else trainer
    folded = state.status
    if trainer.state == "gone":
        return folded if folded in ENDED else "crashed"
    if trainer.state == "starting":
        return "starting"
    if not trainer.locked:  # a pid, or a heartbeat: all there is to go on
        return folded if folded in ("paused", "stopping", *ENDED) else "running"
    since = trainer.since if trainer.since is not None else math.inf
    if folded in ("running", "paused", "stopping"):
        # the RunStarted folded is this trainer's, not the one of a run it continues
        return folded if state.started_at is not None and state.started_at >= since else "starting"
    if folded in ENDED and state.started_at is not None:
        ended = state.started_at + (state.finished_after_s or 0.0)
        if ended >= since:  # this trainer wrote the end: it lets go of the run in a moment
            return folded
    return "starting"


def heartbeat(run_dir: str | Path) -> float | None:
    """When the run last wrote an event (events.jsonl's mtime), or None before its first."""
    try:
        return (Path(run_dir) / "events.jsonl").stat().st_mtime
    except OSError:
        return None


def run_process_alive(run_dir: str | Path, now: float | None = None) -> bool:
    """Whether a process holds ``run_dir`` now (starting or training)."""
    return run_trainer(run_dir, now=now).state != "gone"


def run_row(run_dir: str | Path, now: float | None = None, trainer: Trainer | None = None) -> RunRow:
    """``run_dir``'s row; ``trainer``: who trains it, when already known (else asked)."""
    now = time.time() if now is None else now
    path = str(run_dir)
    process = read_process(run_dir)
    trainer = run_trainer(run_dir, process, now) if trainer is None else trainer
    try:
        config = read_run_config(run_dir)
    except RunFileError as exc:
        waiting = None if os.path.lexists(os.path.join(run_dir, "config.json")) else queued_row(run_dir)
        if waiting is not None:  # in the box's queue: waiting, or cancelled before it started
            return waiting
        submitted = (
            None
            if os.path.lexists(os.path.join(run_dir, "config.json"))
            else slurm_status(run_dir, started=False, ended=False)
        )
        if submitted is not None:  # a SLURM job that has not started the run yet
            status, said, job = submitted
            return RunRow(path=path, status=status, problem=said, started_at=job.submitted_at)
        if os.path.lexists(os.path.join(run_dir, "config.json")) or not os.path.lexists(
            os.path.join(run_dir, LOCK_FILE)
        ):
            return RunRow(path=path, status="unreadable", problem=str(exc))
        if trainer.state == "gone":  # taken, never written: its process ended before the run started
            said = last_output_line(run_dir)
            return RunRow(
                path=path,
                status="failed",
                started_at=_lock_taken(run_dir),
                problem="its process ended before the run started" + (f": {said}" if said else ""),
            )
        # held, and not written yet: a run starting (its process loads torch and the data)
        return RunRow(path=path, status="starting", started_at=_lock_taken(run_dir))
    state = RunState()
    for event in iter_events(run_dir, skip=(BatchProgress, Evaluated)):  # thousands a run; images: no use here
        state.apply(event, now=0.0)  # durations come from the epochs, not from when we read
    if state.status == "idle":  # no RunStarted (yet): what config.json says
        state = RunState.from_run_dir(run_dir)
    status = run_status(state, run_dir, trainer, now)
    problem = None
    if status == "crashed" and failure_in_output(run_dir):  # its Failed event could not be written (disk full)
        status = "failed"
    if status != "running":  # a SLURM job may say more: pending (queued), or ended by SLURM (failed)
        ended_at = state.started_at + (state.finished_after_s or 0.0) if state.started_at is not None else None
        settled = status in ENDED and status != "crashed"  # crashed: SLURM may know why (scancel, time limit)
        submitted = slurm_status(
            run_dir, started=state.started_at is not None, ended=settled, since=ended_at if settled else None
        )
        if submitted is not None:
            status, problem = submitted[0], submitted[1]
    if status == "stopped" and was_pruned(run_dir):
        status = "pruned"
    best = [m.val_acc for m in state.epochs if math.isfinite(m.val_acc)]
    # its first start: a continued run keeps its place (process.json is its latest process's)
    # (0.0: folded above with now=0.0, an event without a time: not known)
    started = (
        state.first_started_at
        if state.first_started_at
        else process.started_at
        if process is not None
        else _created(run_dir)
    )
    return RunRow(
        path=path,
        status=status,
        model=state.model or config.model_name,
        dataset=state.dataset or config.dataset.name,
        epoch=state.epochs_done,
        epochs=state.epochs_total,
        best_val_acc=max(best) if best else None,
        test_acc=read_test_accuracy(run_dir),
        images_per_s=state.epochs[-1].images_per_s if state.epochs else None,
        device=state.device_name or state.device,
        started_at=started,
        duration_s=sum(m.epoch_time_s for m in state.epochs) if state.epochs else None,
        problem=problem,
    )


def queued_row(run_dir: str | Path) -> RunRow | None:
    """The row of a run in the box's queue that has not started: queued (with its position)
    or cancelled; None for any other run."""
    record = read_queued(run_dir)
    if record is None:
        return None
    if record.started_at is not None:  # taken by the runner, its process not yet holding the run
        if time.time() - record.started_at < QUEUE_START_S:
            return RunRow(path=str(run_dir), status="starting", started_at=record.started_at)
        said = last_output_line(run_dir)
        return RunRow(
            path=str(run_dir),
            status="failed",
            started_at=record.started_at,
            problem="the queue could not start it" + (f": {said}" if said else ""),
        )
    if record.cancelled_at is not None:
        return RunRow(
            path=str(run_dir),
            status="cancelled",
            problem="cancelled while it waited in the queue",
            started_at=record.queued_at,
        )
    place = position(run_dir)
    model, dataset, epochs = _requested(run_dir)
    return RunRow(
        path=str(run_dir),
        status="queued",
        problem=f"position {place} in the queue",
        started_at=record.queued_at,
        position=place,
        model=model,
        dataset=dataset,
        epochs=epochs,
    )


class _Request(msgspec.Struct):
    spec: dict = {}
    config: dict = {}


def _requested(run_dir: str | Path) -> tuple[str, str, int]:
    """(model, dataset, epochs) a waiting run was queued with ("", "", 0) when unreadable."""
    try:
        request = msgspec.json.decode((Path(run_dir) / REQUEST_FILE).read_bytes(), type=_Request)
        model = request.spec.get("model", {}).get("name", "")
        epochs = request.config.get("epochs", 0)
        return (
            model if isinstance(model, str) else "",
            str(request.config.get("dataset", "")),
            epochs if isinstance(epochs, int) else 0,
        )
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, AttributeError):
        return "", "", 0


def _lock_taken(run_dir: str | Path) -> float | None:
    record = read_lock_record(run_dir)
    return record.taken_at if record is not None else None


class NotTraining(ValueError):
    """A run asked to stop, pause or resume that no process trains, in one line."""


def steer_run(run_dir: str | Path, command: str, status: str | None = None, name: str | None = None) -> None:
    """Ask the process training ``run_dir`` to stop, pause or resume, through control.json
    (it looks 4 times a second): what `tui-cnn stop|pause|resume` and the Runs screen do.
    ``status``: the run's as just read (else it is read now). NotTraining when no process
    trains it; OSError when control.json cannot be written."""
    status = run_row(run_dir).status if status is None else status
    if status in WAITING and command == "stop":  # queued here, or a SLURM job still pending: it never starts
        record = read_queued(run_dir)
        if record is not None and record.waiting:
            cancel_queued(run_dir)
        else:
            cancel_pending(run_dir)
        return
    if status not in LIVE:  # a starting run hears it once it trains
        hint = f" (continue it with tui-cnn train --resume {run_dir})" if status in CONTINUABLE else ""
        raise NotTraining(f"{name or run_dir} is {status}, not training: nothing to {command}{hint}")
    write_control(run_dir, command)


def continuation(run_dir: str | Path, **changes) -> tuple[ModelSpec | ModuleSource, TrainConfig]:
    """The model and settings that continue ``run_dir`` from its last checkpoint, with
    ``changes`` on top (e.g. ``epochs=20`` to train further): what `tui-cnn train --resume`
    and the Runs screen's continue start. RunFileError, in one line, for an unreadable run."""
    run = read_run_config(run_dir)
    if run.script:
        raise RunFileError(
            f"{run_dir} was logged by your own training loop ({run.script}): tui-cnn has no model "
            "or checkpoint of it to continue; run your script again"
        )
    try:
        spec = run.module or spec_from_dict(run.spec, f"{run_dir}/config.json")
    except (SpecError, RecursionError) as exc:
        raise RunFileError(
            f"{run_dir}/config.json holds no readable model ({str(exc) or type(exc).__name__})"
        ) from None
    config = run.train_config()
    return spec, replace(config, **{**changes, "resume": str(run_dir), "run_dir": str(run_dir)})


def _created(run_dir: str | Path) -> float | None:
    try:
        return (Path(run_dir) / "config.json").stat().st_mtime
    except OSError:
        return None


def list_runs(base: str | Path) -> list[RunRow]:
    """Every run directory under ``base`` (a folder holding config.json, or one a process has
    taken and not yet written), newest first. An entry that cannot be looked at (a loop of
    links, no permission) is listed unreadable, with why; the others are listed all the same.
    OSError when ``base`` itself cannot be read (no runs folder yet: no runs)."""
    return newest_first(run_row(path) for path in run_folders(base, missing_ok=True) if is_run_folder(path))


def run_folders(base: str | Path, missing_ok: bool = False) -> list[str]:
    """The folders right inside ``base``, and the entries that may be ones but cannot be
    looked at (a loop of links, no permission): each one's run_row says why."""
    try:
        with os.scandir(base) as entries:
            return [entry.path for entry in entries if _may_be_a_folder(entry)]
    except FileNotFoundError:
        if missing_ok:
            return []
        raise


def _may_be_a_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a loop of links, a link into a folder we may not enter: not ours to judge
        return True


def is_run_folder(path: str) -> bool:
    """Whether ``path`` holds a run: its config.json, or the lock of a process starting one.
    A folder that cannot be looked at counts (its row says why)."""
    try:
        os.stat(path)
    except (FileNotFoundError, ValueError):
        return False
    except OSError:  # a loop of links, no permission
        return True
    return any(os.path.lexists(os.path.join(path, name)) for name in RUN_MARKERS)


def unreadable_folder_message(base: str | Path, exc: OSError) -> str:
    """Why the runs folder cannot be listed, in one line ("permission denied")."""
    return f"cannot list the runs in {base}: {(exc.strerror or str(exc)).lower()}"


def newest_first(rows) -> list[RunRow]:
    return sorted(rows, key=row_order, reverse=True)


def row_order(row: RunRow) -> tuple[float, str]:
    """Where a row goes in the list, newest first when sorted in reverse: by its start (a
    hand-edited process.json's NaN would scramble the order: it counts as no start)."""
    started = row.started_at if row.started_at is not None and math.isfinite(row.started_at) else 0.0
    return started, row.path


# --- watching a runs folder: stats, not reads ---

#: The files a run's row is read from: while none changed size or mtime, the row has not.
ROW_FILES = (
    "config.json",
    "events.jsonl",
    "metrics.jsonl",
    "eval.json",
    "process.json",
    LOCK_FILE,
    JOB_FILE,
    QUEUE_FILE,
    PRUNED_FILE,
)
#: What makes a folder a run's: its config.json, or the lock of a process starting one.
RUN_MARKERS = ("config.json", LOCK_FILE, JOB_FILE, QUEUE_FILE)
Stamp = tuple[tuple[int, int] | None, ...]


def run_stamp(run_dir: str) -> Stamp | None:
    """Each of ROW_FILES' (mtime_ns, size), None for one not there; None for a folder that
    is no run (neither config.json nor a lock file). One stat a file: nothing is opened. A
    folder that cannot be looked at (a loop of links) has a stamp of its own: it is listed,
    unreadable, with why."""
    stamp: list[tuple[int, int] | None] = []
    for name in ROW_FILES:
        try:
            info = os.stat(os.path.join(run_dir, name))
        except (FileNotFoundError, NotADirectoryError, ValueError):  # gone, not a folder; a NUL in a name
            stamp.append(None)
        except OSError as exc:  # a loop of links, no permission
            return ((-1, exc.errno or 0),)
        else:
            stamp.append((info.st_mtime_ns, info.st_size))
    marked = any(stamp[index] is not None for index, name in enumerate(ROW_FILES) if name in RUN_MARKERS)
    return tuple(stamp) if marked else None


def _folders(base: str) -> tuple[list[str], str | None]:
    """The folders in ``base``, and why there are none when it cannot be read."""
    try:
        return run_folders(base, missing_ok=True), None
    except OSError as exc:  # not readable, not a folder
        return [], unreadable_folder_message(base, exc)


@dataclass
class RunChanges:
    read: list[str] = field(default_factory=list)  # new runs and runs whose files changed: read their rows
    gone: list[str] = field(default_factory=list)  # deleted, or no longer a run
    problem: str | None = None  # why the runs folder cannot be read ("permission denied")


class RunWatch:
    """Which runs under ``base`` changed since the last look, told from their files' sizes
    and mtimes alone (os.scandir, and a stat a file), so that the Runs screen can look twice
    a second at a thousand runs and read again only the rows that changed.

    New folders and live runs (the caller says which) are looked at every poll; settled runs
    every SETTLED_S, for only another process continuing one changes them. A run whose
    process died changes no file: the process of each live run is asked for every LIVENESS_S
    (cheap: a kill(pid, 0)), and a dead one is read again, to show it crashed."""

    SETTLED_S = 2.0
    LIVENESS_S = 2.0

    def __init__(
        self,
        base: str | Path,
        clock: Callable[[], float] = time.monotonic,
        alive: Callable[[str], bool] = run_process_alive,
    ) -> None:
        self.base = str(base)
        self.stamps: dict[str, Stamp] = {}
        self._clock, self._alive = clock, alive
        self._settled_at = self._liveness_at = -math.inf

    def poll(self, live: Collection[str] = (), everything: bool = False) -> RunChanges:
        """What changed since the last poll; ``everything``: every run is read again."""
        now = self._clock()
        full = everything or now - self._settled_at >= self.SETTLED_S
        if full:
            self._settled_at = now
        ask_alive = now - self._liveness_at >= self.LIVENESS_S
        if ask_alive:
            self._liveness_at = now
        changes = RunChanges()
        folders, changes.problem = _folders(self.base)
        for path in folders:
            known = path in self.stamps
            if known and not full and path not in live:
                continue
            stamp = run_stamp(path)
            if stamp is None:
                if self.stamps.pop(path, None) is not None:
                    changes.gone.append(path)
            elif everything or stamp != self.stamps.get(path):
                self.stamps[path] = stamp
                changes.read.append(path)
            elif ask_alive and path in live and not self._alive(path):
                changes.read.append(path)
        present = set(folders)
        for path in [path for path in self.stamps if path not in present]:
            del self.stamps[path]
            changes.gone.append(path)
        return changes


# --- what may be done to a run ---


def deletion_refused(run_dir: str | Path, base: str | Path) -> str | None:
    """Why ``run_dir`` may not be deleted as a run of ``base``; None when it may: a real
    folder right inside ``base`` that holds config.json. Never a link: deleting through one
    would delete a folder somewhere else (or only the link, leaving the run listed)."""
    path, name = Path(run_dir), Path(run_dir).name
    if path.is_symlink():
        return f"{name} is a link, not a run folder: remove it yourself"
    try:
        inside = path.resolve(strict=True).parent == Path(base).resolve(strict=True)
    except (OSError, RuntimeError):  # gone; a loop of links
        return f"{name} is no longer there"
    if not inside or not path.is_dir():
        return f"{name} is not a folder in {base}"
    if not any(os.path.lexists(path / marker) for marker in RUN_MARKERS):
        return f"{name} holds no config.json: it is not a run"
    return None


def continue_refused(row: RunRow) -> str | None:
    """Why ``row``'s run cannot be continued; None when it can (it ended, and left the
    checkpoint of its last epoch to go on from)."""
    name = Path(row.path).name
    if row.status not in CONTINUABLE:
        return f"{name} is {row.status}: a stopped, crashed or finished run continues"
    if not (Path(row.path) / LAST_CHECKPOINT).is_file():
        return f"{name} has no {LAST_CHECKPOINT} to continue from (one is written after each epoch)"
    return None


def default_epochs(row: RunRow) -> int:
    """How many epochs in all a continued run trains unless told: those it was to train when
    it ended before them (stopped, crashed), else 5 more."""
    maximum = SETTINGS["epochs"].maximum
    assert maximum is not None  # the epochs setting declares one
    most = int(maximum)
    return min(row.epochs if row.epoch < row.epochs else row.epoch + 5, most)


def parse_epochs_total(text: str, done: int) -> int:
    """The epochs in all typed for a run that has trained ``done``; SettingError says why not."""
    epochs = parse_setting("epochs", SETTINGS["epochs"], text)
    if epochs <= done:
        raise SettingError(f"it has trained {count(done, 'epoch')}: continue to more than {done}")
    return epochs
