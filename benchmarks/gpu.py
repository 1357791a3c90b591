"""Figure 6 (CUDA only): SimpleCNN epoch time on 60,000 MNIST-shaped images, by precision
and compilation, batch 64 to 4,096; and the shape engine's training-memory estimate against
``torch.cuda.max_memory_allocated`` for each preset at batch 64, 512 and 4,096 (target: within
±25%: the form's out-of-memory warning rests on it).

The engine against a plain loop on the same GPU is ``python -m benchmarks --only training
--device cuda`` (benchmarks/training.py, the same comparison as on the CPU).

Random data of MNIST's shape stands in for MNIST (no download on the lent machines); the
time per epoch does not depend on the pixels. Everything runs as the engine runs on CUDA:
data on the device, channels_last, cudnn.benchmark.
"""

from __future__ import annotations

from .harness import Figure, Options, Skipped, measure, median
from .plain import adam, simple_cnn, synchronize, train_epoch

IMAGES = 60_000
BATCH_SIZES = (64, 256, 1024, 4096)
#: name -> (bf16 autocast, torch.compile mode or None). At batch >= 1,024 an epoch is ~60 steps
#: of tiny kernels: launch-bound, so CUDA graphs ("reduce-overhead") replay each step's launches.
MODES = {
    "fp32": (False, None),
    "bf16 autocast": (True, None),
    "bf16 + torch.compile": (True, "default"),
    "bf16 + CUDA graphs (reduce-overhead)": (True, "reduce-overhead"),
}
MEMORY_BATCH_SIZES = (64, 512, 4096)
MEMORY_TOLERANCE = 0.25


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
            step_model = torch.compile(model, mode=compiled) if compiled else model

            def epoch() -> None:
                train_epoch(step_model, optimizer, images, labels, batch_size, amp=amp)
                synchronize("cuda")

            # the warm-up epoch pays for compilation and cudnn's algorithm search
            times = measure(epoch, runs=options.runs(full=3, quick=1), warmup=1)
            figures.append(
                Figure(
                    "gpu",
                    f"epoch, {mode}, batch {batch_size:,}",
                    median(times),
                    "s",
                    f"{IMAGES:,} images, median of {len(times)} after a warm-up epoch",
                    samples=times,
                    extra={"images_per_s": IMAGES // batch_size * batch_size / median(times)},
                )
            )
    return figures + memory_figures()


def measured_training_bytes(spec, batch_size: int, *, amp: bool = True, cudnn_benchmark: bool = False) -> int:
    """The peak CUDA memory of training ``spec`` at ``batch_size`` as the engine trains it
    (channels_last, bf16 autocast, fused Adam): three steps, so Adam's moments exist, from a
    clean allocator. What the CUDA context holds outside the caching allocator is not
    counted (neither is it in the estimate); cuDNN's workspaces come from the allocator and are.

    With ``cudnn_benchmark`` (as the engine trains) the peak holds the workspaces of the
    fastest algorithms cuDNN found, which it takes only where memory is free (PyTorch caps a
    search's workspace at the largest free block and skips a plan that runs out): on an H200
    they added 0 to 3x, and not the same from one process to the next (SimpleCNN at batch
    4,096: 803 MiB once, 1,321 MiB another time). Without it, cuDNN's default choice: the
    memory training cannot do without, which the estimate is for."""
    import torch

    from tui_cnn.backend.build import build_model

    torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    model = build_model(spec).to("cuda", memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    images = torch.randn(batch_size, *spec.input_shape, device="cuda").contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch_size,), device="cuda")
    for _ in range(3):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    del model, optimizer, images, labels, loss
    torch.cuda.empty_cache()
    torch.backends.cudnn.benchmark = True  # as the engine and the epoch figures run
    return peak


def memory_figures() -> list[Figure]:
    """How far the estimate is from the measured peak (cuDNN's default algorithms),
    |estimate / measured - 1|, for each preset and batch size (0 is exact; the target is
    within 25%); the peak with cudnn.benchmark, as the engine trains, rides along."""
    from tui_cnn.domain.presets import load_preset, preset_names
    from tui_cnn.domain.shapes import analyze

    figures = []
    for name in preset_names():
        spec = load_preset(name)
        for batch_size in MEMORY_BATCH_SIZES:
            estimate = analyze(spec, batch_size).totals.training_bytes_mixed
            measured = measured_training_bytes(spec, batch_size)
            with_search = measured_training_bytes(spec, batch_size, cudnn_benchmark=True)
            figures.append(
                Figure(
                    "gpu",
                    f"memory estimate error, {name}, batch {batch_size:,}",
                    abs(estimate / measured - 1),
                    "x",
                    "|training_bytes_mixed_precision estimate / torch.cuda.max_memory_allocated - 1| "
                    "(bf16 autocast, channels_last, fused Adam, cuDNN's default algorithms)",
                    target=f"<= {MEMORY_TOLERANCE}",
                    extra={
                        "estimate_bytes": estimate,
                        "measured_bytes": measured,
                        "estimate_over_measured": estimate / measured,
                        "measured_with_cudnn_benchmark_bytes": with_search,
                    },
                )
            )
    return figures
