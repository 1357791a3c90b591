"""Compare runs: each metric's epoch curves of every run overlaid in one plot (a colour and a
legend entry per run), and the runs' settings side by side, the rows that differ marked.

Pushed over the current screen by ``TuiCnnApp.compare(run_dirs)`` (the Runs screen, or
``tui-cnn compare``); escape goes back.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from ...domain.compare import CURVES, Comparison, compare_runs
from ...domain.format import cut
from ..widgets.keys_footer import KeysFooter
from ..widgets.monitor.plots import _Plot
from ..widgets.ready import KeysWaitForMount

#: What marks a row whose values differ between the runs (not by colour alone).
DIFFERS_MARK = "≠"
#: Legend entries longer than this are cut (a run directory's name is date, time and model).
LEGEND_WIDTH = 24
#: The settings table's columns: a run named by a whole path stays readable beside the others.
LABEL_WIDTH = 32


def run_names(comparison: Comparison) -> list[str]:
    """How the plots' legends and the table's columns name each run: its number and label."""
    return [f"{number} {cut(run.label, LABEL_WIDTH)}" for number, run in enumerate(comparison.runs, 1)]


class RunCurves(_Plot):
    """One metric per epoch, a curve per run, each run in the same colour in every plot."""

    def show(self, comparison: Comparison, metric: str) -> None:
        series = []
        for name, run in zip(run_names(comparison), comparison.runs):
            xs, ys = run.curve(metric)
            series.append((xs, ys, cut(name, LEGEND_WIDTH)))
        epochs = sorted({x for xs, _, _ in series for x in xs})
        every = max(len(epochs) // 8, 1)  # whole epochs only, at most ~8 labels
        self._draw((id(comparison), metric), series, "epoch", epochs[::every])


class CompareScreen(KeysWaitForMount, Screen):
    """Two or more runs side by side."""

    DEFAULT_CSS = """
    CompareScreen #compare-summary {
        height: auto;
        max-height: 4;
        padding: 0 1;
        color: $text-muted;
    }
    CompareScreen TabbedContent, CompareScreen ContentSwitcher, CompareScreen TabPane {
        height: 1fr;
    }
    CompareScreen .curves {
        height: 1fr;
    }
    CompareScreen RunCurves {
        width: 1fr;
        height: 1fr;
    }
    CompareScreen #compare-settings {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Close the comparison"),
        Binding("a", "show_tab('accuracy')", "Accuracy"),
        Binding("l", "show_tab('loss')", "Loss"),
        Binding("s", "show_tab('settings')", "Settings"),
    ]

    def __init__(self, run_dirs: list[str]) -> None:
        super().__init__()
        self.run_dirs = list(run_dirs)
        # A handful of small files: read at once, so the first frame already shows them.
        self.comparison = compare_runs(self.run_dirs)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._summary(), id="compare-summary")
        with TabbedContent(initial="accuracy"):
            for tab, title, metrics in (
                ("accuracy", "Accuracy", ("val_acc", "train_acc")),
                ("loss", "Loss", ("val_loss", "train_loss")),
            ):
                with TabPane(title, id=tab):
                    with Horizontal(classes="curves"):
                        for metric in metrics:
                            yield RunCurves(self._titles(metric), id=f"curve-{metric}")
            with TabPane("Settings", id="settings"):
                yield DataTable(id="compare-settings", cursor_type="row", zebra_stripes=False)
        yield KeysFooter()

    @staticmethod
    def _titles(metric: str) -> tuple[str, str]:
        title = dict(CURVES)[metric]
        return f"{title} per epoch", title

    def on_mount(self) -> None:
        self.title = "tui-cnn"
        self.sub_title = f"Compare {len(self.comparison.runs)} runs"
        for metric, _ in CURVES:
            self.query_one(f"#curve-{metric}", RunCurves).show(self.comparison, metric)
        self._fill_settings()

    def _summary(self) -> Text:
        comparison = self.comparison
        text = Text()
        if not comparison.runs:
            text.append("No run could be read.", style="bold")
        else:
            differing = [row.name for row in comparison.differing]
            text.append(f"{len(comparison.runs)} runs; ")
            text.append(f"{DIFFERS_MARK} differ: {', '.join(differing)}" if differing else "same settings")
        for out in comparison.left_out:
            text.append(f"\nleft out: {out.reason}", style="bold")
        for run in comparison.runs:
            if run.problems:
                text.append(
                    f"\n{run.label}: {run.problems[0]}"
                    + (f" (and {len(run.problems) - 1} more)" if len(run.problems) > 1 else "")
                )
        return text

    def _fill_settings(self) -> None:
        """The settings, a column a run. The runs share the width the setting names leave, so
        every run is in view (a long device name or folder once pushed the second run off an
        80-column screen); a value longer than its share is cut with "…"."""
        table = self.query_one("#compare-settings", DataTable)
        table.clear(columns=True)
        names = run_names(self.comparison)
        setting_width = max(len(row.name) for row in self.comparison.rows) if self.comparison.rows else 8
        padding = 2 * table.cell_padding  # each column's, both sides
        room = self.app.size.width - 2 - (1 + padding) - (setting_width + padding)  # 2: the scrollbar's
        share = max(8, room // max(1, len(names)) - padding)
        table.add_column(DIFFERS_MARK, key="mark")
        table.add_column("setting", key="setting")
        for name in names:
            table.add_column(cut(name, share))
        for row in self.comparison.rows:
            style = "bold" if row.differs else ""
            mark = Text(DIFFERS_MARK if row.differs else "", style=style)
            table.add_row(
                mark,
                Text(row.name, style=style),
                *(Text(cut(value, share), style=style) for value in row.values),
                key=row.name,
            )

    def on_resize(self) -> None:
        if self.is_mounted:
            self._fill_settings()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_back(self) -> None:
        self.dismiss()
