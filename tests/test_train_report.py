"""What `tui-cnn train --headless` prints on a terminal (the rich reporter): notes and warnings
reach the screen with any escape code in them shown, not obeyed."""

from __future__ import annotations

import io

from rich.console import Console

from tui_cnn.cli.train_report import RichReporter
from tui_cnn.domain.run_events import LogMessage


def test_the_terminal_reporter_prints_notes_warnings_and_errors(capsys):
    reporter = RichReporter()
    reporter.console = Console(file=io.StringIO(), force_terminal=True, width=100)
    reporter.note("MNIST found in \x1b[31mdata")
    reporter.log(LogMessage(message="low memory", level="warning"))
    reporter.log(LogMessage(message="disk \x1b[2J full", level="error"))

    shown = reporter.console.file.getvalue()
    assert "MNIST found in \\x1b[31mdata" in shown and "warning: low memory" in shown
    assert capsys.readouterr().err == "disk \\x1b[2J full\n"
