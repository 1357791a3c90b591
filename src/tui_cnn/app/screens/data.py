"""Data: what the run will train on, before it does. Images per class in each split (a bar
each), a row of training images per class, and the same images after the run's augmentation
(`a` switches, `r` draws the augmentation again). Opened with `d` on the monitor, for the
dataset its setup form names (a folder of your own images, or a built-in dataset).

torch and the decoding run in a thread worker; the screen gets numpy arrays and numbers.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from ...domain import format as fmt
from ...domain.train_config import TrainConfig
from ..widgets.inspect.pixels import PixelView, fit_columns, tiled
from ..widgets.keys_footer import KeysFooter

BAR_CELLS = 20
THUMBNAIL_PIXELS = 14  # a sample is drawn at most this many pixels high (7 character rows)


class PreviewReady(Message):
    def __init__(self, preview, images: list[np.ndarray], augmented: bool) -> None:
        super().__init__()
        self.preview, self.images, self.augmented = preview, images, augmented


class PreviewFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class DataScreen(Screen):
    DEFAULT_CSS = """
    DataScreen #data-title { padding: 0 1; text-style: bold; }
    DataScreen #data-counts { padding: 0 1; height: auto; }
    DataScreen #data-samples { padding: 0 1; }
    DataScreen .class-name { margin-top: 1; }
    """
    AUTO_FOCUS = "#data-samples"
    BINDINGS = [
        Binding("a", "toggle_augmented", "Augmented"),
        Binding("r", "redraw", "Draw again"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, config: TrainConfig, input_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.config, self.input_shape = config, input_shape
        self.preview = None
        self.augmented = False
        self.seed = 0

    def compose(self) -> ComposeResult:
        yield Static(f"Data · {self.config.dataset}: reading it…", id="data-title")
        yield Static("", id="data-counts")
        yield VerticalScroll(id="data-samples")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="data-preview")
    def _load(self) -> None:
        from ...backend.data import MissingDataError
        from ...backend.data_preview import preview as read_preview

        try:
            found = read_preview(self.config, self.input_shape)
        except MissingDataError as exc:
            self.post_message(PreviewFailed(str(exc)))
            return
        self.post_message(PreviewReady(found, found.samples, augmented=False))

    @work(thread=True, exclusive=True, group="data-preview")
    def _augment(self, preview, seed: int) -> None:
        self.post_message(PreviewReady(preview, preview.augmented(seed), augmented=True))

    def on_preview_failed(self, message: PreviewFailed) -> None:
        self.query_one("#data-title", Static).update(Text(f"Data · {self.config.dataset}: {message.reason}"))

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.preview, self.augmented = message.preview, message.augmented
        preview = message.preview
        shown = (
            f"after augmentation ({preview.augmentation}; r: draw again)"
            if message.augmented
            else "as they are (a: after augmentation)"
        )
        title = (
            f"Data · {preview.title} · {self.input_shape[0]}x{self.input_shape[1]}x{self.input_shape[2]} · "
            f"training images {shown}"
        )
        self.query_one("#data-title", Static).update(Text(title))
        self.query_one("#data-counts", Static).update(self._counts(preview))
        self._show_samples(preview.classes, message.images)

    def _counts(self, preview) -> Text:
        largest = max(preview.train_counts + [1])
        width = max(len(name) for name in preview.classes)
        text = Text()
        if preview.source:
            text.append(f"{preview.source}\n", style="dim")
        text.append(f"{'class'.ljust(width)}  {'train':>7} {'test':>7}\n", style="bold")
        for name, train, test in zip(preview.classes, preview.train_counts, preview.test_counts):
            bar = "█" * max(1 if train else 0, round(BAR_CELLS * train / largest))
            text.append(f"{name.ljust(width)}  {fmt.grouped(train):>7} {fmt.grouped(test):>7}  ")
            text.append(f"{bar}\n", style="green")
        return text

    def _show_samples(self, classes: tuple[str, ...], images: list[np.ndarray]) -> None:
        box = self.query_one("#data-samples", VerticalScroll)
        box.remove_children()
        columns = max(1, self.size.width - 4)
        widgets = []
        for name, batch in zip(classes, images):
            widgets.append(Static(Text(f"{name} ({len(batch)} shown)", style="bold"), classes="class-name"))
            if len(batch):
                thumbs = [_thumbnail(image) for image in batch]
                view = PixelView()
                widgets.append(view)
                view.show(tiled(thumbs, fit_columns(columns, thumbs[0].shape[1])))
        box.mount_all(widgets)

    def action_toggle_augmented(self) -> None:
        if self.preview is None:
            return
        if self.augmented:
            self.post_message(PreviewReady(self.preview, self.preview.samples, augmented=False))
        else:
            self._augment(self.preview, self.seed)

    def action_redraw(self) -> None:
        if self.preview is None:
            return
        self.seed += 1
        self._augment(self.preview, self.seed)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    """One image (C, H, W) as gray levels, shrunk by a whole factor to at most THUMBNAIL_PIXELS high."""
    gray = image.mean(axis=0) if image.shape[0] > 1 else image[0]
    factor = max(1, -(-gray.shape[0] // THUMBNAIL_PIXELS))
    height, width = gray.shape[0] // factor * factor, gray.shape[1] // factor * factor
    shrunk = gray[:height, :width].reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3))
    return shrunk.astype(np.int32)
