"""What ``tui-cnn train --headless`` prints, as a training-event listener: rich progress
bars and a growing epoch table on a terminal; one plain line per epoch when stdout is a
file or a pipe (CI, nohup, SLURM), so logs never fill with redrawn bars."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..domain.format import count
from ..domain.run_state import RunState
from ..domain.training import (BatchProgress, EpochEnd, EpochMetrics, Evaluated, Finished, LogMessage, Paused,
                               Resumed, RunStarted, Stopped, TrainingEvent, validation_source)

EPOCH_COLUMNS = ("epoch", "loss", "acc", "val loss", "val acc", "lr", "time", "img/s", "")


def epoch_cells(m: EpochMetrics, epochs: int, best: bool) -> list[str]:
    return [f"{m.epoch}/{epochs}", f"{m.train_loss:.4f}", f"{m.train_acc:.2%}", f"{m.val_loss:.4f}",
            f"{m.val_acc:.2%}", f"{m.lr:.3g}", f"{m.epoch_time_s:.1f}s", f"{m.images_per_s:,.0f}", "best" if best else ""]


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
            self.note(f"training {event.model} ({event.params:,} parameters) on {event.dataset} "
                      f"({event.train_size:,} train / {event.val_size:,} validation images: "
                      f"{validation_source(float(event.config.get('val_fraction', 0) or 0))}) on {event.device} "
                      f"({event.device_name})" + (f" x {event.processes} processes (DDP)" if event.processes > 1 else "")
                      + f": {count(event.epochs, 'epoch')} of {count(event.batches_per_epoch, 'batch')}"
                      + (f", resuming at epoch {event.start_epoch}" if event.start_epoch > 1 else ""))
            self.note(f"run directory: {event.run_dir}")
            self.started(event)
        elif isinstance(event, BatchProgress):
            self.progress(event)
        elif isinstance(event, EpochEnd):
            self.epoch_end(event)
        elif isinstance(event, Evaluated):
            ev = event.evaluation
            worst = min(range(len(ev.per_class_accuracy)), key=ev.per_class_accuracy.__getitem__)
            self.note(f"{ev.split} accuracy {ev.accuracy:.2%}, scored once at the end (weakest class {ev.classes[worst]}: "
                      f"{ev.per_class_accuracy[worst]:.0%}); details in {self.run_dir}/eval.json")
        elif isinstance(event, Finished):
            self.note(f"finished in {event.total_time_s:.1f}s: best validation accuracy {event.best_val_acc:.2%} "
                      f"at epoch {event.best_epoch}")
        elif isinstance(event, Stopped):
            self.note(f"stopped in epoch {event.epoch}; checkpoint kept: {event.checkpoint}\n"
                      f"continue with: tui-cnn train --resume {self.run_dir} --headless")
        elif isinstance(event, LogMessage):
            self.log(event)
        elif isinstance(event, (Paused, Resumed)):
            self.note("paused" if isinstance(event, Paused) else "resumed")

    def note(self, text: str) -> None:
        click.echo(text)

    def log(self, event: LogMessage) -> None:
        click.echo(event.message if event.level == "info" else f"{event.level}: {event.message}",
                   err=event.level == "error")

    def started(self, event: RunStarted) -> None:
        pass

    def progress(self, event: BatchProgress) -> None:
        pass

    def epoch_end(self, event: EpochEnd) -> None:
        cells = epoch_cells(event.metrics, self.epochs, event.best)
        click.echo("  ".join(f"{name} {cell}" if name else cell for name, cell in zip(EPOCH_COLUMNS, cells)).rstrip())


class _TableProgress(Progress):
    """Progress bars under the table of finished epochs, in one live display."""

    def __init__(self, table: Table, *columns: Any, **kwargs: Any) -> None:
        self.table = table  # before Progress.__init__, which renders once
        super().__init__(*columns, **kwargs)

    def get_renderables(self):
        if self.table.row_count:
            yield self.table
        yield from super().get_renderables()


class RichReporter(Reporter):
    def __init__(self) -> None:
        super().__init__()
        self.console = Console()
        self.table = Table(*EPOCH_COLUMNS, title_justify="left")
        for column in self.table.columns[1:]:
            column.justify = "right"
        self.bars = _TableProgress(
            self.table, TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=self.console)
        self.overall = self.epoch = None

    def __enter__(self) -> "RichReporter":
        self.bars.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bars.stop()

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def log(self, event: LogMessage) -> None:
        if event.level == "error":
            print(event.message, file=sys.stderr)
        else:
            self.note(event.message if event.level == "info" else f"{event.level}: {event.message}")

    def started(self, event: RunStarted) -> None:
        total = event.epochs * event.batches_per_epoch
        done = (event.start_epoch - 1) * event.batches_per_epoch
        self.overall = self.bars.add_task("overall", total=total, completed=done, status="")
        self.epoch = self.bars.add_task(f"epoch {event.start_epoch}", total=event.batches_per_epoch, status="")

    def progress(self, event: BatchProgress) -> None:
        status = f"loss {event.smoothed_loss:.4f}  {event.images_per_s:,.0f} img/s"
        self.bars.update(self.epoch, description=f"epoch {event.epoch}", completed=event.batch, status=status)
        done = (event.epoch - 1) * event.batches + event.batch
        self.bars.update(self.overall, completed=done, status=f"epoch {event.epoch}/{self.epochs}")

    def epoch_end(self, event: EpochEnd) -> None:
        self.table.add_row(*epoch_cells(event.metrics, self.epochs, event.best))
        if event.metrics.epoch < self.epochs:
            self.bars.reset(self.epoch, description=f"epoch {event.metrics.epoch + 1}", status="")


def make_reporter(interactive: bool) -> Reporter:
    return RichReporter() if interactive else Reporter()
