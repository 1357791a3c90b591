"""The tracker's table: one row a layer, for a spec or a tracked nn.Module alike (LayerRow).

A tracked module's rows carry its data flow: the name column starts with a gutter of
branches and merges (``git log --graph``), and the columns are the ones that fit the room
the table has, most useful first (name, output shape, params, MACs at 80 columns).

Updates are diffed cell by cell: a new model that changes one layer's figures repaints
those cells only (over SSH every repaint costs bandwidth).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.markup import parse_style
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from ...domain.graph import gutter
from ...domain.layer_table import ALWAYS_SHOWN, FIRST_TO_FIT, SPEC_COLUMNS, TRACKED_COLUMNS, LayerColumn, row_cells
from ...domain.summary import LayerRow, ModelSummary

CELL_PADDING = 2  # DataTable's cell_padding on both sides


#: Rows of a big edit updated in one turn of the event loop (3 changed cells a row: ~20 ms).
ROWS_PER_TURN = 300


def spec_cells(summary: ModelSummary) -> list[dict[str, str]]:
    """A spec's rows as the table writes them (pure: a worker thread may do it)."""
    return [row_cells(row) for row in summary.rows]


def has_flow(summary: ModelSummary) -> bool:
    """A tracked model, or a spec with Residual or Concat blocks: rows with a data flow, shown
    with its gutter and the columns that fit."""
    return summary.tracked or any(row.inputs for row in summary.rows)


def tracked_cells(rows: tuple[LayerRow, ...], room: int) -> list[dict[str, str]]:
    """A tracked model's cells, names behind the gutter of its data flow (lanes padded to
    one width, so the names line up; a model with no branch needs no gutter). Names too
    long to leave room for the output, params and MACs keep their end: ``…layer_0.mlp.3``."""
    lanes = gutter(rows)
    if all(lane == "●" for lane in lanes):
        lanes = [""] * len(rows)
    width = max((len(lane) for lane in lanes), default=0)
    cells = [row_cells(row, lane.ljust(width) + " " if width else "") for row, lane in zip(rows, lanes)]
    figures = sum(_width(c, cells) for c in TRACKED_COLUMNS if c.key in ALWAYS_SHOWN and c.key != "index")
    longest = max(MIN_NAME, room - figures - CELL_PADDING)
    for cell in cells:
        if len(cell["index"]) > longest:
            lane_part = cell["index"][: width + 1] if width else ""
            keep = max(1, longest - len(lane_part) - 1)
            cell["index"] = lane_part + "…" + cell["index"][-keep:]
    return cells


MIN_NAME = 16  # a name is never cut shorter than this, room or not


def _width(column: LayerColumn, cells: list[dict[str, str]]) -> int:
    return max([len(column.label), *(len(c[column.key]) for c in cells)]) + CELL_PADDING


def fitting_columns(cells: list[dict[str, str]], room: int) -> tuple[LayerColumn, ...]:
    """The tracked columns that fit in ``room`` terminal columns, most useful first; the
    name, output, params and MACs always."""
    by_key = {c.key: c for c in TRACKED_COLUMNS}
    chosen, used = set(), 0
    for key in FIRST_TO_FIT:
        need = _width(by_key[key], cells)
        if key in ALWAYS_SHOWN or used + need <= room:
            chosen.add(key)
            used += need
    return tuple(c for c in TRACKED_COLUMNS if c.key in chosen)


def _severity(row: LayerRow) -> str | None:
    return "error" if row.report.has_error else ("warning" if row.report.has_warning else None)


class LayerTable(DataTable):
    BINDINGS = [
        Binding("home,g", "first_row", "First layer", show=False),
        Binding("end,G", "last_row", "Last layer", show=False),
        Binding("j", "cursor_down", "Next layer", show=False),
        Binding("k", "cursor_up", "Previous layer", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._columns: tuple[LayerColumn, ...] = ()
        self._shown: list[tuple[dict[str, str], str | None]] = []  # per row: cells, severity
        self._applied: list[tuple[dict[str, str], str | None]] = []  # what the table holds now
        self._generation = 0  # of the latest edit: an older one's rows left to update stop

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def show(
        self,
        summary: ModelSummary,
        wide: bool,
        room: int = 0,
        top: bool = False,
        cells: list[dict[str, str]] | None = None,
    ) -> None:
        """``room``: the terminal columns the table may take (a tracked model's columns are
        the ones that fit); ``top``: a new model, the cursor goes to its first row;
        ``cells``: the rows' text already written (``spec_cells``, by a worker thread)."""
        if has_flow(summary):
            cells = tracked_cells(summary.rows, room)
            columns = fitting_columns(cells, room)
        else:
            cells = cells if cells is not None and len(cells) == len(summary.rows) else spec_cells(summary)
            columns = tuple(c for c in SPEC_COLUMNS if wide or not c.wide_only)
        shown = [(c, _severity(row)) for c, row in zip(cells, summary.rows)]
        if columns != self._columns:
            self.clear(columns=True)
            for column in columns:
                self.add_column(Text(column.label, justify="right" if column.numeric else "left"), key=column.key)
            self._columns, self._shown, self._applied = columns, [], []
        if len(shown) != len(self._applied):
            self._replace_rows(shown)
        else:
            self._update_changed(shown)
        self._shown = shown
        if top and shown:
            self.move_cursor(row=0, animate=False)
            self.scroll_home(animate=False)

    def _cell(self, column: LayerColumn, cells: dict[str, str], severity: str | None) -> Text:
        style = parse_style(f"$text-{severity}").rich_style if severity and column.key in ("index", "layer") else ""
        return Text(cells[column.key], style=style, justify="right" if column.numeric else "left", no_wrap=True)

    def _replace_rows(self, shown: list[tuple[dict[str, str], str | None]]) -> None:
        cursor = self.cursor_row
        self._generation += 1  # what is left of an edit to the old rows is void
        self._applied = list(shown)
        self.clear()
        for index, (cells, severity) in enumerate(shown):
            self.add_row(*(self._cell(c, cells, severity) for c in self._columns), key=str(index))
        if shown:
            self.move_cursor(row=min(max(cursor, 0), len(shown) - 1), animate=False)

    def _update_changed(self, shown: list[tuple[dict[str, str], str | None]]) -> None:
        """Repaint the cells that changed, in place, the rows in view first; a big edit's
        other rows follow in later turns of the event loop, ``ROWS_PER_TURN`` at a time, so
        that a key pressed meanwhile (ctrl+q) is answered between them (5,000 rows of MACs
        and memory: ~15,000 cells, each an update of its own). A newer edit supersedes what
        is left of an older one: it compares with what the table holds (``_applied``).

        Widths: DataTable re-measures a whole column for each cell updated with
        ``update_width`` whose text got narrower; a batch-size edit of a 1,000-layer model
        (every MACs and memory cell changes) was 1.5 million measurements, over 100 s. So
        only the widest new cell of a column that must grow is updated with it (a column
        never shrinks while a model is edited)."""
        self._generation += 1
        rows = [index for index, (new, old) in enumerate(zip(shown, self._applied)) if new != old]
        widest: dict[str, tuple[int, int]] = {}  # column -> (width, row)
        for column in self._columns:
            key, width_now = column.key, self.columns[ColumnKey(column.key)].content_width
            width, index = max(((len(shown[index][0][key]), index) for index in rows), default=(0, 0))
            if width > width_now:
                widest[key] = (width, index)
        grows = {(index, key) for key, (_, index) in widest.items()}
        top = int(self.scroll_y)
        in_view = range(max(top - 1, 0), top + self.size.height + 1)
        rows.sort(key=lambda index: index not in in_view)  # stable: in view first, then in order
        self._apply_rows(rows, shown, grows, self._generation)

    def _apply_rows(self, rows: list[int], shown, grows: set[tuple[int, str]], generation: int) -> None:
        if generation != self._generation:
            return  # a newer edit took over
        for index in rows[:ROWS_PER_TURN]:
            new, old = shown[index], self._applied[index]
            for column in self._columns:
                if new[0][column.key] != old[0][column.key] or new[1] != old[1]:
                    self.update_cell(
                        str(index), column.key, self._cell(column, *new), update_width=(index, column.key) in grows
                    )
            self._applied[index] = new
        if len(rows) > ROWS_PER_TURN:
            self.call_later(self._apply_rows, rows[ROWS_PER_TURN:], shown, grows, generation)

    def _restyle(self) -> None:
        """Colours come from the theme: a new theme re-renders the marked rows."""
        shown, self._shown = self._shown, [(cells, None) for cells, _ in self._shown]
        self._update_changed(shown)
        self._shown = shown
