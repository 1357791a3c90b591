"""The monitor's pure parts: folding events into its state, half-block images, times."""

from __future__ import annotations

from rich.color import Color
from textual.app import App

from tui_cnn.app.widgets.monitor.device_panel import DevicePanel
from tui_cnn.app.widgets.monitor.digits import UPPER_HALF, half_block_image
from tui_cnn.app.widgets.monitor.text import duration, eta
from tui_cnn.backend.devices import GpuStats
from tui_cnn.domain.run_events import BatchProgress, EpochEnd, Failed, Paused, Resumed, RunStarted
from tui_cnn.domain.run_records import EpochMetrics
from tui_cnn.domain.run_state import RunState


def test_half_blocks_put_two_pixel_rows_in_one_line():
    text = half_block_image([[0, 255], [255, 0], [128, 128]])
    lines = text.plain.split("\n")
    assert lines == [UPPER_HALF * 2, UPPER_HALF * 2]  # 3 rows -> 2 lines, the last half empty
    first = text.spans[0].style
    assert first.color == Color.from_rgb(0, 0, 0) and first.bgcolor == Color.from_rgb(255, 255, 255)


def test_events_fold_into_the_state():
    state = RunState()
    state.apply(RunStarted("runs/x", "SimpleCNN", {}, "cpu", "CPU", "mnist", 100, 20, 20, 50_186, 2, 4), now=0.0)
    state.apply(BatchProgress(1, 2, 4, 2, 0.9, 1.0, 500.0, 1e-3, 1.0), now=1.0)
    state.apply(Paused(), now=1.5)
    assert state.status == "paused" and state.active
    state.apply(Resumed(), now=2.0)
    state.apply(BatchProgress(1, 4, 4, 4, 0.7, 0.9, 500.0, 1e-3, 2.0), now=3.0)
    state.apply(EpochEnd(EpochMetrics(1, 0.8, 0.7, 0.6, 0.8, 1e-3, 2.0, 500.0), best=True), now=3.5)
    state.apply(BatchProgress(2, 2, 4, 6, 0.5, 0.8, 500.0, 1e-3, 1.0), now=4.5)
    assert state.batch_losses == [(2, 0.5)]  # a new epoch starts a new per-batch curve
    assert state.best_epoch == 1 and state.epochs_done == 1 and state.current_epoch == 2
    state.apply(Failed("the loss became nan at step 7", 7), now=5.0)
    assert state.status == "failed" and not state.active and state.elapsed_s(now=99.0) == 5.0


def test_durations_and_eta():
    assert (duration(7), duration(754), duration(3723), duration(None)) == ("0:07", "12:34", "1:02:03", "--")
    assert eta(elapsed_s=10, done=1, total=4) == 30 and eta(5, 0, 4) is None
    assert eta(elapsed_s=100, done=1, total=20) == 1920 and eta(elapsed_s=10, done=1, total=15) == 140  # minutes, 10 s


async def test_a_run_on_two_gpus_shows_as_one_run_with_each_gpus_load():
    state = RunState()
    state.apply(
        RunStarted("runs/x", "SimpleCNN", {}, "cuda", "NVIDIA H100", "mnist", 100, 20, 20, 50_186, 2, 4, processes=2),
        now=0.0,
    )
    assert state.processes == 2 and state.device == "cuda"

    class PanelApp(App):
        def compose(self):
            yield DevicePanel()

    async with PanelApp().run_test(size=(60, 10)) as pilot:
        panel = pilot.app.query_one(DevicePanel)
        panel.show_device(state.device, state.device_name, processes=state.processes)
        panel.show_gpus(
            [GpuStats(97, 3 * 2**30, 80 * 2**30, 61, 350.0), GpuStats(95, 3 * 2**30, 80 * 2**30, 60, 340.0)]
        )
        await pilot.pause()
        lines = str(panel.content).splitlines()
        assert "2 processes (DDP)" in lines[0]
        assert lines[1].startswith("GPU0  97%") and lines[2].startswith("GPU1  95%")
