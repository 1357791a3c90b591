"""The queue's overhead: from the end of one queued run to the start of the next.

Runs of SimpleCNN on the packaged MNIST sample (one epoch each) are queued with
`tui-cnn train --queue`, as a person would; the runner starts them one at a time. For each
run after the first: the seconds from the previous run's end (its Finished event) to this
run's process holding its directory (the lock taken: the queue's own overhead), and to its
RunStarted (which adds the new process's torch import and data load, as any start pays).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import Figure, Options, Skipped, median


def run(options: Options) -> list[Figure]:
    from tui_cnn.domain.run_events import Finished, RunStarted
    from tui_cnn.domain.run_files import read_events
    from tui_cnn.domain.run_list import run_row
    from tui_cnn.domain.run_lock import read_lock_record

    count = 2 if options.quick else 4
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-queue-") as tmp:
        runs = [Path(tmp) / "runs" / f"r{i}" for i in range(count)]
        for run_dir in runs:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tui_cnn",
                    "train",
                    "SimpleCNN",
                    "--dataset",
                    "mnist-sample",
                    "--epochs",
                    "1",
                    "--device",
                    options.device,
                    "--queue",
                    "--run-dir",
                    str(run_dir),
                ],
                check=True,
                capture_output=True,
                timeout=120,
                cwd=tmp,
            )
        deadline = time.monotonic() + 150 * count
        while not all(run_row(run_dir).status in ("finished", "failed", "crashed") for run_dir in runs):
            if time.monotonic() > deadline:
                raise Skipped("the queued runs did not end in time")
            time.sleep(0.5)
        taken, started = [], []
        for previous, current in zip(runs, runs[1:]):
            ended = next(e.at for e in read_events(previous) if isinstance(e, Finished))
            lock = read_lock_record(current)
            began = next(e.at for e in read_events(current) if isinstance(e, RunStarted))
            if lock is not None:
                taken.append(lock.taken_at - ended)
            started.append(began - ended)
    how = (
        f"{count} queued runs of SimpleCNN, 1 epoch of mnist-sample each, {options.device}; median of {count - 1} gaps"
    )
    figures = [
        Figure(
            "queue",
            "end of a run to the next run's RunStarted (incl. its torch import and data)",
            median(started),
            "s",
            how,
            samples=started,
        )
    ]
    if taken:
        figures.insert(
            0,
            Figure(
                "queue",
                "end of a run to the next run's process holding it (queue overhead)",
                median(taken),
                "s",
                how,
                target="< 2",
                samples=taken,
            ),
        )
    return figures
