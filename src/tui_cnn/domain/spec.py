"""A model is a spec: an input shape (C, H, W) and an ordered list of layers.

Specs are immutable values: every edit returns a new spec, which makes undo/redo a list of
snapshots and lets the shape engine be a pure function of its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

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


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    input_shape: tuple[int, int, int]  # C, H, W
    layers: tuple[LayerSpec, ...] = ()

    def with_layers(self, layers: list[LayerSpec] | tuple[LayerSpec, ...]) -> "ModelSpec":
        return replace(self, layers=tuple(layers))

    def with_input_shape(self, shape: tuple[int, int, int]) -> "ModelSpec":
        return replace(self, input_shape=tuple(shape))

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

    def apply(self, spec: ModelSpec) -> ModelSpec:
        if self.remove_layer:
            return spec.remove(self.layer)
        if self.insert_before is not None:
            return spec.insert(self.layer, self.insert_before)
        layer = spec.layers[self.layer]
        if self.new_type is not None:
            layer = LayerSpec(self.new_type, layer.args)
        for name, value in self.set_args:
            layer = layer.with_arg(name, value)
        return spec.replace_layer(self.layer, layer)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    layer: int | None  # None: about the model as a whole (e.g. its input shape)
    field: str | None
    severity: str  # "error" | "warning"
    message: str
    suggestion: str | None = None
    fix: Fix | None = None

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
        }
