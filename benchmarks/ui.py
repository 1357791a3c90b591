"""Figure 5: does the app stay responsive while training saturates the CPU, and does the
monitor slow training down?

The app opens on the training monitor with a run started at once (as ``tui-cnn train``
does), in Textual's headless test harness. While it trains, keys flip the monitor's tabs
("l" log, "t" training), sent the way a terminal delivers them (onto the driver's message
queue, without the test harness's waiting for idle, which a busy process would add to every
key), one every 10-50 ms at random; a key's latency runs from the send to the first frame the
app renders that shows the new tab (the frame it would write to the terminal).

Throughput is measured apart from the keys, as a person watches: runs with the monitor open
on its training tab (bars, table, plots updating) take turns with the same run headless (the
engine alone, no app); each run's images/s is what the engine records in metrics.jsonl
(training time alone); the ratio is the median of each pair of adjacent runs' ratio, with
the load average beside it (a machine shared with other work moves both runs of a pair
alike, and the load says how far to trust the figure). Each run has a fresh process, as it
would in use (``tui-cnn train``, ``tui-cnn train --headless``): runs sharing one process slow
each other down (a thread that trained leaves libgomp's OpenMP team behind, and with more
OpenMP threads than cores libgomp stops spin-waiting: ~20% slower, ~4,500 voluntary context
switches an epoch instead of none).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.run_files import read_metrics
from tui_cnn.domain.train_config import TrainConfig

from .datapath import mnist_sized_root
from .harness import Figure, Options, Skipped, median, percentile, take_turns

DATASET = "mnist-sample"
TRAIN_IMAGES = 20_000  # an epoch of a few seconds on a 2-core CPU
TERMINAL_SIZE = (100, 30)
TAB_KEYS = (("l", "log"), ("t", "training"))
PAINT_TIMEOUT_S = 10.0
UNTIL_STOPPED = 10_000  # epochs: the monitor's run trains until the benchmark stops it


class PaintClock:
    """Notes when the app renders a frame in which ``shows()`` holds.

    Textual renders every update through ``App._display`` (a private method: the one place a
    frame leaves the app, also in headless mode, where it is then dropped)."""

    def __init__(self, app: Any) -> None:
        self._display = app._display
        app._display = self._record
        self._shows: Callable[[], bool] | None = None
        self._painted = asyncio.Event()
        self.painted_at = 0.0

    def expect(self, shows: Callable[[], bool]) -> None:
        self._shows = shows
        self._painted.clear()

    async def wait(self) -> float:
        await asyncio.wait_for(self._painted.wait(), PAINT_TIMEOUT_S)
        return self.painted_at

    def _record(self, screen: Any, renderable: Any) -> None:
        if renderable is not None and self._shows is not None and self._shows():
            self.painted_at = time.perf_counter()
            self._shows = None
            self._painted.set()
        self._display(screen, renderable)


async def key_latencies(config: TrainConfig, presses: int) -> list[float]:
    """Train with the monitor open, pressing keys meanwhile, until ``presses`` keys are done;
    then stop the run with its key (x), as a person would. The latency of each key pressed
    while training ran: send to the frame that shows it."""
    from textual import events
    from textual.widgets import TabbedContent

    from tui_cnn.app.app import TuiCnnApp

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
    latencies = []
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        clock = PaintClock(app)
        await wait_until(lambda: app.screen.state.status == "running")
        tabs = app.screen.query_one(TabbedContent)
        while len(latencies) < presses:
            key, tab = TAB_KEYS[len(latencies) % len(TAB_KEYS)]
            clock.expect(lambda tab=tab: tabs.active == tab)
            pressed_at = time.perf_counter()
            app._driver.send_message(events.Key(key, key))
            await clock.wait()
            if app.screen.state.status != "running":
                raise RuntimeError(f"training ended ({app.screen.state.status}) while keys were measured")
            latencies.append(clock.painted_at - pressed_at)
            await asyncio.sleep(random.uniform(0.01, 0.05))  # a person's pace, landing at random moments
        await pilot.press("x")
        await wait_until(lambda: not app.screen.state.active, what="the run to stop")
    return latencies


async def watch_training(config: TrainConfig) -> float:
    """The monitor open on a run, nobody pressing anything, until the run ends. Returns the
    app's CPU seconds per second of the run: its own process only (training runs in its own),
    which is what drawing the monitor takes from training."""
    from tui_cnn.app.app import TuiCnnApp

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
    async with app.run_test(size=TERMINAL_SIZE):
        await wait_until(lambda: app.screen.state.status == "running")
        cpu_at, wall_at = time.process_time(), time.perf_counter()
        # Looked at once a second: a person watching wakes the app no more often than that,
        # and a check every 20 ms was 50 wake-ups a second of this process, each one taking a
        # core from training (a harness cost no user has).
        await wait_until(lambda: not app.screen.state.active, timeout=3600, what="the run to end", every_s=1.0)
        return (time.process_time() - cpu_at) / (time.perf_counter() - wall_at)


async def wait_until(
    condition: Callable[[], bool],
    timeout: float = 120,
    what: str = "training to start in the monitor",
    every_s: float = 0.02,
) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"waited {timeout:.0f} s for {what}")
        await asyncio.sleep(every_s)


def headless_run(config: TrainConfig) -> None:
    from tui_cnn.backend.trainer import Trainer

    Trainer(load_preset("SimpleCNN"), config).run()


def monitor_open(config: TrainConfig) -> dict[str, float]:
    return {"app_cpu": asyncio.run(watch_training(config))}


def headless(config: TrainConfig) -> dict[str, float]:
    headless_run(config)
    return {}


#: How a throughput run trains, each in a process of its own; what it returns is printed as
#: JSON on the last line of that process's stdout.
RUNS_IN_A_PROCESS: dict[str, Callable[[TrainConfig], dict[str, float]]] = {
    "monitor open": monitor_open,
    "headless": headless,
}
REPO_ROOT = Path(__file__).resolve().parents[1]


def run_in_fresh_process(how: str, config: TrainConfig) -> tuple[list[float], dict[str, float]]:
    """Train as ``how`` says in a new Python process (``python -m benchmarks.ui``): the
    engine's images/s of that run, and what the run reported."""
    command = [sys.executable, "-m", "benchmarks.ui", how, json.dumps(config.to_json())]
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"the {how} run failed: {finished.stderr.strip()[-2000:]}")
    return images_per_s(Path(config.run_dir)), json.loads(finished.stdout.splitlines()[-1])


def images_per_s(run_dir: Path) -> list[float]:
    """The engine's own images/s per epoch, the first epoch left out (it warms up)."""
    metrics = read_metrics(run_dir)
    if not metrics:
        raise RuntimeError(f"the run in {run_dir} recorded no epoch (see its events.jsonl)")
    return [epoch.images_per_s for epoch in metrics[1:] or metrics]


def run(options: Options) -> list[Figure]:
    try:
        from tui_cnn.backend.trainer import Trainer  # noqa: F401
    except ImportError as missing:
        raise Skipped(f"the training engine is not there yet ({missing})") from None
    presses = options.runs(full=100, quick=6)
    # Pairs of runs (monitor open, headless), alternating; the ratio is the median of each
    # pair's: a machine shared with other work drifts, and adjacent runs drift alike.
    rounds = options.runs(full=5, quick=1)
    epochs = options.runs(full=4, quick=2)  # the first of each run warms up
    # Throughput needs epochs of a realistic length: what the monitor does once an epoch
    # (plots, table, log) would weigh 10-30x too much on the sample's sub-second epochs.
    images = options.runs(full=TRAIN_IMAGES, quick=2_000)
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-") as tmp:
        runs = iter(range(1_000_000))
        mnist_root = mnist_sized_root(Path(tmp), images)

        def config(epochs: int, **data: Any) -> TrainConfig:
            data = data or {"dataset": "mnist", "data_dir": str(mnist_root)}
            return TrainConfig(
                epochs=epochs, batch_size=64, device=options.device, run_dir=f"{tmp}/run-{next(runs)}", **data
            )

        def fresh_process(how: str) -> Callable[[], tuple[list[float], dict[str, float]]]:
            return lambda: run_in_fresh_process(how, config(epochs))

        load_before = os.getloadavg()[0]
        results = take_turns({how: fresh_process(how) for how in RUNS_IN_A_PROCESS}, rounds)
        load_after = os.getloadavg()[0]
        speeds = {how: [speed for run_speeds, _ in runs_of for speed in run_speeds] for how, runs_of in results.items()}
        app_cpu = [report["app_cpu"] * 100 for _, report in results["monitor open"]]
        keyed_run = config(UNTIL_STOPPED, dataset=DATASET, data_dir=tmp, val_fraction=0.5)
        latencies = asyncio.run(key_latencies(keyed_run, presses))
    pair_ratios = [
        median(watched) / median(alone)
        for (watched, _), (alone, _) in zip(results["monitor open"], results["headless"])
    ]
    ratio = median(pair_ratios)
    load = f"load average {load_before:.1f} before, {load_after:.1f} after ({os.cpu_count()} cores)"
    how = f"{len(latencies)} tab switches (l/t) on the monitor while SimpleCNN trained on {options.device}"
    throughput = (
        f"SimpleCNN, {images:,} MNIST-sized images (the sample repeated), batch 64, {rounds} "
        f"alternating runs of {epochs} epochs, a fresh process each, first epoch dropped"
    )
    return [
        Figure("ui", "key to frame, p50", median(latencies), "s", how, samples=latencies),
        Figure("ui", "key to frame, p95", percentile(latencies, 95), "s", how, target="< 0.1"),
        *(
            Figure("ui", f"training, {name}", median(s), "images/s", throughput, samples=s)
            for name, s in speeds.items()
        ),
        Figure(
            "ui",
            "training, monitor open / headless",
            ratio,
            "x",
            f"median of {len(pair_ratios)} pairs' ratios of images/s; {load}",
            target=">= 0.97",
            samples=pair_ratios,
            extra={"load_average": [load_before, load_after]},
        ),
        Figure(
            "ui",
            "app's CPU while training",
            median(app_cpu),
            "% of a core",
            "the monitor's process alone (training runs in a process of its own)",
            samples=app_cpu,
        ),
    ]


if __name__ == "__main__":  # one throughput run: python -m benchmarks.ui HOW CONFIG_JSON
    print(json.dumps(RUNS_IN_A_PROCESS[sys.argv[1]](TrainConfig.from_json(json.loads(sys.argv[2])))))
