"""The app shell: one current model, three screens (Textual modes), a key each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from ..domain.presets import DEFAULT_PRESET, load_preset
from ..domain.spec import ModelSpec
from ..domain.training import TrainConfig
from .screens.tracker import TrackerScreen
from .widgets.confirm import ConfirmScreen

if TYPE_CHECKING:
    from .screens.tracker import Tracked

SCREENS_BY_KEY = (("1", "tracker", "Tracker"), ("2", "builder", "Builder"), ("3", "monitor", "Train"))


def _builder_screen() -> Screen:
    """Imported when first shown: the first frame (the tracker) does not wait for it."""
    from .screens.builder import BuilderScreen

    return BuilderScreen()


def _monitor_screen() -> Screen:
    from .screens.monitor import MonitorScreen

    return MonitorScreen()


class TuiCnnApp(App[None]):
    TITLE = "tui-cnn"
    CSS_PATH = "app.tcss"
    MODES = {"tracker": TrackerScreen, "builder": _builder_screen, "monitor": _monitor_screen}
    BINDINGS = [
        *(Binding(key, f"switch_mode('{mode}')", label) for key, mode, label in SCREENS_BY_KEY),
        Binding("question_mark", "help", "Help"),
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
    ) -> None:
        super().__init__()
        if spec is not None:
            self.set_reactive(TuiCnnApp.spec, spec)
        if batch_size is not None:
            self.set_reactive(TuiCnnApp.batch_size, batch_size)
        #: Set by `tui-cnn track`: the tracker opens on this user's nn.Module instead of the spec.
        self.tracked = tracked
        self.start_mode = start_mode
        #: Set by `tui-cnn train` (without --headless): the monitor starts this run at once.
        self.train_config = train_config
        #: Set to open a finished run's directory on the monitor.
        self.run_dir = run_dir

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, mode, label in SCREENS_BY_KEY:
            yield SystemCommand(f"Show {label}", f"Switch to the {label.lower()} screen (key {key})",
                                lambda mode=mode: self.switch_mode(mode))
        yield SystemCommand("Track your own nn.Module", "Import MODULE:ATTR and show it in the tracker (key t)",
                            self._track_module)

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
            screen = self._screen_stacks.get(mode, [None])[0] if mode in self._screen_stacks else None
            warn = getattr(screen, "quit_warning", None)
            message = warn() if callable(warn) else None
            if message:
                warnings.append(message)
        return warnings

    async def action_quit(self) -> None:
        warnings = self.quit_warnings()
        if not warnings:
            self.exit()
            return

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.exit()

        self.push_screen(ConfirmScreen("Quit tui-cnn?", "\n".join(warnings), confirm="Quit"), decided)
