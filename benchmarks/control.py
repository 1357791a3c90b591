"""Issue 12: steering a run through its directory costs training nothing. The same run
(mnist-sample, SimpleCNN) with and without the control.json watcher thread, alternated;
the ratio of their training images/s (target >= 0.99x)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .harness import Figure, Options, median


class _NoWatcher:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def _images_per_s(device: str, epochs: int, watch: bool, tmp: Path, index: int) -> float:
    from tui_cnn.backend import runs
    from tui_cnn.backend.trainer import Trainer
    from tui_cnn.domain.presets import load_preset
    from tui_cnn.domain.run_events import EpochEnd
    from tui_cnn.domain.train_config import TrainConfig

    real = runs.ControlWatcher
    runs.ControlWatcher = real if watch else _NoWatcher
    rates: list[float] = []
    try:
        config = TrainConfig(
            dataset="mnist-sample",
            epochs=epochs,
            batch_size=64,
            device=device,
            run_dir=str(tmp / f"run-{index}-{watch}"),
        )
        Trainer(
            load_preset("SimpleCNN"),
            config,
            [lambda e: rates.append(e.metrics.images_per_s) if isinstance(e, EpochEnd) else None],
        ).run()
    finally:
        runs.ControlWatcher = real
    return median(rates)


def run(options: Options) -> list[Figure]:
    pairs, epochs = (1, 1) if options.quick else (3, 2)
    with_watch, without = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(pairs):
            without.append(_images_per_s(options.device, epochs, False, Path(tmp), index))
            with_watch.append(_images_per_s(options.device, epochs, True, Path(tmp), index))
    ratio = median(with_watch) / median(without)
    return [
        Figure(
            "control",
            "training with the control watcher vs without",
            ratio,
            "x",
            how=f"SimpleCNN on mnist-sample, {pairs} alternated pairs of {epochs} epochs, median images/s "
            f"({median(with_watch):.0f} vs {median(without):.0f})",
            target=">= 0.99",
            samples=[w / o for w, o in zip(with_watch, without)],
        )
    ]
