"""What a training run is, as plain data: its configuration, the events the engine emits,
and the files of a run directory. Pure Python, so the monitor can show a run (live or read
from disk) without importing torch.

Run directory layout (the source of truth; a monitor can follow a run by reading it alone):
    config.json         {"spec": {...}, "config": {...}, "dataset": {...}, "device": ..., "versions": {...}}
    metrics.jsonl       one EpochMetrics object per line, flushed as each epoch ends
    eval.json           {"accuracy", "per_class_accuracy", "confusion_matrix", "classes", "misclassified"}
    checkpoint-last.pt / checkpoint-best.pt   (torch; loaded with weights_only=True)
    model.py            the spec exported as PyTorch code
    events.jsonl        every event as {"event": name, ...fields}, for attaching to a live run
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import datasets

DATASETS = tuple(datasets.DATASETS)  # ("mnist", "mnist-sample", "fashion-mnist", "kmnist", "cifar10")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "mnist"
    data_dir: str | None = None  # torchvision root (holds MNIST/raw/...); None: per-user cache
    epochs: int = 3
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    nesterov: bool = False  # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bfloat16 autocast, CUDA only
    compile: bool = False  # torch.compile
    augment: bool = False  # random translate (+ horizontal flip for CIFAR-10), on the device
    val_fraction: float = 0.0  # > 0: hold out this much of train for validation instead of test
    run_dir: str | None = None  # None: runs/<date>-<time>-<model>/
    progress_every: int = 10  # batches between BatchProgress events
    resume: str | None = None  # a run directory: continue it at the epoch after its last checkpoint
    nproc_per_node: int = 1  # > 1: that many processes under torchrun (one per GPU), batch_size is the global batch

    def validate(self) -> list[str]:
        """Problems a person can fix before the run starts, in plain words."""
        problems = []
        if self.dataset not in DATASETS:
            problems.append(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.epochs < 1:
            problems.append(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            problems.append(f"learning rate must be positive, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            problems.append(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.progress_every < 1:
            problems.append(f"progress_every must be at least 1, got {self.progress_every}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.nproc_per_node < 1:
            problems.append(f"nproc_per_node must be at least 1, got {self.nproc_per_node}")
        elif self.batch_size % self.nproc_per_node:
            problems.append(f"the batch size ({self.batch_size}) is the global batch and must divide evenly among "
                            f"the {self.nproc_per_node} processes of --nproc-per-node")
        return problems

    @property
    def process_batch_size(self) -> int:
        """The batch each process (each GPU) trains on: its share of the global batch."""
        return self.batch_size // max(self.nproc_per_node, 1)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float  # fraction 0..1
    val_loss: float
    val_acc: float
    lr: float
    epoch_time_s: float
    images_per_s: float  # training images over training time alone
    peak_mem_bytes: int | None = None


# --- events: the engine emits these to every listener, from its own thread ---


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    model: str
    config: dict[str, Any]
    device: str  # "cuda" | "cpu" | "mps"
    device_name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU's name
    dataset: str
    train_size: int
    val_size: int
    test_size: int
    params: int
    epochs: int
    batches_per_epoch: int
    start_epoch: int = 1  # > 1 when resumed
    processes: int = 1  # > 1: a distributed run (DDP), these events from its rank 0


@dataclass(frozen=True)
class BatchProgress:
    epoch: int
    batch: int  # 1-based, batches done in this epoch
    batches: int
    step: int  # global optimizer step
    loss: float  # loss of the latest batch
    smoothed_loss: float  # exponential moving average
    images_per_s: float
    lr: float
    elapsed_s: float  # since the epoch began


@dataclass(frozen=True)
class EpochEnd:
    metrics: EpochMetrics
    best: bool  # best validation accuracy so far


@dataclass(frozen=True)
class Misclassified:
    image: list[list[int]]  # H x W grayscale 0..255 (colour images averaged to gray)
    true: int
    predicted: int


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted
    classes: list[str] = field(default_factory=list)
    misclassified: list[Misclassified] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluated:
    evaluation: Evaluation


@dataclass(frozen=True)
class Finished:
    best_epoch: int
    best_val_acc: float
    total_time_s: float


@dataclass(frozen=True)
class Stopped:
    epoch: int
    checkpoint: str | None


@dataclass(frozen=True)
class Failed:
    reason: str  # what went wrong and what to do, in plain words
    step: int | None = None


@dataclass(frozen=True)
class Paused:
    pass


@dataclass(frozen=True)
class Resumed:
    pass


@dataclass(frozen=True)
class LogMessage:
    message: str
    level: str = "info"  # info | warning | error


TrainingEvent = (
    RunStarted | BatchProgress | EpochEnd | Evaluated | Finished | Stopped | Failed | Paused | Resumed | LogMessage
)


EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (RunStarted, BatchProgress, EpochEnd, Evaluated, Finished, Stopped, Failed, Paused, Resumed, LogMessage)
}


def event_to_json(event: TrainingEvent) -> dict[str, Any]:
    """``{"event": "EpochEnd", ...fields}``: one line of events.jsonl."""
    return {"event": type(event).__name__, **asdict(event)}


def event_from_json(data: dict[str, Any]) -> TrainingEvent:
    values = {k: v for k, v in data.items() if k != "event"}
    kind = data["event"]
    if kind == "EpochEnd":
        values["metrics"] = EpochMetrics(**values["metrics"])
    elif kind == "Evaluated":
        values["evaluation"] = _evaluation_from_json(values["evaluation"])
    return EVENT_TYPES[kind](**values)


def _evaluation_from_json(data: dict[str, Any]) -> Evaluation:
    return Evaluation(**{**data, "misclassified": [Misclassified(**m) for m in data.get("misclassified", [])]})


# --- reading a run directory (no torch) ---


def read_events(run_dir: str | Path) -> list[TrainingEvent]:
    """Every event so far; a line still being written (a live run) is skipped."""
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return []
    events = (event_from_line(line) for line in path.read_text(encoding="utf-8").splitlines())
    return [event for event in events if event is not None]


def event_from_line(line: str) -> TrainingEvent | None:
    """One line of events.jsonl (or of a training process's stdout) as an event; None for a
    line that is not one (cut short while being written, or not an event at all)."""
    try:
        return event_from_json(json.loads(line))
    except (ValueError, KeyError, TypeError):
        return None


def read_metrics(run_dir: str | Path) -> list[EpochMetrics]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    metrics = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            metrics.append(EpochMetrics(**json.loads(line)))
    return metrics


def read_evaluation(run_dir: str | Path) -> Evaluation | None:
    path = Path(run_dir) / "eval.json"
    if not path.exists():
        return None
    return _evaluation_from_json(json.loads(path.read_text(encoding="utf-8")))


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
