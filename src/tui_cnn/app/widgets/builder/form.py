"""The form beside the stack: one input per constructor argument of the selected layer, or
the model's own settings (name, input shape, classes) on the input and output rows.

Placeholders show what an empty field means: PyTorch's default, or the value inferred from
the incoming tensor. Each field has an inline error line: the text that does not parse, or
the shape engine's complaint about that argument."""

from __future__ import annotations

from typing import Any, Hashable

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import Input, Label, Static

from ....domain.field_values import show_value
from ....domain.layers import LAYER_TYPES, layer_type
from ....domain.shapes import LayerReport, block_call
from ....domain.spec import Diagnostic, ModelSpec
from ...focus import focus_now
from ..typed_input import TypedInput

MODEL_FIELDS = (("name", "model name"), ("input", "C, H, W"), ("classes", "outputs of the last Linear"))
#: What a block's form says: its keys (the builder's bindings).
BLOCK_KEYS = "s adds a 1x1 projection shortcut · B adds a branch · u unwraps · del on a path's row removes it"


def last_linear(spec: ModelSpec) -> int | None:
    """Index of the classifier's last fully connected layer (a Linear): its out_features is the
    number of classes."""
    for index in range(len(spec.layers) - 1, -1, -1):
        if layer_type(spec.layers[index].type).weights == "dense":
            return index
    return None


class FieldRow(Horizontal):
    """A field's name and input on one line, its error under them. A row belongs to one
    target (the model, or one layer) for its whole life: the form builds new rows for another."""

    def __init__(self, target: Hashable, name: str, value: str, placeholder: str, tooltip: str) -> None:
        super().__init__(classes="field")
        self.target = target
        self.input = TypedInput(value, placeholder=placeholder, name=name, compact=True, id=f"field-{name}")
        self.input.tooltip = tooltip or None
        self.error = Static("", classes="field-error")
        self.error.display = False
        self._label = Label(name, classes="field-name")
        self._shown_error: str | None = None

    def compose(self) -> ComposeResult:
        yield self._label
        yield self.input

    def show_error(self, message: str | None) -> None:
        if message != self._shown_error:  # most keystrokes change no error: no re-layout
            self._shown_error = message
            self.error.update(escape(message or ""))
            self.error.display = bool(message)


class LayerForm(VerticalScroll):
    class Edited(Message):
        """The text of a field changed (every keystroke). ``target`` is the layer (or the
        model) of the row it was typed in: by the time this is handled, the form may show
        another layer (keys come faster than the screen), and the edit still belongs to its own."""

        def __init__(self, row: FieldRow, text: str) -> None:
            super().__init__()
            self.row, self.target, self.field, self.text = row, row.target, row.input.name, text

        @property
        def superseded(self) -> bool:
            """The row's text changed since (a later keystroke, undo, a fix): this edit is old."""
            return self.row.input.value != self.text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target: Hashable | None = None  # ("model",) or (layer index, type)
        self.rows: dict[str, FieldRow] = {}
        self._parse_errors: dict[str, str] = {}
        self._title = Static("", classes="form-title")

    def compose(self) -> ComposeResult:
        yield self._title

    # --- showing a target ---

    def _rebuild(self, target: Hashable, title: str, rows: list[FieldRow]) -> None:
        for row in self.rows.values():
            row.error.remove()
            row.remove()
        self.target, self.rows, self._parse_errors = target, {}, {}
        self._title.update(title)
        for row in rows:
            self.rows[row.input.name] = row
            self.mount(row, row.error)

    def _refill(self, values: dict[str, str]) -> None:
        """Put the model's values back in the fields (after undo, a fix, another file)."""
        self._parse_errors.clear()
        for name, text in values.items():
            field = self.rows[name].input
            if field.value != text:
                with field.prevent(Input.Changed):
                    field.value = text

    def show_layer(self, index: int | str, report: LayerReport, args: dict[str, Any], refill: bool) -> None:
        """``index``: the layer's number, or its module name inside a block (``3.body.1``)."""
        ltype = LAYER_TYPES.get(report.type)
        if report.is_block:
            self._rebuild(
                (index, report.type), f"[b]{index}: {escape(block_call(report))}[/b]\n[dim]{BLOCK_KEYS}[/dim]", []
            )
            return
        if ltype is None:
            self._rebuild((index, report.type), f"[b]{index}: {escape(report.type)}[/b]  unknown layer type", [])
            return
        values = {f.name: show_value(args.get(f.name)) for f in ltype.fields}
        target = (index, report.type)
        if target != self.target:
            rows = [FieldRow(target, f.name, values[f.name], "", f.help) for f in ltype.fields]
            self._rebuild(target, f"[b]{index}: {report.type}[/b]  [dim]{escape(ltype.summary)}[/dim]", rows)
        elif refill:
            self._refill(values)
        for field in ltype.fields:
            self.rows[field.name].input.placeholder = self._placeholder(field, report)
        self._show_errors(report.diagnostics)

    @staticmethod
    def _placeholder(field, report: LayerReport) -> str:
        if field.inferred:
            inferred = report.args.get(field.name)
            return f"{inferred} (inferred)" if inferred is not None else "inferred"
        if field.required:
            return "required"
        return "None" if field.default is None else show_value(field.default)

    def show_model(self, spec: ModelSpec, refill: bool, hint: str = "") -> None:
        classes = last_linear(spec)
        values = {
            "name": spec.name,
            "input": show_value(tuple(spec.input_shape)),
            "classes": show_value(spec.layers[classes].args.get("out_features")) if classes is not None else "",
        }
        if self.target != ("model",):
            rows = [FieldRow(("model",), name, values[name], hint, hint) for name, hint in MODEL_FIELDS]
            self._rebuild(("model",), f"[b]Model[/b]  input shape and classes\n[dim]{escape(hint)}[/dim]", rows)
        elif refill:
            self._refill(values)
        self.rows["classes"].input.placeholder = "add a Linear first (l)" if classes is None else "classes"
        self._show_errors(())

    # --- errors ---

    def set_parse_error(self, field: str, message: str | None) -> None:
        """The text in ``field`` does not parse (message) or does again (None)."""
        if message:
            self._parse_errors[field] = message
        else:
            self._parse_errors.pop(field, None)
        self.rows[field].show_error(message)

    def _show_errors(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        by_field = {}
        for diagnostic in diagnostics:
            by_field.setdefault(diagnostic.field, diagnostic.message)
        for name, row in self.rows.items():
            row.show_error(self._parse_errors.get(name) or by_field.get(name))

    # --- focus and events ---

    def focus_first_field(self) -> None:
        """The first argument a person sets: skip the inferred ones."""
        ltype = LAYER_TYPES.get(self.target[1]) if self.target and self.target != ("model",) else None
        skip = {f.name for f in ltype.fields if f.inferred} if ltype else set()
        for name, row in self.rows.items():
            if name not in skip:
                focus_now(row.input)
                return

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        row = event.input.parent
        if isinstance(row, FieldRow):
            self.post_message(self.Edited(row, event.value))
