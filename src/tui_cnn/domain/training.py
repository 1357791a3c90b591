"""What a training run is, as plain data: its configuration, the events the engine emits,
and the files of a run directory. Pure Python, so the monitor can show a run (live or read
from disk) without importing torch.

Run directory layout (the source of truth; a monitor can follow a run by reading it alone):
    config.json         {"spec": {...}, "module": {...} (a module run), "config": {...}, "dataset": {...}, "device": ..., "versions": {...}}
    metrics.jsonl       one EpochMetrics object per line, flushed as each epoch ends
    eval.json           {"accuracy", "per_class_accuracy", "confusion_matrix", "classes", "misclassified",
                        "epoch"}: the test split scored once, on the best validation epoch's weights
    checkpoint-last.pt / checkpoint-best.pt   (torch; loaded with weights_only=True); an epoch's
                        writes commit in one order (backend Trainer._commit_epoch, the README)
    model.py            the spec exported as PyTorch code (not for a module run: source/ is its code)
    source/             a module run's source files, copied from the user's directory (domain.model_source)
    events.jsonl        every event as {"event": name, ...fields}, for attaching to a live run
    process.json        {"pid", "host", "started_at", "create_time", "control_seq"}: who trains it
                        (its start time as the OS counts it tells it from a process given its pid
                        later) and the last control command it applied
    .lock               held (flock) by the process training the run, for its whole life: one
                        trainer per run directory, and a live run is one whose lock is held
                        (domain.run_lock)
    control.json        {"commands": [{"seq", "command": "stop" | "pause" | "resume", "at"}, ...]}:
                        the latest commands, numbered, written by any app or by
                        `tui-cnn stop|pause|resume RUN_DIR`; the trainer obeys each new one in order

A run your own training loop logged (``tui_cnn.init``) has the same files, written by the same
writer (``domain.run_writer``), but no checkpoints and no model.py: config.json's "script"
names the script, its "spec" holds the model's name alone, figures it did not log are NaN.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from . import datasets
from .model_source import ModuleSource
from .paths import RUNS_DIR
from .settings import MAX_SEED, Setting, SettingError, check_setting, setting

if TYPE_CHECKING:
    from .spec import ModelSpec

DATASETS = datasets.DATASET_NAMES  # ("mnist", "mnist-sample", "fashion-mnist", "kmnist", "cifar10", "folder")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: The largest batch a setting takes: 2**20 images (far past any GPU's memory for these models).
MAX_BATCH_SIZE = 2**20


@dataclass(frozen=True)
class TrainConfig:
    """A run's settings. Each field is declared once, with its bounds and help (settings.py):
    the CLI's options, the monitor's form and ``validate`` all come from these lines."""

    dataset: str = setting("mnist", "the dataset (default: mnist if found in --data-dir, else mnist-sample); "
                           "folder: your own images in --data-dir, one folder per class", label="dataset",
                           choices=DATASETS)
    data_dir: str | None = setting(None, "torchvision root holding MNIST/raw/... (default: ~/.cache/tui-cnn/data); "
                                   "with --dataset folder, the folder of your images (ROOT/train/<class>/*, "
                                   "ROOT/test/<class>/* or ROOT/<class>/*)",
                                   kind=str, label="data folder", optional=True,
                                   placeholder="default (per-user cache)")
    resize: str = setting("crop", "--dataset folder: how images of other sizes become the model's input: crop "
                          "(shorter side resized, centre cropped) or stretch (resized to it)",
                          choices=datasets.RESIZE_MODES)
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
        if self.dataset == datasets.FOLDER and not self.data_dir:
            problems.append("--dataset folder trains on your own images: pass --data-dir with their folder")
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


OUTPUT_LOG = "output.log"  # a detached run's output (its process has no terminal)
#: The checkpoints a run directory holds (written by the backend, torch files): the last one
#: is what a run continues from, so a reader can tell whether a run can be continued.
LAST_CHECKPOINT = "checkpoint-last.pt"
BEST_CHECKPOINT = "checkpoint-best.pt"


def new_run_dir(model_name: str, base: str | os.PathLike[str] = RUNS_DIR, now: datetime | None = None) -> Path:
    """Make ``runs/<YYYYmmdd-HHMMSS>-<model>/``, with -2, -3... when two runs start in one
    second: each name is claimed by the mkdir itself (no look-then-make race between two
    processes). OSError when the folder cannot be made."""
    first = run_dir_name(model_name, base, now)
    try:
        Path(base).mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file, or a loop of links, under the folder's name
        raise NotADirectoryError(errno.ENOTDIR, f"{base} is not a folder", str(base)) from None
    return claim_folder(first, "runs")


def claim_folder(first: Path, what: str, tries: int = 10_000) -> Path:
    """``first`` made, or ``first-2``, ``first-3``... when taken: each name is claimed by the
    mkdir itself, so two processes never get the same one (no look-then-make race)."""
    for suffix in range(1, tries):
        path = first.with_name(first.name + (f"-{suffix}" if suffix > 1 else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{first}-*: {tries:,} {what} in one second")


def run_dir_name(model_name: str, base: str | os.PathLike[str] = RUNS_DIR, now: datetime | None = None) -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<model>``: the name a new run's folder starts from (not made)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model_name).strip("-") or "model"
    return Path(base) / f"{stamp}-{slug}"


CONTROL_FILE = "control.json"
RUN_CONTROLS = ("stop", "pause", "resume")
#: control.json keeps this many latest commands: a trainer looks 4 times a second, so it never
#: falls this far behind, and the file stays small.
CONTROL_KEPT = 32
#: A control.json larger than this is not ours (a few hundred bytes a command): ignored unread.
CONTROL_MAX_BYTES = 64 * 1024


class ControlCommand(_Record, frozen=True):
    """One command for a run's training process, numbered in the order they were asked."""

    seq: int
    command: str
    at: float  # time.time()


class ControlFile(_Record, frozen=True):
    """control.json: the latest commands, oldest first (see CONTROL_FILE)."""

    commands: list[ControlCommand] = []


class ControlFileRefused(ValueError):
    """A control.json the trainer does not read (not a regular file, too large), in one line."""


def read_control_commands(run_dir: str | Path) -> list[ControlCommand]:
    """control.json's commands, oldest first: [] when absent or unreadable. Opened without
    blocking and read only when it is a regular file under CONTROL_MAX_BYTES (a named pipe
    put there would hang the reader, a huge file fill its memory): ControlFileRefused says
    what else is there."""
    path = Path(run_dir) / CONTROL_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ControlFileRefused(f"{path} is a symbolic link, not a regular file: ignored") from None
        return []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ControlFileRefused(f"{path} is not a regular file: ignored (tui-cnn stop|pause|resume replace it)")
        if info.st_size > CONTROL_MAX_BYTES:
            raise ControlFileRefused(f"{path} holds {info.st_size:,} bytes, more than a control file's "
                                     f"{CONTROL_MAX_BYTES:,}: ignored (tui-cnn stop|pause|resume replace it)")
        data = os.read(fd, CONTROL_MAX_BYTES + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    try:
        return msgspec.json.decode(data, type=ControlFile).commands
    except msgspec.DecodeError:  # the old one-command form, or garbage: no numbered commands
        return []


def _readable_commands(run_dir: str | Path) -> list[ControlCommand]:
    try:
        return read_control_commands(run_dir)
    except ControlFileRefused:
        return []


def last_control_seq(run_dir: str | Path) -> int:
    """The number of the latest command written for ``run_dir`` (0 before any)."""
    commands = _readable_commands(run_dir)
    return commands[-1].seq if commands else 0


def write_control(run_dir: str | Path, command: str) -> ControlCommand:
    """Ask the process training ``run_dir`` to stop, pause or resume: the command is numbered
    after the latest and added to control.json (writers take turns under a lock of their own;
    the file is replaced atomically, so the trainer never reads half of it). Whatever else
    stood under that name (a pipe, a link, a huge file) is replaced."""
    import fcntl

    from .specfile import atomic_write_text

    if command not in RUN_CONTROLS:
        raise ValueError(f"a run takes {', '.join(RUN_CONTROLS)}, not {command!r}")
    path = Path(run_dir) / CONTROL_FILE
    fd = os.open(Path(run_dir) / ".control.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        commands = _readable_commands(run_dir)
        record = ControlCommand(commands[-1].seq + 1 if commands else 1, command, time.time())
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            if not stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
        text = msgspec.json.encode(ControlFile([*commands[-(CONTROL_KEPT - 1):], record])).decode()
        atomic_write_text(path, text + "\n")
    finally:
        os.close(fd)
    return record


def read_control(run_dir: str | Path) -> ControlCommand | None:
    """The latest command asked of ``run_dir``, or None."""
    commands = _readable_commands(run_dir)
    return commands[-1] if commands and commands[-1].command in RUN_CONTROLS else None


# --- events: the engine emits these to every listener, from its own thread. One line of
# events.jsonl each: {"event": "<class name>", ...fields}.


class _Event(_Record, frozen=True, tag_field="event", tag=True, kw_only=True):
    #: time.time() when the engine emitted it (None in runs from before it was written): a
    #: monitor attaching to a run later folds its events with the times they happened.
    at: float | None = None


class RunStarted(_Event, frozen=True):
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
    #: batches of start_epoch already trained (a run stopped mid-epoch): progress of that epoch
    #: past them, from before this start, was lost with the process that trained it
    start_batch: int = 0
    processes: int = 1  # > 1: a distributed run (DDP), these events from its rank 0
    script: str = ""  # your own training loop's script (tui_cnn.init), as in config.json


class BatchProgress(_Event, frozen=True):
    epoch: int
    batch: int  # 1-based, batches done in this epoch
    batches: int
    step: int  # global optimizer step
    loss: float  # loss of the latest batch
    smoothed_loss: float  # exponential moving average
    images_per_s: float
    lr: float
    elapsed_s: float  # since the epoch began


class EpochEnd(_Event, frozen=True):
    metrics: EpochMetrics
    best: bool  # best validation accuracy so far


class Evaluated(_Event, frozen=True):
    evaluation: Evaluation


class Finished(_Event, frozen=True):
    best_epoch: int
    best_val_acc: float
    total_time_s: float


class Stopped(_Event, frozen=True):
    epoch: int
    checkpoint: str | None


class Failed(_Event, frozen=True):
    reason: str  # what went wrong and what to do, in plain words
    step: int | None = None


class Paused(_Event, frozen=True):
    pass


class Resumed(_Event, frozen=True):
    pass


class LogMessage(_Event, frozen=True):
    message: str
    level: str = "info"  # info | warning | error


TrainingEvent = (
    RunStarted | BatchProgress | EpochEnd | Evaluated | Finished | Stopped | Failed | Paused | Resumed | LogMessage
)


EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (RunStarted, BatchProgress, EpochEnd, Evaluated, Finished, Stopped, Failed, Paused, Resumed, LogMessage)
}


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


def event_to_json(event: TrainingEvent) -> dict[str, Any]:
    """``{"event": "EpochEnd", ...fields}``: one line of events.jsonl."""
    return to_json(event)


def decode(data: Any, kind: Any, where: str) -> Any:
    """``data`` (parsed JSON) as ``kind``; RunFileError says which field is wrong, and where.
    Parsed with Python's json, so a NaN the trainer wrote (a diverged loss) reads back."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise RunFileError(f"{where}: {exc}") from None


def event_from_json(data: dict[str, Any]) -> TrainingEvent:
    return decode(data, TrainingEvent, "event")


def event_from_line(line: str) -> TrainingEvent | None:
    """One line of events.jsonl (or of a training process's stdout) as an event; None for a
    line that is not one (cut short while being written, or not an event at all)."""
    try:
        return event_from_json(json.loads(line))
    except (ValueError, RecursionError):
        return None


# --- reading a run directory (no torch). Every reader goes through these: tolerant of a last
# line still being written, and of bad lines (each skipped and named in ``problems``).


def read_lines(path: Path, kind: Any, problems: list[str] | None = None, skip: tuple[str, ...] = ()) -> list[Any]:
    """The records of a JSON-lines file. A last line without its newline is being written
    (a live run): skipped silently. Any other bad line: skipped, and said in ``problems``.
    ``skip``: line starts not worth parsing (the runs list has no use for BatchProgress)."""
    return list(iter_lines(path, kind, problems, skip))


def iter_lines(path: Path, kind: Any, problems: list[str] | None = None,
               skip: tuple[str, ...] = ()) -> Iterator[Any]:
    """``read_lines`` one record at a time, the file read a line at a time: memory bounded
    by its longest line, not its size (a 200 MB events.jsonl once took the runs list to
    490 MB, read whole and split)."""
    skip_bytes = tuple(prefix.encode() for prefix in skip)
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        _note(problems, f"{path.name}: {exc.strerror or exc}")
        return
    with file:
        try:
            for number, raw in enumerate(file, 1):
                if not raw.endswith(b"\n"):  # after the last newline: a live run's line in progress
                    return
                if raw == b"\n" or (skip_bytes and raw.startswith(skip_bytes)):
                    continue
                yield from _parse_lines(path.name, [(number, raw[:-1].decode("utf-8", errors="replace"))], kind,
                                        problems)
        except OSError as exc:  # a read error part way (an unreadable folder, a disk going away)
            _note(problems, f"{path.name}: {exc.strerror or exc}")


@functools.lru_cache(maxsize=None)
def _decoder(kind: Any) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(kind)


def _parse_lines(name: str, lines: list[tuple[int, str]], kind: Any, problems: list[str] | None) -> list[Any]:
    """Numbered lines as records of ``kind``; a bad one is skipped and said in ``problems``.
    msgspec's decoder first (a 1000-epoch run's 100,000 events in a fraction of a second, not
    8 s); Python's json for a line it refuses: a NaN the trainer wrote, or a bad line, whose
    problem is then said as json and msgspec.convert word it."""
    records, decode = [], _decoder(kind).decode
    for number, line in lines:
        try:
            records.append(decode(line))
            continue
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        try:
            records.append(msgspec.convert(json.loads(line), kind))
        except msgspec.ValidationError as exc:
            _note(problems, f"{name} line {number}: {exc}")
        except (ValueError, RecursionError):
            if line.strip():
                _note(problems, f"{name} line {number}: not JSON")
    return records


class EventFollower:
    """Follows a run's events.jsonl as it grows, as toolong follows a log: it remembers how
    far it has read and, when the file's size changes, reads only what was appended. A last
    line without its newline is still being written: it is read whole next time. A file
    that shrank was truncated or replaced: it is read again from the start (``restarted``
    says so). Bad lines are skipped and said in ``problems``, as by ``read_lines``; a file
    truncated, replaced or deleted while followed is said in ``changes`` (a reader says it
    rather than showing a run that lost its past as crashed or with 0 epochs)."""

    #: At most this much is read a call, so that catching up with a long run never holds the
    #: caller (a UI's timer) for long; the rest comes on the next calls.
    MAX_READ = 2 * 2**20

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / "events.jsonl"
        self.problems: list[str] = []
        self.changes: list[str] = []
        self.restarted = False
        self.deleted = False
        self._offset = 0
        self._lines_read = 0

    def backlog(self) -> int:
        """Bytes written and not read yet (0 when the file is gone or unreadable)."""
        try:
            return max(0, self.path.stat().st_size - self._offset)
        except OSError:
            return 0

    @property
    def caught_up(self) -> bool:
        """Whether everything written so far has been read (but a line being written)."""
        try:
            return self.path.stat().st_size - self._offset < self.MAX_READ
        except OSError:
            return True

    def read_new(self) -> list[TrainingEvent]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            if self._offset and not self.deleted:  # not written yet is a run still starting
                self.deleted = True
                self.changes.append(f"{self.path.name} was deleted while the run was followed: what it does from "
                                    "now on cannot be followed (its process may still be training)")
            return []
        except OSError as exc:
            _note(self.problems, f"{self.path.name}: {exc.strerror or exc}")
            return []
        if self.deleted:
            self.deleted = False
            self.changes.append(f"{self.path.name} is back: followed again from its start")
            self._offset, self._lines_read = 0, 0
        if size < self._offset:
            self.changes.append(f"{self.path.name} was truncated or replaced while the run was followed ({size:,} "
                                f"bytes left of {self._offset:,} read): read again from its start")
            self._offset, self._lines_read, self.restarted = 0, 0, True
        if size == self._offset:
            return []
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                data = file.read(min(size - self._offset, self.MAX_READ))
        except OSError as exc:
            _note(self.problems, f"{self.path.name}: {exc.strerror or exc}")
            return []
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) == self.MAX_READ:  # one line longer than a read: no event is; skip it
                self._offset += len(data)
                _note(self.problems, f"{self.path.name}: a line of over {self.MAX_READ:,} bytes skipped")
            return []
        self._offset += end + 1
        first = self._lines_read + 1
        lines = data[:end].decode("utf-8", errors="replace").split("\n")
        self._lines_read += len(lines)
        return _parse_lines(self.path.name, list(enumerate(lines, first)), TrainingEvent, self.problems)


def _note(problems: list[str] | None, problem: str) -> None:
    if problems is not None:
        problems.append(problem)


def read_events(run_dir: str | Path, problems: list[str] | None = None,
                skip: tuple[type, ...] = ()) -> list[TrainingEvent]:
    """Every event so far (but those of the ``skip`` types, left unparsed); a line still
    being written (a live run) is skipped."""
    return list(iter_events(run_dir, problems, skip))


def iter_events(run_dir: str | Path, problems: list[str] | None = None,
                skip: tuple[type, ...] = ()) -> Iterator[TrainingEvent]:
    """``read_events`` one at a time, with memory bounded by the longest line: to fold them."""
    prefixes = tuple(json.dumps({"event": kind.__name__})[:-1] for kind in skip)  # '{"event": "BatchProgress"'
    return iter_lines(Path(run_dir) / "events.jsonl", TrainingEvent, problems, prefixes)


def read_metrics(run_dir: str | Path, problems: list[str] | None = None) -> list[EpochMetrics]:
    return read_lines(Path(run_dir) / "metrics.jsonl", EpochMetrics, problems)


def read_evaluation(run_dir: str | Path, problems: list[str] | None = None) -> Evaluation | None:
    """eval.json, or None when it is not there (yet) or unreadable (said in ``problems``)."""
    path = Path(run_dir) / "eval.json"
    try:
        return decode(json.loads(path.read_text(encoding="utf-8", errors="replace")), Evaluation, path.name)
    except FileNotFoundError:
        return None
    except RunFileError as exc:
        _note(problems, str(exc))
    except (OSError, ValueError, RecursionError) as exc:
        _note(problems, f"eval.json: {getattr(exc, 'strerror', None) or 'not JSON'}")
    return None


def read_run_config(run_dir: str | Path) -> RunConfigFile:
    """config.json, its types checked. RunFileError (one line) for a missing, unreadable or
    corrupted one."""
    path = Path(run_dir) / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunFileError(f"{run_dir} is not a run directory: no readable config.json "
                           f"({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RunFileError(f"{path} is not text (corrupted)") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise RunFileError(f"{path} is not JSON (cut short or corrupted)") from None
    return decode(data, RunConfigFile, str(path))


def read_process(run_dir: str | os.PathLike[str]) -> ProcessRecord | None:
    """process.json, or None when absent or unreadable (a run from before it existed)."""
    try:
        return decode(json.loads((Path(run_dir) / "process.json").read_text(encoding="utf-8")), ProcessRecord, "")
    except (OSError, ValueError, RecursionError):
        return None


class _AccuracyOf(msgspec.Struct):
    """The one figure of eval.json a list of runs shows; msgspec skips the rest (the images
    of misclassified digits) without building it."""

    accuracy: float


def read_test_accuracy(run_dir: str | Path) -> float | None:
    """eval.json's accuracy, cheaply (for 1,000 runs at once); None when absent or unreadable."""
    try:
        return msgspec.json.decode((Path(run_dir) / "eval.json").read_bytes(), type=_AccuracyOf).accuracy
    except (OSError, msgspec.DecodeError):
        return None


#: How a training process's last line says that the run failed (cli/train.py writes it).
FAILURE_LINE = "tui-cnn: training failed: "


def failure_in_output(run_dir: str | Path) -> str | None:
    """Why a detached run failed, when its process said so last in output.log: a run whose
    Failed event could not be written (its disk full) failed, it did not crash."""
    line = _last_output_line(run_dir)
    return line.removeprefix(FAILURE_LINE) if line.startswith(FAILURE_LINE) else None


def last_output_line(run_dir: str | Path, limit: int = 8192) -> str:
    """The last line a detached run's process wrote (why it ended, when it ended early)."""
    return _last_output_line(run_dir, limit).removeprefix("tui-cnn: ").removeprefix("training failed: ")


def _last_output_line(run_dir: str | Path, limit: int = 8192) -> str:
    try:
        with (Path(run_dir) / OUTPUT_LOG).open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - limit))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "")
