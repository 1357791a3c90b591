"""A hostile corpus of run directories: what a crash, a full disk, a hand edit or a run still
being written leave behind. Every reader (CLI, monitor, --resume) must answer each with a
clear message or a partial run, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.run_records import (
    DatasetRecord,
    DeviceRecord,
    EpochMetrics,
    Evaluation,
    RunConfigFile,
    encode_record,
    to_json,
)
from tui_cnn.domain.specfile import spec_to_dict
from tui_cnn.domain.train_config import TrainConfig


def epoch_line(number: int, **changes) -> str:
    """One line of metrics.jsonl (no newline); ``changes``, even ones its record refuses,
    are written over the record's fields (the corpus spoils lines this way)."""
    epoch = number
    metrics = EpochMetrics(
        epoch=number,
        train_loss=1.0 / epoch,
        train_acc=0.5,
        val_loss=1.1 / epoch,
        val_acc=0.4 + epoch / 10,
        lr=1e-3,
        epoch_time_s=2.0,
        images_per_s=1000.0,
        peak_mem_bytes=2**20,
    )
    return json.dumps({**to_json(metrics), **changes})


def write_good_run(run_dir: Path, epochs_done: int = 2) -> Path:
    """A small, well-formed run directory (no checkpoint)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    classes = [str(i) for i in range(10)]
    config = RunConfigFile(
        spec_to_dict(load_preset("SimpleCNN")),
        TrainConfig(epochs=3, dataset="mnist").to_json(),
        DatasetRecord("mnist", 256, 0, 64, classes),
        DeviceRecord("cpu", "a CPU"),
        {"torch": "2", "torchvision": "0"},
    )
    (run_dir / "config.json").write_text(encode_record(config, indent=2))
    (run_dir / "metrics.jsonl").write_text("".join(epoch_line(e) + "\n" for e in range(1, epochs_done + 1)))
    evaluation = Evaluation(0.5, [0.5] * 10, [[1 if i == j else 0 for j in range(10)] for i in range(10)], classes)
    (run_dir / "eval.json").write_text(encode_record(evaluation))
    return run_dir


def _edit_config(run_dir: Path, edit) -> None:
    data = json.loads((run_dir / "config.json").read_text())
    edit(data)
    (run_dir / "config.json").write_text(json.dumps(data))


#: name -> how to spoil a good run. "opens": the run still opens (what is bad is skipped).
SPOILERS = {
    "config-not-json": (False, lambda d: (d / "config.json").write_text('{"spec": {"mod')),
    "config-a-list": (False, lambda d: (d / "config.json").write_text("[1, 2, 3]")),
    "config-is-a-directory": (False, lambda d: ((d / "config.json").unlink(), (d / "config.json").mkdir())),
    "config-binary": (False, lambda d: (d / "config.json").write_bytes(b"\x00\xff\xfe garbage \x80")),
    "config-deeply-nested": (False, lambda d: (d / "config.json").write_text("[" * 100_000 + "]" * 100_000)),
    "config-spec-wrong-type": (False, lambda d: _edit_config(d, lambda c: c.update(spec=5))),
    # a field this version does not know (a newer trainer wrote the run): read, the field ignored
    "config-unknown-field": (True, lambda d: _edit_config(d, lambda c: c.update(surprise=True))),
    "config-epochs-a-string": (True, lambda d: _edit_config(d, lambda c: c["config"].update(epochs="three"))),
    "config-lr-nan": (
        True,
        lambda d: (d / "config.json").write_text((d / "config.json").read_text().replace('"lr": 0.001', '"lr": NaN')),
    ),
    "config-device-wrong-type": (False, lambda d: _edit_config(d, lambda c: c.update(device=["cuda"]))),
    "metrics-truncated-last-line": (
        True,
        lambda d: (d / "metrics.jsonl").write_text(epoch_line(1) + "\n" + epoch_line(2)[:25]),
    ),
    "metrics-garbage-line": (
        True,
        lambda d: (d / "metrics.jsonl").write_text(epoch_line(1) + "\n%%garbage%%\n" + epoch_line(2) + "\n"),
    ),
    "metrics-wrong-types": (
        True,
        lambda d: (d / "metrics.jsonl").write_text(
            epoch_line(1, val_acc="high") + "\n" + epoch_line(2, epoch=None) + "\n"
        ),
    ),
    "metrics-nan-and-infinity": (
        True,
        lambda d: (d / "metrics.jsonl").write_text(
            epoch_line(1, train_loss=float("nan"), val_loss=float("inf"))
            + "\n"
            + epoch_line(2, val_acc=float("-inf"), images_per_s=float("nan"))
            + "\n"
        ),
    ),
    "metrics-unknown-field": (
        True,
        lambda d: (d / "metrics.jsonl").write_text(epoch_line(1, from_a_newer_trainer=1) + "\n"),
    ),
    "metrics-binary": (True, lambda d: (d / "metrics.jsonl").write_bytes(b"\x00\x01\xff\n\x80\x80\n")),
    "metrics-deep-line": (True, lambda d: (d / "metrics.jsonl").write_text("[" * 50_000 + "]" * 50_000 + "\n")),
    "eval-wrong-types": (
        True,
        lambda d: (d / "eval.json").write_text(
            json.dumps({"accuracy": "0.9", "per_class_accuracy": [], "confusion_matrix": [["a"]]})
        ),
    ),
    "eval-nan": (
        True,
        lambda d: (d / "eval.json").write_text(
            '{"accuracy": NaN, "per_class_accuracy": [Infinity, NaN], "confusion_matrix": [[1, 0], [0, 1]]}'
        ),
    ),
    "eval-not-json": (True, lambda d: (d / "eval.json").write_text('{"accuracy": 0.')),
    "eval-ragged-matrix": (
        True,
        lambda d: (d / "eval.json").write_text(
            json.dumps({"accuracy": 0.5, "per_class_accuracy": [0.5], "confusion_matrix": [[1, 2, 3], [], [4]]})
        ),
    ),
    "events-garbage": (
        True,
        lambda d: (d / "events.jsonl").write_text(
            '{"event": "RunStarted"}\n{"event": "Nope"}\nnot json\n{"event": "EpochEnd", "metrics": 5, "best": 1}\n{"ev'
        ),
    ),
    # times no clock can show (time.localtime raises on them): a log line's stamp, elapsed
    "events-absurd-times": (
        True,
        lambda d: (d / "events.jsonl").write_text(
            "".join(
                '{"event": "LogMessage", "message": "m", "at": %s}\n' % at
                for at in ("NaN", "Infinity", "1e300", "-1e300")
            )
            + '{"event": "Stopped", "epoch": 1, "checkpoint": null, "at": 1e300}\n'
        ),
    ),
}


def spoiled_run(base: Path, name: str) -> Path:
    run_dir = write_good_run(base / name)
    SPOILERS[name][1](run_dir)
    return run_dir
