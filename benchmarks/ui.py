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
(training time alone).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.training import TrainConfig, read_metrics

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
        await app.workers.wait_for_complete()
    return latencies


async def watch_training(config: TrainConfig) -> None:
    """The monitor open on a run, nobody pressing anything, until the run ends."""
    from tui_cnn.app.app import TuiCnnApp

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
    async with app.run_test(size=TERMINAL_SIZE):
        await wait_until(lambda: app.screen.state.status == "running")
        await app.workers.wait_for_complete()


async def wait_until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError("training never started in the monitor")
        await asyncio.sleep(0.02)


def headless_run(config: TrainConfig) -> None:
    from tui_cnn.backend.trainer import Trainer

    Trainer(load_preset("SimpleCNN"), config).run()


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
    rounds = options.runs(full=3, quick=1)
    epochs = options.runs(full=3, quick=2)
    # Throughput needs epochs of a realistic length: what the monitor does once an epoch
    # (plots, table, log) would weigh 10-30x too much on the sample's sub-second epochs.
    images = options.runs(full=TRAIN_IMAGES, quick=2_000)
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-") as tmp:
        runs = iter(range(1_000_000))
        mnist_root = mnist_sized_root(Path(tmp), images)

        def config(epochs: int, **data: Any) -> TrainConfig:
            data = data or {"dataset": "mnist", "data_dir": str(mnist_root)}
            return TrainConfig(epochs=epochs, batch_size=64, device=options.device,
                               run_dir=f"{tmp}/run-{next(runs)}", **data)

        keyed_run = config(UNTIL_STOPPED, dataset=DATASET, data_dir=tmp, val_fraction=0.5)
        latencies = asyncio.run(key_latencies(keyed_run, presses))

        def with_monitor() -> list[float]:
            run_config = config(epochs)
            asyncio.run(watch_training(run_config))
            return images_per_s(Path(run_config.run_dir))

        def headless() -> list[float]:
            run_config = config(epochs)
            headless_run(run_config)
            return images_per_s(Path(run_config.run_dir))

        def engine_in_a_thread() -> list[float]:
            run_config = config(epochs)
            thread = threading.Thread(target=headless_run, args=(run_config,))
            thread.start()
            thread.join()
            return images_per_s(Path(run_config.run_dir))

        # The monitor trains in a thread worker; the engine alone in a thread separates what
        # the monitor's drawing costs from what training off the main thread costs.
        runs_by_name = {"monitor open": with_monitor, "headless": headless, "engine in a thread": engine_in_a_thread}
        speeds = {name: [s for run in results for s in run]
                  for name, results in take_turns(runs_by_name, rounds).items()}
    ratio = median(speeds["monitor open"]) / median(speeds["headless"])
    drawing = median(speeds["monitor open"]) / median(speeds["engine in a thread"])
    how = f"{len(latencies)} tab switches (l/t) on the monitor while SimpleCNN trained on {options.device}"
    throughput = (f"SimpleCNN, {images:,} MNIST-sized images (the sample repeated), batch 64, {rounds} "
                  f"alternating runs of {epochs} epochs, first dropped")
    return [
        Figure("ui", "key to frame, p50", median(latencies), "s", how, samples=latencies),
        Figure("ui", "key to frame, p95", percentile(latencies, 95), "s", how, target="< 0.1"),
        *(Figure("ui", f"training, {name}", median(s), "images/s", throughput, samples=s)
          for name, s in speeds.items()),
        Figure("ui", "training, monitor open / headless", ratio, "x", "ratio of images/s, same process",
               target=">= 0.95"),
        Figure("ui", "training, monitor open / engine in a thread", drawing, "x",
               "the monitor's own cost: both train in a thread"),
    ]
