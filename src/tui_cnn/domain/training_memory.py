"""How much memory training a model takes at a batch size: an estimate from its layer
reports, in parts a person can check (the tracker explains it, the setup form warns with it).

What training holds at its peak, somewhere in the backward pass:
- the weights, their gradients and Adam's two moments: 4 float32 values a parameter, and
  the buffers (BatchNorm's running statistics);
- with mixed precision (bfloat16 autocast, as the engine trains on a GPU), a bfloat16 copy
  of each weight, which autocast makes for the forward pass and keeps for the backward;
- the input batch (float32);
- what each layer's backward needs kept from the forward pass (``LayerType.keeps``): a
  convolution its input, a ReLU its output, a max pool its input and its argmax indices
  (int64), a dropout its mask. One tensor kept by two layers (a ReLU's output is the next
  max pool's input) is counted once; a tensor nobody keeps (a convolution's output before a
  ReLU, a Flatten's view) is freed as soon as it is used. Under autocast these are bfloat16
  from the first convolution or Linear on; a convolution keeps a bfloat16 copy of a float32
  input;
- the backward pass's working set: the gradients coming into and going out of the layer
  whose backward step is the peak (kept tensors are freed as the backward pass passes their
  first keeper, so the peak is where what is still kept plus these is largest);
- the loss's log-probabilities (float32).

Not counted: cuDNN's and cuBLAS's workspaces (cuDNN picks its algorithms by what memory is
free, so they take what is there rather than failing) and the CUDA context. The rule is
checked against the tensors PyTorch really keeps (tests/backend/test_training_memory.py) and
against ``torch.cuda.max_memory_allocated`` on a GPU (``python -m benchmarks --only gpu``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from .layers import layer_type

#: How the estimate is made, shown to users next to the figure.
TRAINING_MEMORY_RULE = (
    "weights + gradients + Adam's two moments (4 x parameters) + buffers + the input batch"
    " + what the backward pass keeps (each layer's input or output, counted once) + the gradients"
    " in and out of one layer; bf16 autocast (a GPU) keeps half as much and a bf16 copy of the weights;"
    " cuDNN's workspace comes on top where memory is free"
)

FLOAT32 = 4
BFLOAT16 = 2
INDEX = 8  # max pooling's argmax indices are int64
#: Bytes of dropout's mask a value: a bool on a GPU; on the CPU PyTorch multiplies by a mask of
#: the input's own type.
GPU_MASK = 1
#: Weights, gradients and Adam's two moments.
VALUES_PER_PARAMETER = 4


@dataclass(frozen=True, slots=True)
class TrainingMemory:
    """The estimate's parts, in bytes; ``total`` is what the warnings compare."""

    weights_and_optimizer: int  # weights, gradients, Adam's moments, buffers
    weight_copies: int  # bfloat16 copies of the weights (mixed precision only)
    input_batch: int
    saved: int  # everything the forward pass keeps for the backward pass, each tensor once
    kept: int  # what of it is still held at the peak
    working_set: int  # the gradients in and out of the layer whose backward step is the peak
    loss: int

    @property
    def total(self) -> int:
        return (
            self.weights_and_optimizer
            + self.weight_copies
            + self.input_batch
            + self.kept
            + self.working_set
            + self.loss
        )


@dataclass(eq=False, slots=True)
class _Tensor:
    """One tensor of the forward pass as the estimate follows it; compared and hashed by
    identity (eq=False), so a tensor kept by two layers counts once."""

    values: int
    bytes_per_value: int
    needs_gradient: bool = True  # the input batch needs none

    @property
    def bytes(self) -> int:
        return self.values * self.bytes_per_value


@dataclass(slots=True)
class _Step:
    """One layer's part in the backward pass: what it keeps beside activations (indices,
    masks, autocast's copies), and the gradients in and out while its backward runs."""

    extra: int = 0
    gradients: int = 0


class _Forward:
    """Walks the layer reports in forward order, noting for each layer (a step) what it keeps
    until the backward pass reaches it. The backward pass runs the steps in reverse, freeing
    a kept tensor once the first layer that keeps it is done: ``peak`` follows it."""

    def __init__(self, mixed_precision: bool) -> None:
        self.mixed = mixed_precision
        self.steps: list[_Step] = []
        self.kept: dict[_Tensor, int] = {}  # a kept tensor -> the first step that keeps it

    def keep(self, tensor: _Tensor) -> None:
        self.kept.setdefault(tensor, len(self.steps) - 1)

    def layers(self, reports: Iterable, incoming: _Tensor) -> _Tensor:
        current = incoming
        for report in reports:
            current = self.block(report, current) if report.is_block else self.layer(report, current)
        return current

    def block(self, report, incoming: _Tensor) -> _Tensor:
        outs = [self.layers(branch, incoming) for branch in report.branches]
        if report.output_shape is None:
            return incoming
        # A Residual adds its paths, a Concat joins them: neither keeps anything, and the
        # gradient goes back to each path as it is (or in slices, views of it).
        widest = max((out.bytes_per_value for out in outs), default=incoming.bytes_per_value)
        out = _Tensor(math.prod(report.output_shape), widest)
        self.steps.append(_Step(gradients=out.bytes))
        return out

    def layer(self, report, incoming: _Tensor) -> _Tensor:
        kind = layer_type(report.type)
        if report.output_shape is None:
            return incoming
        step = _Step()
        self.steps.append(step)
        values = math.prod(report.output_shape)
        casts = self.mixed and kind.autocasts
        keeps = kind.keeps if kind.name else "input"  # a tracked module's own layer: assume it keeps its input
        if kind.adaptive and kind.pools == "average" and report.output_shape[-2:] == (1, 1):
            keeps = ""  # PyTorch takes the mean over (H, W), whose backward needs only the sizes
        if keeps == "input":
            if casts and incoming.bytes_per_value != BFLOAT16:
                step.extra += incoming.values * BFLOAT16  # autocast's copy, one for each layer that casts
            else:
                self.keep(incoming)
        elif keeps == "mask":
            step.extra += incoming.values * (GPU_MASK if self.mixed else incoming.bytes_per_value)
        if kind.pools == "max":
            step.extra += values * INDEX
        if kind.flattens:  # a view: its gradient is a view too
            return incoming
        out = (
            incoming if report.args.get("inplace") else _Tensor(values, BFLOAT16 if casts else incoming.bytes_per_value)
        )
        if keeps == "output":
            self.keep(out)
        step.gradients = out.bytes + (incoming.bytes if incoming.needs_gradient else 0)
        return out

    def peak(self) -> tuple[int, int]:
        """(kept, gradients) when their sum is largest: as the backward pass reaches step i,
        every step up to i still holds what it keeps."""
        kept_from = [0] * len(self.steps)  # bytes first kept at each step: held until its backward is done
        for tensor, first in self.kept.items():
            kept_from[first] += tensor.bytes
        best = (0, 0)
        held = 0
        for step, newly_kept in zip(self.steps, kept_from):
            held += newly_kept + step.extra
            if held + step.gradients > sum(best):
                best = (held, step.gradients)
        return best


def training_memory(
    input_shape: Sequence[int] | None, reports: Sequence, params: int, buffers: int, *, mixed_precision: bool
) -> TrainingMemory:
    """The estimate for layer ``reports`` (a spec's, or a tracked module's) fed ``input_shape``
    (with the batch), trained with Adam, in float32 or with bfloat16 autocast."""
    weights = VALUES_PER_PARAMETER * params * FLOAT32 + buffers * FLOAT32
    copies = params * BFLOAT16 if mixed_precision else 0
    if not input_shape:
        return TrainingMemory(weights, copies, 0, 0, 0, 0, 0)
    forward = _Forward(mixed_precision)
    batch = _Tensor(math.prod(input_shape), FLOAT32, needs_gradient=False)
    out = forward.layers(reports, batch)
    forward.kept.pop(batch, None)  # the batch is counted once, as the input
    kept, gradients = forward.peak()
    saved = sum(tensor.bytes for tensor in forward.kept) + sum(step.extra for step in forward.steps)
    loss = out.values * FLOAT32 if out is not batch else 0
    return TrainingMemory(weights, copies, batch.bytes, saved, kept, gradients, loss)
