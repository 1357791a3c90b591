"""A model is a spec: an input shape (C, H, W) and an ordered list of layers.

Specs are immutable values: every edit returns a new spec, which makes undo/redo a list of
snapshots and lets the shape engine be a pure function of its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, cast

from .layers import MAX_SIZE, ArgError


def freeze(value: Any) -> Any:
    """Lists (from TOML or JSON) become tuples, so specs compare and hash by value."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """``1,28,28``, ``1, 28, 28``, ``(3, 32, 32)`` or ``3x32x32``: three positive integers C, H, W.
    The CLI's --input, the tracker and the builder all read shapes through this."""
    parts = [p for p in text.strip("()[] ").replace("x", ",").replace(" ", ",").split(",") if p]
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and int(p) >= 1 for p in parts):
        raise ArgError(f"input shape must be three positive integers C, H, W, got {text!r}", "e.g. 1, 28, 28")
    if any(int(p) > MAX_SIZE for p in parts):  # torch would overflow (a C++ stack dump in track)
        raise ArgError(f"input shape sizes go up to {MAX_SIZE:,}, got {text!r}", "e.g. 1, 28, 28")
    return int(parts[0]), int(parts[1]), int(parts[2])


@dataclass(frozen=True, slots=True)
class LayerSpec:
    type: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, type: str, **args: Any) -> "LayerSpec":
        return cls(type, {k: freeze(v) for k, v in args.items()})

    def with_arg(self, name: str, value: Any) -> "LayerSpec":
        """Set an argument; ``None`` removes it (back to PyTorch's default or inference)."""
        args = dict(self.args)
        if value is None:
            args.pop(name, None)
        else:
            args[name] = freeze(value)
        return LayerSpec(self.type, args)

    def __hash__(self) -> int:
        return hash((self.type, tuple(sorted(self.args.items()))))


#: Blocks whose arguments are lists of layers rather than values; the argument names, in the
#: order a path (below) numbers them: a Residual's 0 is its body, 1 its shortcut.
BLOCK_TYPES = ("Residual", "Concat")

#: Blocks inside blocks: real networks nest two or three deep (a residual block inside an
#: Inception branch); the limit stops a generated file of thousands of levels early.
MAX_BLOCK_DEPTH = 16

#: Where a layer sits: (3,) is the model's layer 3; (3, 1, 0) the first layer of layer 3's
#: branch 1 (a Residual's shortcut, a Concat's second branch); and so on, a (branch, index)
#: pair for each block level.
Path = tuple[int, ...]


def is_block(layer: LayerSpec) -> bool:
    return layer.type in BLOCK_TYPES


def branches_of(layer: LayerSpec) -> tuple[tuple[LayerSpec, ...], ...]:
    """A block's paths as layer lists: a Residual's (body, shortcut), an absent shortcut
    being the identity (no layers); a Concat's branches. A plain layer has none. Values of
    the wrong type (a hand-made spec) count as no layers: the shape engine says what is wrong."""

    def layers(value: Any) -> tuple[LayerSpec, ...]:
        return value if isinstance(value, tuple) and all(isinstance(v, LayerSpec) for v in value) else ()

    if layer.type == "Residual":
        return (layers(layer.args.get("body", ())), layers(layer.args.get("shortcut", ())))
    if layer.type == "Concat":
        branches = layer.args.get("branches", ())
        return tuple(layers(b) for b in branches) if isinstance(branches, tuple) else ()
    return ()


def with_branches(layer: LayerSpec, branches: tuple[tuple[LayerSpec, ...], ...]) -> LayerSpec:
    """The block with new layer lists: the inverse of ``branches_of``. A Residual's empty
    shortcut is left out (the identity)."""
    if layer.type == "Residual":
        body, shortcut = branches
        return layer.with_arg("body", tuple(body)).with_arg("shortcut", tuple(shortcut) or None)
    return layer.with_arg("branches", tuple(tuple(b) for b in branches))


def residual(body: list[LayerSpec] | tuple[LayerSpec, ...], shortcut: tuple[LayerSpec, ...] = ()) -> LayerSpec:
    return with_branches(LayerSpec("Residual"), (tuple(body), tuple(shortcut)))


def concat(*branches: list[LayerSpec] | tuple[LayerSpec, ...]) -> LayerSpec:
    return LayerSpec("Concat", {"branches": tuple(tuple(b) for b in branches)})


def layer_at(layers: tuple[LayerSpec, ...], path: Path) -> LayerSpec:
    """The layer at ``path`` (IndexError when there is none)."""
    layer = layers[path[0]]
    for branch, index in zip(path[1::2], path[2::2]):
        layer = branches_of(layer)[branch][index]
    return layer


def edit_at(layers: tuple[LayerSpec, ...], path: Path, edit: Any) -> tuple[LayerSpec, ...]:
    """The layers with the list that holds ``path`` replaced by ``edit(that list, index)``:
    every insert, removal and replacement at any depth goes through here."""
    if len(path) == 1:
        return tuple(edit(list(layers), path[0]))
    outer = list(layers)
    block = outer[path[0]]
    branches = list(branches_of(block))
    branches[path[1]] = edit_at(branches[path[1]], path[2:], edit)
    outer[path[0]] = with_branches(block, tuple(branches))
    return tuple(outer)


def _replaced(layer: LayerSpec | None) -> Any:
    def edit(items: list[LayerSpec], index: int) -> list[LayerSpec]:
        items[index : index + 1] = [] if layer is None else [layer]
        return items

    return edit


def _inserted(layer: LayerSpec) -> Any:
    def edit(items: list[LayerSpec], index: int) -> list[LayerSpec]:
        items.insert(index, layer)
        return items

    return edit


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    input_shape: tuple[int, int, int]  # C, H, W
    layers: tuple[LayerSpec, ...] = ()

    def with_layers(self, layers: list[LayerSpec] | tuple[LayerSpec, ...]) -> "ModelSpec":
        return replace(self, layers=tuple(layers))

    def with_input_shape(self, shape: tuple[int, int, int]) -> "ModelSpec":
        # tuple(): a caller may pass the shape as a list (read from a file); it keeps C, H, W.
        return replace(self, input_shape=cast("tuple[int, int, int]", tuple(shape)))

    def insert(self, index: int, layer: LayerSpec) -> "ModelSpec":
        layers = list(self.layers)
        layers.insert(index, layer)
        return self.with_layers(layers)

    def remove(self, index: int) -> "ModelSpec":
        layers = list(self.layers)
        del layers[index]
        return self.with_layers(layers)

    def replace_layer(self, index: int, layer: LayerSpec) -> "ModelSpec":
        layers = list(self.layers)
        layers[index] = layer
        return self.with_layers(layers)

    def layer_at(self, path: Path) -> LayerSpec:
        return layer_at(self.layers, path)

    def replace_at(self, path: Path, layer: LayerSpec) -> "ModelSpec":
        return self.with_layers(edit_at(self.layers, path, _replaced(layer)))

    def remove_at(self, path: Path) -> "ModelSpec":
        return self.with_layers(edit_at(self.layers, path, _replaced(None)))

    def insert_at(self, path: Path, layer: LayerSpec) -> "ModelSpec":
        """Insert so that ``layer`` ends up at ``path``."""
        return self.with_layers(edit_at(self.layers, path, _inserted(layer)))

    def move(self, index: int, offset: int) -> "ModelSpec":
        """Move a layer up (offset -1) or down (+1); out-of-range moves change nothing."""
        target = index + offset
        if not (0 <= index < len(self.layers) and 0 <= target < len(self.layers)):
            return self
        layers = list(self.layers)
        layers[index], layers[target] = layers[target], layers[index]
        return self.with_layers(layers)


@dataclass(frozen=True, slots=True)
class Fix:
    """A suggested edit the builder can apply with one key."""

    label: str  # e.g. "set in_features = 3136"
    layer: int
    set_args: tuple[tuple[str, Any], ...] = ()  # (field, value); value None removes the field
    insert_before: LayerSpec | None = None
    remove_layer: bool = False
    new_type: str | None = None  # keep the arguments, change the class
    path: Path = ()  # a layer inside a block: its full path (``layer`` is then path[0])

    @property
    def where(self) -> Path:
        return self.path or (self.layer,)

    def apply(self, spec: ModelSpec) -> ModelSpec:
        if self.remove_layer:
            return spec.remove_at(self.where)
        if self.insert_before is not None:
            return spec.insert_at(self.where, self.insert_before)
        layer = spec.layer_at(self.where)
        if self.new_type is not None:
            layer = LayerSpec(self.new_type, layer.args)
        for name, value in self.set_args:
            layer = layer.with_arg(name, value)
        return spec.replace_at(self.where, layer)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    layer: int | None  # None: about the model as a whole (e.g. its input shape)
    field: str | None
    severity: str  # "error" | "warning"
    message: str
    suggestion: str | None = None
    fix: Fix | None = None
    path: Path = ()  # a layer inside a block: its full path (``layer`` is then path[0])

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "field": self.field,
            "severity": self.severity,
            "message": self.message,
            "suggestion": self.suggestion,
            **({"path": list(self.path)} if self.path else {}),
        }
