"""What the screens share besides the model (the app's reactive ``spec`` and ``batch_size``):
set from the command line when the app starts, moved on by the screens as the user works.
One typed record, so a screen reads ``session(self).run_dir`` rather than an attribute it hopes
the app has (a screen's ``self.app`` is any Textual App to a type checker)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from ..domain.paths import RUNS_DIR
from ..domain.summary import ModelSummary

if TYPE_CHECKING:
    from ..backend.track_process import TrackSession
    from ..domain.train_config import TrainConfig


class Tracked:
    """A user's nn.Module, built and traced in a child process that keeps it (a
    ``TrackSession``: its code may block, and only a process can be stopped), the input it was
    last tracked with and, once traced, that summary."""

    def __init__(
        self,
        target: str,
        input_shape: tuple[int, int, int],
        session: "TrackSession | None" = None,
        summary: ModelSummary | None = None,
    ) -> None:
        if session is None:
            from ..backend.track_process import TrackSession

            session = TrackSession(target, quiet=True)  # the app owns the terminal: the user's output is dropped
        self.target, self.input_shape, self.session, self.first_summary = target, input_shape, session, summary

    def summary(self, batch_size: int, on_progress: Callable[[str], None] | None = None) -> ModelSummary:
        """Traced again in its child (imported and built again there only if that child was stopped)."""
        first, self.first_summary = self.first_summary, None
        if first is not None and first.input_shape == (batch_size, *self.input_shape):
            return first
        return self.session.summary(self.input_shape, batch_size, on_progress=on_progress)

    def close(self) -> None:
        self.session.close()


@dataclass(frozen=True)
class InspectRequest:
    """What to show: a run (None: the current model, untrained) and optionally one image
    (a misclassified example's gray pixels from the monitor's evaluation) with its label."""

    run_dir: str | None
    image: list[list[int]] | None = None
    label: int | None = None


@dataclass
class Session:
    #: `tui-cnn track`: the user's nn.Module the tracker shows and the monitor trains (None: the
    #: app's spec).
    tracked: Tracked | None = None
    #: `tui-cnn train` (without --headless): the monitor starts this run when it mounts.
    train_config: TrainConfig | None = None
    #: A run directory the monitor opens when it mounts (followed live while it trains).
    run_dir: str | None = None
    #: The run the monitor showed last (live or opened): what Inspect looks inside.
    latest_run_dir: str | None = None
    #: Inspect opens on this run and image (the monitor's misclassified digits), once.
    inspect_request: InspectRequest | None = None
    #: `tui-cnn compare`: the app opens on these runs compared.
    compare_run_dirs: list[str] | None = None
    #: The folder the Runs screen lists and the monitor's runs go to.
    runs_dir: str = str(RUNS_DIR)
    #: The file the model was opened from or last saved to (None: a preset, a new or a restored
    #: model): where ctrl+s saves, and what the titles name.
    spec_path: str | None = None
    #: The model came from the crash recovery file: the builder shows it as unsaved.
    recovered: bool = False
    #: When a key or the mouse last reached the app (time.monotonic()): the monitor redraws a
    #: live run calmly once nobody has touched the app for a while (domain.watch_pace).
    last_input_at: float = field(default_factory=time.monotonic)


class _HasApp(Protocol):
    @property
    def app(self): ...


def session(node: _HasApp) -> Session:
    """The running app's session, for a screen or widget."""
    return node.app.session
