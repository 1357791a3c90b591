"""A run directory: its layout, the names of its files, and the name a new one is made under.

Run directory layout (the source of truth; a monitor can follow a run by reading it alone):
    config.json         {"spec": {...}, "module": {...} (a module run), "config": {...}, "dataset": {...}, "device": ..., "versions": {...}}
    metrics.jsonl       one EpochMetrics object per line, flushed as each epoch ends
    eval.json           {"accuracy", "per_class_accuracy", "confusion_matrix", "classes", "misclassified",
                        "epoch"}: the test split scored once, on the best validation epoch's weights
    checkpoint-last.pt / checkpoint-best.pt   (torch; loaded with weights_only=True); an epoch's
                        writes commit in one order (backend Trainer._commit_epoch, the README)
    model.py            the spec exported as PyTorch code (not for a module run: source/ is its code)
    source/             a module run's source files, copied from the user's directory (domain.model_source)
    events.jsonl        every event as {"event": name, ...fields}, for attaching to a live run
    process.json        {"pid", "host", "started_at", "create_time", "control_seq"}: who trains it
                        (its start time as the OS counts it tells it from a process given its pid
                        later) and the last control command it applied
    .lock               held (flock) by the process training the run, for its whole life: one
                        trainer per run directory, and a live run is one whose lock is held
                        (domain.run_lock)
    control.json        {"commands": [{"seq", "command": "stop" | "pause" | "resume", "at"}, ...]}:
                        the latest commands, numbered, written by any app or by
                        `tui-cnn stop|pause|resume RUN_DIR`; the trainer obeys each new one in order

A run your own training loop logged (``tui_cnn.init``) has the same files, written by the same
writer (``domain.run_writer``), but no checkpoints and no model.py: config.json's "script"
names the script, its "spec" holds the model's name alone, figures it did not log are NaN.
"""

from __future__ import annotations

import errno
import os
import re
from datetime import datetime
from pathlib import Path

from .paths import RUNS_DIR

OUTPUT_LOG = "output.log"  # a detached run's output (its process has no terminal)
#: The checkpoints a run directory holds (written by the backend, torch files): the last one
#: is what a run continues from, so a reader can tell whether a run can be continued.
LAST_CHECKPOINT = "checkpoint-last.pt"
BEST_CHECKPOINT = "checkpoint-best.pt"


def new_run_dir(model_name: str, base: str | os.PathLike[str] = RUNS_DIR, now: datetime | None = None) -> Path:
    """Make ``runs/<YYYYmmdd-HHMMSS>-<model>/``, with -2, -3... when two runs start in one
    second: each name is claimed by the mkdir itself (no look-then-make race between two
    processes). OSError when the folder cannot be made."""
    first = run_dir_name(model_name, base, now)
    try:
        Path(base).mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file, or a loop of links, under the folder's name
        raise NotADirectoryError(errno.ENOTDIR, f"{base} is not a folder", str(base)) from None
    return claim_folder(first, "runs")


def claim_folder(first: Path, what: str, tries: int = 10_000) -> Path:
    """``first`` made, or ``first-2``, ``first-3``... when taken: each name is claimed by the
    mkdir itself, so two processes never get the same one (no look-then-make race)."""
    for suffix in range(1, tries):
        path = first.with_name(first.name + (f"-{suffix}" if suffix > 1 else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{first}-*: {tries:,} {what} in one second")


def run_dir_name(model_name: str, base: str | os.PathLike[str] = RUNS_DIR, now: datetime | None = None) -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<model>``: the name a new run's folder starts from (not made)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model_name).strip("-") or "model"
    return Path(base) / f"{stamp}-{slug}"
