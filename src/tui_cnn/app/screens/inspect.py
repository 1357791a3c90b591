"""Inspect: one image through the model, layer by layer.

The model is the run the monitor shows (its best checkpoint; a running run's newest best) or,
with no run, the current model with random weights (said on screen). The input is a test
image (all of them, or only the misclassified ones, most confident first) or a digit drawn on
a 28x28 canvas. Shown: the prediction (bars, true label, top 3), every layer's output as
per-channel thumbnails, and for the selected layer and channel its filter, its map large and,
at a chosen position, the receptive field on the input and the dot product in numbers (or,
for max pooling, the input that won each window).

torch runs in a thread worker (import, checkpoint, forward pass); the UI only gets numpy
arrays and numbers, and paints before torch has loaded.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from ...domain import format as fmt
from ...domain.inspect import Prediction, dot_product_lines, normalise, pool_lines, receptive_box
from ..session import InspectRequest, session
from ..widgets.inspect.canvas import DigitCanvas
from ..widgets.inspect.pixels import MARK, WINNER, PixelView, fit_columns, magnify, picture, tiled
from ..widgets.keys_footer import KeysFooter
from ..widgets.ready import KeysWaitForMount

BAR_CELLS = 12
MAX_KERNELS = 32  # a filter's kernels drawn one per input channel, up to this many
DETAIL_MAP_PIXELS = 28  # a selected map is drawn at least this many pixels wide (magnified)


class ViewReady(Message):
    def __init__(self, inspector, view, order: list[int] | None) -> None:
        super().__init__()
        self.inspector, self.view, self.order = inspector, view, order


class InspectFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class Scroll(VerticalScroll, can_focus=False):
    """Scrolls with the wheel, never takes the focus: the arrows step images and layers."""


class InspectScreen(KeysWaitForMount, Screen):
    CSS_PATH = "inspect.tcss"
    AUTO_FOCUS = ""  # nothing: the arrows are the screen's (None would mean the app's "*")
    BINDINGS = [
        Binding("right,n", "step(1)", "Next image"),
        Binding("left,p", "step(-1)", "Previous"),
        Binding("m", "toggle_misclassified", "Misclassified"),
        Binding("d", "draw", "Draw"),
        Binding("down,j", "select_layer(1)", "Next layer", show=False),
        Binding("up,k", "select_layer(-1)", "Previous layer", show=False),
        Binding("right_square_bracket", "select_channel(1)", "Channel +"),
        Binding("left_square_bracket", "select_channel(-1)", "Channel -", show=False),
        Binding("shift+up", "move_position(-1, 0)", "Position", show=False),
        Binding("shift+down", "move_position(1, 0)", "Position", show=False),
        Binding("shift+left", "move_position(0, -1)", "Position", show=False),
        Binding("shift+right", "move_position(0, 1)", "Position", show=False),
        Binding("r", "reload", "Reload"),
        # the detail (filters, weights, the dot product) is taller than its panel at 80x24, and
        # the arrows are the layers': page keys scroll it
        Binding("pagedown", "scroll_detail(1)", "Scroll the detail down", show=False),
        Binding("pageup", "scroll_detail(-1)", "Scroll the detail up", show=False),
        Binding("escape", "leave_canvas", "Leave canvas", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.inspector = None  # backend.inspect.Inspector, once loaded (in the worker)
        self.view = None  # backend.inspect.View on screen
        self.request: InspectRequest | None = None
        self.step_index = 0  # in the test images (or in the misclassified ones)
        self.misclassified: list[int] | None = None  # test indices, when only those are shown
        self.layer_index = 0
        self.channel = 0
        self.cell = (0, 0)  # the chosen position in the selected layer's map
        self.drawing = False
        self._layer_widgets: list[tuple[Static, PixelView]] = []
        self._loading = False  # a model is being loaded for self.request

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading the model…", id="inspect-source")
        with Horizontal(id="inspect-body"):
            with Scroll(id="inspect-left"):
                yield Static("", id="inspect-input")
                yield DigitCanvas(id="inspect-canvas")
                yield Static("", id="inspect-prediction")
            with Vertical(id="inspect-right"):
                yield Scroll(Static("", id="inspect-detail"), id="inspect-detail-scroll")
                yield Scroll(id="inspect-layers")
        yield KeysFooter()

    def action_scroll_detail(self, direction: int) -> None:
        detail = self.query_one("#inspect-detail-scroll", Scroll)
        detail.scroll_relative(y=direction * max(1, detail.size.height - 1), animate=False)

    def on_resize(self) -> None:
        """The maps are tiled to the width they had when drawn: tile them again to the new one
        (a terminal widened to 160 columns kept two maps a row, most of the width empty)."""
        if self.view is not None:
            self.call_after_refresh(self._show_layers)  # after the layout: the new width

    def on_screen_resume(self) -> None:
        """Shown (again): load what the app asks for, if it is not what is on screen."""
        if not self.drawing:
            self.set_focus(None)  # the arrows are the screen's (the canvas takes them only while drawing)
        wanted = session(self).inspect_request
        session(self).inspect_request = None
        if wanted is None:
            wanted = InspectRequest(session(self).latest_run_dir)
            same_run = self.request is not None and wanted.run_dir == self.request.run_dir
            if same_run and (
                self._loading
                or self.inspector is not None
                and (wanted.run_dir is not None or self.inspector.spec == self.app.spec)
            ):
                return  # still what the app shows, or on its way (a failed load is tried again)
        self.open(wanted)

    def open(self, request: InspectRequest) -> None:
        self.request = request
        self._loading = True
        self.misclassified = None
        self.step_index = 0
        self._load(request, self.app.spec)

    # --- torch, in a thread ---

    @work(thread=True, exclusive=True, group="inspect")
    def _load(self, request: InspectRequest, spec) -> None:
        from ...backend.inspect import Inspector

        self._run_in_worker(
            lambda: self._first_view(
                Inspector.for_run(request.run_dir) if request.run_dir else Inspector.untrained(spec), request
            )
        )

    def _first_view(self, inspector, request: InspectRequest):
        index = None
        if request.image is not None:
            index = inspector.find_test_image(request.image)
            if index is None:
                image = np.asarray(request.image, dtype=np.uint8)[None]
                return inspector, inspector.view(image, request.label, "a misclassified example"), None
        if inspector.test_size():
            return inspector, inspector.test_view(index or 0), None
        return inspector, self._blank_view(inspector), None

    @staticmethod
    def _blank_view(inspector):
        image = np.zeros(tuple(inspector.spec.input_shape), dtype=np.uint8)
        return inspector.view(image, None, f"a blank image ({inspector.why_no_test_images()})")

    @work(thread=True, exclusive=True, group="inspect")
    def _compute(self, job) -> None:
        self._run_in_worker(job)

    def _run_in_worker(self, job) -> None:
        from ...backend.build import InvalidSpecError
        from ...backend.data import MissingDataError
        from ...backend.inspect import InspectError

        try:
            result = job()
        except (InspectError, MissingDataError, InvalidSpecError) as exc:
            result = str(exc)
        except Exception as exc:  # noqa: BLE001 - the screen says what broke instead of the app crashing
            result = f"unexpected error: {type(exc).__name__}: {exc}"
        if get_current_worker().is_cancelled:
            return
        if isinstance(result, str):
            self.post_message(InspectFailed(result))
        else:
            self.post_message(ViewReady(*result))

    def on_view_ready(self, message: ViewReady) -> None:
        self._loading = False
        self.inspector, self.view = message.inspector, message.view
        if message.order is not None:
            self.misclassified = message.order
            self.step_index = 0
        if message.view.test_index is not None and self.misclassified is None:
            self.step_index = message.view.test_index
        self._clamp_selection()
        self._show()

    def on_inspect_failed(self, message: InspectFailed) -> None:
        self._loading = False
        self.query_one("#inspect-source", Static).update(Text(f"Cannot inspect: {message.reason}", "bold red"))
        self.notify(message.reason, title="Inspect", severity="error")

    # --- picking the input ---

    def _show_test_image(self, index: int) -> None:
        inspector = self.inspector
        self._compute(lambda: (inspector, inspector.test_view(index), None))

    def action_step(self, delta: int) -> None:
        if self.inspector is None or self.drawing:
            return
        order = self.misclassified
        count = len(order) if order is not None else self.inspector.test_size()
        if not count:
            self.notify("No test images to step through.", severity="warning")
            return
        self.step_index = (self.step_index + delta) % count
        self._show_test_image(order[self.step_index] if order is not None else self.step_index)

    def action_toggle_misclassified(self) -> None:
        if self.inspector is None:
            return
        if self.misclassified is not None:
            self.misclassified = None
            self.step_index = self.view.test_index or 0
            self._show_test_image(self.step_index)
            return
        inspector = self.inspector
        self.notify("Finding the misclassified test images…")

        def job():
            from ...backend.inspect import InspectError

            order = inspector.misclassified()
            if not order:
                raise InspectError("the model gets every test image right: no misclassified ones to show")
            return inspector, inspector.test_view(order[0]), order

        self._compute(job)

    def action_draw(self) -> None:
        if self.inspector is None:
            return
        if tuple(self.inspector.spec.input_shape) != (1, 28, 28):
            self.notify("Drawing is for 1x28x28 models.", severity="warning")
            return
        canvas = self.query_one(DigitCanvas)
        canvas.display = True
        self.drawing = True
        canvas.focus()
        self._predict_drawing(canvas.pixels.copy())

    def action_leave_canvas(self) -> None:
        if self.drawing:
            self.drawing = False
            self.query_one(DigitCanvas).display = False
            self.set_focus(None)
            if self.inspector.test_size():  # back to the test images, where the drawing began
                order = self.misclassified
                self._show_test_image(order[self.step_index] if order is not None else self.step_index)

    def on_digit_canvas_drawn(self, message: DigitCanvas.Drawn) -> None:
        self._predict_drawing(message.pixels)

    def _predict_drawing(self, pixels: np.ndarray) -> None:
        inspector = self.inspector
        self._compute(lambda: (inspector, inspector.view(pixels[None], None, "your drawing"), None))

    def action_reload(self) -> None:
        if self.request is not None:
            self.open(InspectRequest(self.request.run_dir))

    # --- choosing what the detail shows ---

    def action_select_layer(self, delta: int) -> None:
        if self._selected_layer() is None:
            return
        self.layer_index = (self.layer_index + delta) % len(self.view.layers)
        self._clamp_selection()
        self._show()
        title, _ = self._layer_widgets[self.layer_index]
        if title.parent is not None:
            title.parent.scroll_visible(animate=False, top=True)

    def action_select_channel(self, delta: int) -> None:
        layer = self._selected_layer()
        if layer is None:
            return
        self.channel = (self.channel + delta) % max(len(layer.thumbnails) if layer.is_map else 1, 1)
        self._show()

    def action_move_position(self, drow: int, dcol: int) -> None:
        layer = self._selected_layer()
        if layer is None or not layer.is_map:
            return
        self.cell = (self.cell[0] + drow, self.cell[1] + dcol)
        self._clamp_selection()
        self._show()

    def _selected_layer(self):
        """The layer the detail is about (its index clamped by every new view); None before the
        first view and for a model without layers, whose view has none."""
        if self.view is None or not self.view.layers:
            return None
        return self.view.layers[self.layer_index]

    def _clamp_selection(self) -> None:
        # A new view (another model) may have fewer layers than the one the index was for.
        self.layer_index = max(0, min(self.layer_index, len(self.view.layers) - 1))
        layer = self._selected_layer()
        if layer is not None and layer.is_map:
            channels, height, width = layer.output.shape
            self.channel = min(self.channel, channels - 1)
            self.cell = (min(max(self.cell[0], 0), height - 1), min(max(self.cell[1], 0), width - 1))
        else:
            self.channel, self.cell = 0, (0, 0)

    # --- drawing it all ---

    def _show(self) -> None:
        view = self.view
        self.query_one("#inspect-source", Static).update(self._source_line())
        self.query_one("#inspect-input", Static).update(self._input_picture())
        self.query_one("#inspect-prediction", Static).update(prediction_text(view.prediction))
        self.query_one("#inspect-detail", Static).update(self._detail())
        self._show_layers()

    def _source_line(self) -> Text:
        view, inspector = self.view, self.inspector
        text = Text(no_wrap=True, overflow="ellipsis")
        if inspector.trained:
            text.append(inspector.description, "bold")
        else:  # the badge says it once; the description would say "random weights" again
            text.append("RANDOM WEIGHTS (not trained)", "bold reverse")
            text.append(f" {inspector.spec.name}", "bold")
        if self.misclassified is not None:
            parts = [(f"misclassified {self.step_index + 1}/{len(self.misclassified)}", "")]
        elif view.test_index is not None:
            parts = [(f"{view.source} of {inspector.test_size()}", "")]
        else:
            parts = [(view.source, "")]
        parts += [(note, "italic") for note in view.notes]
        for part, style in parts:  # each after a separator: none left dangling at the end
            text.append(" · ")
            text.append(part, style)
        return text

    def _input_picture(self):
        """The input (channels averaged to gray), the receptive field of the chosen position
        outlined on it."""
        gray = self.view.image.astype(np.float32).mean(0).round().astype(np.int32)
        box = self._receptive_box()
        if box is not None:
            clipped = box.clip(*gray.shape)
            for row in range(clipped.top, clipped.bottom + 1):
                for col in range(clipped.left, clipped.right + 1):
                    if clipped.on_border(row, col):
                        gray[row, col] = MARK
        return picture(gray)

    def _receptive_box(self):
        layer = self._selected_layer()
        if layer is None or not layer.is_map or self.inspector.is_module:  # a module's windows are not known
            return None
        return receptive_box(self.inspector.reports, self.layer_index, *self.cell)

    def _show_layers(self) -> None:
        container = self.query_one("#inspect-layers", Scroll)
        width = max(container.size.width or (self.app.size.width - 32), 20) - 2
        if len(self._layer_widgets) != len(self.view.layers):
            container.remove_children()
            self._layer_widgets = [(Static(classes="layer-title"), PixelView()) for _ in self.view.layers]
            # No ids: the old rows are removed asynchronously, and the same ids mounted again
            # before that finished ended the app (DuplicateIds, found by the key fuzzer).
            container.mount_all(Vertical(title, pixels, classes="layer") for title, pixels in self._layer_widgets)
        for index, ((title, pixels), layer) in enumerate(zip(self._layer_widgets, self.view.layers)):
            selected = index == self.layer_index
            title.update(layer_title(layer, selected))
            pixels.show(layer_picture(layer, width, self.channel if selected else None))

    def _detail(self) -> Group:
        layer = self._selected_layer()
        text = Text(no_wrap=True, overflow="crop")
        if layer is None:
            return Group(text.append(f"{self.inspector.spec.name} has no layers to look inside", "bold"))
        text.append(f"{layer.name} {layer.type} · {fmt.dims(layer.output.shape)}", "bold")
        if not layer.is_map:
            text.append(
                f"\nmin {layer.stats.min:.4g} max {layer.stats.max:.4g} mean {layer.stats.mean:.4g}"
                f" · ↑↓ picks a layer with maps to see more"
            )
            return Group(text)
        row, col = self.cell
        value = float(layer.output[self.channel, row, col])
        text.append(f" · channel {self.channel} · position ({row}, {col}) = {value:.4g}")
        parts: list = [text]
        kind = layer.report.layer_type
        if layer.report.geometry is None:  # a leaf of a user's module: its call seen, not its windows
            parts.append(_line("a layer of your own module: its windows and receptive field are not shown", "italic"))
        elif layer.weight is not None:  # filters: the only weights the inspector keeps
            parts += self._conv_detail(layer)
        elif kind.pools == "max" and not kind.adaptive:  # an adaptive window varies: no one winner
            parts += self._pool_detail(layer)
        parts += [
            _line("map (normalised), the position marked:", "italic"),
            _large_map(layer.output[self.channel], marks=[self.cell]),
        ]
        return Group(*parts)

    def _conv_detail(self, layer) -> list:
        from ...backend.inspect import window_values

        kernels = layer.weight.mean(1)  # each filter, its input channels averaged
        factor = max(1, 6 // max(kernels.shape[1:]))
        maps = [magnify(np.asarray(normalise(k.tolist())), factor) for k in kernels]
        parts: list = [
            _line(f"filters ({len(maps)}, averaged over {layer.weight.shape[1]} input channels):", "italic"),
            picture(tiled(maps, fit_columns(60, maps[0].shape[1]), self.channel)),
        ]
        weights = layer.weight[self.channel]
        if weights.shape[0] == 1 and weights.size <= 49:
            parts.append(_line("filter weights:", "italic"))
            parts.append(_line("\n".join("  ".join(f"{w:>7.3f}" for w in row) for row in weights[0])))
        else:
            shown = weights[:MAX_KERNELS]
            parts.append(
                _line(
                    f"filter {self.channel}, one kernel per input channel"
                    f"{f' (first {len(shown)} of {len(weights)})' if len(weights) > len(shown) else ''}:",
                    "italic",
                )
            )
            kernels = [magnify(np.asarray(normalise(k.tolist())), factor) for k in shown]
            parts.append(picture(tiled(kernels, fit_columns(60, kernels[0].shape[1]))))
        patch = window_values(layer, *self.cell)
        bias = float(layer.bias[self.channel]) if layer.bias is not None else None
        following = (
            self.view.layers[self.layer_index + 1].type if self.layer_index + 1 < len(self.view.layers) else None
        )
        parts.append(_line("the dot product at this position:", "italic"))
        parts.append(_line("\n".join(dot_product_lines(weights.tolist(), patch.tolist(), bias, following))))
        return parts

    def _pool_detail(self, layer) -> list:
        from ...backend.inspect import pool_winners, window_values

        values = window_values(layer, *self.cell, fill=-np.inf)[self.channel]
        return [
            _line("the window at this position (* won):", "italic"),
            _line("\n".join(pool_lines(values.tolist()))),
            _line("the input map, each window's winner marked:", "italic"),
            _large_map(layer.input[self.channel], winners=pool_winners(layer, self.channel)),
        ]


def _line(text: str, style: str = "") -> Text:
    """Detail text that never wraps (a formula or a grid of numbers torn across lines misleads)."""
    return Text(text, style, no_wrap=True, overflow="crop")


def _large_map(values: np.ndarray, marks=(), winners=()):
    image = np.asarray(normalise(values.tolist()), dtype=np.int32)
    for row, col in winners:
        if 0 <= row < image.shape[0] and 0 <= col < image.shape[1]:
            image[row, col] = WINNER
    for row, col in marks:
        image[row, col] = MARK
    factor = max(1, DETAIL_MAP_PIXELS // max(image.shape))
    return picture(magnify(image, factor))


def prediction_text(prediction: Prediction) -> Text:
    """The true label, the prediction and top 3, and a bar per class."""
    text = Text(no_wrap=True, overflow="crop")
    if not prediction.probabilities:
        return Text("The model's output is not a class score.")
    predicted = prediction.predicted
    if prediction.label is not None:
        verdict = "right" if prediction.label == predicted else "WRONG"
        text.append(
            f"true {prediction.class_name(prediction.label)} · predicted "
            f"{prediction.class_name(predicted)} ({verdict})\n",
            "bold",
        )
    else:
        text.append(f"predicted {prediction.class_name(predicted)}\n", "bold")
    text.append("top 3: " + ", ".join(f"{prediction.class_name(i)} {p:.0%}" for i, p in prediction.top(3)) + "\n")
    width = max(len(prediction.class_name(i)) for i in range(len(prediction.probabilities)))
    for index, p in enumerate(prediction.probabilities):
        filled = p * BAR_CELLS
        bar = "█" * int(filled) + (" ▏▎▍▌▋▊▉"[int((filled % 1) * 8)] if int(filled) < BAR_CELLS else "")
        style = "bold" if index == predicted else ""
        text.append(f"{prediction.class_name(index)[:12]:<{min(width, 12)}} ", style)
        text.append(
            bar.ljust(BAR_CELLS), "green" if index == prediction.label else ("red" if index == predicted else "")
        )
        text.append(f" {p:6.1%}\n", style)
    text.rstrip()
    return text


def layer_title(layer, selected: bool) -> Text:
    """A layer's name and shape (as the tracker writes it) and what its outputs span."""
    stats = layer.stats
    text = Text(no_wrap=True, overflow="crop")
    text.append("▶ " if selected else "  ", "bold")
    text.append(f"{layer.name} {layer.type} ", "bold")
    text.append(f"{fmt.dims(layer.output.shape)}", "bold reverse")
    text.append(f"  min {stats.min:.3g} max {stats.max:.3g} zeros {stats.zero_fraction:.0%}")
    return text


def layer_picture(layer, width: int, selected_channel: int | None) -> np.ndarray:
    """A layer's maps as thumbnails side by side (normalised per map), the selected one framed."""
    maps = list(layer.thumbnails)
    return tiled(maps, fit_columns(width, maps[0].shape[1]), selected_channel)
