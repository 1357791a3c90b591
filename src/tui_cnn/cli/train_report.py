"""What ``tui-cnn train --headless`` prints, as a training-event listener: rich progress
bars and a growing epoch table on a terminal; one plain line per epoch when stdout is a
file or a pipe (CI, nohup, SLURM), so logs never fill with redrawn bars."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..domain.format import printable_lines
from ..domain.run_events import BatchProgress, EpochEnd, LogMessage, RunStarted
from ..domain.run_report import EPOCH_COLUMNS, Reporter, epoch_cells


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
            self.table,
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.overall = self.epoch = None

    def __enter__(self) -> "RichReporter":
        self.bars.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bars.stop()

    def note(self, text: str) -> None:
        self.console.print(printable_lines(text), markup=False, highlight=False)

    def log(self, event: LogMessage) -> None:
        if event.level == "error":
            print(printable_lines(event.message), file=sys.stderr)
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
