"""The training monitor: set up a run, watch it train live, and read its evaluation; or
open a finished run's directory.

Processes and threads: the engine trains in a child process (``backend.train_process``;
torch never loads in the app for training, and the UI's redraws never hold a GIL the
training needs). A thread worker relays the child's events onto a queue; a timer drains the
queue a few times a second and redraws once per drain, so the UI's cost is bounded however
fast batches go by. Stop, pause and resume are lines to the child.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog, TabbedContent, TabPane
from textual.worker import get_current_worker

from ...domain.datasets import default_dataset
from ...domain.spec import ModelSpec
from ...domain.training import (EpochEnd, Evaluated, Failed, Finished, LogMessage, Paused, Resumed, RunStarted,
                                Stopped, TrainConfig, TrainingEvent, validation_source)
from ..widgets.confirm import ConfirmScreen
from ..widgets.monitor.device_panel import DevicePanel
from ..widgets.monitor.epoch_table import EpochTable
from ..widgets.monitor.evaluation import EvaluationPanel, MisclassifiedDigits
from ..widgets.monitor.open_run import OpenRunScreen
from ..widgets.monitor.plots import BatchLossPlot, EpochCurves
from ..widgets.monitor.progress import RunProgress
from ...domain.run_state import RunState
from ..widgets.monitor.setup_form import RunSetupForm
from ..widgets.monitor.text import duration, percent

# Redraws while training: each costs the UI ~15 ms of CPU that torch would otherwise use
# (measured: ~8% of a core at 8/s, ~6% at 4/s on a 2-core box); 4/s still reads as live.
REDRAWS_PER_S = 4
GPU_POLL_S = 2.0
STOP_WAIT_S = 30.0  # how long leaving the app waits for the trainer to stop


class DeviceDescribed(Message):
    def __init__(self, device: str, info) -> None:  # info: backend.devices.DeviceProbe
        super().__init__()
        self.device, self.info = device, info


class GpuPolled(Message):
    def __init__(self, stats: list) -> None:  # backend.devices.GpuStats | None of each GPU polled
        super().__init__()
        self.stats = stats


class MonitorScreen(Screen):
    CSS_PATH = "monitor.tcss"
    BINDINGS = [
        Binding("r", "start_run", "Start"),
        Binding("x", "stop_run", "Stop"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("o", "open_run", "Open run"),
        Binding("s", "show_tab('setup')", "Setup"),
        Binding("t", "show_tab('training')", "Training"),
        Binding("e", "show_tab('evaluation')", "Evaluation"),
        Binding("l", "show_tab('log')", "Log"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = RunState()
        self._events: queue.SimpleQueue[TrainingEvent] = queue.SimpleQueue()
        self._trainer = None  # backend.train_process.TrainingProcess while a run is live
        self._trainer_lock = threading.Lock()
        self._stop_requested = False
        self._trainer_done: threading.Event | None = None
        self._shown_evaluation = None

    # --- layout ---

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunProgress(id="progress")
        yield DevicePanel(id="device")
        with TabbedContent(initial="setup"):
            with TabPane("Setup", id="setup"):
                yield RunSetupForm(self._form_defaults())
            with TabPane("Training", id="training"):
                yield EpochTable(id="epochs")
                with Horizontal(id="plots"):
                    yield EpochCurves("loss", ("loss per epoch", "loss"), id="loss-curves")
                    yield EpochCurves("acc", ("accuracy per epoch (%)", "accuracy %"), id="acc-curves")
                    yield BatchLossPlot(("loss per batch, this epoch", "batch loss"), id="batch-loss")
            with TabPane("Evaluation", id="evaluation"):
                yield EvaluationPanel()
            with TabPane("Log", id="log"):
                yield RichLog(id="log-pane", wrap=True, markup=False, highlight=False)
        yield Footer()

    def _form_defaults(self) -> TrainConfig:
        if self.app.train_config is not None:
            return self.app.train_config
        return TrainConfig(dataset=default_dataset(None)[0], batch_size=self.app.batch_size)

    def on_mount(self) -> None:
        self._redraw()
        self.set_interval(1 / REDRAWS_PER_S, self._drain_events)
        self._gpu_timer = self.set_interval(GPU_POLL_S, self._poll_gpu)
        self._poll_gpu()
        if self.app.train_config is not None:
            self.start_run(self.app.train_config)
        elif self.app.run_dir is not None:
            self.load_run(self.app.run_dir)

    # --- starting, stopping, pausing ---

    def action_start_run(self) -> None:
        self.query_one(RunSetupForm).request_start()

    def on_run_setup_form_start_requested(self, message: RunSetupForm.StartRequested) -> None:
        config = message.config
        if self.state.active:
            self.notify("A run is in progress: stop it (x) first.", severity="warning")
            return
        warning = self.query_one(RunSetupForm).memory_warning(config)
        if warning is None:
            self.start_run(config)
            return

        def decided(start: bool | None) -> None:
            if start:
                self.start_run(config)

        self.app.push_screen(ConfirmScreen("It will probably not fit in memory", warning, confirm="Start anyway"),
                             decided)

    def start_run(self, config: TrainConfig, spec: ModelSpec | None = None) -> None:
        """Train ``spec`` (the app's current model) with ``config`` in a child process."""
        spec = spec or self.app.spec
        self.state = RunState(status="starting", model=spec.name, dataset=config.dataset,
                              epochs_total=config.epochs, started_at=time.time())
        self._stop_requested = False
        self._trainer_done = threading.Event()
        self._log(f"starting {spec.name} on {config.dataset}: {config.epochs} epochs, batch size "
                  f"{config.batch_size}, {config.optimizer} lr {config.lr:g}, {config.schedule}, device {config.device}"
                  + (f" x {config.nproc_per_node} processes (torchrun)" if config.nproc_per_node > 1 else ""))
        self._redraw()
        self.action_show_tab("training")
        self._train(spec, config, self._trainer_done)

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _train(self, spec: ModelSpec, config: TrainConfig, done: threading.Event) -> None:
        try:
            from ...backend.train_process import TrainingProcess

            trainer = TrainingProcess(spec, config, self._events.put)
            with self._trainer_lock:
                self._trainer = trainer
                if self._stop_requested or get_current_worker().is_cancelled:
                    trainer.stop()
            trainer.run()
        except Exception as exc:  # noqa: BLE001 - the engine reports its failures; this is the process failing to start
            self._events.put(Failed(f"could not start training: {type(exc).__name__}: {exc}"))
        finally:
            with self._trainer_lock:
                self._trainer = None
            done.set()

    def action_stop_run(self) -> None:
        if not self.state.active:
            self.notify("No run to stop.", severity="warning")
            return
        self._stop_training()
        self.state.status = "stopping"
        self._log("stopping after the current batch (the checkpoint is kept)…")
        self._redraw()

    def _stop_training(self) -> None:
        with self._trainer_lock:
            self._stop_requested = True
            if self._trainer is not None:
                self._trainer.stop()

    def action_toggle_pause(self) -> None:
        trainer = self._trainer
        if trainer is None or self.state.status not in ("running", "paused"):
            self.notify("No run to pause.", severity="warning")
            return
        if trainer.paused:
            trainer.resume()
            self._log("resuming…")
        else:
            trainer.pause()
            self._log("pausing after the current batch…")

    def quit_warning(self) -> str | None:
        if not self.state.active:
            return None
        return (f"Training {self.state.model} is running (epoch {self.state.current_epoch}/"
                f"{self.state.epochs_total}): quitting stops it; the last checkpoint is kept.")

    async def on_unmount(self) -> None:
        """Leaving the app stops the run and waits for the training process to end."""
        self._stop_training()
        if self._trainer_done is not None:
            await asyncio.to_thread(self._trainer_done.wait, STOP_WAIT_S)

    # --- events from the trainer, drained a few times a second ---

    def _drain_events(self) -> None:
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        if not events and not self.state.active:
            return
        now = time.time()
        for event in events:
            self.state.apply(event, now)
            self._react(event)
        self._redraw(now)

    def _react(self, event: TrainingEvent) -> None:
        """What an event changes beyond the state: the log, the device, a notification."""
        if isinstance(event, RunStarted):
            self.app.latest_run_dir = event.run_dir
            self.query_one(DevicePanel).show_device(event.device, event.device_name, processes=event.processes)
            source = validation_source(float(event.config.get("val_fraction", 0) or 0))
            self._log(f"started: {event.params:,} parameters, {event.train_size:,} training / {event.val_size:,} "
                      f"validation images ({source}) on {event.device_name}; run directory {event.run_dir}")
        elif isinstance(event, EpochEnd):
            m = event.metrics
            saved = "checkpoint-last.pt" + (" and checkpoint-best.pt" if event.best else "")
            self._log(f"epoch {m.epoch}: train loss {m.train_loss:.4f}, val acc {percent(m.val_acc)}"
                      f"{' (best)' if event.best else ''}; saved {saved}")
        elif isinstance(event, Evaluated):
            self._log(f"evaluated once on the {event.evaluation.split} split: accuracy "
                      f"{percent(event.evaluation.accuracy)}")
        elif isinstance(event, Finished):
            self._log(f"finished in {duration(event.total_time_s)}: best epoch {event.best_epoch} "
                      f"(val acc {percent(event.best_val_acc)})")
            self.notify(f"{self.state.model} finished: test accuracy "
                        f"{percent(self.state.evaluation.accuracy) if self.state.evaluation else '--'}")
            self.action_show_tab("evaluation")
        elif isinstance(event, Stopped):
            self._log(f"stopped in epoch {event.epoch}; checkpoint kept: {event.checkpoint}")
        elif isinstance(event, Failed):
            where = f" (step {event.step})" if event.step is not None else ""
            self._log(f"FAILED{where}: {event.reason}", "error")
            self.notify(event.reason, title="Training failed", severity="error", timeout=10)
        elif isinstance(event, (Paused, Resumed)):
            self._log("paused" if isinstance(event, Paused) else "resumed")
        elif isinstance(event, LogMessage):
            self._log(event.message, event.level)

    def _redraw(self, now: float | None = None) -> None:
        state = self.state
        now = time.time() if now is None else now
        self.query_one(RunProgress).show(state, now)
        self.query_one(EpochTable).show(state.epochs, state.best_epoch)
        self.query_one(BatchLossPlot).show(state.current_epoch, state.batch_losses, now)
        for curves in self.query(EpochCurves):
            curves.show(state.epochs)
        self.query_one(DevicePanel).show_peak(state.peak_mem_bytes)
        if state.evaluation is not self._shown_evaluation:
            self._shown_evaluation = state.evaluation
            self.query_one(EvaluationPanel).show(state.evaluation)
        self.sub_title = self._subtitle()

    def _subtitle(self) -> str:
        state = self.state
        if state.status == "idle":
            return "Train"
        return f"Train · {state.model} on {state.dataset} · {state.status}"

    def _log(self, message: str, level: str = "info") -> None:
        style = {"warning": "bold yellow", "error": "bold red"}.get(level, "")
        stamp = time.strftime("%H:%M:%S ") if self.state.status != "loaded" else ""
        self.query_one("#log-pane", RichLog).write(Text(stamp + message, style=style))

    # --- the device: free memory for the form, NVML statistics while it lasts ---

    def on_run_setup_form_device_chosen(self, message: RunSetupForm.DeviceChosen) -> None:
        self._describe_device(message.device)

    @work(thread=True, group="device", exit_on_error=False)
    def _describe_device(self, device: str) -> None:
        """NVML and the OS, never torch: the app must not load torch nor open a CUDA context."""
        from ...backend.devices import DeviceProbe, probe_device

        try:
            probe = probe_device(device)
        except Exception as exc:  # noqa: BLE001 - an odd OS: say so, keep the form usable
            probe = DeviceProbe(device, None, f"cannot describe {device} here ({exc})")
        self.post_message(DeviceDescribed(device, probe))

    def on_device_described(self, message: DeviceDescribed) -> None:
        probe, info = message.info, message.info.info
        self.query_one(RunSetupForm).show_device(message.device, info.free_bytes if info else None, probe.problem)
        if info is not None and self.state.status == "idle":
            self.query_one(DevicePanel).show_device(info.kind, info.name, info.free_bytes)

    def _poll_gpu(self) -> None:
        """The training GPU, or every GPU a live run on several uses (its ranks take CUDA
        devices 0..N-1)."""
        state = self.state
        self._read_gpu(state.processes if state.active and state.device == "cuda" else 1)

    @work(thread=True, exclusive=True, group="gpu", exit_on_error=False)
    def _read_gpu(self, count: int) -> None:
        from ...backend.devices import gpu_stats, training_gpus

        self.post_message(GpuPolled([gpu_stats(index) for index in training_gpus(count)]))

    def on_gpu_polled(self, message: GpuPolled) -> None:
        if message.stats[0] is None:
            self._gpu_timer.stop()  # no NVIDIA GPU here: nothing to poll
            return
        if self.state.status != "loaded":  # a run from disk ran elsewhere: this GPU says nothing of it
            self.query_one(DevicePanel).show_gpus([stats for stats in message.stats if stats is not None])

    # --- finished runs, from disk ---

    def action_open_run(self) -> None:
        self.app.push_screen(OpenRunScreen(), lambda path: self.load_run(path) if path else None)

    def load_run(self, run_dir: str) -> None:
        if self.state.active:
            self.notify("A run is in progress: stop it (x) before opening another.", severity="warning")
            return
        try:
            state = RunState.from_run_dir(run_dir)
        except ValueError as exc:  # RunFileError: config.json missing or corrupted, in one line
            self.notify(str(exc), title="Cannot open run", severity="error", markup=False)
            return
        self.state = state
        self.app.latest_run_dir = run_dir
        panel = self.query_one(DevicePanel)
        panel.show_gpus([])
        panel.show_device(state.device, state.device_name, processes=state.processes)
        self._log(f"opened {run_dir}: {len(state.epochs)} epochs"
                  + ("" if state.evaluation else ", no evaluation (the run did not finish)"))
        for problem in state.problems[:5]:
            self._log(f"skipped: {problem}")
        if state.problems:
            self.notify(f"{len(state.problems)} unreadable part(s) of {run_dir} skipped (see the log)",
                        severity="warning")
        self._redraw()
        self.action_show_tab("training")

    def on_misclassified_digits_chosen(self, message: MisclassifiedDigits.Chosen) -> None:
        """A misclassified digit of the evaluation, opened on Inspect."""
        self.app.inspect(self.state.run_dir, message.example.image, message.example.true)

    def action_show_tab(self, tab: str) -> None:
        """Show a tab. Focus left in a now hidden pane is dropped (it would switch back to its
        pane); otherwise the focus stays put, since a focus change rebuilds the footer and
        tab switches are meant to be instant."""
        tabs = self.query_one(TabbedContent)
        tabs.active = tab
        focused = self.focused
        if focused is not None and tabs.get_pane(tab) not in focused.ancestors:
            self.set_focus(None)

    def action_leave_field(self) -> None:
        self.set_focus(None)
