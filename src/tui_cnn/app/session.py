"""What the screens share besides the model (the app's reactive ``spec`` and ``batch_size``):
set from the command line when the app starts, moved on by the screens as the user works.
One typed record, so a screen reads ``session(self).run_dir`` rather than an attribute it hopes
the app has (a screen's ``self.app`` is any Textual App to a type checker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..domain.paths import RUNS_DIR

if TYPE_CHECKING:
    from ..domain.train_config import TrainConfig
    from .screens.inspect import InspectRequest
    from .screens.tracker import Tracked


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


class _HasApp(Protocol):
    @property
    def app(self): ...


def session(node: _HasApp) -> Session:
    """The running app's session, for a screen or widget."""
    return node.app.session
