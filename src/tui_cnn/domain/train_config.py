"""A run's settings: TrainConfig, each field declared once with its bounds and help (the CLI's
options, the monitor's form and ``validate`` all come from it), and the choices they take."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from . import datasets
from .settings import MAX_SEED, Setting, SettingError, check_setting, setting

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

    dataset: str = setting(
        "mnist",
        "the dataset (default: mnist if found in --data-dir, else mnist-sample); "
        "folder: your own images in --data-dir, one folder per class",
        label="dataset",
        choices=DATASETS,
    )
    data_dir: str | None = setting(
        None,
        "torchvision root holding MNIST/raw/... (default: ~/.cache/tui-cnn/data); "
        "with --dataset folder, the folder of your images (ROOT/train/<class>/*, "
        "ROOT/test/<class>/* or ROOT/<class>/*)",
        kind=str,
        label="data folder",
        optional=True,
        placeholder="default (per-user cache)",
    )
    resize: str = setting(
        "crop",
        "--dataset folder: how images of other sizes become the model's input: crop "
        "(shorter side resized, centre cropped) or stretch (resized to it)",
        choices=datasets.RESIZE_MODES,
    )
    epochs: int = setting(3, "passes over the training split", label="epochs", minimum=1, maximum=100_000)
    batch_size: int = setting(
        64,
        "images per optimizer step (the global batch with --nproc-per-node)",
        label="batch size",
        minimum=1,
        maximum=MAX_BATCH_SIZE,
        short="-b",
    )
    optimizer: str = setting("adam", "the optimizer", label="optimizer", choices=OPTIMIZERS)
    # Past ~3.4e38 torch cannot even apply the step (float32 overflow, a traceback); anything
    # far above 1 diverges, which the engine reports as a failure that names the step.
    lr: float = setting(
        1e-3,
        "the learning rate (the peak of the schedule)",
        label="learning rate",
        minimum=0,
        min_open=True,
        maximum=1e12,
    )
    momentum: float = setting(0.9, "SGD's momentum", minimum=0, maximum=1, max_open=True)
    nesterov: bool = setting(False, "SGD with Nesterov momentum", flag="--nesterov")
    weight_decay: float = setting(0.0, "L2 penalty (decoupled with adamw)", label="weight decay", minimum=0, maximum=10)
    schedule: str = setting(
        "constant", "how the learning rate changes over the run", label="schedule", choices=SCHEDULES
    )
    label_smoothing: float = setting(
        0.0, "cross-entropy label smoothing", label="label smoothing", minimum=0, maximum=1, max_open=True
    )
    val_fraction: float = setting(
        0.1,
        "hold out this much of the training split (seeded) for validation: per-epoch figures, the best "
        "checkpoint; the test split is scored once, at the end. 0: validate on the test split (it then leaks "
        "into model selection)",
        label="validation share",
        minimum=0,
        maximum=0.9,
    )
    augment: bool = setting(
        False,
        "random shifts of up to 2 pixels (and flips for CIFAR-10), on the device",
        label="augment",
        flag="--augment",
    )
    seed: int = setting(
        0, "seeds the weights, the data order and the validation hold-out", label="seed", minimum=0, maximum=MAX_SEED
    )
    device: str = setting("auto", "auto: CUDA, then Apple MPS, then the CPU", label="device", choices=DEVICES)
    amp: bool = setting(True, "bfloat16 autocast (CUDA only)", label="bf16 autocast", flag="--no-amp")
    compile: bool = setting(False, "torch.compile the model", label="torch.compile", flag="--compile")
    run_dir: str | None = setting(
        None, "where the run is written (default: runs/<date>-<time>-<model>/)", kind=str, optional=True
    )
    progress_every: int = setting(10, "batches between progress events", minimum=1, maximum=1_000_000, cli=False)
    resume: str | None = setting(
        None, "a run directory to continue at the epoch after its last checkpoint", kind=str, optional=True, cli=False
    )
    nproc_per_node: int = setting(
        1,
        "train on this many processes under torchrun: one per GPU, or on the CPU "
        "(gloo); --batch-size is the global batch",
        label="processes",
        minimum=1,
        maximum=1024,
    )

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
            problems.append(
                f"the batch size ({self.batch_size}) is the global batch and must divide evenly among "
                f"the {self.nproc_per_node} processes of --nproc-per-node"
            )
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
