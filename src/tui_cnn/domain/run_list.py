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
from .spec import ModelSpec
from .specfile import SpecError, spec_from_dict

from .run_state import RunState
from .settings import SettingError, parse_setting
from .training import (LAST_CHECKPOINT, OUTPUT_LOG, SETTINGS, BatchProgress, TrainConfig, Evaluated, ProcessRecord, RunFileError,
                       read_events, read_process, read_run_config, read_test_accuracy, write_control)

#: Statuses of a run read from disk. crashed: its process is gone and it wrote no end event
#: (it can be continued from its last checkpoint with --resume).
STATUSES = ("running", "paused", "finished", "stopped", "failed", "crashed", "unreadable")
#: A run on another machine (a shared disk) counts as live while it wrote within this long:
#: BatchProgress lines come every few seconds while it trains.
HEARTBEAT_S = 120.0
#: A process trains these (it can be stopped, paused or resumed; not deleted or continued).
LIVE = ("running", "paused")
#: These continue from their last checkpoint, to more epochs.
CONTINUABLE = ("stopped", "crashed", "finished")


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
    problem: str | None = None  # why it is unreadable


def process_alive(record: ProcessRecord | None, heartbeat: float | None, now: float) -> bool:
    """Whether the process training a run is alive: asked of the OS on this machine; on
    another, judged by the run's last write (the heartbeat)."""
    if record is not None and record.host == socket.gethostname():
        try:
            os.kill(record.pid, 0)
        except ProcessLookupError:
            return False
        except (PermissionError, OverflowError, ValueError):  # someone else's process; a silly pid
            return record.pid > 0
        return True
    return heartbeat is not None and now - heartbeat < HEARTBEAT_S


def heartbeat(run_dir: str | Path) -> float | None:
    """When the run last wrote an event (events.jsonl's mtime), or None before its first."""
    try:
        return (Path(run_dir) / "events.jsonl").stat().st_mtime
    except OSError:
        return None


def run_process_alive(run_dir: str | Path, now: float | None = None) -> bool:
    """Whether a process is training ``run_dir`` now (process.json and the heartbeat)."""
    return process_alive(read_process(run_dir), heartbeat(run_dir), time.time() if now is None else now)


def run_row(run_dir: str | Path, now: float | None = None,
            alive: Callable[[ProcessRecord | None, float | None, float], bool] = process_alive) -> RunRow:
    now = time.time() if now is None else now
    path = str(run_dir)
    try:
        config = read_run_config(run_dir)
    except RunFileError as exc:
        return RunRow(path=path, status="unreadable", problem=str(exc))
    state = RunState()
    for event in read_events(run_dir, skip=(BatchProgress, Evaluated)):  # thousands a run; images: no use here
        state.apply(event, now=0.0)  # durations come from the epochs, not from when we read
    if state.status == "idle":  # no RunStarted (yet): what config.json says
        state = RunState.from_run_dir(run_dir)
        state.status = "running"
    process = read_process(run_dir)
    status = state.status
    if status in ("running", "paused", "stopping", "loaded", "starting"):
        live = alive(process, heartbeat(run_dir), now)
        status = ("paused" if state.status == "paused" else "running") if live else "crashed"
    best = [m.val_acc for m in state.epochs if math.isfinite(m.val_acc)]
    started = process.started_at if process is not None else _created(run_dir)
    return RunRow(
        path=path, status=status, model=state.model or config.model_name, dataset=state.dataset or config.dataset.name,
        epoch=state.epochs_done, epochs=state.epochs_total, best_val_acc=max(best) if best else None,
        test_acc=read_test_accuracy(run_dir),
        images_per_s=state.epochs[-1].images_per_s if state.epochs else None,
        device=state.device_name or state.device, started_at=started,
        duration_s=sum(m.epoch_time_s for m in state.epochs) if state.epochs else None)


class NotTraining(ValueError):
    """A run asked to stop, pause or resume that no process trains, in one line."""


def steer_run(run_dir: str | Path, command: str, status: str | None = None, name: str | None = None) -> None:
    """Ask the process training ``run_dir`` to stop, pause or resume, through control.json
    (it looks 4 times a second): what `tui-cnn stop|pause|resume` and the Runs screen do.
    ``status``: the run's as just read (else it is read now). NotTraining when no process
    trains it; OSError when control.json cannot be written."""
    status = run_row(run_dir).status if status is None else status
    if status not in LIVE:
        hint = f" (continue it with tui-cnn train --resume {run_dir})" if status in CONTINUABLE else ""
        raise NotTraining(f"{name or run_dir} is {status}, not training: nothing to {command}{hint}")
    write_control(run_dir, command)


def continuation(run_dir: str | Path, **changes) -> tuple[ModelSpec, TrainConfig]:
    """The model and settings that continue ``run_dir`` from its last checkpoint, with
    ``changes`` on top (e.g. ``epochs=20`` to train further): what `tui-cnn train --resume`
    and the Runs screen's continue start. RunFileError, in one line, for an unreadable run."""
    run = read_run_config(run_dir)
    try:
        spec = spec_from_dict(run.spec, f"{run_dir}/config.json")
    except (SpecError, RecursionError) as exc:
        raise RunFileError(f"{run_dir}/config.json holds no readable model ({str(exc) or type(exc).__name__})") from None
    config = run.train_config()
    return spec, replace(config, **{**changes, "resume": str(run_dir), "run_dir": str(run_dir)})


def _created(run_dir: str | Path) -> float | None:
    try:
        return (Path(run_dir) / "config.json").stat().st_mtime
    except OSError:
        return None


def list_runs(base: str | Path) -> list[RunRow]:
    """Every run directory under ``base`` (a folder holding config.json), newest first."""
    try:
        folders = [entry for entry in os.scandir(base) if entry.is_dir() and os.path.exists(os.path.join(entry.path, "config.json"))]
    except OSError:
        return []
    return newest_first(run_row(entry.path) for entry in folders)


def newest_first(rows) -> list[RunRow]:
    return sorted(rows, key=row_order, reverse=True)


def row_order(row: RunRow) -> tuple[float, str]:
    """Where a row goes in the list, newest first when sorted in reverse: by its start (a
    hand-edited process.json's NaN would scramble the order: it counts as no start)."""
    started = row.started_at if row.started_at is not None and math.isfinite(row.started_at) else 0.0
    return started, row.path


# --- watching a runs folder: stats, not reads ---

#: The files a run's row is read from: while none changed size or mtime, the row has not.
ROW_FILES = ("config.json", "events.jsonl", "metrics.jsonl", "eval.json", "process.json")
Stamp = tuple[tuple[int, int] | None, ...]


def run_stamp(run_dir: str) -> Stamp | None:
    """Each of ROW_FILES' (mtime_ns, size), None for one not there; None for a folder that
    is no run (no config.json). One stat a file: nothing is opened."""
    stamp: list[tuple[int, int] | None] = []
    for name in ROW_FILES:
        try:
            info = os.stat(os.path.join(run_dir, name))
        except (OSError, ValueError):  # gone, not a folder, no permission; a NUL in a name
            stamp.append(None)
        else:
            stamp.append((info.st_mtime_ns, info.st_size))
    return tuple(stamp) if stamp[0] is not None else None


def _folders(base: str) -> list[str]:
    try:
        with os.scandir(base) as entries:
            return [entry.path for entry in entries if entry.is_dir()]
    except OSError:  # no runs folder (yet), or not readable: no runs
        return []


@dataclass
class RunChanges:
    read: list[str] = field(default_factory=list)  # new runs and runs whose files changed: read their rows
    gone: list[str] = field(default_factory=list)  # deleted, or no longer a run


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

    def __init__(self, base: str | Path, clock: Callable[[], float] = time.monotonic,
                 alive: Callable[[str], bool] = run_process_alive) -> None:
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
        folders = _folders(self.base)
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
    if not os.path.lexists(path / "config.json"):
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


def last_output_line(run_dir: str | Path) -> str:
    """The last line a detached run's process wrote (output.log): why it ended, when it
    ended before writing any event (no data, a bad checkpoint); "" when there is none."""
    try:
        with open(Path(run_dir) / OUTPUT_LOG, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(log.tell() - 4096, 0))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def default_epochs(row: RunRow) -> int:
    """How many epochs in all a continued run trains unless told: those it was to train when
    it ended before them (stopped, crashed), else 5 more."""
    most = int(SETTINGS["epochs"].maximum)
    return min(row.epochs if row.epoch < row.epochs else row.epoch + 5, most)


def parse_epochs_total(text: str, done: int) -> int:
    """The epochs in all typed for a run that has trained ``done``; SettingError says why not."""
    epochs = parse_setting("epochs", SETTINGS["epochs"], text)
    if epochs <= done:
        raise SettingError(f"it has trained {count(done, 'epoch')}: continue to more than {done}")
    return epochs
