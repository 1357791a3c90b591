"""The monitor sends the terminal only what changed (issue 25: a monitor watched over SSH):
nothing while a dialog covers it, a few cells where a clock ticks or a curve moves."""

from __future__ import annotations

import asyncio
import time

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from tests.app.test_runs_screen import event_lines, write_run
from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.monitor import TICK_SLACK_S, MonitorScreen
from tui_cnn.app.widgets.confirm import ConfirmScreen
from tui_cnn.app.widgets.monitor.plots import BatchLossPlot
from tui_cnn.app.widgets.monitor.repaint import TickerText, changed_regions
from tui_cnn.domain.run_events import BatchProgress
from tui_cnn.domain.watch_pace import BRISK, CALM, CALM_AFTER_S, watch_pace


def batch(number: int) -> BatchProgress:
    return BatchProgress(
        epoch=2,
        batch=number,
        batches=8,
        step=8 + number,
        loss=0.5,
        smoothed_loss=0.5,
        images_per_s=1000.0,
        lr=1e-3,
        elapsed_s=float(number),
    )


async def following_a_live_run(app: TuiCnnApp) -> TickerText:
    """Once the monitor shows the run's first batch: its epoch line."""
    await async_wait_until(lambda: isinstance(app.screen, MonitorScreen))
    info = app.screen.query_one("#epoch-info", TickerText)
    await async_wait_until(lambda: "batch 1/8" in str(info.content), what="the run's progress")
    return info


def spy_on_refresh(monkeypatch, widget) -> list[tuple[Region, ...]]:
    """The regions each refresh of ``widget`` asked Textual for (none: the whole widget);
    the refresh still happens."""
    calls: list[tuple[Region, ...]] = []
    refresh = Widget.refresh

    def recorded(self, *regions, **kwargs):
        if self is widget:
            calls.append(regions)
        return refresh(self, *regions, **kwargs)

    monkeypatch.setattr(Widget, "refresh", recorded)
    return calls


def test_changed_regions_are_the_changed_cells_of_each_changed_line():
    before = Text("epoch 2  elapsed 0:27\nsame line\nshort")
    after = Text("epoch 2  elapsed 0:28\nsame line\nshort, longer")
    assert changed_regions(before, after) == [Region(20, 0, 1, 1), Region(5, 2, 8, 1)]
    assert changed_regions(before, before.copy()) == []
    restyled = Text("epoch 2  elapsed 0:27\nsame line\nshort")
    restyled.stylize("bold", 2, 4)
    assert changed_regions(before, restyled) == [Region(2, 0, 2, 1)]  # a style is a change too


def test_the_same_cells_in_other_spans_are_no_change_and_a_line_style_is_one():
    """The quick comparison of whole lines skips only lines that are the same; lines that
    differ in how their spans are cut, not in what they show, still compare cell by cell."""
    whole, cut = Text("ab"), Text("ab")
    whole.stylize("bold", 0, 2)
    cut.stylize("bold", 0, 1)
    cut.stylize("bold", 1, 2)
    assert changed_regions(whole, cut) == []
    assert changed_regions(Text("ab"), Text("ab", style="red")) == [Region(0, 0, 2, 1)]


async def test_a_ticking_label_repaints_only_the_cells_that_tick(monkeypatch):
    class Ticker(App):
        def compose(self) -> ComposeResult:
            yield TickerText("elapsed 0:27  ETA 1:00", markup=False)

    app = Ticker()
    async with app.run_test(size=(60, 3)) as pilot:
        label = app.query_one(TickerText)
        refreshes = spy_on_refresh(monkeypatch, label)
        label.show("elapsed 0:28  ETA 1:00")
        label.show("elapsed 0:28  ETA 1:00")  # unchanged: nothing
        await pilot.pause()
        assert refreshes == [(Region(11, 0, 1, 1),)]
        assert str(label.content) == "elapsed 0:28  ETA 1:00"


async def test_a_curve_redrawn_under_a_new_legend_repaints_only_the_legend(monkeypatch):
    class Plot(App):
        def compose(self) -> ComposeResult:
            yield BatchLossPlot(("loss per batch, this epoch", "batch loss"))

    losses = [(batch, 1.0 / batch) for batch in range(1, 30)]
    app = Plot()
    async with app.run_test(size=(70, 24)) as pilot:
        plot = app.query_one(BatchLossPlot)
        plot.show(1, losses, now=0.0)
        await pilot.pause()
        refreshes = spy_on_refresh(monkeypatch, plot)
        plot.show(2, losses, now=10.0)  # the same points, now called epoch 2
        await pilot.pause()
        assert len(refreshes) == 1 and len(refreshes[0]) == 1, refreshes
        (legend,) = refreshes[0]
        assert legend.height == 1 and legend.width < 10  # "1" became "2", not the whole plot


@pytest.mark.slow
async def test_a_dialog_over_the_monitor_holds_its_redraws_until_it_closes(tmp_path):
    run_dir = write_run(tmp_path, "live", batch(3), live=True)
    app = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await async_wait_until(lambda: isinstance(app.screen, MonitorScreen))
        monitor = app.screen
        info = monitor.query_one("#epoch-info", TickerText)
        await async_wait_until(lambda: "batch 3/8" in str(info.content), what="the run's progress")
        app.push_screen(ConfirmScreen("A question", "Asked while the run trains."))
        await pilot.pause()
        with (run_dir / "events.jsonl").open("a") as events:
            events.write(event_lines(batch(5)))
        await async_wait_until(lambda: monitor.state.batch.batch == 5, what="the new batch to be read")
        await pilot.pause()
        assert "batch 3/8" in str(info.content)  # covered: not redrawn, nothing sent
        app.pop_screen()
        await async_wait_until(lambda: "batch 5/8" in str(info.content), what="the monitor to catch up")


async def test_the_batch_curve_waits_as_long_as_the_monitor_asks(monkeypatch):
    """Nobody at the keys, the monitor asks for the batch curve every few seconds
    (domain.watch_pace): a new point within that time is drawn later, not now."""

    class Plot(App):
        def compose(self) -> ComposeResult:
            yield BatchLossPlot(("loss per batch, this epoch", "batch loss"))

    app = Plot()
    async with app.run_test(size=(70, 24)) as pilot:
        plot = app.query_one(BatchLossPlot)
        plot.show(1, [(1, 1.0)], now=0.0, batches=30, every_s=CALM.batch_plot_every_s)
        await pilot.pause()
        refreshes = spy_on_refresh(monkeypatch, plot)
        plot.show(1, [(1, 1.0), (2, 0.5)], now=CALM.batch_plot_every_s - 1, batches=30, every_s=CALM.batch_plot_every_s)
        await pilot.pause()
        assert refreshes == []
        plot.show(1, [(1, 1.0), (2, 0.5)], now=CALM.batch_plot_every_s, batches=30, every_s=CALM.batch_plot_every_s)
        await pilot.pause()
        assert len(refreshes) == 1


async def test_a_new_epochs_batch_curve_waits_too_and_an_ended_run_is_drawn_at_once(monkeypatch):
    """Calm, a new epoch's curve waits for the pace like a new point (epochs of a few seconds
    each redrew the whole plot); once the run has ended, its last curve is drawn at once."""

    class Plot(App):
        def compose(self) -> ComposeResult:
            yield BatchLossPlot(("loss per batch, this epoch", "batch loss"))

    app = Plot()
    every_s = CALM.batch_plot_every_s
    async with app.run_test(size=(70, 24)) as pilot:
        plot = app.query_one(BatchLossPlot)
        plot.show(1, [(1, 1.0)], now=0.0, batches=30, every_s=every_s)
        await pilot.pause()
        refreshes = spy_on_refresh(monkeypatch, plot)
        plot.show(2, [(1, 0.9)], now=every_s / 2, batches=30, every_s=every_s)
        await pilot.pause()
        assert refreshes == []
        plot.show(2, [(1, 0.9), (2, 0.8)], now=every_s / 2 + 1, batches=30, every_s=every_s, live=False)
        await pilot.pause()
        assert len(refreshes) == 1 and "epoch 2" in plot.render().plain


async def test_the_table_adds_epochs_at_the_pace_asked_until_the_run_ends():
    from tui_cnn.app.widgets.monitor.epoch_table import EpochTable
    from tui_cnn.domain.run_records import EpochMetrics

    def epochs(count: int) -> list[EpochMetrics]:
        return [EpochMetrics(n, 1.0 / n, 0.5, 1.0, 0.5, 1e-3, 2.0, 1000.0) for n in range(1, count + 1)]

    class Table(App):
        def compose(self) -> ComposeResult:
            yield EpochTable()

    app = Table()
    every_s = CALM.epoch_table_every_s
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(EpochTable)
        table.show(epochs(1), best_epoch=1, now=0.0, live=True, every_s=every_s)
        table.show(epochs(2), best_epoch=2, now=every_s - 1, live=True, every_s=every_s)
        await pilot.pause()
        assert table.row_count == 1  # waits for the pace
        table.show(epochs(3), best_epoch=3, now=every_s, live=True, every_s=every_s)
        await pilot.pause()
        assert table.row_count == 3  # both epochs that waited, in one redraw
        table.show(epochs(4), best_epoch=4, now=every_s + 1, live=False, every_s=every_s)
        await pilot.pause()
        assert table.row_count == 4  # the run ended: at once


def test_the_monitor_turns_calm_only_after_a_while_without_input():
    assert watch_pace(0.0) == BRISK and watch_pace(CALM_AFTER_S - 0.1) == BRISK
    assert watch_pace(CALM_AFTER_S) == CALM
    assert CALM.redraw_every_s <= 1.0  # clocks still tick every second
    assert CALM.batch_plot_every_s > BRISK.batch_plot_every_s and CALM.redraw_every_s > BRISK.redraw_every_s
    assert (
        CALM.epoch_table_every_s > BRISK.epoch_table_every_s and CALM.epoch_curves_every_s > BRISK.epoch_curves_every_s
    )


@pytest.mark.slow
async def test_nobody_at_the_keys_the_monitor_redraws_a_live_run_once_a_second_and_a_key_wakes_it(
    tmp_path, monkeypatch
):
    run_dir = write_run(tmp_path, "live", batch(1), live=True)
    app = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        info = await following_a_live_run(app)
        redraws: list[float] = []
        redraw = MonitorScreen._redraw

        def counted(self, *args, **kwargs):
            redraws.append(time.monotonic())
            return redraw(self, *args, **kwargs)

        monkeypatch.setattr(MonitorScreen, "_redraw", counted)
        app.session.last_input_at = time.monotonic() - 60  # nobody touched the app for a minute
        with (run_dir / "events.jsonl").open("a") as events:
            for number in range(2, 8):  # a batch every 0.4 s: more often than a calm monitor redraws
                events.write(event_lines(batch(number)))
                events.flush()
                await asyncio.sleep(0.4)
        await async_wait_until(lambda: "batch 7/8" in str(info.content), what="the monitor to catch up")
        gaps = [later - earlier for earlier, later in zip(redraws, redraws[1:])]
        assert redraws and all(gap >= CALM.redraw_every_s - TICK_SLACK_S for gap in gaps), gaps
        quiet_since = app.session.last_input_at
        await pilot.press("l")  # the log tab: a person is back
        assert app.session.last_input_at > quiet_since + 50


@pytest.mark.slow
async def test_nobody_at_the_keys_the_clock_ticks_every_second_and_the_epoch_line_every_few(tmp_path, monkeypatch):
    """Calm, the run's clock still moves each second, the epoch's bar, batch count and the loss
    line every CALM.details_every_s (most of a calm monitor's repainting was those lines)."""
    from tui_cnn.app.widgets.monitor.progress import RunProgress

    run_dir = write_run(tmp_path, "live", batch(1), live=True)
    app = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        info = await following_a_live_run(app)
        clock: list[float] = []
        epoch_line: list[float] = []
        show_run, show_epoch = RunProgress._show_run, RunProgress._show_epoch
        monkeypatch.setattr(
            RunProgress, "_show_run", lambda self, *a: clock.append(time.monotonic()) or show_run(self, *a)
        )
        monkeypatch.setattr(
            RunProgress, "_show_epoch", lambda self, *a: epoch_line.append(time.monotonic()) or show_epoch(self, *a)
        )
        app.session.last_input_at = time.monotonic() - 60  # nobody touched the app for a minute
        with (run_dir / "events.jsonl").open("a") as events:
            for number in range(2, 8):  # a batch every 0.8 s: each second shows something new
                events.write(event_lines(batch(number)))
                events.flush()
                await asyncio.sleep(0.8)
        await async_wait_until(lambda: "batch 7/8" in str(info.content), 10, what="the epoch line to catch up")
        gaps = [later - earlier for earlier, later in zip(epoch_line, epoch_line[1:])]
        assert len(epoch_line) >= 2 and all(gap >= CALM.details_every_s - TICK_SLACK_S for gap in gaps), gaps
        assert len(clock) >= 2 * len(epoch_line) - 1, (len(clock), len(epoch_line))  # the clock: every redraw
        await pilot.pause()


async def test_a_new_epoch_is_a_new_row_and_the_others_stay(monkeypatch):
    """The table adds the epochs after the ones it shows (remaking every row re-rendered every
    cell at each epoch's end); a best epoch that moves restars its rows."""
    from tui_cnn.app.widgets.monitor.epoch_table import BEST_MARK, EpochTable
    from tui_cnn.domain.run_records import EpochMetrics

    def epoch(number: int) -> EpochMetrics:
        return EpochMetrics(number, 1.0 / number, 0.5, 1.0, 0.5, 1e-3, 2.0, 1000.0)

    class Table(App):
        def compose(self) -> ComposeResult:
            yield EpochTable()

    app = Table()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(EpochTable)
        epochs = [epoch(1), epoch(2)]
        table.show(epochs, best_epoch=2)
        await pilot.pause()
        cleared: list[bool] = []
        clear = EpochTable.clear
        monkeypatch.setattr(EpochTable, "clear", lambda self, *a, **k: cleared.append(True) or clear(self, *a, **k))
        epochs = [*epochs, epoch(3)]
        table.show(epochs, best_epoch=1)  # the best went back to epoch 1
        await pilot.pause()
        assert cleared == []
        assert [str(table.get_row_at(row)[0]) for row in range(3)] == [BEST_MARK, "", ""]
        assert [str(table.get_row_at(row)[1]) for row in range(3)] == ["1", "2", "3"]
        table.show([epoch(1), epoch(2)], best_epoch=2)  # another run's (or a repeat): made again
        await pilot.pause()
        assert cleared == [True] and table.row_count == 2
