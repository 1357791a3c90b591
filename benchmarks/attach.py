"""Issue 12: what the attached monitor costs an SSH connection. A run trains detached
(SimpleCNN on mnist-sample, CPU); ``tui-cnn attach RUN_DIR`` runs in a real pseudo-terminal
of 80x24, then 160x50, and every byte the app writes to the terminal is counted over a
window after its first paint. Bytes per second is what the connection carries while you
watch a run train (the curves tab, as it opens).

It also says what watching costs the run, on a run of its own with epochs of a realistic length
(20,000 MNIST-sized images, as the ui benchmark's): one attached app (160x50, settled into the
calm pace of a monitor nobody touches) is frozen (SIGSTOP) and let go (SIGCONT) in turn, every few
seconds, and the trainer's own images/s in each window comes from its progress events (images
trained between two reports of one epoch over the seconds between them: validation and epoch
ends left out). The ratio is the median of adjacent windows' (the app running / frozen; the
order flips every pair). One trainer process and windows seconds apart: on this shared 2-core
machine a fresh process's speed moves by +-15% from one start to the next, and the machine's
by ~10% from one minute to the next, which the ui benchmark's fresh-process pairs carry and
these do not. The same windows with the app never frozen are the noise floor (their median
ratio should read 1.0). Freezing is invisible to the app: a SIGCONT that follows a SIGSTOP
from outside changes nothing in it (until the app said so, Textual's driver started two more
threads and repainted the whole screen at each one, and this measured that: 0.967x).

The app gets a state folder of its own ($XDG_STATE_HOME): a crash recovery file another
program left in the user's would open the "restore the model?" dialog over the monitor, and
the figure would be that dialog's (every redraw under a dialog repainted the whole screen:
~40 KiB/s at 160x50, before the monitor stopped redrawing while covered)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Figure, Options, median, start_in_a_terminal

SIZES = ((80, 24), (160, 50))
TARGETS = {(160, 50): f"<= {8 * 1024}"}  # bytes/s: a monitor that stays live over a slow SSH link (issue 25)
FIRST_PAINT_S = 4.0  # the app starts, reads the run's past and paints it all once: not counted
COST_PAIRS, FLOOR_PAIRS, COST_WINDOW_S = 50, 20, 3.0  # pairs of windows: ~5 min, ~2 min
#: Epochs of a realistic length, as the ui benchmark's: what the monitor does once an epoch
#: (table, curves) would weigh 10x too much on the sample's 1.5 s epochs.
COST_IMAGES = 20_000


def _count_bytes(master: int, counted: list[int]) -> None:
    try:
        while True:
            data = os.read(master, 65536)
            if not data:
                return
            counted[0] += len(data)
    except OSError:
        return


def _attached_bytes_per_s(run_dir: Path, size: tuple[int, int], window_s: float, state_dir: Path) -> float:
    pid, master = start_in_a_terminal(["attach", str(run_dir)], *size, environment={"XDG_STATE_HOME": str(state_dir)})
    counted = [0]
    reader = threading.Thread(target=_count_bytes, args=(master, counted), daemon=True)
    reader.start()
    try:
        time.sleep(FIRST_PAINT_S)
        before, start = counted[0], time.monotonic()
        time.sleep(window_s)
        return (counted[0] - before) / (time.monotonic() - start)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)


@dataclass(frozen=True)
class Window:
    """A stretch of wall-clock time (time.time(), as the run's events carry it)."""

    start: float
    end: float


def training_images_per_s(events: list[Any], window: Window) -> float | None:
    """The trainer's speed inside ``window``: images trained between successive progress
    reports of one epoch, over the seconds between them (a report's images so far are its
    images/s times its seconds into the epoch); None without two reports of one epoch in it
    (an epoch's end, its validation and checkpoint took the window)."""
    from tui_cnn.domain.run_events import BatchProgress

    reports = [e for e in events if isinstance(e, BatchProgress) and e.at is not None]
    images = seconds = 0.0
    for before, after in zip(reports, reports[1:]):
        if before.epoch == after.epoch and window.start <= before.at < after.at <= window.end:
            images += after.images_per_s * after.elapsed_s - before.images_per_s * before.elapsed_s
            seconds += after.at - before.at
    return images / seconds if seconds else None


def watching_cost(run_dir: Path, state_dir: Path, pairs: int, window_s: float, freeze: bool) -> list[float]:
    """The trainer's images/s with the attached app running over its images/s with the app
    frozen, for ``pairs`` pairs of adjacent windows; without ``freeze`` the app runs in both
    windows of a pair (the noise floor)."""
    from tui_cnn.domain.run_files import read_events
    from tui_cnn.domain.watch_pace import CALM_AFTER_S

    pid, master = start_in_a_terminal(["attach", str(run_dir)], 160, 50, environment={"XDG_STATE_HOME": str(state_dir)})
    threading.Thread(target=_count_bytes, args=(master, [0]), daemon=True).start()
    windows: list[dict[str, Window]] = []
    try:
        time.sleep(FIRST_PAINT_S + CALM_AFTER_S)  # painted, and calm: nobody touches it
        for pair in range(pairs):
            windows.append({})
            for running in (True, False) if pair % 2 == 0 else (False, True):
                if freeze:
                    os.kill(pid, signal.SIGCONT if running else signal.SIGSTOP)
                start = time.time()
                time.sleep(window_s)
                windows[-1]["running" if running else "frozen"] = Window(start, time.time())
    finally:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
    events = read_events(run_dir)
    speeds = [
        (training_images_per_s(events, pair["running"]), training_images_per_s(events, pair["frozen"]))
        for pair in windows
    ]
    return [running / frozen for running, frozen in speeds if running and frozen]  # pairs it can measure


@contextmanager
def training_detached(config: Any) -> Iterator[Path]:
    """SimpleCNN training detached as ``config`` says, from its first progress report until
    the block ends (then stopped); yields its run directory."""
    from tui_cnn.backend.launch import start_detached
    from tui_cnn.domain.presets import load_preset
    from tui_cnn.domain.run_control import write_control
    from tui_cnn.domain.run_events import BatchProgress
    from tui_cnn.domain.run_files import read_events

    run_dir = Path(config.run_dir)
    launched = start_detached(load_preset("SimpleCNN"), config)
    try:
        deadline = time.monotonic() + 120
        while not any(isinstance(e, BatchProgress) for e in read_events(run_dir)):
            if time.monotonic() > deadline or launched.exit_status is not None:
                raise RuntimeError(f"the run did not start training: see {run_dir}/output.log")
            time.sleep(0.2)
        yield run_dir
    finally:
        write_control(run_dir, "stop")
        deadline = time.monotonic() + 30
        while launched.exit_status is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if launched.exit_status is None:
            os.killpg(launched.process.pid, signal.SIGKILL)


def run(options: Options) -> list[Figure]:
    from tui_cnn.domain.train_config import TrainConfig

    window_s, rounds = (3.0, 1) if options.quick else (30.0, 3)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        figures += _cost_to_training(Path(tmp), options)
        config = TrainConfig(
            dataset="mnist-sample", epochs=10_000, batch_size=64, device="cpu", run_dir=f"{tmp}/sample-run"
        )
        with training_detached(config) as run_dir:
            for size in SIZES:
                samples = [_attached_bytes_per_s(run_dir, size, window_s, Path(tmp)) for _ in range(rounds)]
                figures.append(
                    Figure(
                        "attach",
                        f"bytes/s to the terminal, attached monitor at {size[0]}x{size[1]}",
                        median(samples),
                        "bytes/s",
                        how=f"tui-cnn attach in a pty while SimpleCNN trains (CPU); {rounds} x {window_s:.0f} s "
                        f"after the first paint",
                        target=TARGETS.get(size),
                        samples=samples,
                    )
                )
    return figures


def _cost_to_training(tmp: Path, options: Options) -> list[Figure]:
    cost_pairs, floor_pairs = (2, 2) if options.quick else (COST_PAIRS, FLOOR_PAIRS)
    images = 2_000 if options.quick else COST_IMAGES
    cost, floor = cost_and_floor(tmp, images, cost_pairs, floor_pairs)
    how = (
        f"SimpleCNN training detached on {images:,} MNIST-sized images an epoch (CPU), tui-cnn attach at 160x50 "
        f"(calm: nobody at the keys) frozen and let go in turn; median of {len(cost)} pairs of adjacent "
        f"{COST_WINDOW_S:.0f} s windows' "
        f"ratios of the trainer's images/s (quartiles {quartiles(cost)}); one trainer process"
    )
    return [
        Figure("attach", "training, monitor attached / frozen", median(cost), "x", how, target=">= 0.97", samples=cost),
        Figure(
            "attach",
            "the same, the monitor never frozen (noise floor)",
            median(floor),
            "x",
            f"{len(floor)} pairs of windows as above, the app running in both (quartiles {quartiles(floor)})",
            samples=floor,
        ),
    ]


def cost_and_floor(tmp: Path, images: int, cost_pairs: int, floor_pairs: int) -> tuple[list[float], list[float]]:
    """The pairs' ratios with the app frozen in turn, then never (the noise floor), on one run
    training SimpleCNN on ``images`` MNIST-sized images an epoch."""
    from tui_cnn.domain.train_config import TrainConfig

    from .datapath import mnist_sized_root

    data = mnist_sized_root(tmp, images)
    config = TrainConfig(
        dataset="mnist", data_dir=str(data), epochs=10_000, batch_size=64, device="cpu", run_dir=f"{tmp}/cost-run"
    )
    with training_detached(config) as run_dir:
        cost = watching_cost(run_dir, tmp, cost_pairs, COST_WINDOW_S, freeze=True)
        floor = watching_cost(run_dir, tmp, floor_pairs, COST_WINDOW_S, freeze=False)
    return cost, floor


def quartiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 4]:.3f}-{ordered[(3 * len(ordered)) // 4]:.3f}"
