"""The events the training engine emits (one line of events.jsonl each, and of a training
process's stdout), and how they are encoded and decoded."""

from __future__ import annotations

import json
from typing import Any

from .run_records import EpochMetrics, Evaluation, _Record, decode, to_json

# --- events: the engine emits these to every listener, from its own thread. One line of
# events.jsonl each: {"event": "<class name>", ...fields}.


class _Event(_Record, frozen=True, tag_field="event", tag=True, kw_only=True):
    #: time.time() when the engine emitted it (None in runs from before it was written): a
    #: monitor attaching to a run later folds its events with the times they happened.
    at: float | None = None


class RunStarted(_Event, frozen=True):
    run_dir: str
    model: str
    config: dict[str, Any]
    device: str  # "cuda" | "cpu" | "mps"
    device_name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU's name
    dataset: str
    train_size: int
    val_size: int
    test_size: int
    params: int
    epochs: int
    batches_per_epoch: int
    start_epoch: int = 1  # > 1 when resumed
    #: batches of start_epoch already trained (a run stopped mid-epoch): progress of that epoch
    #: past them, from before this start, was lost with the process that trained it
    start_batch: int = 0
    processes: int = 1  # > 1: a distributed run (DDP), these events from its rank 0
    script: str = ""  # your own training loop's script (tui_cnn.init), as in config.json


class BatchProgress(_Event, frozen=True):
    epoch: int
    batch: int  # 1-based, batches done in this epoch
    batches: int
    step: int  # global optimizer step
    loss: float  # loss of the latest batch
    smoothed_loss: float  # exponential moving average
    images_per_s: float
    lr: float
    elapsed_s: float  # since the epoch began


class EpochEnd(_Event, frozen=True):
    metrics: EpochMetrics
    best: bool  # best validation accuracy so far


class Evaluated(_Event, frozen=True):
    evaluation: Evaluation


class Finished(_Event, frozen=True):
    best_epoch: int
    best_val_acc: float
    total_time_s: float


class Stopped(_Event, frozen=True):
    epoch: int
    checkpoint: str | None


class Failed(_Event, frozen=True):
    reason: str  # what went wrong and what to do, in plain words
    step: int | None = None


class Paused(_Event, frozen=True):
    pass


class Resumed(_Event, frozen=True):
    pass


class LogMessage(_Event, frozen=True):
    message: str
    level: str = "info"  # info | warning | error


TrainingEvent = (
    RunStarted | BatchProgress | EpochEnd | Evaluated | Finished | Stopped | Failed | Paused | Resumed | LogMessage
)


EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (RunStarted, BatchProgress, EpochEnd, Evaluated, Finished, Stopped, Failed, Paused, Resumed, LogMessage)
}


def event_to_json(event: TrainingEvent) -> dict[str, Any]:
    """``{"event": "EpochEnd", ...fields}``: one line of events.jsonl."""
    return to_json(event)


def event_from_json(data: dict[str, Any]) -> TrainingEvent:
    return decode(data, TrainingEvent, "event")


def event_from_line(line: str) -> TrainingEvent | None:
    """One line of events.jsonl (or of a training process's stdout) as an event; None for a
    line that is not one (cut short while being written, or not an event at all)."""
    try:
        return event_from_json(json.loads(line))
    except (ValueError, RecursionError):
        return None
