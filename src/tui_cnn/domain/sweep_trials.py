"""A sweep's trials as their runs tell them, for the Runs screen's sweep table: each trial's
values against its run's status and best validation accuracy, read from the files alone
(trial.json and the run list's row), without Optuna, so the app stays light."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .run_list import RunRow, run_row
from .sweep import SweepRecord, read_sweep, read_trial, trial_dirs


@dataclass(frozen=True)
class SweepTrial:
    number: int
    params: dict[str, Any]
    row: RunRow


@dataclass(frozen=True)
class SweepTrials:
    sweep_dir: str
    record: SweepRecord
    trials: list[SweepTrial]

    @property
    def best(self) -> SweepTrial | None:
        """The finished trial with the best validation accuracy: the study's objective."""
        finished = [t for t in self.trials if t.row.status == "finished" and t.row.best_val_acc is not None]
        # cast: `finished` keeps only trials with a best_val_acc, which a lambda cannot narrow.
        return max(finished, key=lambda t: cast(float, t.row.best_val_acc)) if finished else None


def sweep_trials(sweep_dir: str | Path) -> SweepTrials:
    """The sweep of ``sweep_dir`` and its trials so far; SweepError, in one line, for no sweep."""
    record = read_sweep(sweep_dir)
    trials = []
    for run_dir in trial_dirs(sweep_dir):
        trial = read_trial(run_dir)
        if trial is not None:
            trials.append(SweepTrial(trial.number, trial.params, run_row(run_dir)))
    return SweepTrials(str(sweep_dir), record, trials)
