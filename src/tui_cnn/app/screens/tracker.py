"""The dimension tracker: every layer's shapes, parameters, compute and memory, the worked
formulas of the layer under the cursor, and the tensor's shape at a glance.

It shows the app's current model (``app.spec``, which the builder sets) or a user's own
nn.Module tracked on the meta device (``tui-cnn track``, or the t key); both arrive as a
``ModelSummary``, so there is one table for both.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Callable

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.timer import Timer
from textual.validation import ValidationResult
from textual.widgets import DataTable, Header, Input, Label, Static

from ...domain import format as fmt
from ...domain.graph import fold, max_depth
from ...domain.settings import parse_setting
from ...domain.shapes import analyze
from ...domain.spec import ModelSpec, parse_input_shape
from ...domain.summary import ModelSummary
from ...domain.train_config import SETTINGS
from ..focus import focus_now
from ..session import Tracked, session
from ..widgets.formula_panel import FormulaPanel
from ..widgets.keys_footer import KeysFooter
from ..widgets.layer_table import LayerTable, has_flow, spec_cells
from ..widgets.ready import KeysWaitForMount
from ..widgets.shape_bars import ShapeFlow
from ..widgets.typed_input import TypedInput
from ..widgets.validators import ParsedBy
from .breakpoints import BreakpointsFromTheStart

if TYPE_CHECKING:
    pass

WIDE = 120  # columns from which the table shows every column and the panels sit side by side
APPLY_AFTER_S = 0.4  # an edit applies once typing pauses this long


#: Models with more layers than this are analysed off the UI's thread (5,000 layers: ~50 ms
#: of analysis a key would otherwise wait behind); smaller ones show at once, as typed.
BACKGROUND_LAYERS = 500


def parse_batch_size(text: str) -> int:
    """The batch size as the training settings declare it: the limit and the words of the
    monitor's form and of --batch-size."""
    return parse_setting("batch_size", SETTINGS["batch_size"], text)


def _tracked_note(summary: ModelSummary) -> str:
    if summary.built_on == "cpu":
        return " (tracked nn.Module, built on the CPU: its constructor cannot run on meta)"
    return " (tracked nn.Module)"


class TrackerScreen(BreakpointsFromTheStart, KeysWaitForMount, Screen):
    CSS_PATH = "tracker.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding("i", "edit('input-shape')", "Input", tooltip="Edit the input shape C,H,W"),
        Binding("b", "edit('batch-size')", "Batch", tooltip="Edit the batch size", show=False),
        Binding("v", "toggle_flow", "Bars", tooltip="Swap the detail panel for the shape bars"),
        Binding("t", "track_module", "Track", tooltip="Track your own nn.Module (MODULE:ATTR)"),
        Binding("m", "show_model", "Model", tooltip="Back to the app's model"),
        Binding("minus", "fold", "Fold", tooltip="Fold the tracked model's modules one level (torchinfo's depth)"),
        Binding("plus,equals_sign", "unfold", "Unfold", tooltip="Unfold one level of modules"),
        Binding("escape", "escape", "Table", show=False, tooltip="Back to the table; stops a model being traced"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tracked: Tracked | None = None
        self.summary: ModelSummary | None = None  # the whole model
        self.shown: ModelSummary | None = None  # what the table shows: folded to self.depth
        self.depth: int | None = None  # a tracked model's modules folded below this depth; None: all rows
        self._static_text: dict[str, str] = {}
        self._pending_edit: Timer | None = None
        self._loading: Tracked | None = None  # a model being imported and built (its progress dialog is up)
        self._tracing = False  # the tracked model is being traced again (new batch or input)
        self._edit_errors: dict[str, str] = {}  # box id -> why its text is refused, while it is

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="controls"):
            yield Label("Input C,H,W", classes="label")
            # No restrict or max_length: they silently turned 1e9 into 19 and -1 into 1. What
            # was typed stays; a value the parser refuses is an error under the boxes.
            yield TypedInput(id="input-shape", validators=[ParsedBy(parse_input_shape)], select_on_focus=False)
            yield Label("Batch", classes="label")
            yield TypedInput(id="batch-size", validators=[ParsedBy(parse_batch_size)], select_on_focus=False)
            yield Static(id="status")
        yield Static(id="edit-error")
        with Vertical(id="body"):
            with Vertical(id="main"):
                yield LayerTable(id="layers")
                yield Static(id="totals")
                yield ShapeFlow(id="flow")
            yield FormulaPanel(id="detail")
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        self.tracked = session(self).tracked
        self._spec_seen = self.app.spec
        self.watch(self.app, "spec", self._spec_changed, init=False)
        self.watch(self.app, "batch_size", self._batch_changed, init=False)
        self._show_in_box(self.query_one("#batch-size", Input), self.app.batch_size, parse_batch_size)
        self._show_input_shape()
        self.refresh_summary()
        self.query_one(LayerTable).focus()

    # --- what is shown ---

    @property
    def wide(self) -> bool:
        return self.size.width >= WIDE

    def refresh_summary(self) -> None:
        if self.tracked is not None:
            self._track_in_background()
        elif len(self.app.spec.layers) > BACKGROUND_LAYERS:
            self._summarise_in_background(self.app.spec, self.app.batch_size)
        else:
            self.show(ModelSummary.of_analysis(analyze(self.app.spec, self.app.batch_size)))

    def _summarise_in_background(self, spec: ModelSpec, batch: int) -> None:
        """A big model's analysis, off the UI's thread: a key pressed meanwhile (ctrl+q)
        is answered at once instead of after it. The newest edit wins."""

        def work() -> None:
            summary = ModelSummary.of_analysis(analyze(spec, batch))
            cells = spec_cells(summary)  # the rows' text too: 5,000 rows take ~50 ms
            self.app.call_from_thread(self._show_if_still_wanted, spec, batch, summary, cells)

        self.run_worker(work, thread=True, exclusive=True, group="summary", exit_on_error=False)

    def _show_if_still_wanted(
        self, spec: ModelSpec, batch: int, summary: ModelSummary, cells: list[dict[str, str]]
    ) -> None:
        if self.tracked is None and self.app.spec is spec and self.app.batch_size == batch:
            self.show(summary, cells=cells)

    @property
    def table_room(self) -> int:
        """The terminal columns the table may take: all but the scrollbar, or its share beside
        the detail panel (#main's max-width in tracker.tcss)."""
        return (self.size.width * 66 // 100 if self.wide else self.size.width) - 2

    def show(self, summary: ModelSummary, top: bool = False, cells: list[dict[str, str]] | None = None) -> None:
        self.summary = summary
        shown = summary
        if has_flow(summary) and self.depth is not None:  # a tracked model's modules, or a spec's blocks
            shown = replace(summary, rows=fold(summary.rows, self.depth, summary.kinds))
        self.shown = shown
        self._show_title()
        self.query_one(LayerTable).show(shown, self.wide, self.table_room, top=top, cells=cells)
        self.query_one(ShapeFlow).show(shown)
        self._update_static("#totals", self._totals_text(summary))
        self._update_static("#status", self._status_text(summary))
        self._show_detail()

    def _show_title(self) -> None:
        """The model's name, and the file it is opened from or a tracked module's note."""
        summary = self.summary
        if summary is None:
            return
        title = fmt.printable(summary.title)  # from a file or a module: it may hold escape codes
        if summary.tracked:
            self.sub_title = title + _tracked_note(summary)
        else:
            path = session(self).spec_path
            self.sub_title = title + (f" · {fmt.printable(path)}" if path else "")

    def on_screen_resume(self) -> None:
        self._show_title()  # the builder may have saved the model to another file meanwhile

    def _update_static(self, selector: str, markup: str) -> None:
        """Statics repaint only when their text changes."""
        if self._static_text.get(selector) != markup:
            self._static_text[selector] = markup
            self.query_one(selector, Static).update(markup)

    def _totals_text(self, s: ModelSummary) -> str:
        t = s.totals
        trainable = "" if t.trainable_params == t.params else f" ({fmt.grouped(t.trainable_params)} trainable)"
        lines = [
            f"[b]Params[/b] {fmt.grouped(t.params)}{trainable}  [b]MACs[/b] {fmt.compact(t.macs)}  "
            f"[b]Memory[/b] weights {fmt.binary_bytes(t.param_bytes)} + activations {fmt.binary_bytes(t.activation_bytes)}",
            f"[b]Training memory[/b] ≈ {fmt.binary_bytes(t.training_bytes)} for batch {s.batch_size}, "
            f"{fmt.binary_bytes(t.training_bytes_mixed)} on a GPU [dim](estimate)[/dim]",
        ]
        for d in s.model_diagnostics:
            colour = "$text-error" if d.is_error else "$text-warning"
            lines.append(f"[{colour}]{'✗' if d.is_error else '!'} {escape(d.message)}[/]")
        return "\n".join(lines)

    def _status_text(self, s: ModelSummary) -> str:
        errors = sum(d.is_error for d in s.diagnostics)
        warnings = len(s.diagnostics) - errors
        if errors:
            return f"[$text-error]✗ {errors} error{'s' * (errors > 1)}[/]"
        if warnings:
            return f"[$text-warning]! {warnings} warning{'s' * (warnings > 1)}[/]"
        return "[$text-success]✓ valid[/]"

    def _show_detail(self) -> None:
        if self.shown is None:
            return
        table = self.query_one(LayerTable)
        rows = self.shown.rows
        row = rows[table.cursor_row] if rows and 0 <= table.cursor_row < len(rows) else None
        self.query_one(FormulaPanel).show(self.shown, row)
        self.query_one(ShapeFlow).highlight = table.cursor_row if row else None

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._show_detail()

    def on_resize(self) -> None:
        if self.shown is not None:
            self.query_one(LayerTable).show(self.shown, self.wide, self.table_room)
        self.refresh_bindings()  # v (shape bars) is offered on narrow terminals only

    # --- the app's model changed elsewhere (the builder) ---

    def _spec_changed(self, spec: ModelSpec) -> None:
        if spec == self._spec_seen:  # Textual calls watchers once when a reactive initialises
            return
        self._spec_seen = spec
        self._replace_tracked(None)  # the builder's edit is what the user wants to see now
        self._show_input_shape()
        self.refresh_summary()

    def _batch_changed(self) -> None:
        self._show_in_box(self.query_one("#batch-size", Input), self.app.batch_size, parse_batch_size)
        self.refresh_summary()

    def _show_input_shape(self) -> None:
        shape = self.tracked.input_shape if self.tracked else self.app.spec.input_shape
        self._show_in_box(
            self.query_one("#input-shape", Input), tuple(shape), parse_input_shape, ",".join(str(v) for v in shape)
        )

    def _show_in_box(self, box: Input, value: object, parse: Callable[[str], object], text: str = "") -> None:
        """Write a value set elsewhere (the builder, m, the start) into ``box``, unless it says
        so already (``1e3`` stays as typed). Not an edit: nothing to apply, no error left."""
        try:
            if parse(box.value) == value:
                return
        except ValueError:
            pass
        with box.prevent(Input.Changed):
            box.value = text or str(value)
        self._edit_error(box, None)

    # --- edits on this screen ---

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        """Checked on every keystroke; applied once typing pauses (or on enter), so the
        half-typed values in between never become the app's model."""
        if self._pending_edit is not None:
            self._pending_edit.stop()
            self._pending_edit = None
        apply = self._checked_edit(event.input, event.value, event.validation_result)
        if apply is not None:
            self._pending_edit = self.set_timer(APPLY_AFTER_S, apply)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter applies at once what typing-pause would have (the text as entered: keys
        come faster than the screen, so the box may hold more by now)."""
        if self._pending_edit is not None:
            self._pending_edit.stop()
            self._pending_edit = None
        apply = self._checked_edit(event.input, event.value, event.validation_result)
        if apply is not None:
            apply()
            self.action_focus_table()  # else stay in the box: the error says what to fix

    def _checked_edit(self, box: Input, text: str, result: ValidationResult | None) -> Callable[[], None] | None:
        """What ``text`` in ``box`` would change; None (and the error shown) if it is refused."""
        if result is not None and not result.is_valid:
            self._edit_error(box, "; ".join(result.failure_descriptions))
            return None
        self._edit_error(box, None)
        if box.id == "batch-size":
            batch = parse_batch_size(text)
            return lambda: self._apply_if_current(box, text, lambda: setattr(self.app, "batch_size", batch))
        shape = parse_input_shape(text)
        return lambda: self._apply_if_current(box, text, lambda: self._set_input_shape(shape))

    @staticmethod
    def _apply_if_current(box: Input, text: str, apply: Callable[[], None]) -> None:
        """Apply what ``box`` held as ``text`` unless it holds other text by now: keys typed
        after it (an enter's, a pause's) have their own Changed, which applies them next.
        Applying the older text would write it back over them."""
        if box.value == text:
            apply()

    def _set_input_shape(self, shape: tuple[int, int, int]) -> None:
        if self.tracked is not None:
            if shape != self.tracked.input_shape:
                self.tracked.input_shape = shape
                self.refresh_summary()
        elif shape != tuple(self.app.spec.input_shape):
            self.app.spec = self.app.spec.with_input_shape(shape)

    def _edit_error(self, box: Input, message: str | None) -> None:
        """A bad value is said under the inputs, in full, for as long as its box holds it
        (both boxes' when both are bad); the last good model stays on screen."""
        box.set_class(message is not None, "-invalid")
        if message:
            self._edit_errors[box.id] = message
        else:
            self._edit_errors.pop(box.id, None)
        shown = [self._edit_errors[key] for key in ("input-shape", "batch-size") if key in self._edit_errors]
        self._update_static("#edit-error", "\n".join(f"[$text-error]✗ {escape(line)}[/]" for line in shown))
        self.query_one("#edit-error").display = bool(shown)

    # --- actions ---

    def action_edit(self, input_id: str) -> None:
        focus_now(self.query_one(f"#{input_id}", Input))

    def action_focus_table(self) -> None:
        focus_now(self.query_one(LayerTable))

    def action_toggle_flow(self) -> None:
        self.toggle_class("-flow")

    def action_track_module(self) -> None:
        from ..widgets.track_prompt import TrackPrompt

        def chosen(choice: tuple[str, tuple[int, int, int]] | None) -> None:
            if choice:
                target, shape = choice
                self._load_and_track(target, shape)

        shape = self.tracked.input_shape if self.tracked else tuple(self.app.spec.input_shape)
        self.app.push_screen(TrackPrompt(shape), chosen)

    def action_escape(self) -> None:
        """Back to the table; a tracked model still being traced (a new batch or input) stops."""
        if self.tracked is not None and self.tracked.session.running and self._tracing:
            self.tracked.close()
            self.notify("Tracing stopped: t tracks it again", timeout=4)
        self.action_focus_table()

    def action_fold(self) -> None:
        if self.summary is None:
            return
        deepest = max_depth(self.summary.rows)
        self.depth = max(1, (deepest if self.depth is None else self.depth) - 1)
        self.show(self.summary, top=False)
        self.notify(f"Modules folded to depth {self.depth} of {deepest}", timeout=2)

    def action_unfold(self) -> None:
        if self.summary is None or self.depth is None:
            return
        deepest = max_depth(self.summary.rows)
        self.depth = None if self.depth + 1 >= deepest else self.depth + 1
        self.show(self.summary, top=False)
        self.notify(f"Modules unfolded to depth {self.depth or deepest} of {deepest}", timeout=2)

    def action_show_model(self) -> None:
        self._replace_tracked(None)
        self.depth = None
        self._show_input_shape()
        self.refresh_summary()

    def _replace_tracked(self, tracked: Tracked | None) -> None:
        """The tracked model shown from now on; the previous one's process ends."""
        if self.tracked is not None and self.tracked is not tracked:
            self.tracked.close()
        self.tracked = session(self).tracked = tracked  # the monitor's r trains what the tracker shows

    def on_unmount(self) -> None:
        """Quitting never waits for a user's code: its processes are killed."""
        for tracked in (self.tracked, self._loading):
            if tracked is not None:
                tracked.close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("fold", "unfold"):  # a tracked model's modules, or a spec's blocks
            return self.tracked is not None or (self.summary is not None and has_flow(self.summary))
        if action == "show_model":
            return self.tracked is not None
        if action == "toggle_flow":
            return not self.wide
        return super().check_action(action, parameters)

    # --- tracking a user's nn.Module: in a child process, waited for off the UI's thread ---

    def _from_worker(self, callback: Callable[..., object], *args: object) -> None:
        """Run on the UI's thread, from a worker, without waiting for it: while the app quits,
        Textual's call_from_thread would wait forever (and quitting with it)."""
        self.post_message(events.Callback(partial(callback, *args)))

    def _load_and_track(self, target: str, input_shape: tuple[int, int, int]) -> None:
        """Import, build and trace ``target`` in a new child process, with its progress on a
        dialog whose escape stops it. The model shown until then stays if it fails."""
        from ..widgets.track_prompt import TrackProgress

        if self._loading is not None:
            self._loading.close()
        loading = self._loading = Tracked(target, input_shape)
        batch = self.app.batch_size
        progress = TrackProgress(target, loading.close)
        self.app.push_screen(progress)

        def work() -> None:
            from ...backend.track_process import TrackCancelled, TrackError

            try:
                summary = loading.summary(
                    batch, on_progress=lambda stage: self._from_worker(progress.show_stage, stage)
                )
            except TrackError as exc:
                loading.close()
                self._from_worker(self._track_failed, loading, progress, exc, isinstance(exc, TrackCancelled))
                return
            self._from_worker(self._tracked_ready, loading, progress, summary)

        self.run_worker(work, thread=True, group="load")

    def _track_failed(self, loading: Tracked, progress: Screen, error: Exception, cancelled: bool) -> None:
        if self._loading is loading:
            self._loading = None
            progress.dismiss(None)
            if cancelled:
                self.notify(f"Tracking {loading.target} cancelled", timeout=4)
            else:
                self.notify(str(error), title="Cannot track", severity="error", timeout=10)

    def _tracked_ready(self, loading: Tracked, progress: Screen, summary: ModelSummary) -> None:
        if self._loading is not loading:
            return  # cancelled meanwhile
        self._loading = None
        progress.dismiss(None)
        self._replace_tracked(loading)
        self.depth = None
        self._show_input_shape()
        self.show(summary, top=True)
        self.refresh_bindings()

    def _track_in_background(self) -> None:
        """The tracked model again at this batch size and input shape (its child keeps it
        built); the status says so meanwhile, and escape stops it."""
        tracked, batch = self.tracked, self.app.batch_size
        self._tracing = True
        self._update_static("#status", "[$text-muted]tracing…[/]")

        def work() -> None:
            from ...backend.track_process import TrackCancelled, TrackError

            try:
                summary = tracked.summary(batch)
            except TrackCancelled:
                self._from_worker(self._trace_ended, tracked, None, "")
                return
            except TrackError as exc:
                self._from_worker(self._trace_ended, tracked, None, str(exc))
                return
            self._from_worker(self._trace_ended, tracked, summary, "")

        self.run_worker(work, thread=True, exclusive=True, group="track")

    def _trace_ended(self, tracked: Tracked, summary: ModelSummary | None, error: str) -> None:
        if tracked is not self.tracked:
            return
        self._tracing = False
        if summary is not None:
            self.show(summary)
            return
        if self.summary is not None:
            self._update_static("#status", self._status_text(self.summary))
        if error:
            self._edit_error(self.query_one("#input-shape", Input), error)
