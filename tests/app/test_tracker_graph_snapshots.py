"""What a tracked torchvision model looks like in the tracker at 80x24: the gutter of its
skip connections, and the figures (output, params, MACs) on screen."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.session import Tracked


async def tracked_and_still(pilot) -> None:
    await async_wait_until(
        lambda: pilot.app.screen.summary is not None and pilot.app.screen.summary.tracked,
        timeout=60,
        what="the model tracked",
    )
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


@pytest.mark.slow
def test_tracked_resnet18_at_80x24(snap_compare):
    app = TuiCnnApp(batch_size=1, tracked=Tracked("torchvision.models:resnet18", (3, 224, 224)))
    assert snap_compare(app, press=["down"] * 5, terminal_size=(80, 24), run_before=tracked_and_still)


@pytest.mark.slow
def test_track_prompt_at_80x24(snap_compare):
    async def prompt_open(pilot) -> None:
        await pilot.press("t")
        await async_wait_until(lambda: pilot.app.screen.query("#track-input-shape"), what="the track prompt")
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False
        await pilot.pause()

    assert snap_compare(TuiCnnApp(), terminal_size=(80, 24), run_before=prompt_open)
