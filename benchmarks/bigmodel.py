"""Big models in the app: how long an edit takes to reach the screen at 1,000 and 5,000
layers, and how long ctrl+q takes to answer right after one.

A model of N layers (Conv2d(8, 3x3, padding 1) + ReLU, repeated), the real app headless under
Pilot at 160x50 (the wide layout: every column, the shape bars). Figures:
- tracker: the batch size set (as the box does once typing pauses) until the first frame
  composed after it: every MACs and memory cell of the table changes;
- builder: a digit typed into layer 0's out_channels until the first frame after the
  builder handled it;
- ctrl+q: pressed right after a batch-size edit, until the app has exited.

Targets (issue 11): an edit on screen within 0.1 s at 1,000 layers, 0.5 s at 5,000; ctrl+q
within 0.2 s.

    python -m benchmarks --only bigmodel [--quick]
"""

from __future__ import annotations

import asyncio
import time

from textual import events
from textual.screen import Screen

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.builder import BuilderScreen
from tui_cnn.app.widgets.builder.form import LayerForm
from tui_cnn.app.widgets.builder.stack import StackTable
from tui_cnn.domain.spec import LayerSpec, ModelSpec

from .harness import Figure, Options, median

SIZE = (160, 50)
TARGETS = {1_000: "< 0.1", 5_000: "< 0.5"}


def big_spec(layers: int) -> ModelSpec:
    block = (LayerSpec.of("Conv2d", out_channels=8, kernel_size=3, padding=1), LayerSpec.of("ReLU"))
    return ModelSpec(f"Big{layers}", (1, 28, 28), block * (layers // 2))


class _Frames:
    """When each frame was composed (Textual's compositor refresh), to time edit -> screen."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._original = Screen._compositor_refresh

    def __enter__(self) -> "_Frames":
        original, times = self._original, self.times

        def timed(screen: Screen) -> None:
            original(screen)
            times.append(time.perf_counter())

        Screen._compositor_refresh = timed
        return self

    def __exit__(self, *exc: object) -> None:
        Screen._compositor_refresh = self._original

    def first_after(self, moment: float) -> float:
        return min((t for t in self.times if t > moment), default=float("nan")) - moment


async def _tracker_edits(layers: int, edits: int) -> list[float]:
    """From the edit to the first frame composed after the table shows the new figures (a
    big model's analysis runs in a thread: frames before it ends show the old table)."""
    from tui_cnn.app.screens.tracker import TrackerScreen

    app = TuiCnnApp(big_spec(layers))
    shown_at: list[float] = []
    original = TrackerScreen.show

    def timed_show(screen, summary, *args, **kwargs):
        original(screen, summary, *args, **kwargs)
        shown_at.append(time.perf_counter())

    TrackerScreen.show = timed_show
    try:
        with _Frames() as frames:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                took = []
                for i in range(edits):
                    start = time.perf_counter()
                    app.batch_size = 32 + i  # what the batch box does when typing pauses
                    while not (shown_at and shown_at[-1] > start) and time.perf_counter() - start < 30:
                        await asyncio.sleep(0.001)
                    await pilot.pause()
                    took.append(shown_at[-1] - start + frames.first_after(shown_at[-1]))
    finally:
        TrackerScreen.show = original
    return took


async def _builder_keys(layers: int, presses: int) -> list[float]:
    app = TuiCnnApp(big_spec(layers), start_mode="builder")
    ends: list[float] = []
    original = BuilderScreen.on_layer_form_edited

    def timed(screen, event):
        original(screen, event)
        ends.append(time.perf_counter())

    BuilderScreen.on_layer_form_edited = timed
    try:
        with _Frames() as frames:
            async with app.run_test(size=SIZE) as pilot:
                screen = app.screen
                screen.query_one(StackTable).select_layer(0)
                await pilot.press("enter")
                screen.query_one(LayerForm).rows["out_channels"].input.focus()
                await pilot.press("end")
                await pilot.pause()
                took = []
                for i in range(presses):
                    start = time.perf_counter()
                    await pilot.press(("backspace", "6", "backspace", "8")[i % 4])
                    await pilot.pause()
                    took.append(frames.first_after(ends[-1]) + ends[-1] - start)
    finally:
        BuilderScreen.on_layer_form_edited = original
    return took


async def _quit_after_edit(layers: int) -> float:
    app = TuiCnnApp(big_spec(layers))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.batch_size = 100
        start = time.perf_counter()
        # as a terminal sends it (Pilot's press would wait for the screen to be idle first)
        app._driver.send_message(events.Key("ctrl+q", None))
        while app.is_running:
            await asyncio.sleep(0.001)
        return time.perf_counter() - start


def run(options: Options) -> list[Figure]:
    edits = 3 if options.quick else 8
    figures = []
    for layers in (1_000, 5_000):
        tracker = asyncio.run(_tracker_edits(layers, edits))
        builder = asyncio.run(_builder_keys(layers, edits))
        quit_s = asyncio.run(_quit_after_edit(layers))
        figures += [
            Figure(
                "bigmodel",
                f"tracker batch edit to screen, {layers:,} layers",
                median(tracker),
                "s",
                f"median of {edits}, Pilot headless {SIZE[0]}x{SIZE[1]}",
                target=TARGETS[layers],
                samples=tracker,
            ),
            Figure(
                "bigmodel",
                f"builder keystroke to screen, {layers:,} layers",
                median(builder),
                "s",
                f"median of {edits} digits in layer 0 out_channels",
                target=TARGETS[layers],
                samples=builder,
            ),
            Figure(
                "bigmodel",
                f"ctrl+q right after an edit, {layers:,} layers",
                quit_s,
                "s",
                "key sent as a terminal sends it, to the app exiting",
                target="< 0.2",
            ),
        ]
    return figures


if __name__ == "__main__":
    import sys

    for figure in run(Options(quick="--quick" in sys.argv, device="cpu")):
        print(
            f"{figure.name}: {figure.value * 1e3:.0f} ms (target {figure.target} s) "
            f"samples {[round(s * 1e3) for s in figure.samples]}"
        )
