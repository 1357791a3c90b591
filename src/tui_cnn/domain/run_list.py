"""The runs on this machine, as one row each: the status of a run told from its directory
alone (its events folded by RunState, the one fold; process.json for who trains it), for
`tui-cnn runs` and the Runs screen. Pure Python, no torch."""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path
from typing import Callable

import msgspec
from dataclasses import replace

from .spec import ModelSpec
from .specfile import SpecError, spec_from_dict

from .run_state import RunState
from .training import (BatchProgress, TrainConfig, Evaluated, ProcessRecord, RunFileError, read_events, read_process, read_run_config,
                       read_test_accuracy)

#: Statuses of a run read from disk. crashed: its process is gone and it wrote no end event
#: (it can be continued from its last checkpoint with --resume).
STATUSES = ("running", "paused", "finished", "stopped", "failed", "crashed", "unreadable")
#: A run on another machine (a shared disk) counts as live while it wrote within this long:
#: BatchProgress lines come every few seconds while it trains.
HEARTBEAT_S = 120.0


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
    rows = [run_row(entry.path) for entry in folders]
    return sorted(rows, key=lambda row: (row.started_at or 0.0, row.path), reverse=True)
