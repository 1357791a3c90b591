"""Two bars (the whole run in epochs, the current epoch in batches) with counts, elapsed
time and ETA, and a line with the smoothed loss, images/s and learning rate."""

from __future__ import annotations

import math
from typing import Optional

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar

from ....domain.format import compact
from ....domain.run_state import RunState
from .repaint import TickerText
from .text import duration, eta, learning_rate

STATUS_WORDS = {
    "idle": "no run yet: set one up (s) and start it (r), or open a run directory (o)",
    "starting": "starting (loading torch and the data)…",
    "running": "training",
    "paused": "PAUSED (p resumes)",
    "stopping": "stopping after this batch…",
    "finished": "finished",
    "stopped": "stopped (checkpoint kept)",
    "failed": "FAILED",
    "crashed": "CRASHED",
    "loaded": "read from its files (no events to follow)",
}


class QuietProgressBar(ProgressBar):
    """A progress bar that repaints only when it reads differently. Textual's own ETA (not
    shown: the label beside the bar says it, rounded) is a number of seconds recomputed every
    second and at every update, and each change repainted the whole bar, bar and percentage
    unchanged: bytes over SSH and CPU taken from training, for nothing on screen."""

    _display_eta: reactive[int | None] = reactive[Optional[int]](None, repaint=False)


class RunProgress(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(classes="bar-row"):
            yield Label("Run  ", classes="bar-name")
            yield QuietProgressBar(total=1, show_eta=False, id="run-bar")
            yield TickerText("", id="run-info", classes="bar-info", markup=False)
        with Horizontal(classes="bar-row"):
            yield Label("Epoch", classes="bar-name")
            yield QuietProgressBar(total=1, show_eta=False, id="epoch-bar")
            yield TickerText("", id="epoch-info", classes="bar-info", markup=False)
        yield TickerText("", id="run-stats", markup=False)

    def show(self, state: RunState, now: float, *, details: bool = True) -> None:
        """The run's bar and clock; with ``details`` the epoch's line and the stats too (a
        calm monitor moves them less often than its clock: domain.watch_pace)."""
        self._show_run(state, now)
        if details:
            self._show_epoch(state)
            self._show_stats(state)

    def _show_run(self, state: RunState, now: float) -> None:
        total = max(state.epochs_total, 1)
        done = float(state.epochs_done)
        batch = state.batch
        if batch is not None and batch.epoch > state.epochs_done:
            done += batch.batch / max(batch.batches, 1)
        if state.status in ("finished", "loaded") and state.epochs_done >= state.epochs_total:
            done = total
        # in whole percents, as the bar shows it: a value that moved less changes nothing on
        # screen, and an unchanged value is not repainted (nor sent over SSH)
        done = math.floor(done / total * 100) / 100 * total
        self.query_one("#run-bar", ProgressBar).update(total=total, progress=done)
        elapsed = state.elapsed_s(now)
        trained_from = state.start_epoch - 1  # a resumed run's earlier epochs took no time here
        left = eta(elapsed, done - trained_from, total - trained_from) if state.active else None
        self.query_one("#run-info", TickerText).show(
            f"{state.epochs_done}/{state.epochs_total} epochs done  elapsed {duration(elapsed)}"
            + (f"  ETA {duration(left)}" if state.active else "")
        )

    def _show_epoch(self, state: RunState) -> None:
        batch = state.batch
        bar = self.query_one("#epoch-bar", ProgressBar)
        info = self.query_one("#epoch-info", TickerText)
        if state.status == "loaded" or (batch is None and state.epochs):
            bar.update(total=1, progress=1)
            info.show(f"epoch {state.current_epoch} done")
            return
        if batch is None:
            bar.update(total=max(state.batches_per_epoch, 1), progress=0)
            info.show(f"0/{state.batches_per_epoch} batches" if state.batches_per_epoch else "")
            return
        bar.update(total=batch.batches, progress=batch.batch)
        left = eta(batch.elapsed_s, batch.batch, batch.batches) if state.active else None
        info.show(
            f"epoch {batch.epoch}: batch {batch.batch}/{batch.batches}  "
            f"elapsed {duration(batch.elapsed_s)}" + (f"  ETA {duration(left)}" if state.active else "")
        )

    def _show_stats(self, state: RunState) -> None:
        stats = self.query_one("#run-stats", TickerText)
        stats.set_class(state.status in ("failed", "crashed"), "-failed")
        stats.set_class(state.status == "paused", "-paused")
        words = STATUS_WORDS[state.status]
        if state.status in ("failed", "crashed") and state.failure:
            words = f"{words}: {state.failure}"
        batch = state.batch
        if batch is None or state.status in ("failed", "crashed"):
            if str(stats.content) != words:  # a failure's words may wrap: lay the screen out again
                stats.update(words, layout=True)
            return
        stats.show(
            f"loss {batch.smoothed_loss:.4f} (smoothed)  {compact(round(batch.images_per_s))} img/s  "
            f"lr {learning_rate(batch.lr)}  · {words}"
        )
