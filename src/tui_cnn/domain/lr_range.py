"""The learning-rate range test (Leslie Smith, "Cyclical Learning Rates for Training Neural
Networks", 2017; the form fastai made popular), as plain numbers: the learning rates to try,
the smoothed loss, when the loss has diverged, and the suggestion read off the curve. Pure
Python: the backend trains, this decides.

The suggestion is the learning rate where the smoothed loss falls fastest (the steepest
descent of loss against log learning rate), taken before the loss's minimum: a starting point
for a run, not a tuned value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

START_LR = 1e-7
END_LR = 10.0
MAX_BATCHES = 200
SMOOTHING = 0.98  # weight of the past in the exponentially smoothed loss
DIVERGENCE = 4.0  # stop when the smoothed loss passes this many times its lowest
SKIP_START = 10  # the first batches' loss is noise: not read for the suggestion


def learning_rates(start: float = START_LR, end: float = END_LR, batches: int = MAX_BATCHES) -> list[float]:
    """``batches`` learning rates growing exponentially from ``start`` to ``end``."""
    if batches < 2:
        return [start]
    ratio = (end / start) ** (1 / (batches - 1))
    return [start * ratio**i for i in range(batches)]


class LossSmoother:
    """An exponential moving average of the loss with bias correction (its early values are not
    dragged towards 0), and whether the loss has diverged."""

    def __init__(self) -> None:
        self.average, self.count, self.lowest = 0.0, 0, math.inf

    def add(self, loss: float) -> float:
        self.count += 1
        self.average = SMOOTHING * self.average + (1 - SMOOTHING) * loss
        smoothed = self.average / (1 - SMOOTHING**self.count)
        self.lowest = min(self.lowest, smoothed)
        return smoothed

    def diverged(self, smoothed: float) -> bool:
        return not math.isfinite(smoothed) or (self.count > SKIP_START and smoothed > DIVERGENCE * self.lowest)


@dataclass(frozen=True)
class RangeResult:
    lrs: list[float]
    losses: list[float]  # smoothed, one per learning rate tried
    suggestion: float | None  # the steepest descent before the minimum; None: no descent found
    minimum: float | None  # the learning rate at the lowest smoothed loss

    def to_json(self) -> dict:
        return {
            "lrs": self.lrs,
            "losses": self.losses,
            "suggestion": self.suggestion,
            "minimum": self.minimum,
            "note": "the suggestion is a starting point for a run, not a tuned value",
        }


def read_curve(lrs: list[float], losses: list[float]) -> RangeResult:
    """The suggestion and the minimum of a range test's curve."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    if len(finite) < SKIP_START + 3:
        return RangeResult(lrs, losses, None, None)
    xs = [math.log10(lr) for lr, _ in finite]
    ys = [loss for _, loss in finite]
    lowest = min(range(len(ys)), key=ys.__getitem__)
    minimum = finite[lowest][0]
    start = min(SKIP_START, max(0, lowest - 2))
    slopes = [(ys[i + 1] - ys[i - 1]) / (xs[i + 1] - xs[i - 1]) for i in range(max(1, start), max(1, lowest))]
    if not slopes or min(slopes) >= 0:
        return RangeResult(lrs, losses, None, minimum)
    steepest = max(1, start) + min(range(len(slopes)), key=slopes.__getitem__)
    return RangeResult(lrs, losses, finite[steepest][0], minimum)
