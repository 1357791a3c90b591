"""One row per epoch; the best epoch (by validation accuracy) is coloured and starred, so it
reads without colour too."""

from __future__ import annotations

import math

from rich.text import Text
from textual.css.scalar import Scalar
from textual.widgets import DataTable

from ....domain.format import compact
from ....domain.run_records import EpochMetrics
from .text import duration, learning_rate, percent

BEST_MARK = "★"
COLUMNS = ("", "epoch", "train loss", "train acc", "val loss", "val acc", "lr", "time", "img/s")


def table_height(epochs: int) -> int:
    """Lines for the header and ``epochs`` rows, in steps (5, 10, 20, 40...; the CSS caps it):
    a table one line taller each epoch would shrink the plots below it each epoch, and every
    line of a resized plot is drawn and sent again."""
    height = 5
    while height < epochs + 1:
        height *= 2
    return height


class EpochTable(DataTable):
    #: A full table scrolls a row up each epoch: every line of it is sent again (~10 KiB over
    #: SSH at 160x50), and a small dataset's epochs last a second or two.
    LIVE_REDRAW_EVERY_S = 5.0
    COMPONENT_CLASSES = {"epoch-table--best"}
    DEFAULT_CSS = """
    EpochTable > .epoch-table--best {
        color: $text-success;
        text-style: bold;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: tuple[tuple[EpochMetrics, ...], int | None] = ((), None)
        self._shown_at = float("-inf")
        self._epochs: list[EpochMetrics] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)
        self.app.theme_changed_signal.subscribe(self, self._redraw_in_new_theme)

    def _redraw_in_new_theme(self, _theme: object) -> None:
        """The best row's colour is resolved when the rows are made: make them again."""
        best_epoch = self._shown[1]
        self._shown = ((), -1)
        self.show(self._epochs, best_epoch)

    def show(
        self,
        epochs: list[EpochMetrics],
        best_epoch: int | None,
        now: float = 0.0,
        live: bool = False,
        every_s: float | None = None,
    ) -> None:
        """Redraw only when an epoch ended, was recorded again (a repeat: the last one
        stands), or the best one changed (rows are few); while a run trains (``live``), at
        most once in ``every_s`` (LIVE_REDRAW_EVERY_S unless the monitor says otherwise:
        domain.watch_pace). New epochs after the ones shown are added as rows,
        the rest kept: remaking every row re-rendered every cell (a calm monitor's largest
        cost at each epoch's end, py-spy)."""
        shown = (tuple(epochs), best_epoch)
        if shown == self._shown:
            return
        wait_s = self.LIVE_REDRAW_EVERY_S if every_s is None else every_s
        if live and self._shown[0] and now - self._shown_at < wait_s:
            return
        (before, best_before), self._shown, self._shown_at = self._shown, shown, now
        self._epochs = epochs
        height = table_height(len(epochs))
        if self.styles.height != Scalar.from_number(height):
            self.styles.height = height
        rows = {m.epoch for m in before}
        added = shown[0][len(before) :]
        appended = (
            before
            and shown[0][: len(before)] == before
            and self.row_count == len(before)
            and not any(m.epoch in rows for m in added)  # an epoch's number is its row's key
        )
        if appended:
            self._add_epochs(added, best_epoch, {best_before, best_epoch} & rows)
        else:
            self.clear()
            self._add_epochs(shown[0], best_epoch, set())
        if epochs:
            self.move_cursor(row=len(epochs) - 1)

    def _add_epochs(self, new: tuple[EpochMetrics, ...], best_epoch: int | None, restyle: set[int | None]) -> None:
        """Rows for ``new`` epochs, and the cells of the rows in ``restyle`` (the best epoch
        was another) made again."""
        # partial: its colour and boldness only, over the row's own (zebra, cursor) background;
        # the full style would paint the background this widget had when the rows were made.
        best_style = self.get_component_rich_style("epoch-table--best", partial=True)

        def row(metrics: EpochMetrics) -> list[Text]:
            best = metrics.epoch == best_epoch
            return [
                Text(cell, style=best_style if best else "", justify="right") for cell in self._cells(metrics, best)
            ]

        for metrics in self._epochs:
            if metrics.epoch in restyle:
                for column, cell in zip(self.columns, row(metrics)):
                    self.update_cell(str(metrics.epoch), column, cell)
        for metrics in new:
            self.add_row(*row(metrics), key=str(metrics.epoch))

    @staticmethod
    def _cells(m: EpochMetrics, best: bool) -> tuple[str, ...]:
        # NaN: a figure your own loop did not log (tui_cnn.init), or a diverged one
        shown = lambda value, text: text(value) if math.isfinite(value) else "--"  # noqa: E731
        return (
            BEST_MARK if best else "",
            str(m.epoch),
            shown(m.train_loss, "{:.4f}".format),
            shown(m.train_acc, percent),
            shown(m.val_loss, "{:.4f}".format),
            shown(m.val_acc, percent),
            shown(m.lr, learning_rate),
            shown(m.epoch_time_s, duration),
            shown(m.images_per_s, lambda speed: compact(round(speed))),
        )
