"""A run's directory: the source of truth for a run, written as it goes so that a monitor
(or a person with ``cat``) can follow it by reading the files alone. The layout is
documented in ``tui_cnn.domain.training``."""

from __future__ import annotations

import json
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, IO, Callable

import torch

from ..domain.export import export_code
from ..domain.specfile import atomic_write_text, atomic_writer
from ..domain.model_source import ModelSource, source_to_dict
from ..domain.spec import ModelSpec
# The run directory's names live in the domain (readers need them without torch); the
# trainer finds them here too, beside what it writes.
from ..domain.training import (BEST_CHECKPOINT, LAST_CHECKPOINT, RUNS_DIR, new_run_dir, run_dir_name)  # noqa: F401
from ..domain.run_lock import this_process_record
from ..domain.training import (CONTROL_FILE, ControlFileRefused, EpochMetrics, Evaluation, ProcessRecord, TrainingEvent,
                               event_to_json, read_control_commands, to_json)


def write_json(path: Path, data: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent) + "\n")


def write_config(run_dir: Path, spec: ModelSource, config: dict[str, Any], dataset: dict[str, Any],
                 device: dict[str, Any]) -> None:
    import torchvision

    write_json(run_dir / "config.json", {
        **source_to_dict(spec), "config": config, "dataset": dataset, "device": device,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
    })


def write_process(run_dir: Path, record: ProcessRecord | None = None) -> ProcessRecord:
    """process.json: this process trains the run (a reader tells live from crashed by it, with
    the run's lock), and the last control command it applied."""
    record = record or this_process_record()
    write_json(run_dir / "process.json", to_json(record))
    return record


def write_model_code(run_dir: Path, spec: ModelSpec) -> None:
    atomic_write_text(run_dir / "model.py", export_code(spec))


def write_evaluation(run_dir: Path, evaluation: Evaluation) -> None:
    write_json(run_dir / "eval.json", to_json(evaluation), indent=None)  # image pixels: one line, not 10,000


class JsonLines:
    """An append-only JSON-lines file, flushed after every line so readers see whole lines."""

    def __init__(self, path: Path):
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def append(self, data: dict[str, Any]) -> None:
        self._file.write(json.dumps(data) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class RunRecorder:
    """Writes metrics.jsonl and events.jsonl for a run, appending (so resume continues them)."""

    def __init__(self, run_dir: Path):
        self.metrics = JsonLines(run_dir / "metrics.jsonl")
        self.events = JsonLines(run_dir / "events.jsonl")

    def record_event(self, event: TrainingEvent) -> None:
        self.events.append(event_to_json(event))

    def record_epoch(self, metrics: EpochMetrics) -> None:
        self.metrics.append(to_json(metrics))

    def close(self) -> None:
        self.metrics.close()
        self.events.close()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary file beside ``path``, then rename: a crash mid-write leaves
    the previous checkpoint intact."""
    with atomic_writer(path) as handle:
        torch.save(state, handle)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, in one line (never torch's advice to load it with
    weights_only=False: a file that needs that is one we must not run)."""


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign file's pickle protocol: not for the user
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - refused unpickling, truncated zip, wrong magic: one message
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}); "
                              "it may be cut short or corrupted") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} holds no model weights")
    return state


class ControlWatcher:
    """Steers a run through its directory, so that any app or `tui-cnn stop|pause|resume
    RUN_DIR` reaches it, whichever terminal started it. A thread of the training process
    looks at control.json's (mtime, size) 4 times a second: a stat, off the training loop.
    Commands are numbered: each one after ``applied`` (the last this trainer obeyed, or the
    last one written before it took the run) is obeyed once, in order, and ``on_applied``
    told its number (the trainer records it in process.json). A control.json that is not a
    regular file, or too large, is ignored, said once on stderr (output.log)."""

    INTERVAL_S = 0.25

    def __init__(self, run_dir: Path, stop, pause, resume, applied: int = 0,
                 on_applied: Callable[[int], None] | None = None):
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
        self._done.set()
