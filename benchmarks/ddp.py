"""Several processes (DDP under torchrun) against one: training images/s of the same run.

Both contenders are the engine in a child process, as ``tui-cnn train`` starts it: one
process, or ``--nproc-per-node N`` ranks (N = 2 on the CPU with gloo; N = every GPU of a
CUDA box with NCCL). Same model (SimpleCNN), data (mnist-sample), GLOBAL batch, seed and
optimizer; images/s is each epoch's training images over its training time (the engine's
own ``images_per_s``, validation excluded), median of the epochs after each run's first.
Runs alternate.

On a CPU the N ranks share the cores one process already keeps busy with its intra-op
threads (C cores: one process runs C threads, each rank C // N), and each step adds an
all-reduce of the gradients between processes: expect at most 1x there. The figure that
matters comes from a box with several GPUs, where each rank has a GPU of its own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.train_config import TrainConfig

from .harness import Figure, Options, Skipped, median, take_turns

DATASET = "mnist-sample"
BATCH_SIZE = 256  # global: 128 a rank on two


def processes_to_compare(device: str) -> int:
    if device == "cpu":
        return 2
    import torch

    count = torch.cuda.device_count()
    if count < 2:
        raise Skipped(f"{count} GPU here: DDP across GPUs needs two or more (run with --device cpu for gloo)")
    return count


def epoch_speeds(config: TrainConfig) -> list[float]:
    """images/s of each epoch after the first, of one run in a child process."""
    from tui_cnn.backend.train_process import TrainingProcess
    from tui_cnn.domain.run_events import EpochEnd, Failed

    events: list = []
    TrainingProcess(load_preset("SimpleCNN"), config, events.append).run()
    failures = [e.reason for e in events if isinstance(e, Failed)]
    if failures:
        raise RuntimeError(f"the run failed: {failures[0]}")
    return [e.metrics.images_per_s for e in events if isinstance(e, EpochEnd)][1:]


def run(options: Options) -> list[Figure]:
    ranks = processes_to_compare(options.device)
    epochs = options.runs(full=4, quick=2)
    rounds = options.runs(full=2, quick=1)
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-ddp-") as tmp:
        runs = iter(range(1_000_000))

        def contender(processes: int):
            def one_run() -> list[float]:
                return epoch_speeds(
                    TrainConfig(
                        dataset=DATASET,
                        data_dir=tmp,
                        epochs=epochs,
                        batch_size=BATCH_SIZE,
                        device=options.device,
                        run_dir=str(Path(tmp) / f"run-{next(runs)}"),
                        nproc_per_node=processes,
                        progress_every=50,
                    )
                )

            return one_run

        names = {1: "1 process", ranks: f"{ranks} processes (DDP)"}
        results = take_turns({names[n]: contender(n) for n in names}, rounds)
    speeds = {name: [s for run_ in runs_ for s in run_] for name, runs_ in results.items()}
    how = (
        f"SimpleCNN, {DATASET}, global batch {BATCH_SIZE}, Adam, {options.device}, {rounds} alternating runs of "
        f"{epochs} epochs in child processes, first epoch dropped; training images/s"
    )
    one, many = (median(speeds[names[n]]) for n in (1, ranks))
    return [
        Figure("ddp", names[1], one, "images/s", how, samples=speeds[names[1]]),
        Figure("ddp", names[ranks], many, "images/s", how, samples=speeds[names[ranks]]),
        Figure(
            "ddp",
            f"{ranks} processes / 1 process",
            many / one,
            "x",
            "ratio of images/s; on the CPU the ranks share the cores one process uses (module docstring)",
        ),
    ]
