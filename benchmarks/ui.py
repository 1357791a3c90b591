"""Figure 5: does the app stay responsive while training saturates the CPU, and does the
monitor slow training down?

The app opens on the training monitor with a run started at once (as ``tui-cnn train``
does), in Textual's headless test harness. While it trains, keys flip the monitor's tabs
("l" log, "t" training); a key's latency runs from the press to the first frame the app
renders that shows the new tab (the frame it would write to the terminal). Then the same
run trains headless (the engine alone, no app), alternating; throughput is each run's
images/s as the engine records it in metrics.jsonl (training time alone).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.training import TrainConfig, read_metrics

from .harness import Figure, Options, Skipped, median, percentile, take_turns

DATASET = "mnist-sample"
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


async def monitor_run(config: TrainConfig, presses: int, epochs: int) -> list[float]:
    """Train with the monitor open, pressing keys meanwhile, until both ``presses`` keys and
    ``epochs`` epochs are done; then stop the run with its key (x), as a person would. The
    latency of each key pressed while training ran: press to the frame that shows it."""
    from textual.widgets import TabbedContent

    from tui_cnn.app.app import TuiCnnApp

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
    latencies = []
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        clock = PaintClock(app)
        await wait_until(lambda: app.screen.state.status == "running")
        tabs = app.screen.query_one(TabbedContent)
        while len(latencies) < presses or len(read_metrics(config.run_dir)) < epochs:
            key, tab = TAB_KEYS[len(latencies) % len(TAB_KEYS)]
            clock.expect(lambda tab=tab: tabs.active == tab)
            pressed_at = time.perf_counter()
            await asyncio.gather(pilot.press(key), clock.wait())
            if app.screen.state.status != "running":
                raise RuntimeError(f"training ended ({app.screen.state.status}) while keys were measured")
            latencies.append(clock.painted_at - pressed_at)
            await asyncio.sleep(random.uniform(0.01, 0.05))  # a person's pace, landing at random moments
        await pilot.press("x")
        await app.workers.wait_for_complete()
    return latencies


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
    presses = options.runs(full=50, quick=6)  # per run with the monitor open: 100 in all
    rounds = options.runs(full=2, quick=1)
    epochs = options.runs(full=3, quick=2)
    # Half the sample trains (a quarter in quick mode), the rest validates: short epochs.
    held_out = 0.75 if options.quick else 0.5
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tui-cnn-bench-") as tmp:
        runs = iter(range(1_000_000))

        def config(epochs: int) -> TrainConfig:
            return TrainConfig(dataset=DATASET, data_dir=tmp, epochs=epochs, batch_size=64, device=options.device,
                               val_fraction=held_out, run_dir=f"{tmp}/run-{next(runs)}")

        def with_monitor() -> list[float]:
            run_config = config(epochs=UNTIL_STOPPED)
            latencies.extend(asyncio.run(monitor_run(run_config, presses, epochs)))
            return images_per_s(Path(run_config.run_dir))

        def headless() -> list[float]:
            run_config = config(epochs)
            headless_run(run_config)
            return images_per_s(Path(run_config.run_dir))

        speeds = {name: [s for run in results for s in run]
                  for name, results in take_turns({"monitor open": with_monitor, "headless": headless}, rounds).items()}
    ratio = median(speeds["monitor open"]) / median(speeds["headless"])
    how = f"{len(latencies)} tab switches (l/t) on the monitor while SimpleCNN trained on {options.device}"
    throughput = (f"SimpleCNN, {1 - held_out:.0%} of {DATASET}, batch 64, {rounds} alternating runs of "
                  f"{epochs} epochs, first dropped")
    return [
        Figure("ui", "key to frame, p50", median(latencies), "s", how, samples=latencies),
        Figure("ui", "key to frame, p95", percentile(latencies, 95), "s", how, target="< 0.1"),
        *(Figure("ui", f"training, {name}", median(s), "images/s", throughput, samples=s)
          for name, s in speeds.items()),
        Figure("ui", "training, monitor open / headless", ratio, "x", "ratio of images/s, same process",
               target=">= 0.95"),
    ]
