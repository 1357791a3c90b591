"""Spec files: TOML in, TOML out. Saving is atomic (a temporary file, then a rename), so a
crash or a full disk never leaves half a spec behind."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from .spec import LayerSpec, ModelSpec, freeze


class SpecError(ValueError):
    """A spec file that cannot be read: the message says which file and what is wrong."""


def spec_from_dict(data: dict[str, Any], source: str = "spec") -> ModelSpec:
    model = data.get("model")
    if not isinstance(model, dict):
        raise SpecError(f"{source}: missing [model] table (with name and input_shape)")
    shape = model.get("input_shape")
    if not isinstance(shape, list) or len(shape) != 3:
        raise SpecError(f"{source}: [model] input_shape must be a list [C, H, W], got {shape!r}")
    layers = data.get("layers", [])
    if not isinstance(layers, list):
        raise SpecError(f"{source}: layers must be an array of tables ([[layers]])")
    specs = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise SpecError(f"{source}: layer {i} needs a type, e.g. type = \"Conv2d\"")
        args = {k: freeze(v) for k, v in layer.items() if k != "type"}
        specs.append(LayerSpec(layer["type"], args))
    return ModelSpec(str(model.get("name", "model")), tuple(shape), tuple(specs))


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    return {
        "model": {"name": spec.name, "input_shape": list(spec.input_shape)},
        "layers": [{"type": layer.type, **{k: plain(v) for k, v in layer.args.items()}} for layer in spec.layers],
    }


def loads_spec(text: str, source: str = "spec") -> ModelSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML ({exc})") from None
    return spec_from_dict(data, source)


def dumps_spec(spec: ModelSpec) -> str:
    return tomli_w.dumps(spec_to_dict(spec))


def load_spec(path: str | os.PathLike[str]) -> ModelSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror if isinstance(exc, OSError) else exc})") from None
    return loads_spec(text, str(path))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write to a temporary file beside the target, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_spec(spec: ModelSpec, path: str | os.PathLike[str]) -> None:
    atomic_write_text(path, dumps_spec(spec))
