"""Curves: loss and accuracy per epoch (train and validation), and the loss of each
reported batch within the current epoch."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ....domain.training import EpochMetrics


class _Plot(PlotextPlot):
    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = title
        self._drawn: object = None
        self._rendered: tuple[object, object] = (None, None)  # (what was drawn at which size, the Text)

    def _draw(self, key: object, series: list[tuple[list[float], list[float], str]], xlabel: str,
              xticks: list[int] | None = None) -> None:
        """Plot the series (x, y, label); skip when ``key`` says nothing changed, since
        plotext renders in Python on the UI thread."""
        if key == self._drawn:
            return
        self._drawn = key
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self._title)
        plt.xlabel(xlabel)
        if xticks:
            plt.xticks(xticks)
        for xs, ys, label in series:
            if xs:
                plt.plot(xs, ys, label=label, marker="braille")
        self.refresh()


    def render(self):
        """plotext rebuilds the whole picture on every render (tens of ms in Python): keep it
        until the data, size or theme change, so switching tabs stays quick."""
        key = (self._drawn, self.size, self.app.theme)
        if self._rendered[0] != key:
            self._rendered = (key, super().render())
        return self._rendered[1]


class EpochCurves(_Plot):
    """Train and validation curves of one metric ("loss" or "acc") per epoch."""

    def __init__(self, metric: str, title: str, **kwargs) -> None:
        super().__init__(title, **kwargs)
        self._metric = metric

    def show(self, epochs: list[EpochMetrics]) -> None:
        xs = [m.epoch for m in epochs]
        scale = 100.0 if self._metric == "acc" else 1.0  # accuracies in percent
        train = [getattr(m, f"train_{self._metric}") * scale for m in epochs]
        val = [getattr(m, f"val_{self._metric}") * scale for m in epochs]
        every = max(len(xs) // 8, 1)  # whole epochs only, at most ~8 labels
        self._draw(len(epochs), [(xs, train, "train"), (xs, val, "val")], "epoch", xs[::every])


class BatchLossPlot(_Plot):
    #: plotext draws in Python while training wants the CPU: at most this often mid-epoch
    REDRAW_EVERY_S = 1.0

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(title, **kwargs)
        self._drawn_at = float("-inf")

    def show(self, epoch: int, losses: list[tuple[int, float]], now: float) -> None:
        same_epoch = isinstance(self._drawn, tuple) and self._drawn[0] == epoch
        if same_epoch and now - self._drawn_at < self.REDRAW_EVERY_S:
            return
        self._drawn_at = now
        xs = [batch for batch, _ in losses]
        ys = [loss for _, loss in losses]
        self._draw((epoch, len(losses)), [(xs, ys, f"epoch {epoch}")], "batch" if losses else "batch (live runs only)")
