"""The receptive field measured rather than worked out: the gradient support of one output
position. A one-hot at the centre of a tensor's map is backpropagated to the input, and the
rows and columns of the input with a nonzero gradient are its extent.

So that no gradient cancels to zero by chance, every weight is positive (random, scaled by
its fan-in so that values stay moderate), the model is in eval mode and runs in float64 on a
positive input, and max pooling becomes average pooling over the same windows (a max passes
its gradient to one position of its window; which one depends on the values)."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


@contextmanager
def max_pooling_as_average():
    real_max, real_adaptive = F.max_pool2d, F.adaptive_max_pool2d

    def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        assert dilation in (1, (1, 1)), "a dilated max pool has no average twin"
        pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
        x = F.pad(x, (pad[1], pad[1], pad[0], pad[0]))
        return F.avg_pool2d(x, kernel_size, stride if stride else kernel_size, 0, ceil_mode)

    def adaptive_max_pool2d(x, output_size, return_indices=False):
        return F.adaptive_avg_pool2d(x, output_size)

    F.max_pool2d, F.adaptive_max_pool2d = max_pool2d, adaptive_max_pool2d
    try:
        yield
    finally:
        F.max_pool2d, F.adaptive_max_pool2d = real_max, real_adaptive


def positive_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    model = model.to(device="cpu", dtype=torch.float64).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                fan_in = max(1, param[0].numel())
                param.copy_((0.5 + torch.rand(param.shape, generator=generator, dtype=torch.float64)) / fan_in)
            else:
                param.copy_(0.5 + torch.rand(param.shape, generator=generator, dtype=torch.float64))
    return model


class _Captured(Exception):
    pass


def gradient_support(
    model: nn.Module, input_shape: tuple[int, int, int], at: str | None = None, dims: tuple[int, int] = (2, 3)
) -> tuple[int, int]:
    """(height, width) on the input of what the centre position of ``at``'s output (a module's
    name; None: the model's output) depends on. ``model`` must already hold real weights
    (``positive_weights``)."""
    image = (
        0.5 + torch.rand((1, *input_shape), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ).requires_grad_(True)
    captured: list[torch.Tensor] = []
    handle = None
    if at is not None:

        def hook(module, args, output):
            captured.append(output[0] if isinstance(output, (tuple, list)) else output)
            raise _Captured

        handle = model.get_submodule(at).register_forward_hook(hook)
    try:
        with max_pooling_as_average():
            try:
                captured.append(model(image))
            except _Captured:
                pass
    finally:
        if handle is not None:
            handle.remove()
    out = captured[0]
    index = [0] * out.dim()
    index[dims[0]], index[dims[1]] = out.shape[dims[0]] // 2, out.shape[dims[1]] // 2
    selector = [slice(None)] * out.dim()
    selector[0], selector[dims[0]], selector[dims[1]] = 0, index[dims[0]], index[dims[1]]
    out[tuple(selector)].sum().backward()
    support = image.grad[0].abs().sum(0) > 0
    rows = torch.nonzero(support.any(1)).flatten()
    cols = torch.nonzero(support.any(0)).flatten()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def largest_gradient_support(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """The largest height of what one output position depends on, over the output's central
    column (positions whose support reaches the image's border are left out: clipped). After
    upsampling, positions differ: the receptive field is the largest."""
    image = (
        0.5 + torch.rand((1, *input_shape), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ).requires_grad_(True)
    with max_pooling_as_average():
        out = model(image)
    largest = 0
    for row in range(out.shape[2]):
        image.grad = None
        out[0, :, row, out.shape[3] // 2].sum().backward(retain_graph=True)
        rows = torch.nonzero(image.grad[0].abs().sum(0).any(1)).flatten()
        if rows.min() > 0 and rows.max() < input_shape[1] - 1:
            largest = max(largest, int(rows.max() - rows.min() + 1))
    return largest
