"""What the monitor knows about one run: the one fold of the engine's events into a run's
state (the monitor following a run, the runs list, the headless reporter's figures), or a
run directory without events read from its files. Pure Python: the widgets render from it,
the tests check it. Times are wall-clock (time.time()): an event carries when it happened,
so a monitor attaching to a run an hour old shows the hour."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .run_events import (
    BatchProgress,
    EpochEnd,
    Evaluated,
    Failed,
    Finished,
    Paused,
    Resumed,
    RunStarted,
    Stopped,
    TrainingEvent,
)
from .run_files import read_evaluation, read_metrics, read_run_config
from .run_records import EpochMetrics, Evaluation, RunFileError
from .train_config import TrainConfig

#: A run in one of these states has a live trainer behind it.
ACTIVE = ("starting", "running", "paused", "stopping")


@dataclass
class RunState:
    #: idle | starting | running | paused | stopping | finished | stopped | failed | crashed (its
    #: process gone with no end event) | loaded (read from files, no events to say more)
    status: str = "idle"
    model: str = ""
    dataset: str = ""
    device: str = ""
    device_name: str = ""
    processes: int = 1  # > 1: a distributed run (on CUDA, GPUs 0..processes-1 of its machine)
    script: str = ""  # your own training loop's script (tui_cnn.init): no checkpoints, no model
    run_dir: str | None = None
    epochs_total: int = 0
    batches_per_epoch: int = 0
    start_epoch: int = 1
    epochs: list[EpochMetrics] = field(default_factory=list)
    best_epoch: int | None = None
    batch: BatchProgress | None = None
    #: (batch number, loss) within the current epoch, for the per-batch plot
    batch_losses: list[tuple[int, float]] = field(default_factory=list)
    evaluation: Evaluation | None = None
    failure: str | None = None
    started_at: float | None = None  # time.time() when the run (its latest process) started
    first_started_at: float | None = None  # when it first started: a continued run keeps it
    finished_after_s: float | None = None  # the run's duration once it has ended
    #: what could not be read from the run's files (a bad line, a corrupted eval.json)
    problems: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def current_epoch(self) -> int:
        """The epoch being trained (or the last one trained, once the run is over)."""
        if self.batch is not None:
            return self.batch.epoch
        return self.epochs[-1].epoch if self.epochs else self.start_epoch

    @property
    def epochs_done(self) -> int:
        return self.epochs[-1].epoch if self.epochs else self.start_epoch - 1

    @property
    def peak_mem_bytes(self) -> int | None:
        peaks = [m.peak_mem_bytes for m in self.epochs if m.peak_mem_bytes is not None]
        return max(peaks) if peaks else None

    def elapsed_s(self, now: float) -> float:
        if self.finished_after_s is not None:
            return self.finished_after_s
        if self.started_at is None:
            return sum(m.epoch_time_s for m in self.epochs)
        return now - self.started_at

    # --- folding events in ---

    def apply(self, event: TrainingEvent, now: float | None = None) -> None:
        """Fold one event in, at the time it happened (``now`` for events without one)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            at = event.at
            when = at if at is not None and math.isfinite(at) else (time.time() if now is None else now)
            handler(self, event, when)

    def crashed(self, reason: str, now: float | None = None) -> None:
        """Its process is gone and it wrote no end event (killed, the machine rebooted):
        it can be continued from its last checkpoint."""
        self._ended("crashed", time.time() if now is None else now)
        self.failure = reason

    def _started(self, event: RunStarted, now: float) -> None:
        self.status = "running"
        self.model, self.dataset = event.model, event.dataset
        # where the run is now, when known: a directory moved or copied from another machine
        # still says where it was written first
        self.run_dir = self.run_dir or event.run_dir
        self.device, self.device_name, self.processes = event.device, event.device_name, event.processes
        self.script = event.script
        self.epochs_total, self.batches_per_epoch = event.epochs, event.batches_per_epoch
        self.start_epoch, self.started_at = event.start_epoch, now
        if self.first_started_at is None:
            self.first_started_at = now
        # A run resumes from its last checkpoint: what an earlier process did past it (a
        # partial epoch killed mid-way, an epoch whose checkpoint never committed) is gone
        # from the run, and its batch progress must not mix into the resumed epoch's plot.
        self.epochs = [m for m in self.epochs if m.epoch < event.start_epoch]
        if self.batch is not None and self.batch.epoch > event.start_epoch:
            self.batch = None
        same_epoch = self.batch is not None and self.batch.epoch == event.start_epoch
        self.batch_losses = [
            (batch, loss) for batch, loss in self.batch_losses if same_epoch and batch <= event.start_batch
        ]
        if self.best_epoch is not None and self.best_epoch >= event.start_epoch:
            self.best_epoch = _best(self.epochs)

    def _batch(self, event: BatchProgress, now: float) -> None:
        if self.batch is None or event.epoch != self.batch.epoch:
            self.batch_losses = []
        self.batch = event
        self.batch_losses.append((event.batch, event.loss))

    def _epoch_end(self, event: EpochEnd, now: float) -> None:
        number = event.metrics.epoch
        if self.epochs and number <= self.epochs[-1].epoch:  # not the usual next epoch (no search for that)
            if any(m.epoch == number for m in self.epochs):
                # Two ends of one epoch in one run: two trainers wrote it at once (before runs
                # were locked). The last one stands; the repeat is said, never a crash.
                self.epochs = [m for m in self.epochs if m.epoch != number]
                _note_once(
                    self.problems,
                    f"events.jsonl: epoch {number} ended twice (two processes trained this "
                    "run?): the last one is shown",
                )
            self.epochs.append(event.metrics)
            self.epochs.sort(key=lambda m: m.epoch)
        else:
            self.epochs.append(event.metrics)
        if event.best:
            self.best_epoch = number

    def _evaluated(self, event: Evaluated, now: float) -> None:
        self.evaluation = event.evaluation

    def _ended(self, status: str, now: float) -> None:
        self.status = status
        if self.started_at is not None:
            self.finished_after_s = now - self.started_at

    def _finished(self, event: Finished, now: float) -> None:
        self._ended("finished", now)
        self.best_epoch = event.best_epoch or self.best_epoch

    def _stopped(self, event: Stopped, now: float) -> None:
        self._ended("stopped", now)

    def _failed(self, event: Failed, now: float) -> None:
        self._ended("failed", now)
        self.failure = event.reason

    def _paused(self, event: Paused, now: float) -> None:
        if self.status in ("running", "stopping"):
            self.status = "paused"

    def _resumed(self, event: Resumed, now: float) -> None:
        if self.status == "paused":
            self.status = "running"

    # --- a run without events, from its files ---

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> "RunState":
        """A run read from its files. RunFileError (one line) when config.json is missing or
        corrupted; a bad line of metrics.jsonl or a corrupted eval.json loses only itself,
        and is said in ``problems``."""
        run = read_run_config(run_dir)
        problems: list[str] = []
        try:
            config = run.train_config()
        except RunFileError as exc:
            problems.append(str(exc))
            config = TrainConfig()
        epochs = _last_per_epoch(read_metrics(run_dir, problems), problems)
        state = cls(
            status="loaded",
            run_dir=str(run_dir),
            epochs=epochs,
            evaluation=read_evaluation(run_dir, problems),
            problems=problems,
        )
        state.model = run.model_name or Path(run_dir).name
        state.script = run.script
        state.dataset = run.dataset.name or config.dataset
        state.device = run.device.kind or config.device
        state.device_name = run.device.name
        processes = run.config.get("nproc_per_node", 1)
        state.processes = processes if isinstance(processes, int) and processes > 0 else 1
        state.epochs_total = max(config.epochs, state.epochs_done)
        state.best_epoch = _best(epochs)
        return state


def _best(epochs: list[EpochMetrics]) -> int | None:
    """The best validation epoch (the first of equals, as the trainer picks it)."""
    if not epochs:
        return None
    return max(epochs, key=lambda m: m.val_acc if m.val_acc == m.val_acc else -1.0).epoch


def _last_per_epoch(epochs: list[EpochMetrics], problems: list[str]) -> list[EpochMetrics]:
    """metrics.jsonl's lines, one per epoch (the last of repeats, which two trainers of one
    run wrote before runs were locked: said in ``problems``), in epoch order."""
    by_epoch = {m.epoch: m for m in epochs}
    if len(by_epoch) < len(epochs):
        repeated = sorted(number for number, count in Counter(m.epoch for m in epochs).items() if count > 1)
        problems.append(
            f"metrics.jsonl: epoch {', '.join(map(str, repeated))} recorded more than once "
            "(two processes trained this run?): the last line of each is shown"
        )
    return [by_epoch[number] for number in sorted(by_epoch)]


def _note_once(problems: list[str], problem: str) -> None:
    if problem not in problems:
        problems.append(problem)


# Each handler takes its own event type: Any, as a dict cannot tie a key's type to its value's.
_HANDLERS: dict[type, Callable[[RunState, Any, float], None]] = {
    RunStarted: RunState._started,
    BatchProgress: RunState._batch,
    EpochEnd: RunState._epoch_end,
    Evaluated: RunState._evaluated,
    Finished: RunState._finished,
    Stopped: RunState._stopped,
    Failed: RunState._failed,
    Paused: RunState._paused,
    Resumed: RunState._resumed,
}
