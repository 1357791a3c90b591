"""Figure 3: images/s of the training engine against a plain hand-written PyTorch loop.

Same model (SimpleCNN through ``build_model``), same data (the MNIST sample as the engine
loads it onto the device), same batch size, Adam 1e-3, same device. An epoch is what a
person waits for: training, then scoring the validation split; the engine's epoch also
holds its events, metrics file and checkpoints, which is the cost being measured. The
engine's epochs are timed by a listener between epoch boundaries (RunStarted, EpochEnd),
the plain loop's around each epoch. Runs alternate; each run's first epoch is a warm-up.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.spec import ModelSpec
from tui_cnn.domain.train_config import TrainConfig

from .harness import Figure, Options, Skipped, median, seconds, take_turns

if TYPE_CHECKING:
    from tui_cnn.backend.data import DeviceData

DATASET = "mnist-sample"
BATCH_SIZES = (64, 512)


def engine_run(spec: ModelSpec, config: TrainConfig) -> list[float]:
    """Seconds per epoch of one engine run, from its events."""
    from tui_cnn.backend.trainer import Trainer
    from tui_cnn.domain.run_events import EpochEnd, Failed, RunStarted

    boundaries: list[float] = []
    failures: list[str] = []

    def listener(event: object) -> None:
        if isinstance(event, (RunStarted, EpochEnd)):
            boundaries.append(time.perf_counter())
        elif isinstance(event, Failed):
            failures.append(event.reason)

    Trainer(spec, config, [listener]).run()
    if failures:
        raise RuntimeError(f"the engine failed: {failures[0]}")
    return [end - start for start, end in zip(boundaries, boundaries[1:])]


def plain_run(data: DeviceData, device: str, batch_size: int, epochs: int) -> list[float]:
    """Seconds per epoch of the hand-written loop on the engine's data."""
    from tui_cnn.backend.trainer import EVAL_BATCH_SIZE

    from .plain import adam, simple_cnn, train_epoch, validate

    on_cuda = device.startswith("cuda")
    model = simple_cnn(device, channels_last=on_cuda)
    optimizer = adam(model, device)
    train_images, val_images = data.normalise(data.train.images), data.normalise(data.val.images)

    def epoch() -> None:
        train_epoch(model, optimizer, train_images, data.train.labels, batch_size, amp=on_cuda)
        validate(model, val_images, data.val.labels, EVAL_BATCH_SIZE, amp=on_cuda)

    return [seconds(epoch) for _ in range(epochs)]


def compare(options: Options, workdir: Path, batch_size: int) -> list[Figure]:
    from tui_cnn.backend.data import load_data

    spec = load_preset("SimpleCNN")
    device = options.device
    epochs = options.runs(full=3, quick=2)  # the first of each run warms up
    rounds = options.runs(full=3, quick=1)
    data = load_data(DATASET, workdir, device, channels_last=device.startswith("cuda"))
    runs = iter(range(1_000_000))

    def engine() -> list[float]:
        run_dir = workdir / f"run-batch{batch_size}-{next(runs)}"  # the engine never reuses a run's folder
        config = TrainConfig(
            dataset=DATASET,
            data_dir=str(workdir),
            epochs=epochs,
            batch_size=batch_size,
            optimizer="adam",
            lr=1e-3,
            device=device,
            run_dir=str(run_dir),
        )
        return engine_run(spec, config)

    contenders: dict[str, Callable[[], list[float]]] = {
        "engine": engine,
        "plain loop": lambda: plain_run(data, device, batch_size, epochs),
    }
    epoch_times = {
        name: [t for run in results for t in run[1:]]  # each run's first epoch warms up
        for name, results in take_turns(contenders, rounds).items()
    }
    images = data.batches_per_epoch(batch_size) * batch_size
    speed = {name: images / median(times) for name, times in epoch_times.items()}
    how = (
        f"SimpleCNN, {DATASET} ({images:,} images/epoch + validation), Adam, {device}, "
        f"{rounds} alternating runs of {epochs} epochs, first dropped"
    )
    return [
        *(
            Figure("training", f"{name}, batch {batch_size}", speed[name], "images/s", how, samples=epoch_times[name])
            for name in contenders
        ),
        Figure(
            "training",
            f"engine / plain loop, batch {batch_size}",
            speed["engine"] / speed["plain loop"],
            "x",
            "ratio of images/s, same process",
            target=">= 0.97",
        ),
    ]


def run(options: Options) -> list[Figure]:
    try:
        from tui_cnn.backend.trainer import Trainer  # noqa: F401
    except ImportError as missing:
        raise Skipped(f"the training engine is not there yet ({missing})") from None
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-") as tmp:
        batch_sizes = BATCH_SIZES[:1] if options.quick else BATCH_SIZES
        return [figure for batch_size in batch_sizes for figure in compare(options, Path(tmp), batch_size)]
