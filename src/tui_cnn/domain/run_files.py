"""Reading a run directory's files (no torch): JSON-lines files read whole or followed as they grow,
eval.json, config.json, process.json and a detached run's output.log."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from .run_dir import OUTPUT_LOG
from .run_events import TrainingEvent
from .run_records import EpochMetrics, Evaluation, ProcessRecord, RunConfigFile, RunFileError, decode

# --- reading a run directory (no torch). Every reader goes through these: tolerant of a last
# line still being written, and of bad lines (each skipped and named in ``problems``).


def read_lines(path: Path, kind: Any, problems: list[str] | None = None, skip: tuple[str, ...] = ()) -> list[Any]:
    """The records of a JSON-lines file. A last line without its newline is being written
    (a live run): skipped silently. Any other bad line: skipped, and said in ``problems``.
    ``skip``: line starts not worth parsing (the runs list has no use for BatchProgress)."""
    return list(iter_lines(path, kind, problems, skip))


def iter_lines(path: Path, kind: Any, problems: list[str] | None = None, skip: tuple[str, ...] = ()) -> Iterator[Any]:
    """``read_lines`` one record at a time, the file read a line at a time: memory bounded
    by its longest line, not its size (a 200 MB events.jsonl once took the runs list to
    490 MB, read whole and split)."""
    skip_bytes = tuple(prefix.encode() for prefix in skip)
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        _note(problems, f"{path.name}: {exc.strerror or exc}")
        return
    with file:
        try:
            for number, raw in enumerate(file, 1):
                if not raw.endswith(b"\n"):  # after the last newline: a live run's line in progress
                    return
                if raw == b"\n" or (skip_bytes and raw.startswith(skip_bytes)):
                    continue
                yield from _parse_lines(
                    path.name, [(number, raw[:-1].decode("utf-8", errors="replace"))], kind, problems
                )
        except OSError as exc:  # a read error part way (an unreadable folder, a disk going away)
            _note(problems, f"{path.name}: {exc.strerror or exc}")


@functools.lru_cache(maxsize=None)
def _decoder(kind: Any) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(kind)


def _parse_lines(name: str, lines: list[tuple[int, str]], kind: Any, problems: list[str] | None) -> list[Any]:
    """Numbered lines as records of ``kind``; a bad one is skipped and said in ``problems``.
    msgspec's decoder first (a 1000-epoch run's 100,000 events in a fraction of a second, not
    8 s); Python's json for a line it refuses: a NaN the trainer wrote, or a bad line, whose
    problem is then said as json and msgspec.convert word it."""
    records, decode = [], _decoder(kind).decode
    for number, line in lines:
        try:
            records.append(decode(line))
            continue
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        try:
            records.append(msgspec.convert(json.loads(line), kind))
        except msgspec.ValidationError as exc:
            _note(problems, f"{name} line {number}: {exc}")
        except (ValueError, RecursionError):
            if line.strip():
                _note(problems, f"{name} line {number}: not JSON")
    return records


class EventFollower:
    """Follows a run's events.jsonl as it grows, as toolong follows a log: it remembers how
    far it has read and, when the file's size changes, reads only what was appended. A last
    line without its newline is still being written: it is read whole next time. A file
    that shrank was truncated or replaced: it is read again from the start (``restarted``
    says so). Bad lines are skipped and said in ``problems``, as by ``read_lines``; a file
    truncated, replaced or deleted while followed is said in ``changes`` (a reader says it
    rather than showing a run that lost its past as crashed or with 0 epochs)."""

    #: At most this much is read a call, so that catching up with a long run never holds the
    #: caller (a UI's timer) for long; the rest comes on the next calls.
    MAX_READ = 2 * 2**20

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / "events.jsonl"
        self.problems: list[str] = []
        self.changes: list[str] = []
        self.restarted = False
        self.deleted = False
        self._offset = 0
        self._lines_read = 0

    def backlog(self) -> int:
        """Bytes written and not read yet (0 when the file is gone or unreadable)."""
        try:
            return max(0, self.path.stat().st_size - self._offset)
        except OSError:
            return 0

    @property
    def caught_up(self) -> bool:
        """Whether everything written so far has been read (but a line being written)."""
        try:
            return self.path.stat().st_size - self._offset < self.MAX_READ
        except OSError:
            return True

    def read_new(self) -> list[TrainingEvent]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            if self._offset and not self.deleted:  # not written yet is a run still starting
                self.deleted = True
                self.changes.append(
                    f"{self.path.name} was deleted while the run was followed: what it does from "
                    "now on cannot be followed (its process may still be training)"
                )
            return []
        except OSError as exc:
            _note(self.problems, f"{self.path.name}: {exc.strerror or exc}")
            return []
        if self.deleted:
            self.deleted = False
            self.changes.append(f"{self.path.name} is back: followed again from its start")
            self._offset, self._lines_read = 0, 0
        if size < self._offset:
            self.changes.append(
                f"{self.path.name} was truncated or replaced while the run was followed ({size:,} "
                f"bytes left of {self._offset:,} read): read again from its start"
            )
            self._offset, self._lines_read, self.restarted = 0, 0, True
        if size == self._offset:
            return []
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                data = file.read(min(size - self._offset, self.MAX_READ))
        except OSError as exc:
            _note(self.problems, f"{self.path.name}: {exc.strerror or exc}")
            return []
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) == self.MAX_READ:  # one line longer than a read: no event is; skip it
                self._offset += len(data)
                _note(self.problems, f"{self.path.name}: a line of over {self.MAX_READ:,} bytes skipped")
            return []
        self._offset += end + 1
        first = self._lines_read + 1
        lines = data[:end].decode("utf-8", errors="replace").split("\n")
        self._lines_read += len(lines)
        return _parse_lines(self.path.name, list(enumerate(lines, first)), TrainingEvent, self.problems)


def _note(problems: list[str] | None, problem: str) -> None:
    if problems is not None:
        problems.append(problem)


def read_events(
    run_dir: str | Path, problems: list[str] | None = None, skip: tuple[type, ...] = ()
) -> list[TrainingEvent]:
    """Every event so far (but those of the ``skip`` types, left unparsed); a line still
    being written (a live run) is skipped."""
    return list(iter_events(run_dir, problems, skip))


def iter_events(
    run_dir: str | Path, problems: list[str] | None = None, skip: tuple[type, ...] = ()
) -> Iterator[TrainingEvent]:
    """``read_events`` one at a time, with memory bounded by the longest line: to fold them."""
    prefixes = tuple(json.dumps({"event": kind.__name__})[:-1] for kind in skip)  # '{"event": "BatchProgress"'
    return iter_lines(Path(run_dir) / "events.jsonl", TrainingEvent, problems, prefixes)


def read_metrics(run_dir: str | Path, problems: list[str] | None = None) -> list[EpochMetrics]:
    return read_lines(Path(run_dir) / "metrics.jsonl", EpochMetrics, problems)


def read_evaluation(run_dir: str | Path, problems: list[str] | None = None) -> Evaluation | None:
    """eval.json, or None when it is not there (yet) or unreadable (said in ``problems``)."""
    path = Path(run_dir) / "eval.json"
    try:
        return decode(json.loads(path.read_text(encoding="utf-8", errors="replace")), Evaluation, path.name)
    except FileNotFoundError:
        return None
    except RunFileError as exc:
        _note(problems, str(exc))
    except (OSError, ValueError, RecursionError) as exc:
        _note(problems, f"eval.json: {getattr(exc, 'strerror', None) or 'not JSON'}")
    return None


def read_run_config(run_dir: str | Path) -> RunConfigFile:
    """config.json, its types checked. RunFileError (one line) for a missing, unreadable or
    corrupted one."""
    path = Path(run_dir) / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunFileError(
            f"{run_dir} is not a run directory: no readable config.json ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise RunFileError(f"{path} is not text (corrupted)") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise RunFileError(f"{path} is not JSON (cut short or corrupted)") from None
    return decode(data, RunConfigFile, str(path))


def read_process(run_dir: str | os.PathLike[str]) -> ProcessRecord | None:
    """process.json, or None when absent or unreadable (a run from before it existed)."""
    try:
        return decode(json.loads((Path(run_dir) / "process.json").read_text(encoding="utf-8")), ProcessRecord, "")
    except (OSError, ValueError, RecursionError):
        return None


class _AccuracyOf(msgspec.Struct):
    """The one figure of eval.json a list of runs shows; msgspec skips the rest (the images
    of misclassified digits) without building it."""

    accuracy: float


def read_test_accuracy(run_dir: str | Path) -> float | None:
    """eval.json's accuracy, cheaply (for 1,000 runs at once); None when absent or unreadable."""
    try:
        return msgspec.json.decode((Path(run_dir) / "eval.json").read_bytes(), type=_AccuracyOf).accuracy
    except (OSError, msgspec.DecodeError):
        return None


#: How a training process's last line says that the run failed (cli/train.py writes it).
FAILURE_LINE = "tui-cnn: training failed: "


def failure_in_output(run_dir: str | Path) -> str | None:
    """Why a detached run failed, when its process said so last in output.log: a run whose
    Failed event could not be written (its disk full) failed, it did not crash."""
    line = last_output_line(run_dir, as_written=True)
    return line.removeprefix(FAILURE_LINE) if line.startswith(FAILURE_LINE) else None


def last_output_line(run_dir: str | Path, limit: int = 8192, *, as_written: bool = False) -> str:
    """The last line a detached run's process wrote (why it ended, when it ended early), its
    "tui-cnn: " and "training failed: " prefixes taken off; ``as_written`` keeps them (a
    failure is told by FAILURE_LINE). "" when there is no output.log or no line in its last ``limit`` bytes."""
    try:
        with (Path(run_dir) / OUTPUT_LOG).open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - limit))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    line = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "")
    return line if as_written else line.removeprefix("tui-cnn: ").removeprefix("training failed: ")
