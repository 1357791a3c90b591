"""The training monitor: set up a run, watch it train live, and read its evaluation; or
open any run's directory, followed as it grows while the run trains.

Processes: a run trains in a process of its own session (``backend.launch``), never the
app's child in any way that matters: an app killed, hung up or closed leaves it training. The
monitor follows the run's directory, the one owner of a run's state and control: its
``events.jsonl`` (read as it grows, a few times a second, one redraw per read), its lock and
``process.json`` (is it alive?: ``run_status``), and ``control.json`` for stop, pause and resume. So the
monitor that started a run and one attached later (`tui-cnn attach`, `tui-cnn RUN_DIR`, `o`,
the Runs screen) show it the same way, and two apps may watch and steer one run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, RichLog, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from ...domain.datasets import default_dataset
from ...domain.format import binary_bytes, count, local_time, printable, printable_lines
from ...domain.notify import end_notice
from ...domain.run_control import write_control
from ...domain.run_events import (
    BatchProgress,
    EpochEnd,
    Evaluated,
    Failed,
    Finished,
    LogMessage,
    Paused,
    Resumed,
    RunStarted,
    Stopped,
    TrainingEvent,
)
from ...domain.run_files import EventFollower, failure_in_output, last_output_line
from ...domain.run_list import heartbeat, run_status
from ...domain.run_lock import RunLocked
from ...domain.run_records import RunFileError
from ...domain.run_state import RunState
from ...domain.spec import ModelSpec
from ...domain.train_config import TrainConfig, validation_source
from ...domain.watch_pace import WatchPace, watch_pace
from ..session import session
from ..widgets.confirm import ConfirmScreen
from ..widgets.keys_footer import KeysFooter
from ..widgets.monitor.device_panel import DevicePanel
from ..widgets.monitor.epoch_table import EpochTable
from ..widgets.monitor.evaluation import EvaluationPanel, MisclassifiedDigits
from ..widgets.monitor.open_run import OpenRunScreen
from ..widgets.monitor.plots import BatchLossPlot, EpochCurves
from ..widgets.monitor.progress import RunProgress
from ..widgets.monitor.setup_form import RunSetupForm
from ..widgets.monitor.text import duration, percent
from ..widgets.ready import KeysWaitForMount

# Reads of the run's events, each followed by one redraw: a redraw costs the UI CPU that torch
# would otherwise use (measured on a 2-core box: ~8% of a core at 8/s, ~6% at 4/s, and at 4/s
# training ran at 0.915x its headless speed); twice a second still reads as live (W&B's
# terminal view updates less often), and keys repaint at once whatever this is. Nobody at the
# keys, a tick in two is skipped (domain.watch_pace).
REDRAWS_PER_S = 2
#: A timer's tick comes a little late or early: a tick this close to the pace counts as on time.
TICK_SLACK_S = 0.1
#: A followed run's new events up to this size are read on the UI thread (a tick's worth of a
#: live run); more (a long past) is read by a worker.
READ_INLINE_BYTES = 64 * 1024
GPU_POLL_S = 2.0
LIVENESS_EVERY_S = 1.0  # how often a followed run's process is looked for (a kill(pid, 0))


class RunLaunched(Message):
    def __init__(self, launched) -> None:  # backend.launch.Launched
        super().__init__()
        self.launched = launched


class LaunchFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class DeviceDescribed(Message):
    def __init__(self, device: str, info) -> None:  # info: backend.devices.DeviceProbe
        super().__init__()
        self.device, self.info = device, info


class GpuPolled(Message):
    def __init__(self, stats: list) -> None:  # backend.devices.GpuStats | None of each GPU polled
        super().__init__()
        self.stats = stats


class EventsRead(Message):
    """What one read of the followed run's events.jsonl found (read in a thread worker: a
    slow disk or a run's megabytes never hold the UI)."""

    def __init__(
        self, follower: EventFollower, events: list[TrainingEvent], problems: list[str], caught_up: bool
    ) -> None:
        super().__init__()
        self.follower, self.events, self.problems, self.caught_up = follower, events, problems, caught_up


@dataclass
class OpeningRun:
    """A run being opened whose past is read over several ticks."""

    run_dir: str
    files_state: RunState  # what its files say (config, metrics, eval), for a run without events
    skipped: int = 0  # unreadable lines met so far


class MonitorScreen(KeysWaitForMount, Screen):
    CSS_PATH = "monitor.tcss"
    BINDINGS = [
        Binding("r", "start_run", "Start"),
        Binding(
            "q",
            "queue_run",
            "Queue",
            show=False,
            tooltip="Add the run set up here to the box's queue: it starts when the runs queued before it have ended",
        ),
        Binding(
            "S",
            "submit_slurm",
            "SLURM",
            show=False,
            tooltip="Submit the run set up here to SLURM (sbatch) "
            "with the SLURM fields: it trains when the cluster starts it; the Runs screen (4) follows it",
        ),
        Binding("x", "stop_run", "Stop"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("o", "open_run", "Open run"),
        Binding("s", "show_tab('setup')", "Setup"),
        Binding("t", "show_tab('training')", "Training"),
        Binding("e", "show_tab('evaluation')", "Evaluation"),
        Binding("l", "show_tab('log')", "Log"),
        Binding(
            "f",
            "lr_find",
            "LR find",
            show=False,
            tooltip="The learning-rate range test: a learning rate "
            "to start from, for the model and the setup's dataset and optimizer",
        ),
        Binding(
            "d",
            "show_data",
            "Data",
            show=False,
            tooltip="The dataset the setup names: images per class, samples, and the same after augmentation",
        ),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = RunState()
        self._follower: EventFollower | None = None  # the run shown, read as it grows
        self._launched = None  # backend.launch.Launched: the run this screen started, while shown
        self._pending_control: str | None = None  # asked before the run could hear it
        self._replaying = False  # folding an opened run's past events: no notifications
        self._opening: OpeningRun | None = None  # an opened run whose past is still being read
        self._liveness_checked_at = 0.0
        self._ticked_at = float("-inf")  # the last tick that read and redrew (time.monotonic())
        self._details_shown: tuple | None = None  # what the epoch's line last moved for (status, epochs)
        self._details_at = float("-inf")  # and when (time.monotonic())
        self._shown_evaluation = None
        self._stale = False  # a redraw was skipped while another screen covered this one
        self._reading: Worker | None = None  # the read of events.jsonl in flight, until folded

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
        yield KeysFooter()

    def _form_defaults(self) -> TrainConfig:
        if session(self).train_config is not None:
            return session(self).train_config
        return TrainConfig(dataset=default_dataset(None, self.app.spec.input_shape)[0], batch_size=self.app.batch_size)

    def on_mount(self) -> None:
        self._redraw()
        self.set_interval(1 / REDRAWS_PER_S, self._read_run)
        self._gpu_timer = self.set_interval(GPU_POLL_S, self._poll_gpu)
        self._poll_gpu()
        if session(self).train_config is not None:
            self.start_run(session(self).train_config)
        elif session(self).run_dir is not None:
            self.load_run(session(self).run_dir)

    def on_screen_resume(self) -> None:
        """Back from another screen: the model to train may have changed there (the tracker),
        and what a dialog or another screen held back is drawn now."""
        self.query_one(RunSetupForm).recheck()
        if self._stale:
            self._redraw()

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

        self.app.push_screen(
            ConfirmScreen("It will probably not fit in memory", warning, confirm="Start anyway"), decided
        )

    def action_queue_run(self) -> None:
        config, problems = self.query_one(RunSetupForm).read()
        if config is None:
            self.notify("; ".join(problems) or "The setup has errors", title="Cannot queue", severity="warning")
            return
        self._queue(self.app.model_to_train(), config)

    @work(thread=True, group="queue", exit_on_error=False)
    def _queue(self, spec: ModelSpec, config: TrainConfig) -> None:
        from ...backend.queue_runner import queue_run
        from ...domain.run_queue import QueueError

        try:
            run_dir, place = queue_run(spec, config, session(self).runs_dir)
        except (QueueError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot queue", severity="error")
            return
        self.app.call_from_thread(
            self.notify,
            f"{spec.name} is number {place} in the queue of {run_dir.parent}/ "
            f"({run_dir.name}); the Runs screen (4) shows it",
            title="Queued",
        )

    def action_submit_slurm(self) -> None:
        from ...backend.slurm import available

        if not available():
            self.notify(
                "SLURM submits with sbatch, which is not on this machine's PATH (run the app on the "
                "cluster's login node)",
                title="No SLURM here",
                severity="warning",
            )
            return
        config, options, problems = self.query_one(RunSetupForm).slurm_job()
        if config is None or options is None or problems:
            self.notify("; ".join(problems) or "The setup has errors", title="Cannot submit", severity="warning")
            return
        self._submit(self.app.model_to_train(), config, options)

    @work(thread=True, group="slurm", exit_on_error=False)
    def _submit(self, spec: ModelSpec, config: TrainConfig, options) -> None:
        """sbatch in a thread: a busy controller may take seconds to answer."""
        from ...backend.slurm import submit_run
        from ...domain.slurm import SlurmError

        try:
            run_dir, job_id = submit_run(spec, config, options, session(self).runs_dir)
        except SlurmError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot submit", severity="error", markup=False)
            return
        except OSError as exc:
            self.app.call_from_thread(
                self.notify,
                f"cannot write the job into {config.run_dir or 'runs/'}: {exc.strerror or exc}",
                title="Cannot submit",
                severity="error",
                markup=False,
            )
            return
        self.app.call_from_thread(
            self.notify,
            f"{spec.name} is SLURM job {job_id} ({options.nodes} node(s) x "
            f"{options.nproc_per_node} rank(s)) in {run_dir}: the Runs screen (4) shows it "
            "queued, then training",
            title="Submitted",
            markup=False,
        )
        self.app.call_from_thread(self._log, f"submitted {spec.name} to SLURM as job {job_id}: {run_dir}")

    def start_run(self, config: TrainConfig, spec: ModelSpec | None = None) -> None:
        """Train ``spec`` (the app's current model) with ``config`` in a process of its own,
        then follow it."""
        spec = spec or self.app.model_to_train()
        self._show_state(
            RunState(
                status="starting",
                model=spec.name,
                dataset=config.dataset,
                epochs_total=config.epochs,
                started_at=time.time(),
            ),
            None,
        )
        self._pending_control = None
        self._log(
            f"starting {spec.name} on {config.dataset}: {count(config.epochs, 'epoch')}, batch size "
            f"{config.batch_size}, {config.optimizer} lr {config.lr:g}, {config.schedule}, device {config.device}"
            + (f" x {config.nproc_per_node} processes (torchrun)" if config.nproc_per_node > 1 else "")
        )
        self._redraw()
        self.action_show_tab("training")
        self._launch(spec, config)

    @work(thread=True, exclusive=True, group="launch", exit_on_error=False)
    def _launch(self, spec: ModelSpec, config: TrainConfig) -> None:
        """In a thread: making the run directory may block on a slow disk; no torch here."""
        from ...backend.launch import start_detached
        from ...backend.train_process import too_many_processes

        problem = too_many_processes(config.nproc_per_node, config.device)
        if problem:
            self.post_message(LaunchFailed(problem))
            return
        try:
            self.post_message(RunLaunched(start_detached(spec, config)))
        except RunLocked as exc:
            self.post_message(LaunchFailed(str(exc)))
        except OSError as exc:
            self.post_message(
                LaunchFailed(
                    f"cannot make the run directory {config.run_dir or 'under runs/'}: "
                    f"{exc.strerror or exc}; choose another"
                )
            )

    def on_run_launched(self, message: RunLaunched) -> None:
        launched = message.launched
        self._launched = launched
        if self.state.status != "starting" or self._follower is not None:
            return  # another run was opened meanwhile: this one trains on, in the Runs list
        self._follower = EventFollower(launched.run_dir)
        self.state.run_dir = str(launched.run_dir)
        session(self).latest_run_dir = str(launched.run_dir)
        self._log(
            f"training in its own process (pid {launched.process.pid}): it goes on if this app or its "
            f"terminal goes away; tui-cnn attach {launched.run_dir} shows it again"
        )

    def on_launch_failed(self, message: LaunchFailed) -> None:
        self._fold([Failed(message.reason)])
        self._redraw()

    def action_stop_run(self) -> None:
        if not self.state.active:
            self.notify("No run to stop.", severity="warning")
            return
        self._control("stop")
        self.state.status = "stopping"
        self._log("stopping after the current batch (the checkpoint is kept)…")
        self._redraw()

    def action_toggle_pause(self) -> None:
        if self.state.status not in ("running", "paused"):
            self.notify("No run to pause.", severity="warning")
            return
        if self.state.status == "paused":
            self._control("resume")
            self._log("resuming…")
        else:
            self._control("pause")
            self._log("pausing after the current batch…")

    def _control(self, command: str) -> None:
        """Ask the run, through its directory (it looks 4 times a second). Before it has
        started (no RunStarted read yet) it would not hear: the order waits until it has."""
        if self.state.status == "starting" or self.state.run_dir is None:
            self._pending_control = command
            return
        try:
            write_control(self.state.run_dir, command)
        except OSError as exc:
            self.notify(f"cannot ask {self.state.run_dir} to {command}: {exc.strerror or exc}", severity="error")

    def quit_warning(self) -> str | None:
        return None  # a run trains on without the app: quitting loses nothing (see leave_note)

    def leave_note(self) -> str | None:
        """What the app says as it exits: a run this screen shows trains on without it."""
        if not self.state.active or self.state.run_dir is None:
            return None
        return (
            f"{self.state.model} keeps training in {self.state.run_dir}: tui-cnn attach {self.state.run_dir} "
            f"shows it, tui-cnn stop {self.state.run_dir} stops it"
        )

    # --- the run's directory, read a few times a second ---

    def _read_run(self) -> None:
        """Read what the run appended, in a worker; one read at a time, each folded (on the UI
        thread, in on_events_read) before the next starts, so that the follower is never read
        by two threads at once."""
        follower = self._follower
        if follower is None:
            if self.state.active:
                self._redraw()  # starting: the elapsed time moves
            return
        if self._reading is not None or not self._tick_due():
            return
        if follower.backlog() <= READ_INLINE_BYTES:
            # what a live run appended since the last tick (a few KiB at most): read here. A
            # thread worker each tick cost more than the read (a thread, its state messages)
            self.on_events_read(self._events_from(follower))
        else:  # a long past to catch up on: off the UI thread, as a worker
            self._reading = self._read_events(follower)

    def _pace(self) -> WatchPace:
        return watch_pace(time.monotonic() - session(self).last_input_at)

    def _tick_due(self) -> bool:
        """Whether this tick reads and redraws: each tick while a person works the app, one a
        second while they only watch (a run that catches up on its past reads at every tick)."""
        now = time.monotonic()
        if self._opening is None and now - self._ticked_at < self._pace().redraw_every_s - TICK_SLACK_S:
            return False
        self._ticked_at = now
        return True

    @work(thread=True, group="events", exit_on_error=False)
    def _read_events(self, follower: EventFollower) -> None:
        self.post_message(self._events_from(follower))

    @staticmethod
    def _events_from(follower: EventFollower) -> EventsRead:
        try:
            events, caught_up = follower.read_new(), follower.caught_up
        except Exception as exc:  # noqa: BLE001 - an odd file system: say it, keep following
            events, caught_up = [], True
            follower.problems.append(f"{follower.path.name}: {exc}")
        problems, follower.problems = follower.problems, []
        return EventsRead(follower, events, problems, caught_up)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._reading and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._reading = None  # it will post nothing: the next tick reads again

    def on_events_read(self, message: EventsRead) -> None:
        self._reading = None
        follower = self._follower
        if message.follower is not follower:
            return  # read for a run no longer shown
        for problem in message.problems:
            self._log(f"skipped: {problem}", "warning")
        if self._opening is not None:
            self._opening.skipped += len(message.problems)
        self._say_file_changes(follower)  # read with the events, said now: no other read runs meanwhile
        now = time.time()
        was_active = self.state.active
        self._fold(message.events, now)
        if self.state.active and message.caught_up:
            self._check_alive(now)
        if was_active and not self.state.active and not self._replaying:
            self.app.ring(*end_notice(self.state))  # once: the run is no longer active after this
        if self._opening is not None and follower.backlog() <= READ_INLINE_BYTES:
            self._finish_opening()  # the past is read: what it says is said, and it is followed
            return
        if message.events or was_active:
            self._redraw(now)

    def _fold(self, events: list[TrainingEvent], now: float | None = None) -> None:
        """The run's events into its state (the one fold, RunState.apply), and what each
        changes beyond it (the log, the device, a notification)."""
        now = time.time() if now is None else now
        said = len(self.state.problems)
        for event in events:
            self.state.apply(event, now)
            if not isinstance(event, BatchProgress):  # most events; they change only the state
                self._react(event)
        for problem in self.state.problems[said:]:  # what the fold tolerated (an epoch ended twice)
            self._log(problem, "warning")

    def _say_file_changes(self, follower: EventFollower) -> None:
        """events.jsonl truncated, replaced or deleted under a followed run: said, in the log
        and a notification, instead of a run that looks crashed or lost its epochs."""
        for change in follower.changes:
            self._log(change, "warning")
            self.notify(change, title="events.jsonl changed", severity="warning", markup=False)
        follower.changes.clear()

    def _check_alive(self, now: float) -> None:
        """A run whose trainer is gone without an end event: crashed (killed, out of memory,
        the machine rebooted), or failed before it could write events (its output says why).
        Told by the run directory alone (``run_status``: its lock and process.json), whoever
        started it: a run continued elsewhere after it crashed is followed again."""
        if now - self._liveness_checked_at < LIVENESS_EVERY_S:
            return
        self._liveness_checked_at = now
        run_dir = self.state.run_dir
        if run_dir is None or run_status(self.state, run_dir, now=now) != "crashed":
            return
        self._fold(self._follower.read_new(), now)  # its last words, written as it went
        if not self.state.active:
            return
        said = last_output_line(run_dir)
        failure = failure_in_output(run_dir)
        if failure:  # it failed where it could not write its Failed event (its disk full)
            self._fold([Failed(failure)])
            return
        if self.state.status == "starting":  # no RunStarted: it ended before it could start
            self._fold([Failed(said or "the training process ended before the run started")])
            return
        status = (
            self._launched.exit_status
            if self._launched is not None and str(self._launched.run_dir) == run_dir
            else None
        )  # how it ended, when this app started it
        how = f"killed by signal {-status}" if status is not None and status < 0 else "its process is gone"
        again = (
            "run your script again"
            if self.state.script
            else f"continue it from its last checkpoint: c on the Runs screen, or tui-cnn train --resume {run_dir}"
        )
        self.state.crashed(f"{how} with no end event; {again}", heartbeat(run_dir) or now)
        self._log(f"CRASHED: {self.state.failure}" + (f" (its last output: {said})" if said else ""), "error")
        self.notify(self.state.failure, title=f"{self.state.model} crashed", severity="error", timeout=10)

    def _react(self, event: TrainingEvent) -> None:
        """What an event changes beyond the state: the log (stamped with when it happened),
        the device, and (live, not when an opened run's past is read) a notification."""
        log = lambda message, level="info": self._log(message, level, event.at)  # noqa: E731
        live = not self._replaying
        if isinstance(event, RunStarted):
            session(self).latest_run_dir = self.state.run_dir
            if self._pending_control is not None:  # asked while it was starting: it hears now
                command, self._pending_control = self._pending_control, None
                self._control(command)
            self.query_one(DevicePanel).show_device(event.device, event.device_name, processes=event.processes)
            if event.script:
                log(f"started: your own training loop, {event.script} (tui_cnn.init); run directory {event.run_dir}")
                return
            source = validation_source(float(event.config.get("val_fraction", 0) or 0))
            log(
                f"started: {event.params:,} parameters, {event.train_size:,} training / {event.val_size:,} "
                f"validation images ({source}) on {event.device_name}; run directory {event.run_dir}"
            )
        elif isinstance(event, EpochEnd):
            m = event.metrics
            saved = (
                ""
                if self.state.script
                else "; saved checkpoint-last.pt" + (" and checkpoint-best.pt" if event.best else "")
            )
            log(
                f"epoch {m.epoch}: train loss {m.train_loss:.4f}, val acc {percent(m.val_acc)}"
                f"{' (best)' if event.best else ''}{saved}"
            )
        elif isinstance(event, Evaluated):
            log(f"evaluated once on the {event.evaluation.split} split: accuracy {percent(event.evaluation.accuracy)}")
        elif isinstance(event, Finished):
            log(
                f"finished in {duration(event.total_time_s)}: best epoch {event.best_epoch} "
                f"(val acc {percent(event.best_val_acc)})"
            )
            if live:
                self.notify(
                    f"{self.state.model} finished: test accuracy "
                    f"{percent(self.state.evaluation.accuracy) if self.state.evaluation else '--'}"
                )
                self.action_show_tab("evaluation")
        elif isinstance(event, Stopped):
            log(f"stopped in epoch {event.epoch}; checkpoint kept: {event.checkpoint}")
        elif isinstance(event, Failed):
            where = f" (step {event.step})" if event.step is not None else ""
            log(f"FAILED{where}: {event.reason}", "error")
            if live:
                self.notify(event.reason, title="Training failed", severity="error", timeout=10)
        elif isinstance(event, (Paused, Resumed)):
            log("paused" if isinstance(event, Paused) else "resumed")
        elif isinstance(event, LogMessage):
            log(event.message, event.level)

    def _redraw(self, now: float | None = None) -> None:
        if not self.is_active:
            # Covered by a dialog or another screen: Textual repaints the whole terminal for
            # any change under a dialog (~40 KiB/s over SSH at 160x50) and nothing shows it
            # anyway. The state goes on folding; the screen catches up when shown again.
            self._stale = True
            return
        self._stale = False
        state = self.state
        now = time.time() if now is None else now
        self.query_one(RunProgress).show(state, now, details=self._details_due())
        pace = self._pace()
        self.query_one(EpochTable).show(
            state.epochs, state.best_epoch, now, live=state.active, every_s=pace.epoch_table_every_s
        )
        self.query_one(BatchLossPlot).show(
            state.current_epoch,
            state.batch_losses,
            now,
            state.batches_per_epoch,
            every_s=pace.batch_plot_every_s,
            live=state.active,
        )
        # query_one is cached; query() matched every node of the screen (the setup form's too),
        # at each redraw: that was most of a redraw's cost
        for curves in ("#loss-curves", "#acc-curves"):
            self.query_one(curves, EpochCurves).show(
                state.epochs, now, live=state.active, every_s=pace.epoch_curves_every_s
            )
        self.query_one(DevicePanel).show_peak(state.peak_mem_bytes)
        if (state.evaluation, state.status) != self._shown_evaluation:  # identity first: no deep compare per frame
            self._shown_evaluation = (state.evaluation, state.status)
            self.query_one(EvaluationPanel).show(state.evaluation, state.status)
        self.sub_title = self._subtitle()

    def _details_due(self) -> bool:
        """Whether this redraw moves the epoch's line and the stats: at each redraw while a
        person works the app, every few seconds while they only watch, and at once when the
        run's status or epoch changes."""
        state = self.state
        shown = (state.status, state.epochs_done, state.current_epoch, state.failure)
        now = time.monotonic()
        if shown == self._details_shown and now - self._details_at < self._pace().details_every_s - TICK_SLACK_S:
            return False
        self._details_shown, self._details_at = shown, now
        return True

    def _subtitle(self) -> str:
        state = self.state
        if state.status == "idle":
            return "Train"
        return f"Train · {printable(state.model)} on {printable(state.dataset)} · {state.status}"

    def _log(self, message: str, level: str = "info", at: float | None = None) -> None:
        """A line of the log, stamped with the time it happened (now, unless said)."""
        style = {"warning": "bold yellow", "error": "bold red"}.get(level, "")
        stamp = local_time(time.time() if at is None else at, "%H:%M:%S ") if self.state.status != "loaded" else ""
        # Names, paths and the trainer's messages (a user module's errors) may hold escape codes.
        self.query_one("#log-pane", RichLog).write(Text(stamp + printable_lines(message), style=style))

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
        self.query_one(RunSetupForm).show_device(
            message.device, info.free_bytes if info else None, probe.problem, kind=probe.kind
        )
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
        if not self.is_active:
            return  # covered (see _redraw): the next poll shows it
        if self.state.active or self.state.status == "idle":  # an ended run: this GPU says nothing of it
            self.query_one(DevicePanel).show_gpus([stats for stats in message.stats if stats is not None])

    # --- any run, from its directory ---

    def action_open_run(self) -> None:
        self.app.push_screen(OpenRunScreen(), lambda path: self.load_run(path) if path else None)

    def load_run(self, run_dir: str) -> None:
        """Show a run directory: its events folded from the start (as the monitor that
        started it saw them), then followed while it trains. A run without events (from
        before they were written, or made by hand) is read from its files. A long past (more
        than a piece of 2 MiB) is read by a worker over the next ticks, the screen drawn and
        the keys answered meanwhile; what it says of itself is said once it is all read."""
        if self.state.active and self.state.run_dir == str(run_dir):
            return  # already following it
        try:
            state = RunState.from_run_dir(run_dir)
        except RunFileError as exc:  # config.json missing or corrupted, in one line
            self.notify(str(exc), title="Cannot open run", severity="error", markup=False)
            return
        follower = EventFollower(run_dir)
        self._show_state(RunState(run_dir=str(run_dir)), follower)
        self._replaying = True  # the past: no notifications, no bell
        self._opening = OpeningRun(str(run_dir), state)
        self._fold(follower.read_new())  # the first piece at once: most runs are all of it
        self.action_show_tab("training")
        if follower.backlog() <= READ_INLINE_BYTES:
            self._finish_opening()
            return
        self._log(f"reading the past of {run_dir}: {binary_bytes(follower.backlog())} more to read…")
        self._redraw()

    def _finish_opening(self) -> None:
        """The opened run's past is read (but what a tick appends): say what it is, then follow it."""
        opening, follower = self._opening, self._follower
        self._opening = None
        if opening is None or follower is None:
            return
        self._fold(follower.read_new())  # the little that is left, still as the past
        self._replaying = False
        run_dir, state = opening.run_dir, opening.files_state
        if self.state.status == "idle":  # no events: what the files say
            self.state = state
        elif self.state.active:
            self._liveness_checked_at = 0.0
            self._check_alive(time.time())
        self._log(f"opened {run_dir}: " + ("following it as it trains" if self.state.active else self.state.status))
        for problem in state.problems[:5]:
            self._log(f"skipped: {problem}", "warning")
        skipped = opening.skipped + len(follower.problems) + len(state.problems) + len(self.state.problems)
        if skipped:
            self.notify(f"{skipped} unreadable part(s) of {run_dir} skipped (see the log)", severity="warning")
        session(self).latest_run_dir = str(run_dir)
        panel = self.query_one(DevicePanel)
        panel.show_gpus([])
        panel.show_device(self.state.device, self.state.device_name, processes=self.state.processes)
        self._redraw()  # the tab stays the one the person chose while the past was read

    def _show_state(self, state: RunState, follower: EventFollower | None) -> None:
        """Show another run (or a new one): the log and the evaluation start afresh."""
        self.state, self._follower, self._pending_control = state, follower, None
        self._replaying, self._opening = False, None
        self._shown_evaluation = None
        self.query_one("#log-pane", RichLog).clear()

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

    def action_show_data(self) -> None:
        """The Data screen for the dataset the setup form names (its defaults while a field is wrong)."""
        from .data import DataScreen

        config = self.query_one(RunSetupForm).typed() or self._form_defaults()
        self.app.push_screen(DataScreen(config, tuple(self.app.model_to_train().input_shape)))

    def action_lr_find(self) -> None:
        """The range test for the setup's settings; its suggestion fills the learning-rate field."""
        from ..widgets.monitor.lr_find import LrFindScreen

        config = self.query_one(RunSetupForm).typed() or self._form_defaults()
        if session(self).tracked is not None:
            self.notify(
                "The learning-rate range test runs on the app's specs, not on your own module yet",
                title="Cannot find a learning rate",
                severity="warning",
            )
            return

        def use(suggestion: float | None) -> None:
            if suggestion is not None:
                self.query_one("#field-lr").value = f"{suggestion:.2g}"

        self.app.push_screen(LrFindScreen(self.app.spec, config), use)

    def action_leave_field(self) -> None:
        self.set_focus(None)
