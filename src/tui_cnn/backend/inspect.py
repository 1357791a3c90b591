"""One image through a model, layer by layer: the torch side of the Inspect screen and of
``tui-cnn inspect``.

A model is a run's best checkpoint (weights_only=True, its ``model`` state dict loaded into
the model built from the run's spec) or a spec with seeded random weights. Everything runs on
the CPU (the app must never create a CUDA context, and one image is cheap). Results are numpy
arrays and plain numbers, so the UI thread never calls torch: it only slices and draws.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..domain.datasets import DATASETS, FOLDER, DatasetInfo, default_dataset, missing_files
from ..domain.inspect import THUMBNAIL_PIXELS, InspectionReport, LayerStats, Prediction, layer_names, window
from ..domain.shapes import LayerReport, analyze
from ..domain.spec import ModelSpec

if TYPE_CHECKING:
    import torch

VECTOR_COLUMNS = 32  # a flat layer's values drawn as rows of this many pixels
EVAL_BATCH = 256


class InspectError(ValueError):
    """What cannot be inspected and why, in one sentence for a person."""


@dataclass
class LayerView:
    name: str  # features.0
    type: str
    report: LayerReport
    stats: LayerStats
    input: np.ndarray  # one sample's input to the layer: (C, H, W) or (N,)
    output: np.ndarray  # one sample's output
    thumbnails: np.ndarray  # uint8 (maps, h, w), each map normalised by its own min and max
    # A layer with filters (the catalogue's weights = "filters", a Conv2d): (out, in/groups, kh, kw)
    # and its bias; None for any other layer.
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None

    @property
    def is_map(self) -> bool:
        return self.output.ndim == 3


@dataclass
class View:
    """An image and everything the model made of it."""

    image: np.ndarray  # uint8 (C, H, W) as the dataset stores it
    prediction: Prediction
    layers: list[LayerView]
    source: str
    notes: list[str] = field(default_factory=list)
    test_index: int | None = None

    def report(self) -> InspectionReport:
        return InspectionReport(self.prediction, [layer.stats for layer in self.layers], self.source, self.notes)


def matching_dataset(spec: ModelSpec, preferred: str | None = None) -> DatasetInfo | None:
    """The dataset whose images this model takes: the run's own, else the one training would
    default to (full MNIST when present, else the built-in sample), else the first of that shape."""
    if preferred in DATASETS:
        return DATASETS[preferred]
    default = DATASETS[default_dataset(None)[0]]
    if default.input_shape == tuple(spec.input_shape):
        return default
    for info in DATASETS.values():
        if info.input_shape == tuple(spec.input_shape):
            return info
    return None


class Inspector:
    """A model on the CPU in eval mode, the dataset it reads, and its test split (loaded on
    first use)."""

    def __init__(
        self,
        spec: ModelSpec,
        state_dict: dict | None,
        *,
        dataset: str | None = None,
        data_dir: str | None = None,
        description: str = "",
        resize: str = "crop",
        module: "torch.nn.Module | None" = None,
    ):
        """``module``: a user's own nn.Module (a module run; ``spec`` its stub, with its name and
        input shape): its layers are its leaf modules as one forward pass calls them."""
        import torch

        from .build import build_model

        self.spec = spec
        self.trained = state_dict is not None
        self.description = description
        self.is_module = module is not None
        if state_dict is None:
            torch.manual_seed(0)  # the same "random weights" every time: a picture that does not flicker
        self.model = (module if module is not None else build_model(spec)).eval()
        if state_dict is not None:
            try:
                self.model.load_state_dict(state_dict)
            except RuntimeError as exc:
                raise InspectError(f"the checkpoint does not fit {spec.name}: {str(exc).splitlines()[0]}") from None
        if self.is_module:
            self.layers, self.names, self.reports = [], [], []
        else:
            self.layers = [*self.model.features, *self.model.classifier]
            self.names = layer_names(spec.layers)
            self.reports = analyze(spec, batch_size=1).layers
        self._test = None
        self._folder_problem: str | None = None
        if dataset == FOLDER:  # the run's own images: decoded (or read from the cache) now, for their classes
            self.info = self._read_folder(data_dir, resize)
        else:
            self.info = matching_dataset(spec, dataset)
        self.dataset, self.data_dir = (self.info.name if self.info else None), data_dir
        mean, std = (self.info.mean, self.info.std) if self.info else ((0.5,) * spec.input_shape[0],) * 2
        self._mean = torch.tensor(mean).view(1, -1, 1, 1) * 255
        self._std = torch.tensor(std).view(1, -1, 1, 1) * 255

    def _read_folder(self, data_dir: str | None, resize: str) -> DatasetInfo | None:
        from .data import MissingDataError, load_data

        try:
            data = load_data(FOLDER, data_dir, "cpu", input_shape=tuple(self.spec.input_shape), resize=resize)
        except MissingDataError as exc:
            self._folder_problem = str(exc)
            return None
        self._test = data.test
        return data.info

    # --- where the model comes from ---

    @classmethod
    def for_run(cls, run_dir: str | Path) -> "Inspector":
        """A run's best checkpoint (its last one while no epoch has been best yet)."""
        from ..domain.run_dir import BEST_CHECKPOINT, LAST_CHECKPOINT
        from ..domain.run_files import read_run_config
        from ..domain.specfile import SpecError, spec_from_dict
        from . import runs

        run_dir = Path(run_dir)
        try:
            saved = read_run_config(run_dir)
            spec = spec_from_dict(saved.spec, f"{run_dir}/config.json")  # a module run's: its stub
            config = saved.train_config()
        except (OSError, ValueError, KeyError, TypeError, SpecError, RecursionError) as exc:
            raise InspectError(f"{run_dir} is not a run directory with a readable config.json ({exc})") from None
        checkpoint = next(
            (run_dir / name for name in (BEST_CHECKPOINT, LAST_CHECKPOINT) if (run_dir / name).is_file()), None
        )
        if checkpoint is None:
            raise InspectError(f"{run_dir} has no checkpoint yet (one is written after each epoch)")
        try:
            state = runs.load_checkpoint(checkpoint, "cpu")
            weights = state["model"]
        except Exception as exc:  # noqa: BLE001 - unpickling refused, truncated file, not a dict: all one message
            raise InspectError(
                f"{checkpoint} is not a readable checkpoint ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})"
            ) from None
        if not isinstance(weights, dict):
            raise InspectError(f"{checkpoint} holds no model weights")
        module = _run_module(saved.module, run_dir) if saved.module is not None else None
        return cls(
            spec,
            weights,
            dataset=config.dataset,
            data_dir=config.data_dir,
            resize=config.resize,
            description=f"{spec.name}, {checkpoint.name} of run {run_dir.name}",
            module=module,
        )

    @classmethod
    def untrained(cls, spec: ModelSpec) -> "Inspector":
        return cls(spec, None, description=f"{spec.name} with random weights (not trained)")

    # --- inputs ---

    def test_split(self):
        """The dataset's test split on the CPU; None when no dataset takes this model's images
        or its files are not here (Inspect never downloads: ``why_no_test_images`` says so)."""
        if self._test is None and self.info is not None and not self.why_no_test_images():
            from .data import load_data

            self._test = load_data(self.info.name, self.data_dir, "cpu").test
        return self._test

    def why_no_test_images(self) -> str | None:
        if self._folder_problem:
            return self._folder_problem
        if self.info is None:
            return f"no dataset takes {self.spec.name}'s {'x'.join(map(str, self.spec.input_shape))} images"
        missing = [] if self.info.packaged or self.info.name == FOLDER else missing_files(self.info.name, self.data_dir)
        if missing:
            return f"the {self.info.name} test images are not in {missing[0].parent} (Inspect does not download)"
        return None

    def test_size(self) -> int:
        split = self.test_split()
        return len(split) if split is not None else 0

    def test_view(self, index: int) -> View:
        split = self.test_split()
        if split is None:
            raise InspectError(f"no test images: {self.why_no_test_images()}")
        if not 0 <= index < len(split):
            raise InspectError(f"there are {len(split)} test images: --index must be 0 to {len(split) - 1}")
        return self.view(split.images[index].numpy(), int(split.labels[index]), f"test image {index}", test_index=index)

    def misclassified(self) -> list[int]:
        """Indices of the test images the model gets wrong, the most confident mistakes first."""
        import torch

        split = self.test_split()
        if split is None:
            return []
        wrong, confidence = [], []
        with torch.inference_mode():
            for start in range(0, len(split), EVAL_BATCH):
                probabilities = self.model(self._normalise(split.images[start : start + EVAL_BATCH])).softmax(1)
                best, predicted = probabilities.max(1)
                mistakes = (predicted != split.labels[start : start + EVAL_BATCH]).nonzero().flatten()
                wrong += (mistakes + start).tolist()
                confidence += best[mistakes].tolist()
        return [index for _, index in sorted(zip(confidence, wrong), key=lambda pair: -pair[0])]

    def find_test_image(self, gray: list[list[int]]) -> int | None:
        """The test image an evaluation's misclassified example was (those are stored as gray
        pixels without their index): the first whose channel mean rounds to them."""
        import torch

        split = self.test_split()
        if split is None:
            return None
        target = torch.tensor(gray, dtype=torch.uint8)
        if tuple(target.shape) != tuple(split.images.shape[2:]):
            return None
        means = split.images.float().mean(1).round().to(torch.uint8)
        hits = (means == target).flatten(1).all(1).nonzero().flatten()
        return int(hits[0]) if len(hits) else None

    # --- the forward pass ---

    def _normalise(self, images: "torch.Tensor") -> "torch.Tensor":
        return (images.float() - self._mean) / self._std

    def normalised(self, image: np.ndarray) -> "torch.Tensor":
        """The model's input for one uint8 (C, H, W) image: a batch of one."""
        import torch

        return self._normalise(torch.from_numpy(np.array(image, dtype=np.uint8)).unsqueeze(0))  # a copy: writable

    def view(
        self,
        image: np.ndarray,
        label: int | None,
        source: str,
        notes: list[str] | None = None,
        test_index: int | None = None,
    ) -> View:
        import torch

        if tuple(image.shape) != tuple(self.spec.input_shape):
            raise InspectError(
                f"the image is {'x'.join(map(str, image.shape))} but {self.spec.name} takes "
                f"{'x'.join(map(str, self.spec.input_shape))}"
            )
        x = self.normalised(image)
        if self.is_module:
            return self._module_view(image, x, label, source, notes, test_index)
        layers = []
        with torch.inference_mode():
            for name, module, report in zip(self.names, self.layers, self.reports):
                y = module(x)
                layers.append(_layer_view(name, module, report, x[0], y[0]))
                x = y
            probabilities = x[0].float().softmax(0).tolist() if x.ndim == 2 else []
        classes = list(self.info.classes) if self.info else [str(i) for i in range(len(probabilities))]
        return View(image, Prediction(probabilities, classes, label), layers, source, notes or [], test_index)

    def _module_view(
        self,
        image: np.ndarray,
        x: "torch.Tensor",
        label: int | None,
        source: str,
        notes: list[str] | None,
        test_index: int | None,
    ) -> View:
        """A user's module: its forward pass as it is, each leaf module's call seen by a hook."""
        import torch

        calls: list[LayerView] = []

        def seen(name: str):
            def hook(module, inputs, output) -> None:
                first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
                if first is None or not isinstance(output, torch.Tensor) or output.shape[:1] != (1,):
                    return
                report = _leaf_report(len(calls), module, tuple(first.shape), tuple(output.shape))
                calls.append(_layer_view(name, module, report, first[0].float(), output[0].float()))

            return hook

        leaves = [(name, m) for name, m in self.model.named_modules() if name and not any(m.children())]
        handles = [m.register_forward_hook(seen(name)) for name, m in leaves]
        try:
            with torch.inference_mode():
                out = self.model(x)
        finally:
            for handle in handles:
                handle.remove()
        probabilities = out[0].float().softmax(0).tolist() if isinstance(out, torch.Tensor) and out.ndim == 2 else []
        classes = list(self.info.classes) if self.info else [str(i) for i in range(len(probabilities))]
        return View(image, Prediction(probabilities, classes, label), calls, source, notes or [], test_index)


def _run_module(source, run_dir: Path):
    """A module run's model, built from the run's kept copy of its source."""
    from .track_process import TrackError
    from .user_module import build_module

    try:
        return build_module(source, run_dir, forget=True)[0]
    except TrackError as exc:
        raise InspectError(f"cannot build {source.target} of {run_dir}: {exc}") from None


def _leaf_report(index: int, module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> LayerReport:
    """What a leaf of a user's module is, as far as its call shows: no geometry (no windows drawn)."""
    params = sum(p.numel() for p in module.parameters())
    return LayerReport(
        index, type(module).__name__, {}, in_shape, out_shape, params, params, 0, 0, 0, None, None, None, ()
    )


def _layer_view(name: str, module, report: LayerReport, x: "torch.Tensor", y: "torch.Tensor") -> LayerView:
    filters = report.layer_type.weights == "filters"  # the inspector draws a convolution's filters
    weight = getattr(module, "weight", None) if filters else None
    bias = getattr(module, "bias", None) if filters else None
    stats = LayerStats(
        name,
        report.type,
        tuple(y.shape),
        float(y.min()),
        float(y.max()),
        float(y.mean()),
        float((y == 0).float().mean()),
    )
    return LayerView(
        name,
        report.type,
        report,
        stats,
        x.numpy(),
        y.numpy(),
        _thumbnails(y),
        weight.detach().numpy() if weight is not None else None,
        bias.detach().numpy() if bias is not None else None,
    )


def _thumbnails(y: "torch.Tensor") -> np.ndarray:
    """Each map shrunk to at most THUMBNAIL_PIXELS a side (averaging) and scaled to 0..255 by
    its own min and max; a flat vector becomes one map of VECTOR_COLUMNS-wide rows."""
    import torch
    import torch.nn.functional as F

    if y.ndim == 3:
        factor = math.ceil(max(y.shape[1:]) / THUMBNAIL_PIXELS)
        maps = F.avg_pool2d(y.unsqueeze(0), factor, ceil_mode=True)[0] if factor > 1 else y
    else:
        flat = y.flatten()
        columns = min(VECTOR_COLUMNS, len(flat))
        rows = math.ceil(len(flat) / columns)
        maps = torch.cat([flat, flat.new_full((rows * columns - len(flat),), float(flat.min()))]).view(1, rows, columns)
    low = maps.amin((1, 2), keepdim=True)
    span = maps.amax((1, 2), keepdim=True) - low
    scaled = torch.where(span > 0, (maps - low) / span.clamp(min=1e-12) * 255, torch.zeros_like(maps))
    return (scaled + 0.5).to(torch.uint8).numpy()  # rounds (to(uint8) truncates); torch.round is slower here


# --- a user's image file ---


def image_from_file(path: str | Path, input_shape: tuple[int, int, int]) -> tuple[np.ndarray, list[str]]:
    """A picture as the model's uint8 (C, H, W) input, and what was done to it: resized to fit
    (aspect kept, centred on the background), turned gray or colour to match the channels,
    inverted when light-on-dark is what a gray model knows and the picture is dark-on-light."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    channels, height, width = input_shape
    if channels not in (1, 3):
        raise InspectError(
            f"the model takes {channels}-channel images: only 1 (gray) or 3 (RGB) can come from a picture"
        )
    try:
        # PIL warns (on stderr, in its own words) of a picture over ~89 Mpx: said in a note instead
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()
                picture = opened.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InspectError(f"{path} is not an image that can be read ({exc})") from None
    except OSError as exc:
        raise InspectError(f"cannot read {path}: {exc.strerror or exc}") from None
    notes = []
    if any(issubclass(warning.category, Image.DecompressionBombWarning) for warning in caught):
        notes.append(
            f"a very large picture ({picture.width}x{picture.height}, "
            f"{picture.width * picture.height / 1e6:.0f} Mpx): read, then resized"
        )
    mode = "L" if channels == 1 else "RGB"
    if picture.mode != mode:
        coloured = picture.mode not in ("L", "LA", "1", "I", "I;16", "F")
        if channels == 1 and coloured:
            notes.append(f"colour image ({picture.mode}) converted to gray: the model takes 1 channel")
        elif channels == 3 and not coloured:
            notes.append("gray image repeated on the R, G and B channels: the model takes colour")
        picture = picture.convert(mode)
    pixels = np.asarray(picture)
    if channels == 1:
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        if border.mean() > 127:
            pixels = 255 - pixels
            picture = Image.fromarray(pixels)
            notes.append("inverted: the picture is dark on light, the model's digits are light on dark")
    if picture.size != (width, height):
        original = f"{picture.size[0]}x{picture.size[1]}"
        fitted = ImageOps.pad(picture, (width, height), method=Image.Resampling.LANCZOS, color=0)
        notes.append(f"resized from {original} to {width}x{height} (aspect kept, padded)")
        picture = fitted
    array = np.asarray(picture, dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return np.ascontiguousarray(array), notes


# --- windows of a layer's input (numpy only: called from the UI thread) ---


def window_values(layer: LayerView, row: int, col: int, fill: float = 0.0) -> np.ndarray:
    """The input values output (row, col) of a sliding layer reads: (C, kh, kw), ``fill``
    where the window lies on padding."""
    geometry, box = layer.report.geometry, window(layer.report, row, col)
    x = layer.input
    rows = box.top + np.arange(geometry.kernel[0]) * geometry.dilation[0]
    cols = box.left + np.arange(geometry.kernel[1]) * geometry.dilation[1]
    inside_r = (rows >= 0) & (rows < x.shape[1])
    inside_c = (cols >= 0) & (cols < x.shape[2])
    values = np.full((x.shape[0], len(rows), len(cols)), fill, dtype=np.float64)
    values[:, inside_r[:, None] & inside_c[None, :]] = x[:, rows[inside_r][:, None], cols[inside_c][None, :]].reshape(
        x.shape[0], -1
    )
    return values


def pool_winners(layer: LayerView, channel: int) -> list[tuple[int, int]]:
    """For a max-pooling layer, the input pixel of ``channel`` that won each window."""
    winners = []
    geometry = layer.report.geometry
    for row in range(layer.output.shape[1]):
        for col in range(layer.output.shape[2]):
            values = window_values(layer, row, col, fill=-np.inf)[channel]
            r, c = np.unravel_index(int(np.argmax(values)), values.shape)
            box = window(layer.report, row, col)
            winners.append((box.top + r * geometry.dilation[0], box.left + c * geometry.dilation[1]))
    return winners
