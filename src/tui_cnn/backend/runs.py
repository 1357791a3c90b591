"""A run's directory: the source of truth for a run, written as it goes so that a monitor
(or a person with ``cat``) can follow it by reading the files alone. The layout is
documented in ``tui_cnn.domain.run_dir``."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ..domain.export import export_code
from ..domain.run_dir import BEST_CHECKPOINT
from ..domain.run_events import BatchProgress, EpochEnd, Evaluated, LogMessage, RunStarted
from ..domain.run_files import read_events, read_metrics
from ..domain.run_records import EpochMetrics, RunConfigFile, encode_record

# The run files that need no torch are written by the domain's writer (a user's own loop,
# tui_cnn.init, writes through it too); the trainer finds it here, beside the checkpoints.
from ..domain.run_writer import (  # noqa: F401
    ControlWatcher,
    JsonLines,
    RunDirError,
    RunRecorder,
    write_evaluation,
    write_json,
    write_process,
    write_record,
    writing,
)
from ..domain.spec import ModelSpec
from ..domain.specfile import atomic_write_text
from .faults import fault_point


def versions() -> dict[str, str]:
    import torchvision

    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__)}


def write_config(run_dir: Path, record: RunConfigFile) -> None:
    write_record(run_dir / "config.json", record)


def write_model_code(run_dir: Path, spec: ModelSpec) -> None:
    path = run_dir / "model.py"
    with writing(path):
        atomic_write_text(path, export_code(spec))


# --- checkpoints, and the commit order of an epoch (see Trainer._end_epoch and the README):
# an epoch's checkpoints are staged (PATH.tmp, written whole and synced), then renamed into
# place, checkpoint-last first: that rename is the epoch's commit point. Everything after it
# (checkpoint-best's rename, the metrics line, the EpochEnd event) is derived from
# checkpoint-last on resume if a crash cut it short (``reconcile``).

STAGED = ".tmp"


def staged(path: Path) -> Path:
    return path.with_name(path.name + STAGED)


def serialize_checkpoint(state: dict[str, Any]) -> bytes:
    """torch.save in memory: a full disk is then an OSError of our own write, naming the file
    (torch's writer reports it as "enforce fail at inline_container.cc", in three tracebacks)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def stage_checkpoint(path: Path, data: bytes) -> None:
    """``data`` written whole to PATH.tmp and synced: nothing is replaced yet. A failed write
    leaves no part of it behind (on a full disk, the room is given back)."""
    with writing(path):
        fault_point(f"writing-{path.name}")
        try:
            with open(staged(path), "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            discard_staged(path)
            raise


def discard_staged(path: Path) -> None:
    try:
        staged(path).unlink(missing_ok=True)
    except OSError:
        pass  # removed on resume


def commit_staged(path: Path) -> None:
    """PATH.tmp replaces PATH, and the rename is on the disk (the directory synced)."""
    with writing(path):
        os.replace(staged(path), path)
        _sync_directory(path.parent)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Staged, then renamed: a crash mid-write leaves the previous checkpoint intact."""
    stage_checkpoint(path, serialize_checkpoint(state))
    commit_staged(path)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # a platform without directory fds: the rename stands, unsynced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, in one line (never torch's advice to load it with
    weights_only=False: a file that needs that is one we must not run)."""


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign file's pickle protocol: not for the user
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - refused unpickling, truncated zip, wrong magic: one message
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}); it may be cut short or corrupted"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} holds no model weights")
    return state


# --- resuming: the run directory made to say what checkpoint-last.pt says


def reconcile(run_dir: Path, epoch: int, best_epoch: int, history: list[EpochMetrics]) -> list[EpochMetrics]:
    """After a crash anywhere in an epoch's writes, make the run directory agree with its
    checkpoint-last.pt (``epoch`` epochs done, ``history`` their metrics, from the checkpoint):
    a best checkpoint staged for the committed epoch is renamed into place, orphaned *.tmp
    files go, metrics.jsonl holds each of epochs 1..``epoch`` once (lines for later epochs,
    of an epoch that never committed, are dropped; missing ones rewritten), and a line cut
    short at the end of events.jsonl is cut off. Returns the committed epochs whose EpochEnd
    events.jsonl lacks: the trainer emits them again. RunDirError if it cannot write."""
    _finish_best_rename(run_dir, best_epoch)
    for orphan in (*run_dir.glob("*" + STAGED), *run_dir.glob(".*" + STAGED)):
        if orphan.is_file() and not orphan.is_symlink():
            with writing(orphan):
                orphan.unlink(missing_ok=True)
    kept = {metrics.epoch: metrics for metrics in read_metrics(run_dir) if metrics.epoch <= epoch}
    kept.update({metrics.epoch: metrics for metrics in history})
    path = run_dir / "metrics.jsonl"
    with writing(path):
        atomic_write_text(path, "".join(encode_record(kept[number]) for number in sorted(kept)))
        _cut_partial_last_line(run_dir / "events.jsonl")
    ended: set[int] = set()
    for event in read_events(run_dir, skip=(BatchProgress, Evaluated, LogMessage)):  # as RunState folds them
        if isinstance(event, RunStarted):
            ended = {number for number in ended if number < event.start_epoch}
        elif isinstance(event, EpochEnd):
            ended.add(event.metrics.epoch)
    return [metrics for metrics in history if metrics.epoch not in ended]


def _finish_best_rename(run_dir: Path, best_epoch: int) -> None:
    """A crash between the renames of checkpoint-last.pt (the commit) and checkpoint-best.pt
    leaves the best one staged: rename it now, if it holds the committed best epoch."""
    path = run_dir / BEST_CHECKPOINT
    if not staged(path).is_file():
        return
    try:
        staged_epoch = load_checkpoint(staged(path))["progress"]["epoch"]
    except (CheckpointError, OSError, KeyError, TypeError):
        return  # cut short, or not a checkpoint of ours: an orphan, removed
    if staged_epoch == best_epoch:
        commit_staged(path)


def _cut_partial_last_line(path: Path) -> None:
    """Drop the end of a JSON-lines file after its last newline: a line a crash cut short,
    which the next append would otherwise glue onto its own."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return
    with handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - 65536)
            handle.seek(start)
            chunk = handle.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        if position != end:
            handle.truncate(position)
