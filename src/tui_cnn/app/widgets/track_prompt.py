"""Asks which nn.Module to track, MODULE:ATTR imported from the current directory or an
installed package, and the input shape to trace it with (most models want 3,224,224); then
shows the progress of importing, building and tracing it, which escape cancels."""

from __future__ import annotations

import time
from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import Input, Label, Static

from ...domain.spec import parse_input_shape
from ..focus import focus_now
from .dialog import Dialog
from .typed_input import TypedInput

Choice = tuple[str, tuple[int, int, int]]


class TrackPrompt(Dialog[Choice | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, input_shape: tuple[int, ...] = (3, 224, 224)) -> None:
        super().__init__()
        self.input_shape = input_shape

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]Track your own nn.Module[/b]")
            yield Static(
                "MODULE:ATTR — a class with a no-argument constructor, or a function returning a "
                "module; from the current directory or an installed package. Importing it runs its code."
            )
            yield TypedInput(placeholder="mymodel:Net or torchvision.models:resnet18", id="target")
            yield Label("Input shape C,H,W")
            yield TypedInput(
                ",".join(map(str, self.input_shape)),
                placeholder="3,224,224",
                id="track-input-shape",
                restrict=r"[0-9, x]*",
                max_length=24,
            )
            yield Static(id="prompt-error")
            yield Static("[dim]enter tracks · tab moves · escape cancels[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        target = self.query_one("#target", Input).value.strip()
        if not target:
            focus_now(self.query_one("#target", Input))
            return self._error("give MODULE:ATTR, e.g. torchvision.models:resnet18")
        try:
            shape = parse_input_shape(self.query_one("#track-input-shape", Input).value)
        except ValueError as exc:
            focus_now(self.query_one("#track-input-shape", Input))
            return self._error(str(exc))
        self.dismiss((target, shape))

    def _error(self, message: str) -> None:
        self.query_one("#prompt-error", Static).update(f"[$text-error]✗ {message}[/]")


class TrackProgress(Dialog[None]):
    """While a user's module is imported, built and traced in its child process: what it is
    doing and for how long. Escape stops it (the process is killed: its code may never return)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, cancel: Callable[[], None]) -> None:
        super().__init__()
        self.target = target
        self.cancel = cancel
        self.stage = "starting"
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"[b]Tracking {escape(self.target)}[/b]")
            yield Static(id="track-stage")
            yield Static("[dim]escape cancels (its process is stopped)[/dim]")

    def on_mount(self) -> None:
        self._paint()
        self.set_interval(0.5, self._paint)

    def show_stage(self, stage: str) -> None:
        self.stage = stage
        if self.is_mounted:
            self._paint()

    def _paint(self) -> None:
        elapsed = time.monotonic() - self.started
        self.query_one("#track-stage", Static).update(f"{escape(self.stage)}… {elapsed:.0f} s")

    def action_cancel(self) -> None:
        self.cancel()  # the worker waiting for it hears of it and closes this dialog
