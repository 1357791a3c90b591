"""The monitor reads on every theme, light or dark, and at every size. Its plots: titles and axes in the
theme's text colour, series in theme colours that stand out from the plot's background (with
ansi-light and ansi-dark the titles were black on black: textual-plotext painted them with
the RGB Textual keeps for the terminal's default colours, (0, 0, 0) for both). Its epoch
table: the best epoch's row keeps the row's background."""

from __future__ import annotations

import pytest
from rich.color import ColorType
from textual.color import Color

from tests.app.test_monitor_snapshots import write_finished_run
from tests.helpers import async_wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.widgets.monitor.plots import (
    MIN_SERIES_CONTRAST,
    EpochCurves,
    contrast_ratio,
    plotext_color,
    series_colors,
)

BRAILLE = range(0x2801, 0x2900)  # the curves (U+2800 is a blank cell)


def test_contrast_ratio_runs_from_1_to_21():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((30, 30, 30), (30, 30, 30)) == pytest.approx(1.0)


def test_terminal_palette_colours_stay_the_terminals():
    assert plotext_color(Color.parse("ansi_default")) == "default"
    assert plotext_color(Color.parse("transparent")) == "default"
    assert plotext_color(Color.parse("ansi_blue")) == 4
    assert plotext_color(Color.parse("#0178D4")) == (1, 120, 212)


def test_series_colours_skip_theme_colours_that_do_not_stand_out_or_look_alike():
    light = {"primary": "#004578", "accent": "#ffa62b", "secondary": "#0178D4", "error": "#ba3c5b"}
    colors = series_colors(light, Color.parse("#D8D8D8"))
    assert (255, 166, 43) not in colors  # orange on light grey: 1.4:1
    assert (1, 120, 212) not in colors  # a second blue beside the primary's
    assert colors == [(0, 69, 120), (186, 60, 91)]


def _cell_styles(plot) -> list[tuple[str, object]]:
    return [
        (char, segment.style)
        for y in range(plot.size.height)
        for segment in plot.render_line(y)
        for char in segment.text
        if not char.isspace()
    ]


def _readable(style, minimum: float) -> bool:
    foreground, background = style.color, style.bgcolor
    if foreground is None or background is None:
        return False
    if background.type is ColorType.DEFAULT:  # the terminal's own background (ANSI themes):
        return foreground.type is not ColorType.TRUECOLOR  # its own default or palette colours
    if foreground.type is ColorType.TRUECOLOR and background.type is ColorType.TRUECOLOR:
        return contrast_ratio(foreground.triplet, background.triplet) >= minimum
    return False


THEMES = ("ansi-light", "ansi-dark", "textual-light", "textual-dark", "solarized-light", "flexoki")


@pytest.mark.slow
async def test_plot_titles_and_curves_read_on_light_and_dark_themes(tmp_path):
    run_dir = write_finished_run(tmp_path / "run")
    app = TuiCnnApp(start_mode="monitor", run_dir=str(run_dir))
    unreadable: dict[str, set[str]] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("t")
        plot = await async_wait_until(lambda: app.screen.query(EpochCurves).first(), what="the curves")
        for theme in THEMES:
            app.theme = theme
            await pilot.pause()
            await async_wait_until(
                lambda: any(ord(char) in BRAILLE for char, _ in _cell_styles(plot)), what=f"curves drawn in {theme}"
            )
            cells = _cell_styles(plot)
            assert "lossperepoch" in "".join(char for char, _ in cells)
            curves = {str(style.color) for char, style in cells if ord(char) in BRAILLE}
            assert len(curves) == 2, f"{theme}: train and validation in one colour"
            bad = {f"{char!r}: {style}" for char, style in cells if not _readable(style, MIN_SERIES_CONTRAST)}
            if bad:
                unreadable[theme] = bad
    assert not unreadable, f"unreadable title, ticks or curves: {unreadable}"


@pytest.mark.slow
async def test_the_best_epochs_row_keeps_the_rows_background_in_any_theme(tmp_path):
    """The best epoch's cells were painted with the background the table had when its rows
    were made: dark blocks on a light theme after ctrl+p -> theme, and on zebra rows."""
    from tui_cnn.app.widgets.monitor.epoch_table import EpochTable

    app = TuiCnnApp(start_mode="monitor", run_dir=str(write_finished_run(tmp_path / "run")))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("t")
        table = await async_wait_until(lambda: app.screen.query(EpochTable).first(), what="the epoch table")
        await async_wait_until(lambda: table.row_count == 4, what="the epochs")
        best_row_y = 1 + 2  # the header, then epochs 1, 2, 3: epoch 3 is the best
        for theme in ("textual-dark", "textual-light", "solarized-light"):
            app.theme = theme
            await pilot.pause()
            line = table.render_line(best_row_y)
            assert "★" in line.text and "0.1410" in line.text
            backgrounds = {str(segment.style.bgcolor) for segment in line if segment.style}
            assert len(backgrounds) == 1, f"{theme}: the best row has cells of another background: {backgrounds}"


@pytest.mark.parametrize(
    ("size", "titles"),
    [
        ((80, 24), ["loss per epoch", "accuracy %", "batch loss"]),
        ((160, 50), ["loss per epoch", "accuracy per epoch (%)", "loss per batch, this epoch"]),
    ],
)
@pytest.mark.slow
async def test_every_plot_has_a_title_at_80_and_160_columns(tmp_path, size, titles):
    """plotext drops a title wider than its canvas: at 80 columns the batch plot had none."""
    from tui_cnn.app.widgets.monitor.plots import BatchLossPlot

    app = TuiCnnApp(start_mode="monitor", run_dir=str(write_finished_run(tmp_path / "run")))
    async with app.run_test(size=size) as pilot:
        await pilot.press("t")
        plots = await async_wait_until(
            lambda: list(app.screen.query(EpochCurves)) + list(app.screen.query(BatchLossPlot)), what="the plots"
        )
        await pilot.pause()
        shown = ["".join(segment.text for segment in plot.render_line(0)).strip() for plot in plots]
        assert shown == titles
