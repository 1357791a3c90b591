"""The user's notify command, run once when a run ends (``--notify CMD``, or the
``TUI_CNN_NOTIFY`` environment variable of whoever started the run). It gets the run's status
and summary in its environment (domain/notify.py), runs in a session of its own and is never
waited for: a slow webhook or a broken command can neither delay nor fail the run."""

from __future__ import annotations

import os
import subprocess

from ..domain.notify import NOTIFY_ENV, notify_environment
from ..domain.run_state import RunState


def run_notify_command(state: RunState, command: str | None = None) -> bool:
    """Start the notify command for ``state`` (a run that ended); whether one was started."""
    command = command if command is not None else os.environ.get(NOTIFY_ENV, "")
    if not command.strip():
        return False
    env = notify_environment(state)
    env.pop(NOTIFY_ENV, None)  # the command's own children are not runs
    try:
        subprocess.Popen(
            command,
            shell=True,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return False
    return True
