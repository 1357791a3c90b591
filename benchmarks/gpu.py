"""Figure 6 (CUDA only): SimpleCNN epoch time on 60,000 MNIST-shaped images, by precision
and compilation, batch 64 to 4,096.

Random data of MNIST's shape stands in for MNIST (no download on the lent machines); the
time per epoch does not depend on the pixels. Everything runs as the engine runs on CUDA:
data on the device, channels_last, cudnn.benchmark.
"""

from __future__ import annotations

from .harness import Figure, Options, Skipped, measure, median
from .plain import adam, simple_cnn, synchronize, train_epoch

IMAGES = 60_000
BATCH_SIZES = (64, 256, 1024, 4096)
#: name -> (bf16 autocast, torch.compile)
MODES = {"fp32": (False, False), "bf16 autocast": (True, False), "bf16 + torch.compile": (True, True)}


def run(options: Options) -> list[Figure]:
    if options.device != "cuda":
        raise Skipped("no CUDA device: GPU figures come from a lent GPU (python -m benchmarks --only gpu)")
    import torch

    torch.backends.cudnn.benchmark = True
    images = torch.randn(IMAGES, 1, 28, 28, device="cuda").contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (IMAGES,), device="cuda")
    batch_sizes = BATCH_SIZES[::3] if options.quick else BATCH_SIZES
    figures = []
    for mode, (amp, compiled) in MODES.items():
        for batch_size in batch_sizes:
            model = simple_cnn("cuda", channels_last=True)
            optimizer = adam(model, "cuda")
            step_model = torch.compile(model) if compiled else model

            def epoch() -> None:
                train_epoch(step_model, optimizer, images, labels, batch_size, amp=amp)
                synchronize("cuda")

            # the warm-up epoch pays for compilation and cudnn's algorithm search
            times = measure(epoch, runs=options.runs(full=3, quick=1), warmup=1)
            figures.append(Figure("gpu", f"epoch, {mode}, batch {batch_size:,}", median(times), "s",
                                  f"{IMAGES:,} images, median of {len(times)} after a warm-up epoch",
                                  samples=times, extra={"images_per_s": IMAGES // batch_size * batch_size
                                                        / median(times)}))
    return figures
