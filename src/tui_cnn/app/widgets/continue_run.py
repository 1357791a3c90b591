"""Asks how many epochs in all a run that ended trains when continued from its last
checkpoint: enter continues, escape cancels (None). The number is refused as the CLI's
--epochs refuses it, and it must be more than the epochs already trained."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from ...domain.format import count
from ...domain.run_list import RunRow, default_epochs, parse_epochs_total
from ...domain.run_table import run_name
from ...domain.settings import SettingError
from .dialog import Dialog
from .typed_input import TypedInput
from .validators import ParsedBy


class ContinueRunScreen(Dialog[int | None]):
    AUTO_FOCUS = "#epochs"  # if still there when shown (see ConfirmScreen)
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    ContinueRunScreen { align: center middle; }
    ContinueRunScreen > #dialog {
        width: 64; max-width: 100%; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    ContinueRunScreen #epochs { margin: 1 0 0 0; }
    ContinueRunScreen #continue-error { color: $text-error; }
    ContinueRunScreen .hint { color: $text-muted; }
    """

    def __init__(self, row: RunRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        with Vertical(id="dialog"):
            yield Label(Text(f"Continue {run_name(row.path)}", style="bold"))
            yield Static(
                f"It {row.status} after {row.epoch} of {count(row.epochs, 'epoch')}. It goes on from its last "
                "checkpoint, in the background, to this many epochs in all:",
                markup=False,
            )
            yield TypedInput(
                str(default_epochs(row)),
                id="epochs",
                restrict=r"[0-9_e.+-]*",
                max_length=12,
                validators=[ParsedBy(partial(parse_epochs_total, done=row.epoch))],
            )
            yield Static(id="continue-error", markup=False)
            yield Label("enter continues · escape cancels", classes="hint")

    def on_input_changed(self, event: Input.Changed) -> None:
        failure = event.validation_result
        self.query_one("#continue-error", Static).update(
            "" if failure is None or failure.is_valid else f"✗ {failure.failure_descriptions[0]}"
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            epochs = parse_epochs_total(event.value, self.row.epoch)
        except SettingError as exc:
            self.query_one("#continue-error", Static).update(f"✗ {exc}")
            return
        self.dismiss(epochs)
