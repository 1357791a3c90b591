"""One row per epoch; the best epoch (by validation accuracy) is coloured and starred, so it
reads without colour too."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import DataTable

from ....domain.format import compact
from ....domain.training import EpochMetrics
from .text import duration, learning_rate, percent

BEST_MARK = "★"
COLUMNS = ("", "epoch", "train loss", "train acc", "val loss", "val acc", "lr", "time", "img/s")


class EpochTable(DataTable):
    COMPONENT_CLASSES = {"epoch-table--best"}
    DEFAULT_CSS = """
    EpochTable > .epoch-table--best {
        color: $text-success;
        text-style: bold;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: tuple[int, int | None] = (0, None)
        self._epochs: list[EpochMetrics] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)
        self.app.theme_changed_signal.subscribe(self, self._redraw_in_new_theme)

    def _redraw_in_new_theme(self, _theme: object) -> None:
        """The best row's colour is resolved when the rows are made: make them again."""
        best_epoch = self._shown[1]
        self._shown = (-1, None)
        self.show(self._epochs, best_epoch)

    def show(self, epochs: list[EpochMetrics], best_epoch: int | None) -> None:
        """Redraw only when an epoch ended or the best one changed (rows are few)."""
        if (len(epochs), best_epoch) == self._shown:
            return
        self._shown = (len(epochs), best_epoch)
        self._epochs = epochs
        self.clear()
        # partial: its colour and boldness only, over the row's own (zebra, cursor) background;
        # the full style would paint the background this widget had when the rows were made.
        best_style = self.get_component_rich_style("epoch-table--best", partial=True)
        for metrics in epochs:
            best = metrics.epoch == best_epoch
            cells = self._cells(metrics, best)
            self.add_row(*(Text(cell, style=best_style if best else "", justify="right") for cell in cells),
                         key=str(metrics.epoch))
        if epochs:
            self.move_cursor(row=len(epochs) - 1)

    @staticmethod
    def _cells(m: EpochMetrics, best: bool) -> tuple[str, ...]:
        # NaN: a figure your own loop did not log (tui_cnn.init), or a diverged one
        shown = lambda value, text: text(value) if math.isfinite(value) else "--"  # noqa: E731
        return (BEST_MARK if best else "", str(m.epoch), shown(m.train_loss, "{:.4f}".format),
                shown(m.train_acc, percent), shown(m.val_loss, "{:.4f}".format), shown(m.val_acc, percent),
                shown(m.lr, learning_rate), shown(m.epoch_time_s, duration),
                shown(m.images_per_s, lambda speed: compact(round(speed))))
