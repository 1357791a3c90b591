"""What every benchmark shares: options, timing, medians, alternation and result records.

Machines here are noisy (other processes share two cores), so each figure is the median of
several runs after a warm-up, and two things being compared run in the same process,
alternating, so drift hits both alike: ratios hold where absolute times move.
"""

from __future__ import annotations

import math
import operator
import statistics
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, TypeVar

from tui_cnn.domain.format import binary_bytes, grouped

T = TypeVar("T")
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class Skipped(Exception):
    """Raised by a benchmark that cannot run here; the message says why (e.g. no CUDA device)."""


@dataclass(frozen=True)
class Options:
    quick: bool  # CI mode: a few runs of everything, under a minute in all
    device: str  # where torch benchmarks run: "cpu" or "cuda" (resolved from --device)

    def runs(self, full: int, quick: int = 2) -> int:
        return quick if self.quick else full


def resolve_device(asked: str) -> str:
    """``auto`` means CUDA when there is one; asking for CUDA where there is none is an error."""
    import torch

    if asked == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if asked == "cuda" and not torch.cuda.is_available():
        raise Skipped("no CUDA device here")
    return asked


@dataclass(frozen=True)
class Figure:
    """One measured number. ``value`` is in base units: seconds, bytes, images/s or a ratio."""

    benchmark: str
    name: str
    value: float
    unit: str  # "s" | "bytes" | "images/s" | "x" (ratio) | "s/layer"
    how: str = ""  # how it was measured, in a few words
    target: str | None = None  # e.g. "< 0.5" (same unit as value)
    samples: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target.split()
        return _COMPARE[op](self.value, float(bound))

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "shown": show(self.value, self.unit),
            "how": self.how,
            "target": self.target,
            "met": self.met,
            "samples": self.samples,
            **self.extra,
        }


def show(value: float, unit: str) -> str:
    """A figure as a person reads it: 312 ms, 41.2 µs, 1.9 MiB, 12,480 images/s, 0.981x."""
    if unit in ("s", "s/layer"):
        suffix = "/layer" if unit == "s/layer" else ""
        for name, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
            if abs(value) >= scale or name == "µs":
                return f"{value / scale:.3g} {name}{suffix}"
    if unit == "bytes":
        return binary_bytes(value)
    if unit == "bytes/s":
        return f"{binary_bytes(value)}/s"
    if unit == "images/s":
        return f"{grouped(round(value))} images/s"
    if unit == "x":
        return f"{value:.3f}x"
    return f"{value:.4g} {unit}"


def seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], Any], runs: int, warmup: int = 1) -> list[float]:
    """Seconds per call of ``fn``, ``runs`` times, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    return [seconds(fn) for _ in range(runs)]


def take_turns(contenders: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """What each contender returns, calling them in turn; the order flips every round so a
    machine that speeds up or slows down during the run favours none of them."""
    names = list(contenders)
    results: dict[str, list[T]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else reversed(names):
            results[name].append(contenders[name]())
    return results


def alternate(contenders: dict[str, Callable[[], Any]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each contender, taking turns after ``warmup`` untimed rounds."""
    take_turns(contenders, warmup)
    return take_turns({name: partial(seconds, fn) for name, fn in contenders.items()}, rounds)


def per_call(fn: Callable[[], Any], min_seconds: float = 0.05) -> float:
    """Seconds per call of a fast function: calls it in a loop, doubling the count until the
    loop lasts long enough to time reliably."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls
        calls *= 2


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile (p95 of 100 samples is the 95th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def start_in_a_terminal(
    args: list[str], columns: int = 80, rows: int = 24, environment: dict[str, str] | None = None
) -> tuple[int, int]:
    """``python -m tui_cnn ARGS`` in a new pseudo-terminal of ``columns`` x ``rows`` that is
    its controlling terminal (a hang-up reaches it as a closed SSH connection would), with
    ``environment`` added to this process's; returns (pid, the terminal's master side). The
    caller reads the master side, or the app blocks. The app takes a hang-up as a login shell's
    child does (SIGHUP at its default), even when this process was started under nohup."""
    import fcntl
    import os
    import pty
    import signal
    import struct
    import sys
    import termios

    pid, master = pty.fork()
    if pid == 0:  # the child (a session leader on the new terminal, fd 0-2): never back to the caller
        try:
            signal.signal(signal.SIGHUP, signal.SIG_DFL)  # nohup's "ignored" is inherited through exec
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execvpe(
                sys.executable,
                [sys.executable, "-m", "tui_cnn", *args],
                {**os.environ, "TERM": "xterm-256color", **(environment or {})},
            )
        finally:
            os._exit(127)
    return pid, master
