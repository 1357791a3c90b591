"""A sweep, as files: a search over training settings whose trials are ordinary runs.

A sweep's directory (``runs/sweep-<date>-<time>-<model>/``) holds what it searches
(sweep.json: the model, the settings every trial shares, the search space, how many trials)
and the Optuna study (study.db, SQLite, readable by ``optuna.load_study``), which the sweep's
driver (backend/sweep.py) alone writes. Each trial is a run of the box's queue, next to the
sweep's directory in the same runs folder, named after the sweep (``<sweep>-t<number>``) and
marked with trial.json, so that `tui-cnn runs`, attach, stop and compare take it as any run.

Pure Python: the search space is parsed here with the settings' own parsers, so a bad
``--param`` is refused in one line before anything starts. No Optuna here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import msgspec

from .run_dir import claim_folder, run_dir_name
from .settings import SettingError, parse_setting
from .specfile import atomic_writer
from .train_config import SETTINGS

SWEEP_FILE = "sweep.json"
STUDY_FILE = "study.db"
DRIVER_LOCK = ".sweep-driver.lock"
DRIVER_LOG = "driver.log"
STOP_FILE = "stop.json"  # `tui-cnn sweep stop`: the driver asks for no more trials
DONE_FILE = "done.json"  # the driver saw every trial end: nothing to resume after a reboot
TRIAL_FILE = "trial.json"  # in a trial's run directory: which sweep, which trial
PRUNED_FILE = "pruned.json"  # in a trial's run directory: the driver stopped it, pruned
SAMPLERS = ("tpe", "random")
#: Settings a sweep does not search: where a run is written, and how it is continued.
NOT_SEARCHED = ("run_dir", "resume", "data_dir", "progress_every")


class SweepError(ValueError):
    """A sweep that cannot be made or read, in one line."""


class Param(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One searched setting: a range (``low``..``high``, ``log`` scale) of an int or float
    setting, or a list of ``choices``."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @property
    def values_text(self) -> str:
        if self.choices is not None:
            return ",".join(str(choice) for choice in self.choices)
        return f"{self.low:g}:{self.high:g}" + (":log" if self.log else "")

    def extremes(self) -> list[Any]:
        """The values a trial may take at the edges: every choice, or both ends."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


def parse_param(text: str) -> Param:
    """``lr=1e-4:1e-1:log``, ``epochs=1:5``, ``batch_size=32,64,128``, ``optimizer=adam,sgd``:
    a searched setting, each value parsed and checked by the setting's own declaration.
    SweepError, in one line, for anything else."""
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not values.strip():
        raise SweepError(f"--param {text!r}: write NAME=LOW:HIGH[:log] or NAME=A,B,C (e.g. lr=1e-4:1e-1:log)")
    declared = SETTINGS.get(name)
    if declared is None or name in NOT_SEARCHED or not declared.cli:
        searchable = ", ".join(n for n, d in SETTINGS.items() if d.cli and n not in NOT_SEARCHED)
        raise SweepError(f"--param {text!r}: {name!r} is not a setting a sweep can search ({searchable})")
    try:
        if ":" in values:
            return _range(name, declared, values, text)
        choices = [parse_setting(name, declared, value) for value in values.split(",")]
    except SettingError as exc:
        raise SweepError(f"--param {text!r}: {exc}") from None
    if len(set(map(repr, choices))) != len(choices):
        raise SweepError(f"--param {text!r}: a value is given twice")
    return Param(name, choices=choices)


def _range(name: str, declared, values: str, text: str) -> Param:
    parts = values.split(":")
    log = len(parts) == 3 and parts[2].strip().lower() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise SweepError(f"--param {text!r}: a range is LOW:HIGH or LOW:HIGH:log")
    if declared.kind not in (int, float):
        raise SweepError(f"--param {text!r}: {declared.words(name)} is not a number: list its values (A,B,C)")
    low, high = (parse_setting(name, declared, part) for part in parts[:2])
    if not low < high:
        raise SweepError(f"--param {text!r}: the low end must be below the high end")
    if log and low <= 0:
        raise SweepError(f"--param {text!r}: a log range needs a low end above 0")
    return Param(name, low=low, high=high, log=log)


def parse_params(texts: list[str] | tuple[str, ...]) -> list[Param]:
    params = [parse_param(text) for text in texts]
    names = [param.name for param in params]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SweepError(f"--param {twice[0]} is given twice")
    if not params:
        raise SweepError("give at least one --param to search (e.g. --param lr=1e-4:1e-1:log)")
    return params


class SweepRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """sweep.json: what the sweep searches, written once when it is made."""

    study_name: str
    trials: int
    params: list[Param]
    spec: dict[str, Any]  # the model every trial trains (specfile's dict)
    config: dict[str, Any]  # the settings every trial shares (TrainConfig.to_json), params on top
    runs: str  # the runs folder whose queue the trials wait in
    sampler: str = "tpe"
    seed: int = 0
    prune: bool = False
    created_at: float = 0.0


class TrialRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """trial.json, in a trial's run directory."""

    sweep: str  # the sweep's directory
    number: int  # Optuna's trial number
    params: dict[str, Any]


class PrunedRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """pruned.json: the sweep's driver stopped this trial, its validation accuracy behind the median."""

    epoch: int
    val_acc: float
    at: float


def _write(path: Path, record: msgspec.Struct) -> None:
    with atomic_writer(path) as out:
        out.write(msgspec.json.encode(record))


def _read(path: Path, kind: Any) -> Any:
    try:
        return msgspec.json.decode(path.read_bytes(), type=kind)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def new_sweep_dir(model_name: str, base: str | os.PathLike[str]) -> Path:
    """Make ``runs/sweep-<date>-<time>-<model>/`` (-2, -3... when taken)."""
    first = Path(base) / f"sweep-{run_dir_name(model_name, base).name}"
    Path(base).mkdir(parents=True, exist_ok=True)
    return claim_folder(first, "sweeps")


def write_sweep(sweep_dir: Path, record: SweepRecord) -> None:
    _write(sweep_dir / SWEEP_FILE, record)


def read_sweep(sweep_dir: str | Path) -> SweepRecord:
    """The sweep of ``sweep_dir``; SweepError, in one line, when it is none."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise SweepError(f"{sweep_dir} is not a sweep's directory (no {SWEEP_FILE})")
    record = _read(path, SweepRecord)
    if record is None:
        raise SweepError(f"{path} cannot be read as a sweep")
    return record


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def trial_dir(sweep_dir: Path, number: int) -> Path:
    """Where trial ``number`` runs: next to the sweep, in the same runs folder (one queue)."""
    return sweep_dir.parent / f"{sweep_dir.name}-t{number}"


def mark_trial(run_dir: Path, sweep_dir: Path, number: int, params: dict[str, Any]) -> None:
    _write(run_dir / TRIAL_FILE, TrialRecord(str(sweep_dir), number, params))


def read_trial(run_dir: str | Path) -> TrialRecord | None:
    return _read(Path(run_dir) / TRIAL_FILE, TrialRecord)


def trial_dirs(sweep_dir: str | Path) -> list[Path]:
    """The run directories of the sweep's trials, by trial number."""
    sweep_dir = Path(sweep_dir)
    found = []
    try:
        entries = list(os.scandir(sweep_dir.parent))
    except OSError:
        return []
    prefix = f"{sweep_dir.name}-t"
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name[len(prefix) :].isdigit():
            found.append((int(entry.name[len(prefix) :]), Path(entry.path)))
    return [path for _, path in sorted(found)]


def expand_sweeps(paths: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``paths`` with each sweep's directory replaced by its trials' runs (`tui-cnn compare SWEEP_DIR`)."""
    expanded: list[str] = []
    for path in paths:
        if is_sweep_dir(path):
            expanded += [str(run) for run in trial_dirs(path) if (run / "config.json").is_file()]
        else:
            expanded.append(path)
    return tuple(expanded)


def mark_pruned(run_dir: Path, epoch: int, val_acc: float) -> None:
    _write(run_dir / PRUNED_FILE, PrunedRecord(epoch, val_acc, time.time()))


def was_pruned(run_dir: str | Path) -> bool:
    return os.path.lexists(os.path.join(run_dir, PRUNED_FILE))


def mark_done(sweep_dir: Path) -> None:
    with atomic_writer(sweep_dir / DONE_FILE) as out:
        out.write(msgspec.json.encode({"at": time.time()}))


def unfinished_sweeps(base: str | Path) -> list[Path]:
    """The sweeps under ``base`` whose driver has not seen every trial end (a reboot, say,
    ended it): the ones a driver must come back to."""
    try:
        entries = [entry for entry in os.scandir(base) if entry.name.startswith("sweep-")]
    except OSError:
        return []
    return [
        Path(entry.path)
        for entry in entries
        if is_sweep_dir(entry.path) and not os.path.lexists(os.path.join(entry.path, DONE_FILE))
    ]


def request_stop(sweep_dir: Path) -> None:
    with atomic_writer(sweep_dir / STOP_FILE) as out:
        out.write(msgspec.json.encode({"at": time.time()}))


def stop_requested(sweep_dir: str | Path) -> bool:
    return os.path.lexists(os.path.join(sweep_dir, STOP_FILE))
