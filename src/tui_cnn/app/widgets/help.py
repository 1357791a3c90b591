"""The ? screen: every key of the screen underneath, of the app, and of the focused widget,
with what it does. Read from Textual's public ``Screen.active_bindings`` (what the footer and
Textual's key panel use), grouped with the screen's own keys first: a table's cursor keys
would otherwise push them out of an 80x24 terminal."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Static

from .dialog import Dialog

#: Keys every Textual screen has: listed last, after the keys of this app.
_TEXTUAL_ACTIONS = {
    "app.focus_next",
    "app.focus_previous",
    "focus_next",
    "focus_previous",
    "screen.copy_text",
    "copy_text",
    "command_palette",
    "app.command_palette",
}


#: What a person calls the widget whose keys a section lists, by its class or the nearest base
#: class named here (class names such as "contenttabs" meant nothing to a user).
WIDGET_NAMES = {
    "LayerTable": "layer table",
    "StackTable": "layer stack",
    "RunTable": "run list",
    "EpochTable": "epoch table",
    "DigitCard": "digit",
    "DigitCanvas": "drawing",
    "MisclassifiedDigits": "misclassified digits",
    "ConfusionGrid": "confusion matrix",
    "DataTable": "table",
    "Tabs": "tab bar",
    "Input": "text box",
    "SelectOverlay": "drop-down list",
    "Select": "drop-down",
    "OptionList": "list",
    "Button": "button",
    "TextArea": "text area",
    "Log": "log",
    "RichLog": "log",
    "Tree": "tree",
    "Checkbox": "checkbox",
    "Switch": "switch",
    "ScrollableContainer": "scrolling view",
}


def widget_name(node: object) -> str:
    for klass in type(node).__mro__:
        if klass.__name__ in WIDGET_NAMES:
            return WIDGET_NAMES[klass.__name__]
    return "focused widget"


def _title(node: object, under: Screen) -> str:
    if node is under:
        return f"{under.__class__.__name__.removesuffix('Screen')} keys"
    if node is under.app:
        return "Everywhere"
    return f"In the {widget_name(node)}"


class HelpScreen(Dialog[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    # Focused when shown, if still there: "? escape" in one read closed the screen before it
    # mounted, and focusing the list in on_mount found nothing (NoMatches, the app died).
    AUTO_FOCUS = "#help-keys"

    def __init__(self, under: Screen) -> None:
        super().__init__()
        # Read now: once this modal is on top, the app's screen keys are disabled (a dialog
        # owns the keyboard) and would not be listed.
        self._sections = self._group(under, under.active_bindings.values())
        self._name = under.__class__.__name__.removesuffix("Screen")

    def _group(self, under: Screen, active: object) -> list[tuple[str, list[tuple[str, str]]]]:
        by_node: dict[int, tuple[str, list[tuple[str, str]], list[str]]] = {}
        for item in active:
            item: ActiveBinding
            binding = item.binding
            if binding.system or not binding.description:
                continue
            node = "textual" if binding.action in _TEXTUAL_ACTIONS else id(item.node)
            title = "Textual" if node == "textual" else _title(item.node, under)
            title, rows, seen = by_node.setdefault(node, (title, [], []))
            what = binding.description + (f" — {binding.tooltip}" if binding.tooltip else "")
            key = under.app.get_key_display(binding)
            if binding.action in seen:  # one line an action: "del backspace  Delete"
                index = seen.index(binding.action)
                rows[index] = (f"{rows[index][0]} {key}", rows[index][1])
                continue
            seen.append(binding.action)
            rows.append((key, what))
        order = {"Everywhere": 1, "Textual": 3}
        sections = [(title, rows) for title, rows, _ in by_node.values()]
        return sorted(sections, key=lambda section: order.get(section[0], 2 if section[0].startswith("In the") else 0))

    def keys_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column()
        for title, rows in self._sections:
            table.add_row("", Text(title, style="bold underline"))
            for key, what in rows:
                table.add_row(key, what)
            table.add_row("", "")
        return table

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"[b]{self._name} — keys[/b]  [dim]escape closes · arrows scroll[/dim]")
            with VerticalScroll(id="help-keys"):
                yield Static(self.keys_table())
