"""Spec files: TOML in, TOML out. Saving is atomic (a temporary file, then a rename), so a
crash or a full disk never leaves half a spec behind."""

from __future__ import annotations

import difflib
import os
import tempfile
import tomllib
from pathlib import Path
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

import tomli_w

from .spec import LayerSpec, ModelSpec, freeze


class SpecError(ValueError):
    """A spec file that cannot be read: the message says which file and what is wrong."""


def spec_from_dict(data: dict[str, Any], source: str = "spec") -> ModelSpec:
    _reject_misspelt_tables(data, source)
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


def _reject_misspelt_tables(data: dict[str, Any], source: str) -> None:
    """``[[layer]]`` for ``[[layers]]`` would silently give a model without layers. Other
    unknown keys are left alone: tools may keep their own tables beside the model."""
    for key, table in (("layers", "[[layers]]"), ("model", "[model]")):
        if key in data:
            continue
        close = difflib.get_close_matches(key, [k for k in data if k not in ("layers", "model")], n=1, cutoff=0.7)
        if close:
            raise SpecError(f"{source}: unknown table {close[0]!r}: did you mean {table}?")


def _check_writable(spec: ModelSpec) -> None:
    """TOML has no null: PyTorch's None (e.g. AdaptiveAvgPool2d output_size = (None, 7))
    cannot be written, so say which value it is instead of failing inside the writer."""
    for index, layer in enumerate(spec.layers):
        for name, value in layer.args.items():
            if value is None or (isinstance(value, tuple) and None in value):
                raise SpecError(f"layer {index} ({layer.type}): {name} = {value!r} cannot be saved: TOML has no "
                                "None, so write the number it stands for (the incoming height or width)")


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


def _toml_line(key: str, value: Any) -> str:
    """``key = value`` on one line: ``kernel_size = [3, 5]``, where tomli_w would spread an
    array over one line per item. tomli_w still quotes the keys and escapes the strings."""
    if not isinstance(value, (tuple, list)):
        return tomli_w.dumps({key: value}).rstrip("\n")
    quoted_key = tomli_w.dumps({key: 0}).removesuffix(" = 0\n")
    items = (tomli_w.dumps({"v": item}).removeprefix("v = ").rstrip("\n") for item in value)
    return f"{quoted_key} = [{', '.join(items)}]"


def dumps_spec(spec: ModelSpec) -> str:
    """The TOML text of a spec, laid out as people write it (see the presets)."""
    _check_writable(spec)
    data = spec_to_dict(spec)
    tables = [("[model]", data["model"])] + [("[[layers]]", layer) for layer in data["layers"]]
    return "\n".join(
        "\n".join([header, *(_toml_line(k, v) for k, v in table.items())]) + "\n" for header, table in tables
    )


def load_spec(path: str | os.PathLike[str]) -> ModelSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror if isinstance(exc, OSError) else exc})") from None
    return loads_spec(text, str(path))


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: os.umask can only be read by setting it, which is unsafe once the
# trainer's thread may be creating files at the same moment.
_UMASK = _read_umask()


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only when the block succeeds:
    written to a temporary file beside it, synced, then renamed into place. A crash or a full
    disk leaves the old file intact and no temporary file behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it what a plain open() would.
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_writer(path) as handle:
        handle.write(text.encode("utf-8"))


def save_spec(spec: ModelSpec, path: str | os.PathLike[str]) -> None:
    atomic_write_text(path, dumps_spec(spec))
