"""How the run list is written for people, in `tui-cnn runs` and on the Runs screen alike:
each run's cells (the same words and figures in both), and which columns the screen shows at
a terminal's width (80 columns: status, run, epoch, best val and test; more as it widens).
Pure Python."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeGuard

from .format import compact, local_time, percent, printable
from .format import duration as format_duration
from .run_list import RunRow


@dataclass(frozen=True, slots=True)
class RunColumn:
    key: str  # also its heading in `tui-cnn runs`
    label: str
    #: What the Runs screen gives it (longer text is cut); the run name's width is the room left.
    width: int
    right: bool = False  # figures, aligned on the right


MARK_COLUMN = RunColumn("mark", "", 1)
RUN_COLUMNS = (  # in the order shown
    RunColumn("status", "status", 10),
    RunColumn("run", "run", 0),
    RunColumn("model", "model", 12),
    RunColumn("dataset", "dataset", 13),  # fashion-mnist
    RunColumn("epoch", "epoch", 11, right=True),  # 99999/99999
    RunColumn("best val", "best val", 8, right=True),
    RunColumn("test", "test", 7, right=True),  # 100.00%
    RunColumn("img/s", "img/s", 6, right=True),
    RunColumn("device", "device", 14),
    RunColumn("started", "started", 16),  # 2026-01-02 03:04
    RunColumn("time", "time", 8, right=True),  # 12:34:56
)
#: Shown at any width: what tells runs apart and how they did.
ALWAYS_SHOWN = ("mark", "status", "run", "epoch", "best val", "test")
#: The other columns, most useful first: each is shown when the terminal has room for it.
FIRST_TO_FIT = ("model", "img/s", "time", "dataset", "device", "started")
CELL_PADDING = 2  # a DataTable cell's padding, both sides together
#: The run name's width before another column may take room from it: a directory's name,
#: ``20260102-030405-SimpleCNN``, reads whole.
RUN_NAME_WIDTH = 26
RUN_NAME_MIN = 8
RUN_NAME_MAX = 48  # past this a wide terminal's room is left blank on the right, not between columns


def run_name(path: str) -> str:
    """The run directory's own name, without the folder holding it, printable (a folder may
    be called anything, escape codes included)."""
    return printable(path.rstrip("/").rsplit("/", 1)[-1])


def run_cells(row: RunRow) -> dict[str, str]:
    """Each column's text for ``row`` (no mark); blank where a figure is unknown or not finite.
    The run's files say what its model, data and device are called: printable."""
    return {
        "status": row.status,
        "run": run_name(row.path),
        "model": printable(row.model),
        "dataset": printable(row.dataset),
        "epoch": f"{row.epoch}/{row.epochs}" if row.status != "unreadable" else "",
        "best val": percent(row.best_val_acc),
        "test": percent(row.test_acc),
        "img/s": compact(round(row.images_per_s)) if _finite(row.images_per_s) else "",
        "device": printable(row.device),
        "started": started(row.started_at),
        "time": duration(row.duration_s),
    }


def started(timestamp: float | None) -> str:
    """2026-01-02 03:04 in local time; blank when unknown or no date (a hand-edited process.json)."""
    return local_time(timestamp, "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """0:07, 12:34, 1:02:03; blank when unknown."""
    return format_duration(seconds, unknown="")


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def fitting_columns(room: int) -> tuple[tuple[RunColumn, ...], int]:
    """The columns that fit in ``room`` terminal columns, in the order shown, and the width
    of the run name (the room the others leave, from RUN_NAME_MIN to RUN_NAME_MAX)."""
    by_key = {column.key: column for column in (MARK_COLUMN, *RUN_COLUMNS)}
    used = sum(by_key[key].width + CELL_PADDING for key in ALWAYS_SHOWN if key != "run") + CELL_PADDING
    chosen = set(ALWAYS_SHOWN)
    for key in FIRST_TO_FIT:
        need = by_key[key].width + CELL_PADDING
        if used + need + RUN_NAME_WIDTH <= room:
            chosen.add(key)
            used += need
    columns = tuple(column for column in (MARK_COLUMN, *RUN_COLUMNS) if column.key in chosen)
    return columns, min(max(room - used, RUN_NAME_MIN), RUN_NAME_MAX)
