"""Figure: how long Inspect takes to show a new image, for SimpleCNN on the CPU (target < 200 ms).

Two numbers, each the median over consecutive test images:
- compute: the worker's part (forward pass layer by layer, per-map thumbnails, statistics);
- whole view: in the app (Textual's headless harness, 160x50), from the key that asks for the
  next test image to the screen having repainted with it (worker, messages, layout, render).
Random weights (a trained model costs the same); the test images are the built-in sample.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time

from tui_cnn.domain.presets import load_preset

from .harness import Figure, Options, Skipped, median

SIZE = (160, 50)
MODEL = "SimpleCNN"


def run(options: Options) -> list[Figure]:
    # Inspect always runs on the CPU (the app never touches the GPU), whatever --device says.
    images = options.runs(full=20, quick=3)
    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = cache  # the sample unpacks here, not in the user's cache
        try:
            compute = _compute(images)
            whole = asyncio.run(_in_the_app(images))
        finally:
            if previous is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = previous
    how = f"{MODEL}, CPU, median of {images} test images"
    return [
        Figure("inspect", "compute (forward + thumbnails)", median(compute), "s", how, samples=compute),
        Figure(
            "inspect",
            "whole view, key to repaint",
            median(whole),
            "s",
            how + f", headless app {SIZE[0]}x{SIZE[1]}",
            target="< 0.2",
            samples=whole,
        ),
    ]


def _compute(images: int) -> list[float]:
    from tui_cnn.backend.inspect import Inspector

    inspector = Inspector.untrained(load_preset(MODEL))
    inspector.test_view(0)  # warm-up: data loaded, torch's first-call costs paid
    compute = []
    for index in range(1, images + 1):
        start = time.perf_counter()
        inspector.test_view(index)
        compute.append(time.perf_counter() - start)
    return compute


async def _in_the_app(images: int) -> list[float]:
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.app.screens.inspect import InspectScreen

    app = TuiCnnApp(load_preset(MODEL), start_mode="inspect")
    times = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None)
        await pilot.pause()
        screen = app.screen
        for index in range(1, images + 1):
            start = time.perf_counter()
            await pilot.press("right")
            await _until(lambda: screen.view.test_index == index)
            await pilot.pause()  # the repaint with the new view
            times.append(time.perf_counter() - start)
    return times


async def _until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise Skipped("Inspect did not show a view within a minute")
        await asyncio.sleep(0.001)
