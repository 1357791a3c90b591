"""What a training run says as it goes, in plain lines: one per event worth a line (the start,
each epoch, the evaluation, the end; warnings), for a log file or a pipe (CI, nohup, SLURM,
a detached run's output.log). `tui-cnn train --headless` on a terminal draws rich progress
bars over the same events instead (cli/train_report.py). Pure Python: the training process
of a detached run (backend/child.py) writes these lines too."""

from __future__ import annotations

import sys
from typing import Any

from .format import count, printable_lines
from .run_events import (
    BatchProgress,
    EpochEnd,
    Evaluated,
    Finished,
    LogMessage,
    Paused,
    Resumed,
    RunStarted,
    Stopped,
    TrainingEvent,
)
from .run_records import EpochMetrics
from .run_state import RunState
from .train_config import validation_source

EPOCH_COLUMNS = ("epoch", "loss", "acc", "val loss", "val acc", "lr", "time", "img/s", "")


def epoch_cells(m: EpochMetrics, epochs: int, best: bool) -> list[str]:
    return [
        f"{m.epoch}/{epochs}",
        f"{m.train_loss:.4f}",
        f"{m.train_acc:.2%}",
        f"{m.val_loss:.4f}",
        f"{m.val_acc:.2%}",
        f"{m.lr:.3g}",
        f"{m.epoch_time_s:.1f}s",
        f"{m.images_per_s:,.0f}",
        "best" if best else "",
    ]


class Reporter:
    """Turns events into output. What it knows of the run (how it ended, for the exit
    status) is the run's state, folded by the one fold the monitor and the runs list use."""

    def __init__(self) -> None:
        self.state = RunState()

    @property
    def failure(self) -> str | None:
        return self.state.failure if self.state.status == "failed" else None

    @property
    def stopped(self) -> bool:
        return self.state.status == "stopped"

    @property
    def epochs(self) -> int:
        return self.state.epochs_total

    @property
    def run_dir(self) -> str:
        return self.state.run_dir or ""

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __call__(self, event: TrainingEvent) -> None:
        self.state.apply(event)
        if isinstance(event, RunStarted):
            self.note(
                f"training {event.model} ({event.params:,} parameters) on {event.dataset} "
                f"({event.train_size:,} train / {event.val_size:,} validation images: "
                f"{validation_source(float(event.config.get('val_fraction', 0) or 0))}) on {event.device} "
                f"({event.device_name})"
                + (f" x {event.processes} processes (DDP)" if event.processes > 1 else "")
                + f": {count(event.epochs, 'epoch')} of {count(event.batches_per_epoch, 'batch')}"
                + (f", resuming at epoch {event.start_epoch}" if event.start_epoch > 1 else "")
            )
            self.note(f"run directory: {event.run_dir}")
            self.started(event)
        elif isinstance(event, BatchProgress):
            self.progress(event)
        elif isinstance(event, EpochEnd):
            self.epoch_end(event)
        elif isinstance(event, Evaluated):
            ev = event.evaluation
            worst = min(range(len(ev.per_class_accuracy)), key=ev.per_class_accuracy.__getitem__)
            self.note(
                f"{ev.split} accuracy {ev.accuracy:.2%}, scored once at the end (weakest class {ev.classes[worst]}: "
                f"{ev.per_class_accuracy[worst]:.0%}); details in {self.run_dir}/eval.json"
            )
        elif isinstance(event, Finished):
            self.note(
                f"finished in {event.total_time_s:.1f}s: best validation accuracy {event.best_val_acc:.2%} "
                f"at epoch {event.best_epoch}"
            )
        elif isinstance(event, Stopped):
            self.note(
                f"stopped in epoch {event.epoch}; checkpoint kept: {event.checkpoint}\n"
                f"continue with: tui-cnn train --resume {self.run_dir} --headless"
            )
        elif isinstance(event, LogMessage):
            self.log(event)
        elif isinstance(event, (Paused, Resumed)):
            self.note("paused" if isinstance(event, Paused) else "resumed")

    def note(self, text: str) -> None:
        print(printable_lines(text), flush=True)  # names from files never drive the terminal

    def log(self, event: LogMessage) -> None:
        message = printable_lines(event.message)
        print(
            message if event.level == "info" else f"{event.level}: {message}",
            file=sys.stderr if event.level == "error" else sys.stdout,
            flush=True,
        )

    def started(self, event: RunStarted) -> None:
        pass

    def progress(self, event: BatchProgress) -> None:
        pass

    def epoch_end(self, event: EpochEnd) -> None:
        cells = epoch_cells(event.metrics, self.epochs, event.best)
        print(
            "  ".join(f"{name} {cell}" if name else cell for name, cell in zip(EPOCH_COLUMNS, cells)).rstrip(),
            flush=True,
        )
