"""Hand-made run directories to compare (no training): two runs that differ in optimizer,
learning rate and epochs, with curves of their own, and a corrupted one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.run_corpus import write_good_run


def _metrics_line(epoch: int, train_loss: float, train_acc: float, val_loss: float, val_acc: float) -> str:
    return (
        json.dumps(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": 1e-3,
                "epoch_time_s": 2.0,
                "images_per_s": 1500.0,
                "peak_mem_bytes": None,
            }
        )
        + "\n"
    )


def write_run(run_dir: Path, curves: list[tuple[float, float, float, float]], **settings) -> Path:
    """A run whose config.json holds ``settings`` over the defaults and whose metrics.jsonl
    holds ``curves`` (train loss, train acc, val loss, val acc)."""
    write_good_run(run_dir)
    data = json.loads((run_dir / "config.json").read_text())
    data["config"].update(settings)
    (run_dir / "config.json").write_text(json.dumps(data))
    (run_dir / "metrics.jsonl").write_text("".join(_metrics_line(n, *e) for n, e in enumerate(curves, 1)))
    return run_dir


def write_compared_runs(root: Path) -> tuple[Path, Path, Path]:
    """adam (4 epochs), sgd at lr 0.05 (3 epochs), and a run whose config.json was cut short."""
    adam = write_run(
        root / "adam-run",
        [(0.9, 0.70, 0.50, 0.84), (0.4, 0.88, 0.30, 0.91), (0.25, 0.93, 0.22, 0.94), (0.18, 0.95, 0.19, 0.95)],
        epochs=4,
    )
    sgd = write_run(
        root / "sgd-run",
        [(1.8, 0.40, 1.2, 0.62), (1.0, 0.70, 0.8, 0.76), (0.7, 0.80, 0.6, 0.82)],
        optimizer="sgd",
        lr=0.05,
        epochs=3,
    )
    # how each run ended, as the trainer's events say it (the status row)
    (adam / "events.jsonl").write_text(
        json.dumps({"event": "Finished", "best_epoch": 4, "best_val_acc": 0.95, "total_time_s": 8.0}) + "\n"
    )
    (sgd / "events.jsonl").write_text(json.dumps({"event": "Stopped", "epoch": 3, "checkpoint": None}) + "\n")
    broken = write_good_run(root / "broken-run")
    (broken / "config.json").write_text('{"spec": {"mod')
    return adam, sgd, broken
