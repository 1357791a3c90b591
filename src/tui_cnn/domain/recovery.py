"""The crash recovery file: where the app leaves the model when an unexpected error ends it.

recovery.toml in the state folder (domain/paths.py; ~/.local/state/tui-cnn on Linux): state,
not configuration or cache, in the XDG sense. It is an ordinary spec file (``tui-cnn PATH``
opens it) written atomically; the error's traceback goes to a crash report of its own
(crashes/crash-<time>.log beside it, the last 10 kept), for a bug report. The next start of
the app offers to restore the model.
"""

from __future__ import annotations

from pathlib import Path

from .paths import new_crash_report_path, prune_crash_reports, recovery_path
from .spec import ModelSpec
from .specfile import SpecError, atomic_write_text, dumps_spec, load_spec


def save_recovery(spec: ModelSpec) -> Path:
    """Write the model where the next start finds it; OSError or SpecError if it cannot be written."""
    path = recovery_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, dumps_spec(spec))
    return path


def save_crash_report(traceback_text: str) -> Path | None:
    """Keep the traceback in a new crash report (older ones beyond the last 10 deleted); None
    when it cannot be written: the model is what matters."""
    try:
        path = new_crash_report_path()
        atomic_write_text(path, traceback_text)
    except OSError:
        return None
    prune_crash_reports()
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
