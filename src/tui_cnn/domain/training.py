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
from .settings import MAX_SEED, Setting, SettingError, check_setting, setting

DATASETS = tuple(datasets.DATASETS)  # ("mnist", "mnist-sample", "fashion-mnist", "kmnist", "cifar10")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: The largest batch a setting takes: 2**20 images (far past any GPU's memory for these models).
MAX_BATCH_SIZE = 2**20


@dataclass(frozen=True)
class TrainConfig:
    """A run's settings. Each field is declared once, with its bounds and help (settings.py):
    the CLI's options, the monitor's form and ``validate`` all come from these lines."""

    dataset: str = setting("mnist", "the dataset (default: mnist if found in --data-dir, else mnist-sample)",
                           label="dataset", choices=DATASETS)
    data_dir: str | None = setting(None, "torchvision root holding MNIST/raw/... (default: ~/.cache/tui-cnn/data)",
                                   kind=str, label="data folder", optional=True,
                                   placeholder="default (per-user cache)")
    epochs: int = setting(3, "passes over the training split", label="epochs", minimum=1, maximum=100_000)
    batch_size: int = setting(64, "images per optimizer step (the global batch with --nproc-per-node)",
                              label="batch size", minimum=1, maximum=MAX_BATCH_SIZE, short="-b")
    optimizer: str = setting("adam", "the optimizer", label="optimizer", choices=OPTIMIZERS)
    # Past ~3.4e38 torch cannot even apply the step (float32 overflow, a traceback); anything
    # far above 1 diverges, which the engine reports as a failure that names the step.
    lr: float = setting(1e-3, "the learning rate (the peak of the schedule)", label="learning rate",
                        minimum=0, min_open=True, maximum=1e12)
    momentum: float = setting(0.9, "SGD's momentum", minimum=0, maximum=1, max_open=True)
    nesterov: bool = setting(False, "SGD with Nesterov momentum", flag="--nesterov")
    weight_decay: float = setting(0.0, "L2 penalty (decoupled with adamw)", label="weight decay",
                                  minimum=0, maximum=10)
    schedule: str = setting("constant", "how the learning rate changes over the run", label="schedule",
                            choices=SCHEDULES)
    label_smoothing: float = setting(0.0, "cross-entropy label smoothing", label="label smoothing",
                                     minimum=0, maximum=1, max_open=True)
    val_fraction: float = setting(
        0.1, "hold out this much of the training split (seeded) for validation: per-epoch figures, the best "
        "checkpoint; the test split is scored once, at the end. 0: validate on the test split (it then leaks "
        "into model selection)", label="validation share", minimum=0, maximum=0.9)
    augment: bool = setting(False, "random shifts of up to 2 pixels (and flips for CIFAR-10), on the device",
                            label="augment", flag="--augment")
    seed: int = setting(0, "seeds the weights, the data order and the validation hold-out", label="seed",
                        minimum=0, maximum=MAX_SEED)
    device: str = setting("auto", "auto: CUDA, then Apple MPS, then the CPU", label="device", choices=DEVICES)
    amp: bool = setting(True, "bfloat16 autocast (CUDA only)", label="bf16 autocast", flag="--no-amp")
    compile: bool = setting(False, "torch.compile the model", label="torch.compile", flag="--compile")
    run_dir: str | None = setting(None, "where the run is written (default: runs/<date>-<time>-<model>/)",
                                  kind=str, optional=True)
    progress_every: int = setting(10, "batches between progress events", minimum=1, maximum=1_000_000, cli=False)
    resume: str | None = setting(None, "a run directory to continue at the epoch after its last checkpoint",
                                 kind=str, optional=True, cli=False)
    nproc_per_node: int = setting(1, "train on this many processes under torchrun: one per GPU, or on the CPU "
                                  "(gloo); --batch-size is the global batch", label="processes", minimum=1,
                                  maximum=1024)

    def validate(self) -> list[str]:
        """Problems a person can fix before the run starts, in plain words: every declared
        bound (a config.json with wrong types lands here too), then what ties settings together."""
        problems = []
        for name, declared in SETTINGS.items():
            try:
                check_setting(name, declared, getattr(self, name))
            except SettingError as exc:
                problems.append(str(exc))
        if not problems and self.batch_size % self.nproc_per_node:
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


def validation_source(val_fraction: float) -> str:
    """What the per-epoch validation figures (and the best checkpoint) are measured on."""
    if val_fraction > 0:
        return f"{val_fraction:.0%} of the training split, held out"
    return "the test split (validation share 0: the test set also picks the best epoch)"


#: Every training setting's declaration, in the order the CLI's help and the form show them.
SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in fields(TrainConfig)}


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
    split: str = "test"  # scored once, at the end of the run: it picked nothing


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
