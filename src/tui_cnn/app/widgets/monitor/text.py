"""How the monitor writes times, rates and accuracies."""

from __future__ import annotations

from ....domain import format as fmt
from ....domain.format import duration  # noqa: F401 - the monitor's widgets take it from here


def percent(fraction: float | None, digits: int = 2) -> str:
    return fmt.percent(fraction, digits, unknown="--")


def learning_rate(lr: float) -> str:
    return f"{lr:.2e}"


def eta(elapsed_s: float, done: float, total: float) -> float | None:
    """Seconds left when ``done`` of ``total`` took ``elapsed_s``; None before any progress.
    Rounded to what a person needs (seconds under a minute, 10 s under 10 minutes, whole
    minutes beyond): an estimate that jitters by seconds tells nothing, and each change is a
    line redrawn and sent over the SSH connection, 4 times a second."""
    if done <= 0 or total <= 0:
        return None
    left = max(elapsed_s * (total - done) / done, 0.0)
    step = 1 if left < 60 else 10 if left < 600 else 60
    return round(left / step) * step
