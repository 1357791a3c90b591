"""Scoring a model on a split: validation loss and accuracy after each epoch, and the final
test evaluation (per-class accuracy, confusion matrix, examples it got wrong)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..domain.run_records import Evaluation, Misclassified
from .data import DeviceData, Split
from .distributed import Distributed, shard_bounds

MAX_MISCLASSIFIED = 12


@torch.no_grad()
def predict(
    model: nn.Module,
    data: DeviceData,
    split: Split,
    batch_size: int,
    autocast: Callable[[], AbstractContextManager],
    group: Distributed | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed cross-entropy loss, predicted class of every image), both still on the device.
    In a distributed run each rank scores its slice of the split, and every rank gets the
    whole: the loss summed, the predictions gathered."""
    if group is not None:
        start, end = shard_bounds(len(split), group.rank, group.world_size)
        loss, predictions = predict(
            model, data, Split(split.images[start:end], split.labels[start:end]), batch_size, autocast
        )
        return group.sum(loss), group.gather(predictions, len(split))
    was_training = model.training
    model.eval()
    loss = torch.zeros((), device=split.labels.device)
    predictions = []
    for images, labels in data.eval_batches(split, batch_size):
        with autocast():
            logits = model(images)
        loss += F.cross_entropy(logits.float(), labels, reduction="sum")
        predictions.append(logits.argmax(1))
    model.train(was_training)
    return loss, torch.cat(predictions) if predictions else split.labels[:0]


def validate(
    model: nn.Module,
    data: DeviceData,
    batch_size: int,
    autocast: Callable[[], AbstractContextManager],
    group: Distributed | None = None,
) -> tuple[float, float]:
    """(mean loss, accuracy) on the validation split: one device sync."""
    loss, predictions = predict(model, data, data.val, batch_size, autocast, group)
    correct = (predictions == data.val.labels).sum()
    count = max(len(data.val), 1)
    return loss.item() / count, correct.item() / count


def evaluate(
    model: nn.Module,
    data: DeviceData,
    batch_size: int,
    autocast: Callable[[], AbstractContextManager],
    group: Distributed | None = None,
) -> Evaluation:
    test = data.test
    _, predictions = predict(model, data, test, batch_size, autocast, group)
    classes = data.info.num_classes
    confusion = torch.bincount(test.labels * classes + predictions, minlength=classes * classes).view(classes, classes)
    per_class = confusion.diag().double() / confusion.sum(1).clamp(min=1)
    wrong = _spread((predictions != test.labels).nonzero().flatten(), MAX_MISCLASSIFIED).cpu()
    gray = test.images[wrong.to(test.images.device)].float().mean(1).round().to(torch.uint8).cpu()
    misclassified = [
        Misclassified(image.tolist(), int(test.labels[i]), int(predictions[i]))
        for image, i in zip(gray, wrong.tolist())
    ]
    return Evaluation(
        accuracy=confusion.diag().sum().item() / max(len(test), 1),
        per_class_accuracy=per_class.tolist(),
        confusion_matrix=confusion.tolist(),
        classes=list(data.info.classes),
        misclassified=misclassified,
    )


def _spread(index: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` entries spread evenly over ``index`` (test sets are often sorted by class:
    the first mistakes alone would all be one class)."""
    if len(index) <= count:
        return index
    return index[torch.linspace(0, len(index) - 1, count, device=index.device).round().long()]
