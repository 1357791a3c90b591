"""Two or more runs side by side: each run's per-epoch metrics, and its settings in rows with
the rows that differ marked. Pure Python: the run files are read through run_files.py's
readers (their one schema); the model's parameter count comes from the shape engine.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import format as fmt
from .run_events import RunStarted
from .run_files import read_evaluation, read_events, read_metrics, read_run_config
from .run_list import run_row
from .run_records import EpochMetrics, RunConfigFile, RunFileError
from .train_config import SETTINGS

#: Settings that say where or how a run was written, not what it learned from: not compared.
NOT_COMPARED = ("data_dir", "run_dir", "resume", "progress_every")
#: The per-epoch figures a comparison plots, as (EpochMetrics field, title).
CURVES = (
    ("val_acc", "validation accuracy %"),
    ("val_loss", "validation loss"),
    ("train_acc", "train accuracy %"),
    ("train_loss", "train loss"),
)
MISSING = "—"  # a setting a run's config.json does not hold (an older run)


@dataclass(frozen=True)
class ComparedRun:
    """One run that could be read: what its rows and curves are made of."""

    path: str
    label: str  # short and unique among the compared runs: the directory's name
    settings: dict[str, str]  # row name -> the value as shown
    metrics: list[EpochMetrics]
    problems: list[str] = field(default_factory=list)  # lines skipped while reading, one line each

    def curve(self, metric: str) -> tuple[list[int], list[float]]:
        """Epochs and the metric's values (accuracies in percent); NaN and infinities left out
        (a diverged loss cannot be drawn)."""
        scale = 100.0 if metric.endswith("_acc") else 1.0
        points = [(m.epoch, getattr(m, metric) * scale) for m in self.metrics]
        return [e for e, v in points if math.isfinite(v)], [v for e, v in points if math.isfinite(v)]


@dataclass(frozen=True)
class SettingRow:
    name: str
    values: tuple[str, ...]  # one per compared run, in order

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@dataclass(frozen=True)
class LeftOut:
    """A run that could not be read, and why, in one line."""

    path: str
    reason: str


@dataclass(frozen=True)
class Comparison:
    runs: list[ComparedRun]
    rows: list[SettingRow]
    left_out: list[LeftOut]

    @property
    def differing(self) -> list[SettingRow]:
        return [row for row in self.rows if row.differs]

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [
                {
                    "path": run.path,
                    "label": run.label,
                    "settings": run.settings,
                    "metrics": [_metrics_json(m) for m in run.metrics],
                    "problems": run.problems,
                }
                for run in self.runs
            ],
            "settings": [{"name": row.name, "values": list(row.values), "differs": row.differs} for row in self.rows],
            "differences": [row.name for row in self.differing],
            "left_out": [{"path": out.path, "reason": out.reason} for out in self.left_out],
        }


def _metrics_json(metrics: EpochMetrics) -> dict[str, Any]:
    from .run_records import to_json

    # JSON has no NaN: a diverged loss (or a figure your own loop did not log) is null
    def finite(value: Any) -> Any:
        if isinstance(value, dict):  # extra: the figures your own loop logged beyond the known ones
            return {name: finite(figure) for name, figure in value.items()}
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return finite(to_json(metrics))


def compare_runs(paths: Iterable[str | os.PathLike[str]]) -> Comparison:
    """Read each run directory (the same one given twice counts once); a run whose config.json
    cannot be read is left out with the reason."""
    runs: list[tuple[str, RunConfigFile, list[EpochMetrics], list[str]]] = []
    left_out: list[LeftOut] = []
    seen: set[str] = set()
    for path in map(str, paths):
        key = os.path.realpath(path)
        if key in seen:
            continue
        seen.add(key)
        try:
            config = read_run_config(path)
        except RunFileError as exc:
            left_out.append(LeftOut(path, fmt.printable(str(exc))))
            continue
        problems: list[str] = []
        metrics = read_metrics(path, problems)
        runs.append((path, config, metrics, problems))
    labels = _labels([path for path, *_ in runs])
    compared = [
        ComparedRun(path, label, _settings(path, config, metrics, problems), metrics, problems)
        for label, (path, config, metrics, problems) in zip(labels, runs)
    ]
    names = list(dict.fromkeys(name for run in compared for name in run.settings))  # a loop's own settings too
    rows = [SettingRow(name, tuple(run.settings.get(name, MISSING) for run in compared)) for name in names]
    return Comparison(compared, rows, left_out)


def _labels(paths: list[str]) -> list[str]:
    """Each run's directory name; the whole path where two runs share a name."""
    names = [Path(path).resolve().name or path for path in paths]
    # A file name may hold escape codes and newlines: never send them to the terminal.
    return [fmt.printable(name if names.count(name) == 1 else path) for name, path in zip(names, paths)]


def _settings(path: str, config: RunConfigFile, metrics: list[EpochMetrics], problems: list[str]) -> dict[str, str]:
    """The rows of one run: the model, the data, every training setting, then the results."""
    parameters = (
        MISSING
        if config.script
        else _module_parameters(path)
        if config.module is not None
        else _parameters(config.spec)
    )
    rows = {"model": config.model_name or MISSING, "parameters": parameters}
    dataset = config.dataset
    rows["train / val / test images"] = (
        f"{fmt.grouped(dataset.train_size)} / {fmt.grouped(dataset.val_size)} / {fmt.grouped(dataset.test_size)}"
        if dataset.train_size
        else MISSING
    )
    rows["device used"] = " ".join(part for part in (config.device.kind, config.device.name) if part) or MISSING
    for name, declared in SETTINGS.items():
        if name in NOT_COMPARED or (config.script and name not in config.config):  # a loop's own: what it set
            continue
        rows[declared.words(name)] = _setting_text(config.config.get(name, MISSING))
    if config.script:  # your own loop's settings (tui_cnn.init's config), under their own names
        rows.update({name: _setting_text(value) for name, value in config.config.items() if name not in SETTINGS})
    rows["status"] = run_row(path).status  # the runs list's: its one fold of the run's events
    epochs = config.config.get("epochs")
    rows["epochs run"] = f"{len(metrics)}/{epochs}" if isinstance(epochs, int) else str(len(metrics))
    finite = [m for m in metrics if math.isfinite(m.val_acc)]
    best = max(finite, key=lambda m: m.val_acc, default=None)
    rows["best val accuracy"] = f"{best.val_acc:.2%} (epoch {best.epoch})" if best else MISSING
    evaluation = read_evaluation(path, problems)
    rows["test accuracy"] = f"{evaluation.accuracy:.2%}" if evaluation else MISSING
    speed = metrics[-1].images_per_s if metrics else math.nan
    rows["images/s (last epoch)"] = f"{speed:,.0f}" if math.isfinite(speed) else MISSING
    return {name: fmt.printable(value) for name, value in rows.items()}  # config.json's strings hold anything


def _setting_text(value: Any) -> str:
    if value is MISSING or value is None:
        return MISSING if value is MISSING else "default"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)[:40]  # a hand-edited config.json may hold anything: keep the table's columns sane


def _module_parameters(path: str) -> str:
    """A module run's parameter count, as its RunStarted said (no spec to count them by)."""
    started = [event for event in read_events(path) if isinstance(event, RunStarted)]
    return fmt.grouped(started[-1].params) if started else "?"


def _parameters(spec_data: dict[str, Any]) -> str:
    """The model's parameter count from its spec (the shape engine, no torch); ? when the
    spec cannot be read."""
    from .shapes import analyze
    from .specfile import SpecError, spec_from_dict

    try:
        return fmt.grouped(analyze(spec_from_dict(spec_data), batch_size=1).totals.params)
    except (SpecError, RecursionError, ValueError, TypeError):
        return "?"
