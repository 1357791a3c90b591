"""A sweep's table (w on a trial's row of the Runs screen): each trial's parameter values
against its run's status and best validation accuracy, the best marked. Read from the run
files alone (domain/sweep_trials.py); the study itself is `tui-cnn sweep show`'s."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static

from ...domain.format import printable
from ...domain.run_table import run_name
from ...domain.sweep_trials import SweepTrials
from .dialog import Dialog

BEST = "★"


def _value(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class SweepScreen(Dialog[None]):
    BINDINGS = [Binding("escape,w,q", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    SweepScreen { align: center middle; }
    SweepScreen > #dialog {
        width: 100; max-width: 100%; height: auto; max-height: 90%; border: thick $primary; background: $surface;
        padding: 1 2;
    }
    SweepScreen #sweep-trials { height: auto; max-height: 20; margin: 1 0; }
    SweepScreen .hint { color: $text-muted; }
    """

    def __init__(self, sweep: SweepTrials) -> None:
        super().__init__()
        self.sweep = sweep

    def compose(self) -> ComposeResult:
        sweep, record = self.sweep, self.sweep.record
        best = sweep.best
        searched = " ".join(f"{p.name}={p.values_text}" for p in record.params)
        with Vertical(id="dialog"):
            yield Label(Text(f"Sweep {printable(run_name(sweep.sweep_dir))}", style="bold"))
            yield Static(
                f"{len(sweep.trials)} of {record.trials} trials · searching {searched}"
                f"{' · pruning' if record.prune else ''}",
                markup=False,
            )
            yield DataTable(id="sweep-trials", cursor_type="row")
            yield Static(
                "best: "
                + (
                    f"trial {best.number}, validation accuracy {best.row.best_val_acc:.2%} "
                    f"({printable(run_name(best.row.path))})"
                    if best
                    else "none finished yet"
                ),
                id="sweep-best",
                markup=False,
            )
            yield Label("escape closes · tui-cnn compare SWEEP_DIR compares the trials", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#sweep-trials", DataTable)
        names = [param.name for param in self.sweep.record.params]
        table.add_columns("", "trial", "status", "best val", *names, "run")
        best = self.sweep.best
        for trial in self.sweep.trials:
            accuracy = trial.row.best_val_acc
            table.add_row(
                BEST if best is not None and trial is best else "",
                str(trial.number),
                trial.row.status,
                "—" if accuracy is None else f"{accuracy:.2%}",
                *[_value(trial.params.get(name)) for name in names],
                Text(printable(run_name(trial.row.path))),
            )
        table.focus()
