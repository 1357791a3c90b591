"""Word when a run ends, as plain data: what to say (a title and one line), the terminal's
desktop-notification escapes that say it (OSC 9 and OSC 777, which many terminals show even
over SSH, wrapped for tmux), and the environment a user's notify command gets.

The notify command comes from the person starting the run (``--notify CMD`` or the
``TUI_CNN_NOTIFY`` environment variable), never from a run's files: a run directory copied
from elsewhere cannot make anyone's machine run a command.
"""

from __future__ import annotations

import os

from .format import printable
from .run_state import RunState
from .sweep import was_pruned

#: Where a command given with --notify travels to the training process (never written to the run).
NOTIFY_ENV = "TUI_CNN_NOTIFY"
ENDINGS = ("finished", "failed", "crashed", "stopped", "pruned")


def ended_as(state: RunState) -> str:
    """How the run ended, as the runs list says it: a sweep's trial its driver stopped was pruned."""
    if state.status == "stopped" and state.run_dir and was_pruned(state.run_dir):
        return "pruned"
    return state.status


def end_notice(state: RunState) -> tuple[str, str]:
    """(title, one line) for a run that has ended."""
    model = state.model or "a run"
    title = f"tui-cnn: {model} {ended_as(state)}"
    if state.status == "finished":
        accuracy = state.evaluation.accuracy if state.evaluation is not None else None
        best = max((m.val_acc for m in state.epochs), default=None)
        figures = [
            f"test accuracy {accuracy:.2%}" if accuracy is not None else "",
            f"best validation {best:.2%}" if best is not None else "",
        ]
        body = ", ".join(part for part in figures if part) or "done"
    elif state.failure:
        body = state.failure
    else:
        body = f"after {state.epochs_done} epoch{'s' if state.epochs_done != 1 else ''}"
    where = f" ({state.run_dir})" if state.run_dir else ""
    return title, _one_line(f"{body}{where}")


def terminal_notification(title: str, body: str, in_tmux: bool = False) -> str:
    """The bell and the desktop-notification escapes for ``title`` and ``body``. Inside tmux
    each escape is passed through to the outer terminal (tmux's DCS passthrough)."""
    title, body = _field(title), _field(body)
    sequences = [f"\x1b]9;{title}: {body}\x07", f"\x1b]777;notify;{title};{body}\x07"]
    if in_tmux:
        sequences = ["\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\" for sequence in sequences]
    return "\x07" + "".join(sequences)


def notify_environment(state: RunState, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the user's notify command: the run's status and summary beside the
    caller's own environment."""
    title, body = end_notice(state)
    accuracy = state.evaluation.accuracy if state.evaluation is not None else None
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "TUI_CNN_STATUS": ended_as(state),
            "TUI_CNN_RUN_DIR": state.run_dir or "",
            "TUI_CNN_MODEL": state.model,
            "TUI_CNN_EPOCHS": str(state.epochs_done),
            "TUI_CNN_TEST_ACCURACY": "" if accuracy is None else f"{accuracy:.6f}",
            "TUI_CNN_TITLE": title,
            "TUI_CNN_SUMMARY": body,
        }
    )
    return env


def _one_line(text: str) -> str:
    return printable(" ".join(text.split()))


def _field(text: str) -> str:
    """Text safe inside an OSC field: no control characters (they would end it) and no ';'
    (OSC 777 separates its fields with it)."""
    return _one_line(text).replace(";", ",")[:300]
