"""Writing a run directory (its layout: ``domain.run_dir``): the one writer of its files,
shared by the trainer (``backend``) and by a user's own training loop (``tui_cnn.init``), so
that both write the same records the same way. Pure Python: a script that logs its own loop
pays no torch for it. The torch files (checkpoints, model.py) stay in ``backend.runs``."""

from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import msgspec

from .run_control import CONTROL_FILE, ControlFileRefused, read_control_commands
from .run_events import TrainingEvent, event_to_json
from .run_lock import this_process_record
from .run_records import EpochMetrics, Evaluation, ProcessRecord, encode_record, to_json
from .specfile import atomic_write_text


class RunDirError(Exception):
    """A run file that could not be written (a full disk, a read-only or vanished directory),
    in one line: "no space left on device writing checkpoint-last.pt in runs/x"."""


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turns an OSError while writing ``path`` into a RunDirError that names the file and
    the run directory (never a traceback: a full disk is the machine's state, not a bug)."""
    try:
        yield
    except OSError as exc:
        reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
        raise RunDirError(f"{reason} writing {path.name} in {path.parent}") from None


def write_json(path: Path, data: Any, indent: int | None = 2) -> None:
    """A run file, replaced atomically (a reader never sees half of it). Python's json, as
    readers parse: a NaN (a diverged loss, a figure a loop did not log) reads back as one."""
    with writing(path):
        atomic_write_text(path, json.dumps(data, indent=indent) + "\n")


def write_record(path: Path, record: msgspec.Struct, indent: int | None = 2) -> None:
    """A run file from its record (the schema its readers decode it with), atomically."""
    with writing(path):
        atomic_write_text(path, encode_record(record, indent))


def write_process(run_dir: Path, record: ProcessRecord | None = None) -> ProcessRecord:
    """process.json: this process trains the run (a reader tells live from crashed by it, with
    the run's lock), and the last control command it applied."""
    record = record or this_process_record()
    write_record(run_dir / "process.json", record)
    return record


def write_evaluation(run_dir: Path, evaluation: Evaluation) -> None:
    write_record(run_dir / "eval.json", evaluation, indent=None)  # image pixels: one line, not 10,000


class JsonLines:
    """An append-only JSON-lines file, flushed after every line so readers see whole lines."""

    def __init__(self, path: Path):
        self.path = path
        with writing(path):
            self._file: IO[str] = path.open("a", encoding="utf-8")

    def append(self, data: dict[str, Any], sync: bool = False) -> None:
        """One whole line; ``sync``: on the disk before this returns (a line others are
        committed after)."""
        with writing(self.path):
            self._file.write(json.dumps(data) + "\n")
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # its last line could not be written: already said where it failed


class RunRecorder:
    """Writes metrics.jsonl and events.jsonl for a run, appending (so resume continues them)."""

    def __init__(self, run_dir: Path):
        self.metrics = JsonLines(run_dir / "metrics.jsonl")
        self.events = JsonLines(run_dir / "events.jsonl")

    def record_event(self, event: TrainingEvent) -> None:
        self.events.append(event_to_json(event))

    def record_epoch(self, metrics: EpochMetrics) -> None:
        self.metrics.append(to_json(metrics), sync=True)

    def close(self) -> None:
        self.metrics.close()
        self.events.close()


class ControlWatcher:
    """Steers a run through its directory, so that any app or `tui-cnn stop|pause|resume
    RUN_DIR` reaches it, whichever terminal started it. A thread of the training process
    looks at control.json's (mtime, size) 4 times a second: a stat, off the training loop.
    Commands are numbered: each one after ``applied`` (the last this trainer obeyed, or the
    last one written before it took the run) is obeyed once, in order, and ``on_applied``
    told its number (the trainer records it in process.json). A control.json that is not a
    regular file, or too large, is ignored, said once on stderr (output.log)."""

    INTERVAL_S = 0.25

    def __init__(
        self, run_dir: Path, stop, pause, resume, applied: int = 0, on_applied: Callable[[int], None] | None = None
    ):
        self._run_dir = run_dir
        self._path = run_dir / CONTROL_FILE
        self._actions = {"stop": stop, "pause": pause, "resume": resume}
        self.applied = applied
        self._on_applied = on_applied
        self._seen: tuple[int, int] | None = None
        self._refused: str | None = None
        self._done = threading.Event()
        self._look()  # a stop written while the run was starting is obeyed before its first batch
        self._thread = threading.Thread(target=self._watch, name="run-control", daemon=True)
        self._thread.start()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._path.lstat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _watch(self) -> None:
        while not self._done.wait(self.INTERVAL_S):
            self._look()

    def _look(self) -> None:
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return
        self._seen = stamp
        try:
            commands = read_control_commands(self._run_dir)
        except ControlFileRefused as exc:
            if str(exc) != self._refused:  # one line, not four a second
                self._refused = str(exc)
                print(f"tui-cnn: {exc}", file=sys.stderr, flush=True)
            return
        self._refused = None
        new = [command for command in commands if command.seq > self.applied and command.command in self._actions]
        for command in new:
            self._actions[command.command]()
            self.applied = command.seq
        if new and self._on_applied is not None:
            self._on_applied(self.applied)

    def close(self) -> None:
        """No more looks; a look under way finishes first (its commands recorded through
        ``on_applied``: a stop obeyed just before the end is not lost from process.json)."""
        self._done.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
