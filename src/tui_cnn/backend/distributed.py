"""Training on several processes (one per GPU, or several on the CPU) under torchrun, with
DistributedDataParallel: the engine's side (``Distributed``) and the launcher's command.

How a distributed run divides the work (``backend.trainer`` does the rest as usual):
- every rank holds the device-resident dataset (the largest, CIFAR-10, is 184 MB as uint8)
  and draws the same seeded permutation each epoch; global batch k is the same images as in
  a one-process run, and rank r trains on the r-th slice of it. ``--batch-size`` is the
  GLOBAL batch, so with DDP averaging the gradients a run on N processes takes the steps a
  one-process run takes, up to the order of float additions;
- losses and accuracy of the batches, and the validation and test predictions (each rank
  scores a slice), are summed over the ranks at the engine's existing sync points;
- rank 0 alone writes the run directory, emits events and saves checkpoints (the unwrapped
  module's state dict, so ``--resume`` and ``model.py`` load them as any other run's);
- rank 0 alone takes stop and pause orders and broadcasts them after each progress report
  (every ``progress_every`` batches, default 10): one 2-int broadcast, right after the sync
  the report makes anyway; with the report's all-reduce of losses, the only collectives the
  hot path gains besides DDP's own.

Launch: ``tui-cnn train --nproc-per-node N`` runs ``python -P -m torch.distributed.run
--standalone --nproc-per-node N -m tui_cnn.backend.child`` (``launch.launch_command``); on
several machines, run torchrun yourself around ``tui-cnn train --headless`` (README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
PAUSED_POLL_S = 0.5  # while paused, ranks meet this often (so no collective times out)
COLLECTIVE_TIMEOUT = timedelta(minutes=30)


def join_torchrun_group(device: str) -> "Distributed | None":
    """This process's group when torchrun started it for several ranks, else None.
    ``device`` is the run's setting ("auto", "cuda"...): it picks NCCL or gloo. Asked for
    CUDA where there is none, the ranks meet over gloo and the engine says what is missing."""
    from .devices import resolve_device
    from .launch import under_torchrun

    if not under_torchrun():
        return None

    kind = resolve_device(device).split(":")[0]
    return Distributed.join("cuda" if kind == "cuda" and torch.cuda.is_available() else "cpu")


def lost_a_rank(exc: BaseException) -> bool:
    """Whether a collective failed because another rank went away: torch's own error types,
    or the RuntimeError gloo raises when a peer's connection resets."""
    text = str(exc)
    return isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and ("gloo" in text or "NCCL" in text))


@dataclass(frozen=True)
class Distributed:
    """This process's place in the group, and the few collectives the engine needs."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def join(cls, device_kind: str) -> "Distributed":
        """Join the group torchrun set up (its environment says where and who we are): NCCL
        between GPUs, gloo on the CPU."""
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        backend = "nccl" if device_kind == "cuda" else "gloo"
        device_id = None
        if device_kind == "cuda":
            torch.cuda.set_device(local_rank)  # before NCCL: each rank owns its GPU
            device_id = torch.device("cuda", local_rank)  # NCCL binds to it (no guessing in barrier())
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT, device_id=device_id)
        return cls(dist.get_rank(), dist.get_world_size(), local_rank)

    def device(self, kind: str) -> str:
        """``cuda:<local rank>`` on GPUs (one GPU per rank); the CPU is shared."""
        return f"cuda:{self.local_rank}" if kind == "cuda" else kind

    def leave(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    # --- collectives ---

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum over ranks (in place, and returned)."""
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def gather(self, tensor: torch.Tensor, total: int) -> torch.Tensor:
        """Every rank's ``tensor`` (its slice of ``shard_bounds(total)``), concatenated in
        rank order: the whole, on every rank. Slices may differ by one; gloo and NCCL gather
        equal sizes, so each is padded to the largest and trimmed after."""
        size = -(-total // self.world_size)
        padded = torch.zeros(size, *tensor.shape[1:], dtype=tensor.dtype, device=tensor.device)
        padded[: len(tensor)] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        bounds = [shard_bounds(total, rank, self.world_size) for rank in range(self.world_size)]
        return torch.cat([part[: end - start] for part, (start, end) in zip(parts, bounds)])

    def control(self, stop: bool, paused: bool, device: str) -> tuple[bool, bool]:
        """Rank 0's (stop, paused), on every rank."""
        flags = torch.tensor([int(stop), int(paused)], device=device)
        dist.broadcast(flags, src=0)
        return bool(flags[0]), bool(flags[1])

    def broadcast_buffers(self, model: torch.nn.Module) -> None:
        """Rank 0's buffers (BatchNorm's running statistics) to every rank, so that every
        rank scores its slice of the validation set with the same model."""
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    def from_main(self, read: Callable[[], T]) -> T:
        """``read()`` on rank 0, its result on every rank (e.g. a check of rank 0's disk: the
        run directory may live on rank 0's machine alone). An exception raised there is
        raised again on every rank, so all ranks fail alike instead of waiting on each other."""
        box: list[Any] = [None]
        if self.is_main:
            try:
                box[0] = ("ok", read())
            except Exception as exc:  # noqa: BLE001 - carried to every rank, raised there
                box[0] = ("error", exc)
        dist.broadcast_object_list(box, src=0)
        kind, value = box[0]
        if kind == "error":
            raise value
        return value

    def main_first(self) -> "_MainFirst":
        """A block that each machine's local rank 0 runs before the others (e.g. unpacking
        or downloading a dataset once)."""
        return _MainFirst(self)


class _MainFirst:
    def __init__(self, group: Distributed):
        self.group = group

    def __enter__(self) -> None:
        if self.group.local_rank != 0:
            dist.barrier()

    def __exit__(self, *exc: Any) -> None:
        if self.group.local_rank == 0:
            dist.barrier()


def shard_bounds(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """[start, end) of rank's contiguous slice of ``total`` items, sizes differing by one at most."""
    base, extra = divmod(total, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)
