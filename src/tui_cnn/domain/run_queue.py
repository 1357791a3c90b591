"""The box's run queue, as files: runs wait in the runs folder until a runner starts them,
one at a time, first in first out. Pure Python (fcntl, no torch).

A queued run is a run directory from the moment it is queued (so `tui-cnn runs`, the Runs
screen and `tui-cnn stop` see it): its request (request.json: spec and settings, as a
detached start reads them) and its place (queued.json). The order is the ``seq`` numbers of
the queued.json files; every change to them (add, move, cancel, take) happens under one
lock on ``RUNS/.queue.lock``, so two apps and two command lines adding at once each get
their own place, and a run is taken by one runner once. Files are written atomically.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import msgspec

from .slurm import REQUEST_FILE  # the same request a SLURM job's ranks read
from .specfile import atomic_writer

QUEUE_FILE = "queued.json"
QUEUE_LOCK = ".queue.lock"
RUNNER_LOCK = ".queue-runner.lock"
RUNNER_LOG = ".queue-runner.log"


class QueueError(ValueError):
    """A queue change that cannot be made, in one line."""


class QueuedRecord(msgspec.Struct, frozen=True):
    """queued.json: a run's place in the queue, and what became of it."""

    seq: int
    queued_at: float
    started_at: float | None = None  # taken by a runner: its own files say the rest
    cancelled_at: float | None = None  # tui-cnn stop (or x) while waiting: it never starts

    @property
    def waiting(self) -> bool:
        return self.started_at is None and self.cancelled_at is None


def read_queued(run_dir: str | Path) -> QueuedRecord | None:
    try:
        return msgspec.json.decode((Path(run_dir) / QUEUE_FILE).read_bytes(), type=QueuedRecord)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def _write_queued(run_dir: Path, record: QueuedRecord) -> None:
    with atomic_writer(run_dir / QUEUE_FILE) as out:
        out.write(msgspec.json.encode(record))


@contextmanager
def queue_lock(base: str | Path) -> Iterator[None]:
    """The queue's lock: every change to the order is made holding it."""
    Path(base).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(base) / QUEUE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def waiting_runs(base: str | Path) -> list[tuple[Path, QueuedRecord]]:
    """The runs waiting under ``base``, first first."""
    found = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        record = read_queued(entry.path)
        if record is not None and record.waiting:
            found.append((Path(entry.path), record))
    return sorted(found, key=lambda item: (item[1].seq, item[0].name))


def position(run_dir: str | Path) -> int | None:
    """1 for the next run to start; None when ``run_dir`` is not waiting."""
    run_dir = Path(run_dir)
    for place, (path, _) in enumerate(waiting_runs(run_dir.parent), start=1):
        if path.name == run_dir.name:
            return place
    return None


def enqueue(run_dir: Path, request_line: str) -> int:
    """Queue the run whose directory is ``run_dir`` (made by the caller, empty) with its
    request; its position."""
    base = run_dir.parent
    with queue_lock(base):
        last = max((record.seq for _, record in waiting_runs(base)), default=0)
        with atomic_writer(run_dir / REQUEST_FILE) as out:
            out.write(request_line.encode())
        _write_queued(run_dir, QueuedRecord(seq=last + 1, queued_at=time.time()))
    return position(run_dir) or 0


def take_next(base: str | Path) -> Path | None:
    """The first waiting run, marked started (by this runner alone); None when none waits."""
    with queue_lock(base):
        waiting = waiting_runs(base)
        if not waiting:
            return None
        run_dir, record = waiting[0]
        _write_queued(run_dir, msgspec.structs.replace(record, started_at=time.time()))
        return run_dir


def cancel(run_dir: str | Path) -> None:
    """Take a waiting run out of the queue: it never starts (status cancelled)."""
    run_dir = Path(run_dir)
    with queue_lock(run_dir.parent):
        record = read_queued(run_dir)
        if record is None or not record.waiting:
            raise QueueError(f"{run_dir} is not waiting in the queue")
        _write_queued(run_dir, msgspec.structs.replace(record, cancelled_at=time.time()))


def move(run_dir: str | Path, steps: int) -> int:
    """Move a waiting run ``steps`` places towards the front (negative: back); its new position."""
    run_dir = Path(run_dir)
    with queue_lock(run_dir.parent):
        waiting = waiting_runs(run_dir.parent)
        names = [path.name for path, _ in waiting]
        if run_dir.name not in names:
            raise QueueError(f"{run_dir} is not waiting in the queue")
        here = names.index(run_dir.name)
        there = max(0, min(len(waiting) - 1, here - steps))
        order = [item for item in waiting]
        order.insert(there, order.pop(here))
        for seq, (path, record) in enumerate(order, start=1):  # renumbered: the order is the list's
            if record.seq != seq:
                _write_queued(path, msgspec.structs.replace(record, seq=seq))
        return there + 1


def runner_running(base: str | Path) -> bool:
    """Whether a queue runner holds ``base``'s runner lock now (probed without keeping it)."""
    return held_by_a_process(Path(base) / RUNNER_LOCK)


def held_by_a_process(path: Path) -> bool:
    """Whether some process holds the lock file ``path`` (a queue runner's, a sweep driver's),
    probed without keeping it; False when there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
