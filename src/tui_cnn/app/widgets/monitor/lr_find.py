"""LR find (`f` on the monitor): the learning-rate range test for the model and the setup's
dataset and optimizer, its curve plotted, the suggestion marked; `y` puts the suggestion in
the form's learning-rate field.

The test trains, so it runs as `tui-cnn lr-find --json` in a child process (the app itself
never loads torch to train nor touches CUDA); closing the dialog ends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, Static
from textual_plotext import PlotextPlot

from ....domain.spec import ModelSpec
from ....domain.specfile import dumps_spec
from ....domain.train_config import TrainConfig
from ..dialog import Dialog

#: Batches the app's test runs at most (the command line's default is 200): an answer in seconds.
BATCHES = 100
#: The settings the range test reads, passed to it as command-line options.
PASSED = (
    "dataset",
    "data_dir",
    "resize",
    "batch_size",
    "optimizer",
    "momentum",
    "weight_decay",
    "label_smoothing",
    "val_fraction",
    "seed",
    "device",
)


class RangeTested(Message):
    def __init__(self, result: dict | None, problem: str = "") -> None:
        super().__init__()
        self.result, self.problem = result, problem


def lr_find_command(spec_path: str, config: TrainConfig) -> list[str]:
    """The child's command line: this interpreter, no working-directory imports (-P)."""
    options = [
        f"--{name.replace('_', '-')}={getattr(config, name)}" for name in PASSED if getattr(config, name) is not None
    ]
    return [
        sys.executable,
        "-P",
        "-m",
        "tui_cnn",
        "lr-find",
        spec_path,
        *options,
        *(["--nesterov"] if config.nesterov else []),
        f"--batches={BATCHES}",
        "--json",
    ]


class LrFindScreen(Dialog[float | None]):
    DEFAULT_CSS = """
    LrFindScreen #dialog { width: 90%; height: 90%; }
    LrFindScreen PlotextPlot { height: 1fr; min-height: 8; }
    LrFindScreen #lr-result { height: auto; }
    """
    BINDINGS = [Binding("y", "use", "Use it"), Binding("n,escape", "cancel", "Cancel")]

    def __init__(self, spec: ModelSpec, config: TrainConfig) -> None:
        super().__init__()
        self.spec, self.config = spec, config
        self.suggestion: float | None = None
        self._child: subprocess.Popen | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"[b]LR find[/b] · {self.spec.name} · {self.config.optimizer} · {self.config.dataset}")
            yield Static(
                f"training a throwaway copy of the model while the learning rate grows (up to {BATCHES} batches)…",
                id="lr-result",
            )
            yield PlotextPlot(id="lr-plot")
            with Horizontal(id="buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button("Use it (y)", id="use", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._run()

    def on_unmount(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()

    @work(thread=True, exclusive=True)
    def _run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="tui-cnn-lr-find-") as folder:
            spec_path = Path(folder) / "model.toml"
            spec_path.write_text(dumps_spec(self.spec))
            try:
                self._child = subprocess.Popen(
                    lr_find_command(str(spec_path), self.config),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=folder,
                )
                out, err = self._child.communicate()
            except OSError as exc:
                self.post_message(RangeTested(None, f"could not start the test: {exc}"))
                return
        if self._child.returncode not in (0, 1):
            lines = [line for line in err.splitlines() if line.strip()]
            self.post_message(RangeTested(None, lines[-1] if lines else f"the test ended ({self._child.returncode})"))
            return
        try:
            self.post_message(RangeTested(json.loads(out)))
        except ValueError:
            self.post_message(RangeTested(None, "the test's output could not be read"))

    def on_range_tested(self, message: RangeTested) -> None:
        shown = self.query_one("#lr-result", Static)
        if message.result is None:
            shown.update(f"✗ {message.problem}")
            return
        result = message.result
        self.suggestion = result.get("suggestion")
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.xscale("log")
        plt.plot(result["lrs"], result["losses"], marker="braille", label="smoothed loss")
        if result["losses"]:
            plt.ylim(min(result["losses"]), result["losses"][0] * 1.5)
        if self.suggestion is not None:
            plt.vline(self.suggestion, "red")
        if result.get("minimum") is not None:
            plt.vline(result["minimum"], "gray")
        plt.xlabel("learning rate (log)")
        plot.refresh()
        if self.suggestion is None:
            shown.update("no descent of the loss was found: try another optimizer or batch size")
            return
        shown.update(
            f"suggested learning rate [b]{self.suggestion:.2g}[/b] (red: steepest descent of the loss; "
            f"gray: its lowest, {result['minimum']:.2g}). A starting point, not a tuned value."
        )
        use = self.query_one("#use", Button)
        use.label = f"Use {self.suggestion:.2g} (y)"
        use.disabled = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "use":
            self.action_use()
        else:
            self.action_cancel()

    def action_use(self) -> None:
        if self.suggestion is not None:
            self.dismiss(self.suggestion)

    def action_cancel(self) -> None:
        self.dismiss(None)
