"""The monitor under load, measured directly: ``python -m benchmarks.monitor_keys``.

1. Key latency while training saturates the CPU: the app opens on the monitor with a long
   run going (SimpleCNN, the 4,000-digit MNIST sample, CPU); 100 keys flip the tabs (l / t),
   sent the way a terminal delivers them (the driver's message queue, no test-harness
   waiting), one every 10-50 ms at random; each key's latency runs from the send to the
   first frame that shows the new tab (``benchmarks.ui.PaintClock``).
2. Throughput with the monitor open (training tab showing) vs the engine alone in a thread,
   taking turns; images/s as the engine records it (training time alone), first epoch
   dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from textual import events

from tui_cnn.domain.presets import load_preset
from tui_cnn.domain.training import TrainConfig, read_metrics

from .harness import percentile, take_turns
from .ui import PaintClock, wait_until

TAB_KEYS = (("l", "log"), ("t", "training"))


async def key_latencies(config: TrainConfig, presses: int) -> tuple[list[float], int]:
    from textual.widgets import TabbedContent

    from tui_cnn.app.app import TuiCnnApp

    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
    latencies, while_training = [], 0
    async with app.run_test(size=(100, 30)):
        clock = PaintClock(app)
        screen = app.screen
        await wait_until(lambda: screen.state.batch is not None)
        tabs = screen.query_one(TabbedContent)
        for press in range(presses):
            key, tab = TAB_KEYS[press % 2]
            clock.expect(lambda tab=tab: tabs.active == tab)
            sent = time.perf_counter()
            app._driver.send_message(events.Key(key, key))
            latencies.append(await clock.wait() - sent)
            while_training += screen.state.status == "running"
            await asyncio.sleep(random.uniform(0.01, 0.05))
        screen.action_stop_run()
        await app.workers.wait_for_complete()
    return latencies, while_training


def monitor_open(config: TrainConfig) -> list[float]:
    async def watch() -> None:
        from tui_cnn.app.app import TuiCnnApp

        app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
        async with app.run_test(size=(100, 30)):
            await app.workers.wait_for_complete()

    asyncio.run(watch())
    return [m.images_per_s for m in read_metrics(config.run_dir)[1:]]


def engine_alone(config: TrainConfig) -> list[float]:
    from tui_cnn.backend.trainer import Trainer

    thread = threading.Thread(target=Trainer(load_preset("SimpleCNN"), config).run)
    thread.start()
    thread.join()
    return [m.images_per_s for m in read_metrics(config.run_dir)[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitor_keys")
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="throughput: runs of each, taking turns")
    parser.add_argument("--epochs", type=int, default=3, help="throughput: epochs per run (the first is dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tui-cnn-monitor-keys-") as tmp:
        runs = iter(range(1_000_000))

        def config(epochs: int) -> TrainConfig:
            return TrainConfig(dataset="mnist-sample", data_dir=tmp, epochs=epochs, batch_size=64, device="cpu",
                               run_dir=str(Path(tmp) / f"run-{next(runs)}"))

        latencies, while_training = asyncio.run(key_latencies(config(100), args.presses))
        print(f"key to frame: p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p95 {percentile(latencies, 95) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
              f"({len(latencies)} keys, {while_training} while training)")
        speeds = take_turns({"monitor open": lambda: monitor_open(config(args.epochs)),
                             "engine alone": lambda: engine_alone(config(args.epochs))}, args.rounds)
        medians = {name: statistics.median(s for run in results for s in run) for name, results in speeds.items()}
        for name, value in medians.items():
            print(f"{name}: {value:,.0f} images/s (median of {args.rounds} runs x {args.epochs - 1} epochs)")
        print(f"monitor open / engine alone: {medians['monitor open'] / medians['engine alone']:.3f}")


if __name__ == "__main__":
    main()
