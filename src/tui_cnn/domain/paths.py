"""Every place tui-cnn keeps files, declared once.

- Runs: ``./runs`` (relative to where you start it), one folder a run; ``--runs-dir`` and
  ``--run-dir`` choose others.
- Data: the per-user cache, ``$XDG_CACHE_HOME/tui-cnn/data`` on Linux (``~/.cache/...``),
  ``~/Library/Caches/tui-cnn/data`` on macOS: downloads and unpacked samples, safe to delete.
- State: ``$XDG_STATE_HOME/tui-cnn`` on Linux (``~/.local/state/...``), ``~/Library/Application
  Support/tui-cnn`` on macOS: the crash recovery file (``recovery.toml``) and the crash reports
  (``crashes/crash-<time>.log``, the last ``KEPT_CRASH_REPORTS``).

platformdirs reads the XDG variables at each call, so a test (or a user) that sets them is heard.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import platformdirs

APP_NAME = "tui-cnn"
#: Where runs are made and listed unless told otherwise: relative, beside the user's work.
RUNS_DIR = Path("runs")
KEPT_CRASH_REPORTS = 10


def cache_dir() -> Path:
    return platformdirs.user_cache_path(APP_NAME)


def data_dir() -> Path:
    """The per-user torchvision root (datasets downloaded or unpacked)."""
    return cache_dir() / "data"


def state_dir() -> Path:
    return platformdirs.user_state_path(APP_NAME)


def recovery_path() -> Path:
    return state_dir() / "recovery.toml"


def crash_reports_dir() -> Path:
    return state_dir() / "crashes"


def crash_reports() -> list[Path]:
    """The crash reports kept, oldest first (their names sort by time)."""
    try:
        return sorted(crash_reports_dir().glob("crash-*.log"))
    except OSError:
        return []


def new_crash_report_path(now: float | None = None) -> Path:
    """A new report's path, named by its local time to the microsecond (two crashes in one
    second keep both); the folder is made."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now % 1 * 1e6):06d}"
    folder = crash_reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"crash-{stamp}.log"


def prune_crash_reports(keep: int = KEPT_CRASH_REPORTS) -> None:
    """Delete all but the newest ``keep`` reports."""
    for old in crash_reports()[:-keep] if keep > 0 else crash_reports():
        try:
            os.unlink(old)
        except OSError:
            pass  # another start pruned it, or it cannot be: a report too many is no harm
