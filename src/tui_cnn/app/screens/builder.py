"""The builder screen: stack layers, edit their arguments, and see at once whether the model
fits together.

Every change makes a new immutable spec, re-analysed by the pure-Python shape engine (well
under a millisecond for small CNNs), recorded in the undo history and set as the app's
current model, so the tracker always shows what the builder holds. A keystroke updates the
cells that changed, the form's placeholders and errors, and the problems panel: no widget is
rebuilt while typing.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Callable, Hashable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ...domain import format as fmt
from ...domain.field_values import parse_field, parse_positive_int
from ...domain.history import History
from ...domain.layers import LAYER_TYPES, ArgError
from ...domain.presets import PRESETS, load_preset, resolve_spec
from ...domain.shapes import Analysis, analyze, name_path, path_name, projection, report_at
from ...domain.spec import (
    Diagnostic,
    LayerSpec,
    ModelSpec,
    branches_of,
    concat,
    edit_at,
    parse_input_shape,
    residual,
    with_branches,
)
from ...domain.spec import Path as LayerPath
from ...domain.specfile import SpecError, atomic_write_text, save_spec
from ...domain.starters import starter_in_block, starter_layer
from ..focus import focus_now
from ..session import session
from ..widgets.builder.dialogs import PathScreen, PickScreen
from ..widgets.builder.form import LayerForm, last_linear
from ..widgets.builder.stack import ERROR_MARK, WARNING_MARK, StackTable, per_sample
from ..widgets.confirm import ConfirmScreen
from ..widgets.keys_footer import KeysFooter
from ..widgets.ready import KeysWaitForMount
from .breakpoints import BreakpointsFromTheStart

CONV_BLOCK = ("Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d")
BLANK_NAME = "MyCNN"
_BLANK = "blank model"  # the "start from" choice that is no preset


def _same_file(path: str, other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:  # one of them is gone: the same name, then
        return os.path.abspath(path) == os.path.abspath(other)


def _where(diagnostic: Diagnostic, analysis: Analysis) -> str:
    if diagnostic.layer is None:
        where = "model"
    else:
        where = f"layer {diagnostic.layer} {analysis.layers[diagnostic.layer].type}"
    return f"{where} · {diagnostic.field}" if diagnostic.field else where


class BuilderScreen(BreakpointsFromTheStart, KeysWaitForMount, Screen):
    CSS_PATH = "builder.tcss"
    #: Under 100 columns the form goes under the stack: beside it, both were cut.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("c", "add('Conv2d')", "Conv"),
        Binding("p", "add('MaxPool2d')", "Pool", show=False),
        Binding("r", "add('ReLU')", "ReLU", show=False),
        Binding("b", "add('BatchNorm2d')", "BatchNorm", show=False),
        Binding("d", "add('Dropout')", "Dropout", show=False),
        Binding("f", "add('Flatten')", "Flatten", show=False),
        Binding("l", "add('Linear')", "Linear", show=False),
        Binding("a", "pick_layer", "Any layer"),
        Binding("i", "model_settings", "Input & classes", show=False),
        Binding("k", "conv_block", "Conv block", show=False),
        Binding("delete,backspace", "delete_layer", "Delete"),
        Binding("D", "duplicate", "Duplicate", show=False),
        Binding("shift+up", "move(-1)", "Move up", show=False),
        Binding("shift+down", "move(1)", "Move down", show=False),
        Binding("m", "mark", "Mark (w wraps from it)", show=False),
        Binding("w", "wrap('Residual')", "Wrap in residual", show=False),
        Binding("W", "wrap('Concat')", "Wrap in concat", show=False),
        Binding("s", "shortcut", "Add shortcut", show=False),
        Binding("B", "add_branch", "Add branch", show=False),
        Binding("u", "unwrap", "Unwrap block", show=False),
        Binding("ctrl+z", "undo", "Undo", priority=True),
        Binding("ctrl+y", "redo", "Redo", priority=True, show=False),
        Binding("ctrl+f", "apply_fix", "Apply fix", priority=True, show=False),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+o", "open", "Open", priority=True, show=False),
        Binding("n", "new", "New model", show=False),
        Binding("e", "export", "Export .py", show=False),
        Binding("t", "train", "Train"),
        Binding("escape", "focus_stack", "Back to the stack", show=False),
    ]

    #: Shown with the model's settings, where a blank model starts.
    ADD_KEYS = "add after the cursor: " + " · ".join(
        f"{b.key} {b.description.lower()}" for b in BINDINGS if b.action.startswith(("add(", "conv_block", "pick_"))
    )

    def __init__(self) -> None:
        super().__init__()
        self._history: History[ModelSpec] | None = None  # None until mounted
        self._saved: ModelSpec | None = None  # the model as last saved or opened
        self._exported: str | None = None  # the file last exported to: export again replaces it unasked
        self._analysis: Analysis | None = None
        self._one_line = False  # the problems panel shows the one-line "valid" summary
        self._wrap_mark: LayerPath | None = None  # where w wraps from (m), up to the cursor

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield StackTable(id="stack")
            yield LayerForm(id="form")
        yield Static(id="problems")
        yield KeysFooter(compact=True)  # the rest of the keys: ? lists them all

    def on_mount(self) -> None:
        spec = self.app.spec
        # A model restored after a crash is saved nowhere yet: it shows (and quits) as modified.
        self._history, self._saved = History(spec), None if session(self).recovered else spec
        self._show_spec(spec, refill=True)
        self.watch(self.app, "spec", self._app_spec_changed, init=False)
        self._stack.focus()

    @property
    def _stack(self) -> StackTable:
        return self.query_one(StackTable)

    @property
    def _form(self) -> LayerForm:
        return self.query_one(LayerForm)

    @property
    def spec(self) -> ModelSpec:
        return self._history.present

    @property
    def dirty(self) -> bool:
        return self._history is not None and self._history.present != self._saved

    def quit_warning(self) -> str | None:
        return f"The builder's model {self.spec.name} has unsaved changes." if self.dirty else None

    # --- showing the model ---

    def _show_spec(self, spec: ModelSpec, refill: bool, select: int | LayerPath | None = None) -> None:
        """Show ``spec`` everywhere: app, stack, form, problems, title."""
        self._analysis = analyze(spec, batch_size=1)
        self.app.spec = spec
        self._stack.show(self._analysis)
        if isinstance(select, int):
            self._stack.select_layer(select)
        elif select is not None:
            self._stack.select_path(select)
        self._show_form(refill)
        self._show_problems()
        self._show_title()

    def _show_form(self, refill: bool) -> None:
        entry = self._stack.entry
        path = entry.path if entry.kind in ("layer", "branch") else None
        if path is None:
            self._form.show_model(self.spec, refill, self.ADD_KEYS)
            return
        report = report_at(self._analysis.layers, path)
        if report is None:  # the rows are a step behind the model
            return
        self._form.show_layer(self._layer_name(path), report, dict(self.spec.layer_at(path).args), refill)

    def _layer_name(self, path: LayerPath) -> int | str:
        """How the form and messages call a layer: its index at the top, its module name
        (``3.body.1``) inside a block."""
        if len(path) == 1:
            return path[0]
        kinds = [self.spec.layer_at(path[:end]).type for end in range(1, len(path), 2)]
        return path_name(kinds, path)

    def _show_title(self) -> None:
        where = fmt.printable(session(self).spec_path) if session(self).spec_path else "not saved"
        name = fmt.printable(self.spec.name)  # from a file: it may hold escape codes
        self.sub_title = f"{name} · {where}{' · modified' if self.dirty else ''}"
        totals = self._analysis.totals
        self._stack.border_title = escape(name)
        self._stack.border_subtitle = f"{fmt.grouped(totals.params)} params{' · modified' if self.dirty else ''}"

    def _fix_to_offer(self) -> Diagnostic | None:
        """The fix ctrl+f applies: the cursor's layer first, errors before warnings."""
        fixable = sorted((d for d in self._analysis.diagnostics if d.fix), key=lambda d: not d.is_error)
        here = [d for d in fixable if (d.path or (d.layer,)) == self._stack.layer_path]
        return (here or fixable or [None])[0]

    def _show_problems(self) -> None:
        analysis = self._analysis
        panel = self.query_one("#problems", Static)
        if not analysis.diagnostics:
            # One line before and after: no re-layout, the cheap case while typing.
            panel.update(
                f"[$success]✓ valid[/] · {fmt.grouped(analysis.totals.params)} parameters · "
                f"output {per_sample(analysis.output_shape)} · [b]t[/b] trains it",
                layout=not self._one_line,
            )
            self._one_line = True
            return
        self._one_line = False
        offered = self._fix_to_offer()
        lines = []
        for diagnostic in analysis.diagnostics:
            mark, colour = (ERROR_MARK, "$error") if diagnostic.is_error else (WARNING_MARK, "$warning")
            lines.append(f"[{colour}]{mark} {escape(_where(diagnostic, analysis))}:[/] {escape(diagnostic.message)}")
            if diagnostic.suggestion:
                lines.append(f"    fix: {escape(diagnostic.suggestion)}")
            if diagnostic is offered:
                lines.append(f"    [b]ctrl+f[/b] applies: [b]{escape(offered.fix.label)}[/b]")
        panel.update("\n".join(lines))

    # --- changes ---

    def _commit(self, spec: ModelSpec, group: Hashable | None = None, select: int | None = None) -> None:
        """Record a change (typing in one field folds into one undo step) and show it."""
        if self._history.push(spec, group):
            self._show_spec(spec, refill=group is None, select=select)

    def _app_spec_changed(self, spec: ModelSpec) -> None:
        """Another screen (or the command line) set the model: take it as a change here."""
        if spec != self.spec:
            self._commit(spec)

    def on_layer_form_edited(self, event: LayerForm.Edited) -> None:
        if event.superseded or not self._still_there(event.target):
            return
        form = self._form
        shown = event.row is form.rows.get(event.field)  # else the form moved on: apply, show no error
        try:
            spec = self._edited(event.target, event.field, event.text)
        except ArgError as exc:
            if shown:
                form.set_parse_error(event.field, f"{exc.message}; {exc.suggestion}" if exc.suggestion else exc.message)
            return
        if shown:
            form.set_parse_error(event.field, None)
        if spec == self.spec:
            self._show_form(refill=False)  # the text changed, the model did not: re-show its errors
        else:
            self._commit(spec, group=(event.target, event.field))

    def _still_there(self, target: Hashable) -> bool:
        """The layer an edit was typed on is still at its place (no layer came or went since)."""
        if target == ("model",):
            return True
        index, type_name = target
        try:
            return self.spec.layer_at(self._path_of(index)).type == type_name
        except (IndexError, ValueError):
            return False

    @staticmethod
    def _path_of(index: int | str) -> LayerPath:
        return (index,) if isinstance(index, int) else name_path(index)

    def _edited(self, target: Hashable, name: str, text: str) -> ModelSpec:
        """The model with one field's text applied; ArgError if the text is not a usable value."""
        spec = self.spec
        if target == ("model",):
            if name == "name":
                if not text.strip():
                    raise ArgError("the model needs a name")
                return replace(spec, name=text.strip())
            if name == "input":
                return spec.with_input_shape(parse_input_shape(text))
            index = last_linear(spec)
            if index is None:
                raise ArgError("there is no Linear layer to set the classes of", "add one with l")
            classes = parse_positive_int(text, "classes")
            return spec.replace_layer(index, spec.layers[index].with_arg("out_features", classes))
        index, type_name = target
        field = LAYER_TYPES[type_name].field(name)
        path = self._path_of(index)
        return spec.replace_at(path, spec.layer_at(path).with_arg(name, parse_field(field, text)))

    def _starter(self, type_name: str, spec: ModelSpec, path: LayerPath) -> LayerSpec:
        if len(path) == 1:
            return starter_layer(type_name, spec, path[0])
        analysis = analyze(spec, batch_size=1)
        before = report_at(analysis.layers, (*path[:-1], path[-1] - 1)) if path[-1] else None
        incoming = before.output_shape if before else report_at(analysis.layers, path[:-2]).input_shape
        return starter_in_block(type_name, incoming)

    def action_add(self, type_name: str) -> None:
        path = self._stack.insert_path
        self._commit(self.spec.insert_at(path, self._starter(type_name, self.spec, path)), select=path)

    def action_conv_block(self) -> None:
        path = self._stack.insert_path
        spec = self.spec
        for offset, type_name in enumerate(CONV_BLOCK):
            at = (*path[:-1], path[-1] + offset)
            spec = spec.insert_at(at, self._starter(type_name, spec, at))
        self._commit(spec, select=path)

    def action_pick_layer(self) -> None:
        options = [(name, f"{name:<18} {ltype.summary}") for name, ltype in LAYER_TYPES.items()]

        def picked(type_name: str | None) -> None:
            if type_name:
                self.action_add(type_name)

        self.app.push_screen(PickScreen("Add a layer after the cursor", options), picked)

    def _layer_or_bell(self) -> LayerPath | None:
        path = self._stack.layer_path
        if path is None:
            self.app.bell()
        return path

    def action_delete_layer(self) -> None:
        entry = self._stack.entry
        if entry.kind == "branch":
            self._remove_branch(entry.path, entry.branch)
            return
        path = self._layer_or_bell()
        if path is not None:
            self._commit(self.spec.remove_at(path))

    def action_duplicate(self) -> None:
        path = self._layer_or_bell()
        if path is not None:
            after = (*path[:-1], path[-1] + 1)
            self._commit(self.spec.insert_at(after, self.spec.layer_at(path)), select=after)

    def action_move(self, offset: int) -> None:
        path = self._layer_or_bell()
        if path is None:
            return
        target = (*path[:-1], path[-1] + offset)

        def swap(items: list[LayerSpec], index: int) -> list[LayerSpec]:
            if 0 <= index + offset < len(items):
                items[index], items[index + offset] = items[index + offset], items[index]
            return items

        spec = self.spec.with_layers(edit_at(self.spec.layers, path, swap))
        self._commit(spec, select=target if spec != self.spec else path)

    # --- blocks: wrap layers in a Residual or Concat, add a shortcut or a branch, unwrap ---

    def action_mark(self) -> None:
        path = self._layer_or_bell()
        if path is not None:
            self._wrap_mark = path
            self.notify(
                f"Marked layer {self._layer_name(path)}: move to the last layer to wrap and press w (residual) "
                "or W (concat)",
                timeout=3,
            )

    def action_wrap(self, block_type: str) -> None:
        """The layers from the mark to the cursor (the cursor's alone without a mark, or when
        the mark is in another list) become the body of a Residual, or a Concat's one branch."""
        path = self._layer_or_bell()
        if path is None:
            return
        mark, self._wrap_mark = self._wrap_mark, None
        first, last = path[-1], path[-1]
        if mark is not None and mark[:-1] == path[:-1]:
            first, last = min(mark[-1], path[-1]), max(mark[-1], path[-1])
        start = (*path[:-1], first)

        def wrap(items: list[LayerSpec], index: int) -> list[LayerSpec]:
            inner = items[first : last + 1]
            block = residual(inner) if block_type == "Residual" else concat(inner)
            return items[:first] + [block] + items[last + 1 :]

        self._commit(self.spec.with_layers(edit_at(self.spec.layers, start, wrap)), select=start)
        count = last - first + 1
        self.notify(f"Wrapped {count} layer{'s' * (count > 1)} in a {block_type}", timeout=2)

    def _enclosing(self, block_type: str) -> LayerPath | None:
        """The block of ``block_type`` the cursor is on or in (innermost first)."""
        entry = self._stack.entry
        path = entry.path if entry.kind in ("layer", "branch") else ()
        candidates = [path] if entry.kind == "branch" else []
        candidates += [path[:end] for end in range(len(path), 0, -2)]
        for candidate in candidates:
            if candidate and self.spec.layer_at(candidate).type == block_type:
                return candidate
        return None

    def action_shortcut(self) -> None:
        """The Residual's shortcut becomes a 1x1 conv + BatchNorm projection onto the body's
        output (He et al.'s option B): the fix for an add of different shapes."""
        path = self._enclosing("Residual")
        report = report_at(self._analysis.layers, path) if path else None
        body = report.branches[0] if report else ()
        out = body[-1].output_shape if body else None
        layers = projection(report.input_shape, out) if out and report.input_shape else None
        if layers is None:
            self.app.bell()
            self.notify(
                "Put the cursor on a residual block whose body has a known output (N, C, H, W)",
                severity="warning",
                timeout=3,
            )
            return
        block = self.spec.layer_at(path)
        spec = self.spec.replace_at(path, with_branches(block, (branches_of(block)[0], layers)))
        self._commit(spec, select=path)
        self._stack.select_branch(path, 1)
        self._show_form(refill=True)

    def action_add_branch(self) -> None:
        path = self._enclosing("Concat")
        if path is None:
            self.app.bell()
            self.notify("Branches belong to a concat block: W wraps layers in one", severity="warning", timeout=3)
            return
        block = self.spec.layer_at(path)
        branches = branches_of(block)
        self._commit(self.spec.replace_at(path, with_branches(block, (*branches, ()))), select=path)
        self._stack.select_branch(path, len(branches))
        self._show_form(refill=True)

    def _remove_branch(self, path: LayerPath, branch: int) -> None:
        block = self.spec.layer_at(path)
        branches = list(branches_of(block))
        if block.type == "Residual" and branch == 1:
            branches[1] = ()  # the identity again
        elif block.type == "Concat" and len(branches) > 1:
            del branches[branch]
        else:
            self.app.bell()
            return
        self._commit(self.spec.replace_at(path, with_branches(block, tuple(branches))), select=path)

    def action_unwrap(self) -> None:
        """The block under the cursor gives way to the layers of its path under the cursor
        (its body, or its first branch, on the block's own row)."""
        entry = self._stack.entry
        if entry.kind == "branch":
            path, branch = entry.path, entry.branch
        else:
            path, branch = self._stack.layer_path, 0
            if path is not None and self.spec.layer_at(path).type not in ("Residual", "Concat"):
                path, branch = (path[:-2], path[-2]) if len(path) > 1 else (None, 0)
        if not path:
            self.app.bell()
            return
        inner = branches_of(self.spec.layer_at(path))[branch]

        def unwrap(items: list[LayerSpec], index: int) -> list[LayerSpec]:
            return items[:index] + list(inner) + items[index + 1 :]

        self._commit(self.spec.with_layers(edit_at(self.spec.layers, path, unwrap)), select=path if inner else None)

    def _step(self, spec: ModelSpec | None, nothing: str) -> None:
        if spec is None:
            self.notify(nothing, severity="warning", timeout=2)
        else:
            self._show_spec(spec, refill=True)

    def action_undo(self) -> None:
        self._step(self._history.undo(), "Nothing to undo")

    def action_redo(self) -> None:
        self._step(self._history.redo(), "Nothing to redo")

    def action_apply_fix(self) -> None:
        offered = self._fix_to_offer()
        if offered is None:
            self.notify("No suggested fix to apply", severity="warning", timeout=2)
            return
        self._commit(offered.fix.apply(self.spec), select=offered.fix.where)
        self.notify(f"Applied: {offered.fix.label}", timeout=2)

    def action_model_settings(self) -> None:
        self._stack.move_cursor(row=0)
        self._show_form(refill=True)
        focus_now(self._form.rows["input"].input)

    def action_focus_stack(self) -> None:
        focus_now(self._stack)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._analysis is not None:
            self._show_form(refill=True)
            self._show_problems()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._form.focus_first_field()

    # --- files ---

    def _ask_path(self, title: str, default: str, then: Callable[[str], None], hint: str = "") -> None:
        self.app.push_screen(PathScreen(title, default, hint), lambda path: path and then(path))

    def _unless_unsaved(self, then: Callable[[], None]) -> None:
        """Run ``then`` now, or after the user agreed to drop unsaved changes."""
        if not self.dirty:
            then()
            return
        question = ConfirmScreen(
            "Discard unsaved changes?", f"{self.spec.name} has changes that are not saved.", confirm="Discard"
        )
        self.app.push_screen(question, lambda confirmed: confirmed and then())

    def _load(self, spec: ModelSpec, path: str | None) -> None:
        self._history.reset(spec)
        self._saved, session(self).spec_path = spec, path
        self._stack.move_cursor(row=0)
        self._show_spec(spec, refill=True)

    def _unless_replacing(
        self, path: str, own: str | None, then: Callable[[], None], own_is: str = "opened from or saved to"
    ) -> None:
        """Run ``then`` now, or after the user agreed to replace ``path``: a file that exists
        and is not ``own`` (the one this model was opened from, saved or exported to). A link is
        not asked about: the write refuses it, in one line."""
        if not os.path.isfile(path) or os.path.islink(path) or (own is not None and _same_file(path, own)):
            then()
            return
        question = ConfirmScreen(
            f"Replace {escape(path)}?",
            f"{escape(path)} exists and is not the file "
            f"{escape(self.spec.name)} was {own_is}: its contents would be lost.",
            confirm="Replace",
            cancel="Keep it",
        )
        self.app.push_screen(question, lambda confirmed: confirmed and then())

    def action_save(self) -> None:
        self._ask_path(
            "Save the model as (TOML)",
            session(self).spec_path or f"{self.spec.name}.toml",
            lambda path: self._unless_replacing(path, session(self).spec_path, lambda: self._save(path)),
        )

    def _save(self, path: str) -> None:
        try:
            save_spec(self.spec, path)
        except (OSError, SpecError) as exc:  # SpecError: a value TOML cannot hold, e.g. output_size (None, 7)
            self.notify(f"Cannot save to {path}: {getattr(exc, 'strerror', None) or exc}", severity="error")
            return
        self._saved, session(self).spec_path = self.spec, path
        self._show_title()
        self.notify(f"Saved {path}", timeout=2)

    def action_open(self) -> None:
        self._unless_unsaved(lambda: self._ask_path("Open a spec file (or a preset's name)", "", self._open))

    def _open(self, path: str) -> None:
        try:
            spec = resolve_spec(path)
        except SpecError as exc:
            self.notify(str(exc), title="Cannot open", severity="error")
            return
        self._load(spec, path if Path(path).is_file() else None)

    def action_new(self) -> None:
        c, h, w = self.spec.input_shape
        options = [(_BLANK, f"Blank model, input {c}x{h}x{w}")]
        options += [(name, f"{name:<10} {description}") for name, (_, description) in PRESETS.items()]

        def start(choice: str | None) -> None:
            if choice is not None:
                blank = ModelSpec(BLANK_NAME, self.spec.input_shape)
                self._load(blank if choice == _BLANK else load_preset(choice), None)

        self._unless_unsaved(lambda: self.app.push_screen(PickScreen("Start from", options), start))

    def action_export(self) -> None:
        if not self._analysis.valid:
            self.notify("Fix the model first: exported code must run", severity="error")
            return
        self._ask_path(
            "Export as PyTorch code to",
            self._exported or "model.py",
            lambda path: self._unless_replacing(
                path, self._exported, lambda: self._export(path), own_is="last exported to"
            ),
            hint="an nn.Module with features and classifier · enter writes it",
        )

    def _export(self, path: str) -> None:
        from ...domain.export import export_code

        try:
            atomic_write_text(path, export_code(self.spec))
        except (OSError, ValueError) as exc:
            self.notify(f"Cannot export to {path}: {getattr(exc, 'strerror', None) or exc}", severity="error")
            return
        self._exported = path
        self.notify(f"Wrote {path}", timeout=2)

    def action_train(self) -> None:
        if not self._analysis.valid:
            self.notify("Fix the model first: it would fail in PyTorch", severity="error")
            return
        self.app.switch_mode("monitor")
