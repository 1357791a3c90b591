"""The run files' records (config.json, metrics.jsonl, eval.json, process.json, the run request):
one msgspec schema per file, shared by the writer and every reader, and how they are encoded and decoded."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import msgspec

from .model_source import ModuleSource
from .train_config import TrainConfig

if TYPE_CHECKING:
    from .spec import ModelSpec


# --- the run files' schema: declared once, shared by the writer (the trainer builds these
# records and encodes them) and every reader (monitor, headless reporter, CLI, --resume).
# msgspec Structs refuse wrong types, so a corrupted file is found where it is read, with the
# field named, instead of failing later in a widget. Pure Python (msgspec has no torch).


class _Record(msgspec.Struct, frozen=True):
    """A record of a run file: refuses wrong types, with the field named. Fields it does not
    declare are ignored, on purpose: run files are written by a trainer, not by hand, and a
    newer trainer adding a field (or a run copied from a newer install) must not make every
    run unreadable to an older reader. A misspelt field still reads as its default.

    Subclasses inherit frozen=True from msgspec; each repeats it because a type checker does not
    know msgspec's config is inherited (mypy: "Non-frozen dataclass cannot inherit from frozen")."""


class EpochMetrics(_Record, frozen=True, omit_defaults=True):
    """One line of metrics.jsonl (and the metrics of an EpochEnd event). A figure your own
    loop did not log (tui_cnn.init) is NaN, as a diverged one: shown as --, never plotted."""

    epoch: int  # 1-based
    train_loss: float
    train_acc: float  # fraction 0..1
    val_loss: float
    val_acc: float
    lr: float
    epoch_time_s: float
    images_per_s: float  # training images over training time alone
    peak_mem_bytes: int | None = None
    #: figures your own loop logged beyond these (tui_cnn.init's run.log), by name
    extra: dict[str, float] = {}


class Misclassified(_Record, frozen=True):
    image: list[list[int]]  # H x W grayscale 0..255 (colour images averaged to gray)
    true: int
    predicted: int


class Evaluation(_Record, frozen=True):
    """eval.json (and the payload of an Evaluated event)."""

    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted
    classes: list[str] = []
    misclassified: list[Misclassified] = []
    split: str = "test"  # scored once, at the end of the run: it picked nothing
    #: the epoch whose weights were scored: the best validation epoch (checkpoint-best.pt, what
    #: Inspect shows), not the last one. None in runs from before it was written.
    epoch: int | None = None


class DatasetRecord(_Record, frozen=True):
    name: str = ""
    train_size: int = 0
    val_size: int = 0
    test_size: int = 0
    classes: list[str] = []
    source: str = ""  # --dataset folder: the folder, its test split, how images were resized, what was skipped


class DeviceRecord(_Record, frozen=True):
    """A device, as config.json records it and the app's device panel shows it."""

    kind: str = ""  # "cuda" | "mps" | "cpu"
    name: str = ""  # "NVIDIA H100 80GB HBM3", "Apple GPU", the CPU's model name
    total_bytes: int | None = None
    free_bytes: int | None = None


class RunConfigFile(_Record, frozen=True):
    """config.json: what a run was started with. ``config`` is checked against TrainConfig
    by ``train_config`` (its own declaration, kept by the settings)."""

    spec: dict[str, Any]
    config: dict[str, Any]
    dataset: DatasetRecord = DatasetRecord()
    device: DeviceRecord = DeviceRecord()
    versions: dict[str, str] = {}
    module: ModuleSource | None = None  # a run of a user's nn.Module (domain.model_source); spec names it
    #: a run your own training loop logged (tui_cnn.init): the script that ran it ("" for a run
    #: tui-cnn trained; ``spec`` then holds the model's name alone, no layers)
    script: str = ""

    @property
    def model_name(self) -> str:
        model = self.spec.get("model")
        name = model.get("name") if isinstance(model, dict) else None
        return name if isinstance(name, str) else ""

    def train_config(self) -> TrainConfig:
        """The run's settings, their types checked; RunFileError names a wrong one."""
        known = {f.name for f in fields(TrainConfig)}
        try:
            return msgspec.convert({k: v for k, v in self.config.items() if k in known}, TrainConfig)
        except msgspec.ValidationError as exc:
            raise RunFileError(f"config.json: {exc}") from None


class RunRequest(_Record, frozen=True):
    """What a training process is started with: the spec (as a spec file holds it) and the
    settings. Built and encoded by whoever starts a run (backend.launch, TrainingProcess),
    decoded by the child: one declaration for both sides, the types checked on arrival."""

    spec: dict[str, Any]
    config: TrainConfig
    module: ModuleSource | None = None  # a module run (domain.model_source); ``spec`` is then its stub

    def encode(self) -> str:
        """One line of JSON (a NaN setting survives, to be refused by ``validate``)."""
        return json.dumps(to_json(self))

    @classmethod
    def decode(cls, text: str | bytes) -> "RunRequest":
        """The request a process was sent; RunFileError (one line) for a bad one."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise RunFileError("the run request is not JSON") from None
        return decode(data, cls, "the run request")

    def model_source(self) -> "ModuleSource | ModelSpec":
        """What to train: the module, or the spec (SpecError, one line, for a bad one)."""
        return self.module if self.module is not None else self.model_spec()

    def model_spec(self) -> "ModelSpec":
        """The spec to train; SpecError (one line) for a bad one."""
        from .specfile import spec_from_dict

        return spec_from_dict(self.spec)


class ProcessRecord(_Record, frozen=True):
    """process.json: the process training the run, written when it starts (and on resume)."""

    pid: int
    host: str
    started_at: float  # time.time()
    #: when the OS started that process (psutil create_time): a pid reused by another process
    #: has another start (None in runs from before it was written)
    create_time: float | None = None
    control_seq: int = 0  # the number of the last control command it applied


class RunFileError(ValueError):
    """A run file that does not hold what its schema declares, in one line."""


def to_json(record: msgspec.Struct) -> dict[str, Any]:
    """A record as plain JSON data (an event with its ``"event"`` tag)."""
    return msgspec.to_builtins(record)


def encode_record(record: msgspec.Struct, indent: int | None = None) -> str:
    """A run file's text (or one line of a JSON-lines file, newline included), from its
    record. Python's json, as readers parse: a NaN the trainer measured (a diverged loss)
    is written as NaN and reads back as one (msgspec's encoder would write null)."""
    return json.dumps(to_json(record), indent=indent) + "\n"


def decode(data: Any, kind: Any, where: str) -> Any:
    """``data`` (parsed JSON) as ``kind``; RunFileError says which field is wrong, and where.
    Parsed with Python's json, so a NaN the trainer wrote (a diverged loss) reads back."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise RunFileError(f"{where}: {exc}") from None
