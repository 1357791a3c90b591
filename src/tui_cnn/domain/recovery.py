"""The crash recovery file: where the app leaves the model when an unexpected error ends it.

$XDG_STATE_HOME/tui-cnn/recovery.toml (~/.local/state/tui-cnn/recovery.toml): state, not
configuration or cache, in the XDG sense. It is an ordinary spec file (``tui-cnn PATH`` opens
it) written atomically; the error's traceback goes to crash.log beside it, for a bug report.
The next start of the app offers to restore the model.
"""

from __future__ import annotations

import os
from pathlib import Path

from .spec import ModelSpec
from .specfile import SpecError, atomic_write_text, dumps_spec, load_spec


def state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "tui-cnn"


def recovery_path() -> Path:
    return state_dir() / "recovery.toml"


def crash_log_path() -> Path:
    return state_dir() / "crash.log"


def save_recovery(spec: ModelSpec, traceback_text: str = "") -> Path:
    """Write the model (and the traceback) where the next start finds it; OSError or SpecError
    if it cannot be written."""
    path = recovery_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, dumps_spec(spec))
    if traceback_text:
        try:
            atomic_write_text(crash_log_path(), traceback_text)
        except OSError:
            pass  # the model is what matters
    return path


def load_recovery() -> ModelSpec | None:
    """The model a crash left, or None when there is none (or it cannot be read)."""
    path = recovery_path()
    if not path.is_file():
        return None
    try:
        return load_spec(path)
    except SpecError:
        return None


def discard_recovery() -> None:
    recovery_path().unlink(missing_ok=True)
