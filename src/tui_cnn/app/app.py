"""The app shell: one current model, five screens (Textual modes), a key each.

An unexpected error never loses the model: it is written to the recovery file
(domain/recovery.py), the app exits with status 1 and one line saying where the model is, and
the next start offers to restore it.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import TYPE_CHECKING, Iterable, Sequence

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.filter import LineFilter
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from ..domain.format import printable_lines
from ..domain.model_source import ModuleSource
from ..domain.paths import RUNS_DIR
from ..domain.presets import DEFAULT_PRESET, load_preset
from ..domain.spec import ModelSpec
from .key_order import KeyOrder
from .screens.tracker import TrackerScreen
from .session import Session
from .terminal_guard import ControlCharacterGuard
from .widgets.confirm import ConfirmScreen
from .widgets.paging import SafeCommandPalette, guard_option_list_paging

guard_option_list_paging()

if TYPE_CHECKING:
    from ..domain.train_config import TrainConfig
    from .session import Tracked


class CrashSaved(Exception):
    """An unexpected error, after the model was put in safety: what the user reads on exit is
    this one line (its ``__rich__``), not a traceback; the error itself is its ``__cause__``."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line

    def __rich__(self) -> Text:
        return Text(printable_lines(self.line))  # it names the model, which may be called anything


def crash_line(spec: ModelSpec, error: BaseException) -> str:
    """Save ``spec`` for the next start; the one line that says where it is (or why not)."""
    from ..domain.recovery import save_crash_report, save_recovery
    from ..domain.specfile import SpecError

    report = save_crash_report("".join(traceback.format_exception(error)))
    what = f"tui-cnn stopped on an unexpected error ({type(error).__name__})"
    try:
        path = save_recovery(spec)
    except (OSError, SpecError) as exc:
        return f"{what}; the model could not be saved ({exc})."
    details = f" (details in {report.relative_to(path.parent)} beside it)" if report else ""
    return f"{what}; your model {spec.name} is saved in {path}{details}."


def _closed_palette_race(error: Exception) -> bool:
    """Textual's command palette searches in a worker that looks up its list; closed while a
    search starts (a key typed, then escape, faster than the screen), the worker finds no
    list and its error ended the app (found by the key fuzzer). Nothing is lost: ignore it."""
    from textual.css.query import NoMatches
    from textual.worker import WorkerFailed

    return (
        isinstance(error, WorkerFailed) and isinstance(error.error, NoMatches) and "CommandPalette" in str(error.error)
    )


SCREENS_BY_KEY = (
    ("1", "tracker", "Tracker"),
    ("2", "builder", "Builder"),
    ("3", "monitor", "Train"),
    ("4", "runs", "Runs"),
    ("5", "inspect", "Inspect"),
)


def _builder_screen() -> Screen:
    """Imported when first shown: the first frame (the tracker) does not wait for it."""
    from .screens.builder import BuilderScreen

    return BuilderScreen()


def _monitor_screen() -> Screen:
    from .screens.monitor import MonitorScreen

    return MonitorScreen()


def _runs_screen() -> Screen:
    from .screens.runs import RunsScreen

    return RunsScreen()


def _inspect_screen() -> Screen:
    from .screens.inspect import InspectScreen

    return InspectScreen()


def terminal_modes() -> list | None:
    """The terminal's modes (termios), or None without a terminal."""
    import termios

    try:
        return termios.tcgetattr(sys.__stdin__.fileno())
    except (termios.error, OSError, ValueError, AttributeError):  # no terminal, or stdin closed
        return None


class TuiCnnApp(App[None]):
    TITLE = "tui-cnn"
    CSS_PATH = "app.tcss"
    #: The first screen is the tracker's own (not Textual's blank default switched away from
    #: on mount): one CSS parse and one style pass fewer before the first frame.
    DEFAULT_MODE = "tracker"
    MODES = {
        "tracker": TrackerScreen,
        "builder": _builder_screen,
        "monitor": _monitor_screen,
        "runs": _runs_screen,
        "inspect": _inspect_screen,
    }
    BINDINGS = [
        # Not in the footer (it has no room at 80 columns for them and each screen's keys): ? lists them.
        *(Binding(key, f"switch_mode('{mode}')", label, show=False) for key, mode, label in SCREENS_BY_KEY),
        # Shown by KeysFooter, docked at the right: in view at any width.
        Binding("question_mark", "help", "Help", tooltip="Show or hide the keys of this screen", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    #: The model every screen shows. Screens watch it; the builder sets it.
    spec: reactive[ModelSpec] = reactive(load_preset(DEFAULT_PRESET), always_update=False)
    #: The batch size the tracker's figures and the training form start from.
    batch_size: reactive[int] = reactive(64)

    def __init__(
        self,
        spec: ModelSpec | None = None,
        *,
        start_mode: str = "tracker",
        train_config: TrainConfig | None = None,
        run_dir: str | None = None,
        batch_size: int | None = None,
        tracked: Tracked | None = None,
        compare_run_dirs: list[str] | None = None,
        runs_dir: str = str(RUNS_DIR),
        spec_path: str | None = None,
    ) -> None:
        super().__init__()
        if spec is not None:
            self.set_reactive(TuiCnnApp.spec, spec)
        if batch_size is not None:
            self.set_reactive(TuiCnnApp.batch_size, batch_size)
        self.start_mode = start_mode
        self.session = Session(
            tracked=tracked,
            train_config=train_config,
            run_dir=run_dir,
            latest_run_dir=run_dir,
            compare_run_dirs=compare_run_dirs,
            runs_dir=runs_dir,
            spec_path=spec_path,
        )
        #: exit() was called: keys do nothing from then on (on_event).
        self.exiting = False
        self._crash: CrashSaved | None = None
        self._control_guard = ControlCharacterGuard()
        self._key_order = KeyOrder(self)

    def model_to_train(self) -> ModelSpec | ModuleSource:
        """What the monitor trains: the module the tracker shows (as `tui-cnn train MODULE:ATTR
        --input C,H,W` names it), else the app's spec."""
        if self.session.tracked is not None:
            return ModuleSource(self.session.tracked.target, tuple(self.session.tracked.input_shape))
        return self.spec

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, and the guard that keeps control characters from the terminal."""
        return [*super().get_line_filters(), self._control_guard]

    def run_and_exit(self) -> None:
        """Run; exit the process with the app's status (1 after an unexpected error)."""
        self.run()
        if self.return_code:
            raise SystemExit(self.return_code)

    def on_mount(self) -> None:
        self._repaint_on_sigcont()
        if self.start_mode != self.current_mode:
            self.switch_mode(self.start_mode)
        self.run_worker(self._resume_queue, thread=True, group="queue", exit_on_error=False)
        if self.session.compare_run_dirs:
            self.compare(self.session.compare_run_dirs)
        elif self.session.train_config is None and self.session.tracked is None:
            self._offer_recovery()

    def _repaint_on_sigcont(self) -> None:
        """Stop (SIGTSTP) and continue (SIGCONT, fg) handled in the event loop, and the whole
        screen repainted on each continue that follows the app's own stop.

        Textual's driver handles both in Python signal handlers, which write to its output
        queue: a SIGTSTP that came while the main thread was itself inside that queue's put
        deadlocked the app (hung for good; seen under load). In the loop, a handler runs
        between tasks, never inside one. And the driver re-enters the alternate screen on
        SIGCONT but repaints only what changes next: after a burst of stops and continues
        the screen stayed half blank until a key was pressed.

        A continue with no SIGTSTP before it comes after a SIGSTOP from outside (a debugger,
        ``kill -STOP``, a job scheduler, a benchmark freezing the app), which nothing can
        catch: the driver never let go of the terminal, and restarting it started a second
        input thread and writer thread at each continue (two threads reading the keys) and
        repainted the whole screen (38 KiB at 160x50). Then the app goes on as it was, unless
        the terminal's modes changed meanwhile (a shell took the terminal): then it lets go
        of the terminal and takes it again, and repaints."""
        import asyncio
        import signal

        stop, resume = signal.getsignal(signal.SIGTSTP), signal.getsignal(signal.SIGCONT)
        if not (callable(stop) and callable(resume)):  # not a terminal driver's handlers (a test, the web)
            return
        loop = asyncio.get_running_loop()
        stopped_by_us = False
        modes = terminal_modes()  # raw, as the driver set them before the app mounted

        def stopping() -> None:
            nonlocal stopped_by_us
            stopped_by_us = True
            stop(signal.SIGTSTP, None)

        def continued() -> None:
            nonlocal stopped_by_us, modes
            if stopped_by_us:
                stopped_by_us = False
                resume(signal.SIGCONT, None)
            elif terminal_modes() != modes:
                with self.suspend():  # the terminal given back, then set up again
                    pass
            else:
                return
            modes = terminal_modes()
            self._repaint_everything()

        loop.add_signal_handler(signal.SIGTSTP, stopping)
        loop.add_signal_handler(signal.SIGCONT, continued)

    def _repaint_everything(self) -> None:
        if self._screen_stack:
            self.screen.refresh(layout=True)
            # once more when the terminal has settled (a burst's last continue can race the
            # driver's own re-entry into application mode)
            self.set_timer(0.2, lambda: self._screen_stack and self.screen.refresh())

    def _resume_queue(self) -> None:
        """Runs still waiting in the runs folder's queue (the machine rebooted under them) get
        their runner back. A thread: it looks at files, and must not delay the first frame."""
        from ..backend.queue_runner import ensure_runner
        from ..backend.sweep import ensure_drivers

        try:
            ensure_runner(self.session.runs_dir)
            ensure_drivers(self.session.runs_dir)  # and sweeps with trials to go get their driver back
        except OSError:  # an unreadable runs folder: the Runs screen says so
            pass

    # --- crashes: the model is saved, the next start offers it back ---

    def _handle_exception(self, error: Exception) -> None:
        # Textual has no public hook for an unhandled error; this is the one its App routes
        # every such error through (harlequin overrides it too). Save first, then let Textual
        # close the app as usual, showing our one line (CrashSaved.__rich__) for the traceback.
        if _closed_palette_race(error) or self._mounting_after_exit(error):
            return
        if self._crash is None:
            try:
                line = crash_line(self.spec, error)
            except Exception as exc:  # never let the rescue hide the error itself
                line = (
                    f"tui-cnn stopped on an unexpected error ({type(error).__name__}); saving the model failed: {exc}"
                )
            self._crash = CrashSaved(line)
            self._crash.__cause__ = error
            error = self._crash
        super()._handle_exception(error)

    def _offer_recovery(self) -> None:
        from ..domain.paths import recovery_path
        from ..domain.recovery import discard_recovery, load_recovery

        spec = load_recovery()
        if spec is None:
            return

        def decided(restore: bool | None) -> None:
            if restore:
                self.session.recovered = True
                self.session.spec_path = None  # the model restored is saved nowhere
                self.spec = spec
                discard_recovery()  # the builder holds it now, as unsaved changes
                self.switch_mode("builder")

        self.push_screen(
            ConfirmScreen(
                "Restore the model from the last crash?",
                f"tui-cnn stopped on an error with {spec.name} ({len(spec.layers)} layers) unsaved.\n"
                f"It is kept in {recovery_path()} until you restore it.",
                confirm="Restore",
                cancel="Not now",
            ),
            decided,
        )

    def action_command_palette(self) -> None:
        """Textual's palette, answering once (widgets/paging.py)."""
        if self.use_command_palette and not SafeCommandPalette.is_open(self):
            # No id (Textual gives it one): a palette still closing kept it, and ctrl+p again
            # at once died of a duplicate id.
            self.push_screen(SafeCommandPalette())

    def search_themes(self) -> None:
        """The palette's "Theme" command opens a second palette: ours too, answering once."""
        from textual.theme import ThemeProvider

        self.push_screen(SafeCommandPalette(providers=[ThemeProvider], placeholder="Search for themes…"))

    def search_commands(self, commands, placeholder: str = "Search for commands…"):
        from textual.command import SimpleProvider

        return self.push_screen(
            SafeCommandPalette(providers=[SimpleProvider(self.screen, commands)], placeholder=placeholder)
        )

    def pop_screen(self) -> AwaitComplete:
        """Never pop a mode's own screen. A dialog answered twice before it closed (enter
        enter in Textual's command palette) pops a second time: the app died of it."""
        if len(self.screen_stack) <= 1:
            return AwaitComplete.nothing()
        return super().pop_screen()

    # --- keys ---

    def exit(self, result=None, return_code: int = 0, message=None) -> None:
        self.exiting = True
        super().exit(result, return_code, message)

    def _mounting_after_exit(self, error: Exception) -> bool:
        """Work queued before the quit and run after it (the palette's Keys command, picked
        in the same read as ctrl+q) can mount nothing any more: Textual refuses (MountError).
        A screen switched to in the same moment mounts without its children, and its own or
        Textual's on_mount finds none (NoMatches: the tracker's table, the header's title;
        found by the key fuzzer, seed 291394), or the monitor's tabs none of their tabs (ValueError: No
        Tab with id, seed 739953). The user asked to quit; nothing is lost."""
        from textual.css.query import NoMatches
        from textual.widget import MountError

        half_mounted_tabs = isinstance(error, ValueError) and str(error).startswith("No Tab with id")
        return self.exiting and (isinstance(error, (MountError, NoMatches)) or half_mounted_tabs)

    async def on_event(self, event: events.Event) -> None:
        """Keys after the app began to exit (ctrl+q y, then a key in the same read) do nothing:
        Textual mounts nothing any more, and the builder's c adding a layer's form fields
        ended the quit in an error (MountError, found by the key fuzzer). Each key waits for
        the one before it to be handled (key_order)."""
        if isinstance(event, (events.Key, events.MouseEvent)):
            self.session.last_input_at = time.monotonic()  # a person at the keys: the monitor redraws briskly
        if isinstance(event, events.Key) and self.exiting:
            return
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._key_order.hold(event):
                return
            try:
                await super().on_event(event)
            finally:  # whatever became of it, the next key must not wait for ever
                self._key_order.handed_on()
            return
        await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A dialog owns the keyboard: the app's screen keys wait until it is answered."""
        if isinstance(self.screen, ModalScreen) and action in ("switch_mode", "help"):
            return False
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, mode, label in SCREENS_BY_KEY:
            yield SystemCommand(
                f"Show {label}",
                f"Switch to the {label.lower()} screen (key {key})",
                lambda mode=mode: self.switch_mode(mode),
            )
        yield SystemCommand(
            "Track your own nn.Module", "Import MODULE:ATTR and show it in the tracker (key t)", self._track_module
        )

    def inspect(self, run_dir: str | None, image: list[list[int]] | None = None, label: int | None = None) -> None:
        """Show a run's model (None: the current one, untrained) on Inspect, on this image."""
        from .session import InspectRequest

        self.session.inspect_request = InspectRequest(run_dir, image, label)
        self.switch_mode("inspect")

    def open_run(self, run_dir: str) -> None:
        """Show a run directory on the monitor: followed as it trains when it is live (any
        run, whoever started it), read to its end otherwise."""
        monitor = self._mode_screen("monitor")
        if monitor is None:
            self.session.run_dir = run_dir  # the monitor opens it when it mounts
            self.switch_mode("monitor")
            return
        self.switch_mode("monitor")
        monitor.load_run(run_dir)

    def _mode_screen(self, mode: str) -> Screen | None:
        """A mode's own screen, or None when it has not been shown yet."""
        try:
            return self.get_screen_stack(mode)[0]
        except (KeyError, IndexError):
            return None

    def compare(self, run_dirs: list[str]) -> None:
        """Show two or more run directories compared (curves and settings), over the current
        screen; escape comes back to it. Runs that cannot be read are named there, left out."""
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(run_dirs))

    def _track_module(self) -> None:
        self.switch_mode("tracker")
        self.call_after_refresh(lambda: self.screen.run_action("track_module"))

    def action_help(self) -> None:
        from .widgets.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def quit_warnings(self) -> list[str]:
        """What would be lost by quitting now: each mode screen may say (unsaved model, running training)."""
        warnings = []
        for mode in self.MODES:
            screen = self._mode_screen(mode)
            if screen is None:  # a mode not shown yet has nothing to lose
                continue
            warn = getattr(screen, "quit_warning", None)
            message = warn() if callable(warn) else None
            if message:
                warnings.append(message)
        return warnings

    def leave(self) -> None:
        """Exit, saying what goes on without the app (a run still training) once the
        terminal is back."""
        monitor = self._mode_screen("monitor")
        note = monitor.leave_note() if monitor is not None else None
        self.exit(message=note)

    async def action_quit(self) -> None:
        warnings = self.quit_warnings()
        if not warnings:
            self.leave()
            return

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.leave()

        self.push_screen(ConfirmScreen("Quit tui-cnn?", "\n".join(warnings), confirm="Quit"), decided)

    def ring(self, title: str, body: str) -> None:
        """The bell and a desktop notification (OSC 9 / OSC 777) in the terminal, for a run that
        ended. Written through the driver as Textual's own ``bell`` is (no public API writes
        other escapes); a headless app (tests) has no terminal to ring."""
        import os

        from ..domain.notify import terminal_notification

        if not self.is_headless and self._driver is not None:
            self._driver.write(terminal_notification(title, body, in_tmux="TMUX" in os.environ))
