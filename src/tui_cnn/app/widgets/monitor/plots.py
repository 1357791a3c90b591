"""Curves: loss and accuracy per epoch (train and validation), and the loss of each
reported batch within the current epoch."""

from __future__ import annotations

import colorsys
import math
from typing import Mapping, Union

from rich.text import Text
from textual.color import Color
from textual_plotext import PlotextPlot

from ....domain.run_records import EpochMetrics
from .repaint import changed_line_regions, text_lines

#: A colour as plotext takes it: "default" (the terminal's own), a palette index, or RGB.
PlotextColor = Union[str, int, tuple[int, int, int]]

#: The theme's colours that tell series apart, in the order series take them; the
#: foreground last, as the colour that always reads.
SERIES_COLOR_VARIABLES = ("primary", "accent", "secondary", "success", "error", "warning", "foreground")
#: A series colour must stand out this much from the plot's background (WCAG contrast ratio;
#: 3:1 is the minimum for graphics): textual-light's accent, orange on light grey, is 1.4:1.
MIN_SERIES_CONTRAST = 3.0
#: Once every readable colour is taken (a light theme has few; a comparison of many runs),
#: the next series take the next marker, so no two look the same.
SERIES_MARKERS = ("braille", "•", "+", "x")


def plotext_color(color: Color) -> PlotextColor:
    """A Textual colour for plotext. ANSI themes (ansi-light, ansi-dark) name the terminal's
    own palette: give plotext that palette index, or "default" for the terminal's default
    colour, never the RGB guess Textual keeps for them (black for both)."""
    if color.ansi is not None:
        return "default" if color.ansi < 0 else color.ansi
    if color.a == 0:
        return "default"
    return color.rgb


def contrast_ratio(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours, 1 (same) to 21 (black on white)."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    def luminance(rgb: tuple[int, int, int]) -> float:
        red, green, blue = map(linear, rgb)
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    darker, lighter = sorted((luminance(first), luminance(second)))
    return (lighter + 0.05) / (darker + 0.05)


def tell_apart(first: PlotextColor, second: PlotextColor) -> bool:
    """Whether two series colours look different: another palette entry, or another hue (at
    least 30 degrees apart: textual-light's primary and secondary are both blue), or, for
    greys, another lightness."""
    if not (isinstance(first, tuple) and isinstance(second, tuple)):
        return first != second
    (hue1, light1, sat1), (hue2, light2, sat2) = (
        colorsys.rgb_to_hls(*(c / 255 for c in rgb)) for rgb in (first, second)
    )
    if sat1 < 0.2 or sat2 < 0.2:  # a grey: only lightness tells it apart
        return (sat1 < 0.2) != (sat2 < 0.2) or abs(light1 - light2) >= 0.3
    return min(abs(hue1 - hue2), 1 - abs(hue1 - hue2)) * 360 >= 30


def series_colors(theme_variables: Mapping[str, str], background: Color) -> list[PlotextColor]:
    """The theme's colours that read on ``background`` and look different from each other,
    in SERIES_COLOR_VARIABLES order. Palette colours (ANSI themes) are the terminal's: they
    are kept as they are."""
    chosen: list[PlotextColor] = []
    for name in SERIES_COLOR_VARIABLES:
        try:
            color = Color.parse(theme_variables.get(name) or "")
        except Exception:  # absent, or relative ("auto 87%")
            continue
        plotted = plotext_color(color)
        readable = (
            not isinstance(plotted, tuple)
            or background.a == 0
            or background.ansi is not None
            or contrast_ratio(plotted, background.rgb) >= MIN_SERIES_CONTRAST
        )
        if readable and all(tell_apart(plotted, other) for other in chosen):
            chosen.append(plotted)
    return chosen or ["default"]


class _Plot(PlotextPlot):
    """A plot in the app's theme. Title, axes and ticks have no colour of their own (plotext's
    "clear" theme), so they take the widget's CSS colours below; textual-plotext's own "auto"
    theme paints them with the RGB it finds for the theme, which for ANSI themes is black
    text on a black canvas. Series take the theme's accent colours."""

    DEFAULT_CSS = """
    _Plot {
        background: $surface;
        color: $foreground;
    }
    """

    #: Columns a plot keeps beside its canvas (y tick labels, axis): plotext drops a title
    #: wider than the canvas, so a narrow plot (80 columns, three plots) takes the short one.
    AXIS_COLUMNS = 8

    def __init__(self, titles: tuple[str, str], **kwargs) -> None:
        """``titles``: the title, and a short one for narrow plots."""
        super().__init__(**kwargs)
        self.set_reactive(PlotextPlot.theme, "clear")
        self._titles = titles
        self._drawn: object = None
        self._figure: tuple = ([], "", None, None)  # the last series, x label, x ticks, x range given to _draw
        self._plotted_theme: str | None = None  # the app theme whose colours the series have
        self._rendered: tuple[object, object] = (None, None)  # (what was drawn at which size, the Text)
        self._lines: tuple[object, list[Text]] = (None, [])  # (a rendered Text, its lines)

    def _draw(
        self,
        key: object,
        series: list[tuple[list[float], list[float], str]],
        xlabel: str,
        xticks: list[int] | None = None,
        xlim: tuple[float, float] | None = None,
    ) -> None:
        """Plot the series (x, y, label); skip when ``key`` says nothing changed, since
        plotext renders in Python on the UI thread."""
        if key == self._drawn:
            return
        self._drawn = key
        self._figure = (series, xlabel, xticks, xlim)
        self._plotted_theme = None
        self._repaint_changes()

    def _repaint_changes(self) -> None:
        """Refresh the cells the new figure changes, no more: a redrawn plot is otherwise
        every line of it sent to the terminal (a few KiB over SSH, once a second for the batch
        curve). Not on screen (another tab), it is drawn when shown."""
        drawn, before = self._rendered
        if before is None or not self.is_on_screen or drawn[1] != self.size:
            self.refresh()
            return
        before_lines = self._rendered_lines(before)
        regions = changed_line_regions(before_lines, self._rendered_lines(self.render()))
        if regions:
            self.refresh(*regions)

    def _rendered_lines(self, text: Text) -> list[Text]:
        """``text`` (what render() last returned) in lines, split once: the lines of one
        redraw are what the next one is compared with."""
        if self._lines[0] is not text:
            self._lines = (text, text_lines(text))
        return self._lines[1]

    def _plot_figure(self) -> None:
        """Give plotext the last figure, its series in the current theme's colours."""
        series, xlabel, xticks, xlim = self._figure
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel(xlabel)
        if xticks:
            plt.xticks(xticks)
        if xlim:
            plt.xlim(*xlim)
        colors = series_colors(self.app.theme_variables, self.background_colors[1])
        for index, (all_xs, all_ys, label) in enumerate(series):
            color = colors[index % len(colors)]
            marker = SERIES_MARKERS[index // len(colors) % len(SERIES_MARKERS)]
            # plotext cannot scale an axis to NaN or infinity (a diverged loss): leave them out
            points = [(x, y) for x, y in zip(all_xs, all_ys) if math.isfinite(y)]
            xs, ys = [x for x, _ in points], [y for _, y in points]
            if xs:
                plt.plot(xs, ys, label=label, marker=marker, color=color)
        self._plotted_theme = self.app.theme

    def render(self):
        """plotext rebuilds the whole picture on every render (tens of ms in Python): keep it
        until the data, size or theme change, so switching tabs stays quick."""
        key = (self._drawn, self.size, self.app.theme)
        if self._rendered[0] != key:
            if self._plotted_theme != self.app.theme:
                self._plot_figure()
            title, short_title = self._titles
            self.plt.title(title if len(title) <= self.size.width - self.AXIS_COLUMNS else short_title)
            self._rendered = (key, super().render())
        return self._rendered[1]


class EpochCurves(_Plot):
    """Train and validation curves of one metric ("loss" or "acc") per epoch."""

    #: While a run trains, at most this often: a new epoch moves both axes, so each redraw is
    #: every line of the plot (~10 KiB over SSH at 160x50), and a small dataset's epochs
    #: last a second or two. The epoch table shows each epoch's figures at once.
    LIVE_REDRAW_EVERY_S = 5.0

    def __init__(self, metric: str, titles: tuple[str, str], **kwargs) -> None:
        super().__init__(titles, **kwargs)
        self._metric = metric
        self._drawn_at = float("-inf")

    def show(
        self, epochs: list[EpochMetrics], now: float = 0.0, live: bool = False, every_s: float | None = None
    ) -> None:
        """``epochs`` of a run (a list of its own: another run's is redrawn even with as many
        epochs); ``live``: the run trains, and ``now`` says when; then at most once in
        ``every_s`` (LIVE_REDRAW_EVERY_S unless the monitor says otherwise: domain.watch_pace)."""
        key = (id(epochs), len(epochs))
        same_run = isinstance(self._drawn, tuple) and self._drawn[0] == key[0]
        wait_s = self.LIVE_REDRAW_EVERY_S if every_s is None else every_s
        if key == self._drawn or (live and same_run and now - self._drawn_at < wait_s):
            return
        self._drawn_at = now
        xs = [m.epoch for m in epochs]
        scale = 100.0 if self._metric == "acc" else 1.0  # accuracies in percent
        train = [getattr(m, f"train_{self._metric}") * scale for m in epochs]
        val = [getattr(m, f"val_{self._metric}") * scale for m in epochs]
        every = max(len(xs) // 8, 1)  # whole epochs only, at most ~8 labels
        self._draw(key, [(xs, train, "train"), (xs, val, "val")], "epoch", xs[::every])


class BatchLossPlot(_Plot):
    #: plotext draws in Python while training wants the CPU: at most this often mid-epoch,
    #: unless the monitor says otherwise (domain.watch_pace: less often while nobody types)
    REDRAW_EVERY_S = 1.0

    def __init__(self, titles: tuple[str, str], **kwargs) -> None:
        super().__init__(titles, **kwargs)
        self._drawn_at = float("-inf")

    def show(
        self,
        epoch: int,
        losses: list[tuple[int, float]],
        now: float,
        batches: int = 0,
        every_s: float | None = None,
        live: bool = True,
    ) -> None:
        """The losses of ``epoch`` so far, on an axis of its ``batches`` (when known): the
        curve grows to the right and what is drawn stays put, so a redraw sends the new
        points, not the whole plot again. While the run trains (``live``), at most once in
        ``every_s``, a new epoch's curve too (a calm monitor's epochs of a few seconds each
        redrew it whole); a run that ended is drawn as it ended, at once."""
        if (epoch, len(losses)) == self._drawn:
            return
        if live and now - self._drawn_at < (self.REDRAW_EVERY_S if every_s is None else every_s):
            return
        self._drawn_at = now
        xs = [batch for batch, _ in losses]
        ys = [loss for _, loss in losses]
        xlim = (xs[0], max(batches, xs[-1])) if xs and batches > xs[0] else None
        self._draw(
            (epoch, len(losses)),
            [(xs, ys, f"epoch {epoch}")],
            "batch" if losses else "batch (live runs only)",
            xlim=xlim,
        )
