"""The builder's keystroke-to-updated-screen time: a digit typed into a layer's field, until
the field, that layer's row, every row after it and the problems panel are on screen.

Runs the real app headless under Textual's Pilot. Two figures: from the key being sent to the
first frame the screen composes after the builder's update (Textual batches refreshes, so
this includes its frame pacing), and the builder's own work inside that (parse, analyze,
history, cell, form and panel updates). Pilot's waiting for the CPU to go idle between keys
is not counted.
Typing alternates between two values of out_channels so every keystroke changes the model.

    python -m benchmarks.builder_keystroke [--quick]
"""

from __future__ import annotations

import asyncio
import sys
import time

from textual.screen import Screen

from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.builder import BuilderScreen
from tui_cnn.app.widgets.builder.form import LayerForm
from tui_cnn.app.widgets.builder.stack import StackTable

from .harness import Figure, Options, median, percentile

KEYS = ("backspace", "6", "backspace", "2")  # out_channels 32 -> 3 -> 36 -> 3 -> 32 ...


async def _measure(presses: int) -> tuple[list[float], list[float]]:
    app = TuiCnnApp(start_mode="builder")
    handler_seconds: list[float] = []
    handler_ends: list[float] = []
    frames: list[float] = []
    original_handler, original_refresh = BuilderScreen.on_layer_form_edited, Screen._compositor_refresh

    def timed_handler(screen, event):
        start = time.perf_counter()
        original_handler(screen, event)
        handler_ends.append(time.perf_counter())
        handler_seconds.append(handler_ends[-1] - start)

    def timed_refresh(screen):
        original_refresh(screen)
        frames.append(time.perf_counter())

    BuilderScreen.on_layer_form_edited, Screen._compositor_refresh = timed_handler, timed_refresh
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.screen
            screen.query_one(StackTable).select_layer(0)
            await pilot.press("enter")
            field = screen.query_one(LayerForm).rows["out_channels"].input
            field.focus()
            await pilot.press("end")
            await pilot.pause()
            round_trips = []
            for i in range(presses):
                start = time.perf_counter()
                await pilot.press(KEYS[i % len(KEYS)])
                await pilot.pause()
                first_frame = min(f for f in frames if f > handler_ends[-1])
                round_trips.append(first_frame - start)
            expected = {0: 32, 1: 3, 2: 36, 3: 3}[presses % len(KEYS)]
            assert app.spec.layers[0].args["out_channels"] == expected, "the keystrokes did not reach the model"
    finally:
        BuilderScreen.on_layer_form_edited, Screen._compositor_refresh = original_handler, original_refresh
    return round_trips, handler_seconds


def run(options: Options) -> list[Figure]:
    presses = 12 if options.quick else 60
    round_trips, handler = asyncio.run(_measure(presses))
    how = f"median of {presses} digits/backspaces in Conv2d out_channels of SimpleCNN, Pilot headless 120x36"
    return [
        Figure(
            "builder",
            "keystroke to updated screen",
            median(round_trips),
            "s",
            how,
            target="< 0.05",
            samples=round_trips,
            extra={"p90": percentile(round_trips, 90)},
        ),
        Figure(
            "builder",
            "builder work per keystroke",
            median(handler),
            "s",
            "parse + analyze + history + cell/form/panel updates, inside the round trip",
            samples=handler,
        ),
    ]


if __name__ == "__main__":
    for figure in run(Options(quick="--quick" in sys.argv, device="cpu")):
        p90 = f", p90 {figure.extra['p90'] * 1e3:.2f} ms" if "p90" in figure.extra else ""
        print(f"{figure.name}: median {figure.value * 1e3:.2f} ms{p90} ({figure.how})")
