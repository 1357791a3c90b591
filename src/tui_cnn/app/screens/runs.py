"""The Runs screen: every run under the app's runs folder, as `tui-cnn runs` lists them, kept
up to date while runs train, end, appear and go; and the keys to act on one: open it on the
monitor (followed live while it trains), stop, pause or resume it, continue it to more
epochs, delete it, or compare several.

Watching without a polling storm: twice a second a thread worker stats each run's files
(domain.run_list.RunWatch: sizes and mtimes, nothing read) and reads again only the rows
whose files changed; the rows come back in a message and only their changed cells are
redrawn. Nothing is read in the UI thread, so a folder of a thousand runs fills the table
while the screen answers keys. Runs are steered through their directories (control.json), as
`tui-cnn stop|pause|resume` does, whoever started them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import Worker, WorkerState, get_current_worker

from ...domain import format as fmt
from ...domain.format import cut, printable, printable_lines
from ...domain.paths import RUNS_DIR
from ...domain.run_files import last_output_line
from ...domain.run_list import (
    LIVE,
    WAITING,
    NotTraining,
    RunRow,
    RunWatch,
    continuation,
    continue_refused,
    deletion_refused,
    newest_first,
    row_order,
    run_row,
    steer_run,
)
from ...domain.run_lock import RunLocked
from ...domain.run_queue import QueueError
from ...domain.run_queue import move as move_in_queue
from ...domain.run_records import RunFileError
from ...domain.run_table import RunColumn, fitting_columns, run_cells, run_name
from ...domain.slurm import SlurmError
from ...domain.sweep import SweepError, read_trial
from ...domain.sweep_trials import sweep_trials
from ..session import session
from ..widgets.confirm import ConfirmScreen
from ..widgets.continue_run import ContinueRunScreen
from ..widgets.keys_footer import KeysFooter
from ..widgets.ready import KeysWaitForMount
from ..widgets.sweep_table import SweepScreen

POLL_S = 0.5
#: The first read of a big folder comes in parts, this often, so the table fills as it reads.
PART_S = 0.25
SCROLLBAR = 2  # the table's vertical scrollbar, kept out of the room the columns share
MARK = "✓"
#: The status's colour (the word itself says it too): a component class of RunTable.
STATUS_STYLE = {
    "queued": "paused",
    "starting": "running",
    "running": "running",
    "paused": "paused",
    "stopped": "stopped",
    "pruned": "stopped",
    "cancelled": "stopped",
    "failed": "failed",
    "crashed": "failed",
    "unreadable": "failed",
}


class RowsRead(Message):
    """Rows read again by the watching worker, and runs gone; ``loading``: more to come."""

    def __init__(self, rows: list[RunRow], gone: list[str], loading: bool = False, problem: str | None = None) -> None:
        super().__init__()
        self.rows, self.gone, self.loading, self.problem = rows, gone, loading, problem


class WorkDone(Message):
    """A worker's outcome for the user: a line, and what it did to a run."""

    def __init__(
        self,
        text: str,
        severity: str = "information",
        deleted: str | None = None,
        launched: object | None = None,
        path: str = "",
    ) -> None:
        super().__init__()
        self.text, self.severity, self.deleted, self.launched, self.path = text, severity, deleted, launched, path


class NameCell(Text):
    """The run column's cell: the name shown (maybe cut) and the run's path, which the rows
    are sorted by (DataTable sorts by cell values; the row key is not one)."""

    path = ""


class RunTable(DataTable, inherit_bindings=False):
    """The runs, a row each. Enter is the screen's (open the run), not DataTable's select:
    the footer and help show it."""

    BINDINGS = [
        binding for binding in DataTable.BINDINGS if getattr(binding, "key", "") not in ("enter", "home", "end")
    ]
    BINDINGS += [  # rows, not columns: home and end go to the newest and the oldest run
        Binding("home", "scroll_top", "Newest run", show=False),
        Binding("end", "scroll_bottom", "Oldest run", show=False),
    ]
    COMPONENT_CLASSES = {
        "run-table--running",
        "run-table--paused",
        "run-table--stopped",
        "run-table--failed",
        "run-table--mark",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def status_style(self, status: str):
        """``status``'s colour in this theme (partial: over the row's own background)."""
        name = STATUS_STYLE.get(status)
        return self.get_component_rich_style(f"run-table--{name}", partial=True) if name else ""


def _read_row(path: str) -> RunRow:
    try:
        return run_row(path)
    except Exception as exc:  # a run's files must never end the app: its row says what broke
        return RunRow(path=path, status="unreadable", problem=f"cannot be read ({type(exc).__name__}: {exc})")


class RunsScreen(KeysWaitForMount, Screen):
    CSS_PATH = "runs.tcss"
    BINDINGS = [
        # Enter opens, as in any list: left out of the footer so that ? Help fits at 80 columns.
        Binding(
            "enter",
            "open_run",
            "Open",
            tooltip="Show the run on the monitor (followed live while it trains)",
            show=False,
        ),
        Binding("x", "stop_run", "Stop", tooltip="Stop the run after its current batch (its checkpoint is kept)"),
        Binding("p", "toggle_pause", "Pause", tooltip="Pause the run, or resume it when paused"),
        Binding("c", "continue_run", "Continue", tooltip="Train a stopped, crashed or finished run to more epochs"),
        Binding("d,delete", "delete_run", "Delete", tooltip="Delete the run's folder (asks first)"),
        Binding("space", "toggle_mark", "Mark", tooltip="Mark or unmark the run to compare", key_display="␣"),
        Binding("v", "compare", "Compare", tooltip="Compare the marked runs"),
        Binding("r", "refresh", "Refresh", tooltip="Read every run again now", show=False),
        Binding(
            "w",
            "show_sweep",
            "Sweep",
            show=False,
            tooltip="A sweep's trial: the sweep's table of parameter values against results, the best marked",
        ),
        Binding(
            "shift+up,K",
            "move_queued(1)",
            "Earlier in the queue",
            show=False,
            tooltip="Move a queued run one place towards the front of the queue",
        ),
        Binding(
            "shift+down,J",
            "move_queued(-1)",
            "Later in the queue",
            show=False,
            tooltip="Move a queued run one place towards the back of the queue",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs_dir = str(RUNS_DIR)  # the app's, once mounted
        self._watch: RunWatch | None = None
        self._rows: dict[str, RunRow] = {}
        self._shown: dict[str, dict[str, Text]] = {}  # per run: the cells in the table
        self._marked: set[str] = set()
        self._launched: dict[str, object] = {}  # path -> backend.launch.Launched, runs this screen continued
        self._columns: tuple[RunColumn, ...] = ()
        self._run_width = 0
        self._scan: Worker | None = None
        self._read_everything = False
        self._loading = True  # until the first look at the folder is whole
        self._folder_problem: str | None = None  # why the runs folder cannot be read

    # --- layout ---

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-summary", markup=False)
        yield RunTable(id="runs-table")
        yield Static(id="run-detail", markup=False)
        yield KeysFooter(compact=True)  # the quit and help keys still fit at 80 columns

    def on_mount(self) -> None:
        self.sub_title = "Runs"
        self.runs_dir = str(session(self).runs_dir)
        self._watch = RunWatch(self.runs_dir)
        self.app.theme_changed_signal.subscribe(self, self._redraw_in_new_theme)
        self._fit(self.app.size.width)
        self._show_summary()
        self.set_interval(POLL_S, self._poll)
        self._poll()

    def _redraw_in_new_theme(self, _theme: object) -> None:
        """The statuses' colours are resolved when the cells are made: make them again."""
        self._build_table()

    def on_screen_resume(self) -> None:
        self._poll()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """The columns that fit ``width``; the table is made again when they change."""
        columns, run_width = fitting_columns(width - SCROLLBAR)
        if (columns, run_width) != (self._columns, self._run_width):
            self._columns, self._run_width = columns, run_width
            self._build_table()

    def _build_table(self) -> None:
        table = self.query_one(RunTable)
        current = self._cursor_path()
        table.clear(columns=True)
        self._shown.clear()
        for column in self._columns:
            width = self._run_width if column.key == "run" else column.width
            table.add_column(
                Text(column.label, justify="right" if column.right else "left"), width=width, key=column.key
            )
        for row in newest_first(self._rows.values()):
            self._shown[row.path] = cells = self._cells(row)
            table.add_row(*cells.values(), key=row.path)
        self._keep_cursor(current)

    def _cells(self, row: RunRow) -> dict[str, Text]:
        texts = {**run_cells(row), "mark": MARK if row.path in self._marked else ""}
        table = self.query_one(RunTable)
        cells = {}
        for column in self._columns:
            text = texts[column.key]
            if column.key == "run":
                cell = NameCell(cut(text, self._run_width, keep_end=True), no_wrap=True)
                cell.path = row.path
            else:
                style = table.status_style(row.status) if column.key == "status" else ""
                if column.key == "mark" and text:
                    style = table.get_component_rich_style("run-table--mark", partial=True)
                cell = Text(
                    cut(text, column.width), style=style, no_wrap=True, justify="right" if column.right else "left"
                )
            cells[column.key] = cell
        return cells

    # --- watching the folder ---

    def _poll(self, everything: bool = False) -> None:
        """Look at the runs' files in a worker, unless one is still looking or the screen is
        not shown (a look on its return catches up)."""
        self._read_everything |= everything
        self._check_launched()
        if self._watch is None or not self.is_current or (self._scan is not None and not self._scan.is_finished):
            return
        # live runs and queued ones (a pending SLURM job starts without touching the run's files)
        live = frozenset(path for path, row in self._rows.items() if row.status in LIVE or row.status in WAITING)
        everything, self._read_everything = self._read_everything, False
        self._scan = self._look(live, everything)

    @work(thread=True, group="runs-watch", exit_on_error=False)
    def _look(self, live: frozenset[str], everything: bool) -> None:
        worker = get_current_worker()
        changes = self._watch.poll(live, everything)
        rows: list[RunRow] = []
        sent = time.monotonic()
        for path in changes.read:
            if worker.is_cancelled:
                return
            rows.append(_read_row(path))
            if time.monotonic() - sent > PART_S:  # a big folder: show what is read so far
                self.post_message(RowsRead(rows, [], loading=True))
                rows, sent = [], time.monotonic()
        self.post_message(RowsRead(rows, changes.gone, problem=changes.problem))

    def _check_launched(self) -> None:
        """A run this screen continued whose process failed is said once, with its last line
        of output: one that fails before its first event (no data, say) changes no row."""
        for path, launched in list(self._launched.items()):
            status = launched.exit_status
            if status is None:
                continue
            del self._launched[path]
            if status != 0:
                self._say(
                    f"{run_name(path)} ended with exit status {status}: "
                    f"{last_output_line(path) or 'see its output.log'}",
                    severity="error",
                )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "runs-watch" and event.state == WorkerState.ERROR:
            self._say(f"Watching {self.runs_dir} failed: {event.worker.error}", severity="error")

    def on_rows_read(self, message: RowsRead) -> None:
        table = self.query_one(RunTable)
        current = self._cursor_path() if not self._loading else None  # the first load starts at the newest
        reorder = False
        for path in message.gone:
            self._forget(path)
        for row in message.rows:
            old = self._rows.get(row.path)
            self._rows[row.path] = row
            cells = self._cells(row)
            if old is None:
                table.add_row(*cells.values(), key=row.path)
                reorder = True
            else:
                reorder |= row_order(old) != row_order(row)
                self._update_cells(row.path, cells)
            self._shown[row.path] = cells
        if reorder:
            order = {row.path: position for position, row in enumerate(newest_first(self._rows.values()))}
            table.sort("run", key=lambda cell: order[cell.path])
        self._keep_cursor(current)
        self._loading = message.loading and self._loading
        if not message.loading:
            self._folder_problem = message.problem
        self._show_summary()
        self._show_detail()

    def _update_cells(self, path: str, cells: dict[str, Text]) -> None:
        """Only the cells whose text or colour changed are redrawn."""
        table = self.query_one(RunTable)
        old = self._shown.get(path, {})
        for key, cell in cells.items():
            before = old.get(key)
            if before is None or before.plain != cell.plain or before.style != cell.style:
                table.update_cell(path, key, cell)

    def _forget(self, path: str) -> None:
        if self._rows.pop(path, None) is not None:
            self.query_one(RunTable).remove_row(path)
        self._shown.pop(path, None)
        self._marked.discard(path)

    # --- the cursor's run ---

    def _cursor_path(self) -> str | None:
        table = self.query_one(RunTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0))
        return row_key.value

    def _keep_cursor(self, path: str | None) -> None:
        """Rows came, went or moved: the cursor stays on the run it was on."""
        if path is not None and path in self._rows:
            table = self.query_one(RunTable)
            index = table.get_row_index(path)
            if index != table.cursor_row:
                table.move_cursor(row=index)

    def _selected(self, doing: str) -> RunRow | None:
        row = self._rows.get(self._cursor_path() or "")
        if row is None:
            self._say(f"No run to {doing}.", severity="warning")
        return row

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:  # a click on the cursor's row
        self.action_open_run()

    # --- what the lines above and below the table say ---

    def _show_summary(self) -> None:
        folder = printable(self.runs_dir.rstrip("/") + "/")
        if self._folder_problem:
            text = self._folder_problem[0].upper() + self._folder_problem[1:] + "."
        elif not self._rows:
            text = (
                f"Reading the runs in {folder}…"
                if self._loading
                else f"No runs in {folder} yet: start one with r on the Train screen (key 3), "
                "or tui-cnn train MODEL --detach."
            )
        else:
            counts = [sum(row.status == status for row in self._rows.values()) for status in LIVE]
            text = f"{len(self._rows)} run{'s' if len(self._rows) != 1 else ''} in {folder}" + "".join(
                f" · {count} {status}" for count, status in zip(counts, LIVE) if count
            )
            if self._marked:
                text += f" · {len(self._marked)} marked" + (": v compares" if len(self._marked) > 1 else "")
            if self._loading:
                text += " · reading…"
        self.query_one("#runs-summary", Static).update(text)

    def _show_detail(self) -> None:
        row = self._rows.get(self._cursor_path() or "")
        text = "" if row is None else row.problem or row.path  # a problem names the run's file
        trial = None if row is None else read_trial(row.path)
        if trial is not None:
            text += f" · trial {trial.number} of {run_name(trial.sweep)} · w: the sweep's table"
        self.query_one("#run-detail", Static).update(printable(text))

    # --- keys ---

    def _say(self, text: str, severity: str = "information") -> None:
        """A notification, as plain text: run folders may be called anything ("[b]x", "\x1b]0;")."""
        self.notify(printable_lines(text), severity=severity, markup=False)

    def action_open_run(self) -> None:
        row = self._selected("open")
        if row is not None:
            self.app.open_run(row.path)

    def action_stop_run(self) -> None:
        row = self._selected("stop")
        if row is not None:
            self._steer(row, "stop")

    def action_toggle_pause(self) -> None:
        row = self._selected("pause")
        if row is not None:
            self._steer(row, "resume" if row.status == "paused" else "pause")

    def action_move_queued(self, steps: int) -> None:
        row = self._selected("move")
        if row is None:
            return
        if row.status != "queued" or row.position is None:
            self._say(
                f"{run_name(row.path)} is {row.status}: only a run waiting in the queue moves.", severity="warning"
            )
            return
        try:
            place = move_in_queue(row.path, steps)
        except (QueueError, OSError) as exc:
            self._say(f"Cannot move {run_name(row.path)}: {exc}", severity="error")
            return
        self._say(f"{run_name(row.path)} is now number {place} in the queue.")
        self._poll(everything=True)

    def _steer(self, row: RunRow, command: str) -> None:
        name = run_name(row.path)
        try:
            steer_run(row.path, command, row.status, name)
        except NotTraining as exc:
            self._say(str(exc), severity="warning")
            return
        except (SlurmError, QueueError) as exc:
            self._say(f"Cannot cancel {name}: {exc}", severity="error")
            return
        except OSError as exc:
            self._say(f"Cannot write to {name}: {exc.strerror or exc}", severity="error")
            return
        if row.status in WAITING:
            self._say(f"Cancelled {name}: it will not start.")
            self._poll(everything=True)
            return
        after = " after its current batch (its checkpoint is kept)" if command == "stop" else ""
        self._say(f"Asked {name} to {command}{after}.")

    def action_continue_run(self) -> None:
        row = self._selected("continue")
        if row is None:
            return
        refused = self._busy(row) or continue_refused(row)
        if refused:
            self._say(refused, severity="warning")
            return

        def decided(epochs: int | None) -> None:
            if epochs is not None:
                self._continue(row.path, epochs)

        self.app.push_screen(ContinueRunScreen(row), decided)

    def _busy(self, row: RunRow) -> str | None:
        """Said when this screen started the run again and it has not ended since."""
        launched = self._launched.get(row.path)
        if launched is not None and launched.exit_status is None:
            return f"{run_name(row.path)} is being continued: its process is starting or training."
        return None

    @work(thread=True, group="continue", exit_on_error=False)
    def _continue(self, path: str, epochs: int) -> None:
        from ...backend.launch import start_detached  # no torch: the run's own process loads it

        name = run_name(path)
        try:
            spec, config = continuation(path, epochs=epochs)
            launched = start_detached(spec, config)
        except RunLocked as exc:
            self.post_message(WorkDone(f"Cannot continue {name}: {exc}", "warning"))
            return
        except RunFileError as exc:
            self.post_message(WorkDone(f"Cannot continue {name}: {exc}", "error"))
            return
        except OSError as exc:
            self.post_message(WorkDone(f"Cannot start {name}: {exc.strerror or exc}", "error"))
            return
        self.post_message(
            WorkDone(
                f"Continuing {name} to {fmt.count(epochs, 'epoch')}, in the background (enter follows it).",
                launched=launched,
                path=path,
            )
        )

    def action_delete_run(self) -> None:
        row = self._selected("delete")
        if row is None:
            return
        refused = self._deletion_refused(row.path)
        if refused:
            self._say(refused, severity="warning")
            return

        def decided(delete: bool | None) -> None:
            if not delete:
                return
            refused = self._deletion_refused(row.path)  # the dialog may have been open a while
            if refused:
                self._say(refused, severity="warning")
            else:
                self._delete(row.path)

        self.app.push_screen(
            ConfirmScreen(  # its title and detail are markup
                f"Delete the run {escape(run_name(row.path))}?",
                f"{escape(printable(row.path))} and all it holds (checkpoints, metrics, evaluation, log) are deleted for good.",
                confirm="Delete",
            ),
            decided,
        )

    def _deletion_refused(self, path: str) -> str | None:
        row = self._rows.get(path)
        if row is None:
            return f"{run_name(path)} is no longer there."
        busy = self._busy(row)
        if busy:
            return busy
        # Read now, not the row shown: another process may have started it since.
        status = _read_row(path).status
        if status in LIVE or status in WAITING:
            return f"{run_name(path)} is {status}: stop it (x) before deleting it."
        return deletion_refused(path, self.runs_dir)

    @work(thread=True, group="delete", exit_on_error=False)
    def _delete(self, path: str) -> None:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            gone = not Path(path).exists()
            self.post_message(
                WorkDone(
                    f"Cannot delete {run_name(path)} whole: {exc.strerror or exc}",
                    "error",
                    deleted=path if gone else None,
                )
            )
            return
        self.post_message(WorkDone(f"Deleted {run_name(path)}.", deleted=path))

    def on_work_done(self, message: WorkDone) -> None:
        if message.launched is not None:
            self._launched[message.path] = message.launched
        if message.deleted is not None:
            self._forget(message.deleted)
            self._show_summary()
            self._show_detail()
        self._say(message.text, severity=message.severity)

    def action_toggle_mark(self) -> None:
        row = self._selected("mark")
        if row is None:
            return
        self._marked ^= {row.path}
        cells = self._cells(row)
        if "mark" in cells:
            self._update_cells(row.path, cells)
            self._shown[row.path] = cells
        self._show_summary()

    def action_compare(self) -> None:
        marked = [row.path for row in newest_first(self._rows.values()) if row.path in self._marked]
        if len(marked) < 2:
            self._say("Mark two runs or more (space) to compare them.", severity="warning")
            return
        self.app.compare(marked)

    def action_show_sweep(self) -> None:
        row = self._selected("show the sweep of")
        if row is None:
            return
        trial = read_trial(row.path)
        if trial is None:
            self._say(f"{run_name(row.path)} is no sweep's trial (tui-cnn sweep starts one).", severity="warning")
            return
        try:
            sweep = sweep_trials(trial.sweep)
        except SweepError as exc:
            self._say(str(exc), severity="error")
            return
        self.app.push_screen(SweepScreen(sweep))

    def action_refresh(self) -> None:
        self._poll(everything=True)
