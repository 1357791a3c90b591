"""Spec files: TOML in, TOML out. Saving is atomic (a temporary file, then a rename), so a
crash or a full disk never leaves half a spec behind."""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import tomli_w

from .spec import BLOCK_TYPES, MAX_BLOCK_DEPTH, LayerSpec, ModelSpec, branches_of, freeze, is_block


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
    specs = tuple(_layer_from_table(layer, f"layer {i}", source, 0) for i, layer in enumerate(layers))
    return ModelSpec(str(model.get("name", "model")), tuple(shape), specs)


#: What each block's layer lists are called in a spec file.
_BLOCK_LISTS = {"Residual": ("body", "shortcut"), "Concat": ("branches",)}


def _layer_from_table(layer: Any, where: str, source: str, depth: int) -> LayerSpec:
    """One layer table, a block's inner layers read the same way, level by level."""
    if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
        raise SpecError(f'{source}: {where} needs a type, e.g. type = "Conv2d"')
    kind = layer["type"]
    if kind in BLOCK_TYPES:
        return _block_from_table(layer, f"{where} ({kind})", source, depth)
    for key, value in layer.items():
        if _nesting(value) > MAX_VALUE_NESTING:
            raise SpecError(
                f"{source}: {where} ({kind}): {key} is nested more than "
                f"{MAX_VALUE_NESTING} deep; a layer's value is a number, a string or a pair [h, w]"
            )
    return LayerSpec(kind, {k: freeze(v) for k, v in layer.items() if k != "type"})


def _block_from_table(layer: dict[str, Any], where: str, source: str, depth: int) -> LayerSpec:
    kind = layer["type"]
    if depth >= MAX_BLOCK_DEPTH:
        raise SpecError(
            f"{source}: {where.split(' (')[0]}: blocks nest more than {MAX_BLOCK_DEPTH} deep "
            "(a block inside a block ...); real networks need two or three levels"
        )
    names = _BLOCK_LISTS[kind]
    unknown = [key for key in layer if key not in ("type", *names)]
    if unknown:
        raise SpecError(f"{source}: {where} has no argument {unknown[0]!r} (it takes: {', '.join(names)})")

    def layer_list(value: Any, what: str) -> tuple[LayerSpec, ...]:
        if not isinstance(value, list):
            raise SpecError(
                f"{source}: {where}: {what} must be an array of layer tables, e.g. "
                f'[{{type = "ReLU"}}], got {type(value).__name__} {_short(value)}'
            )
        return tuple(
            _layer_from_table(item, f"{where} {what} layer {j}", source, depth + 1) for j, item in enumerate(value)
        )

    if kind == "Residual":
        if "body" not in layer:
            raise SpecError(
                f'{source}: {where} needs a body, e.g. body = [{{type = "Conv2d", out_channels = 16, '
                "kernel_size = 3, padding = 1}]"
            )
        args: dict[str, Any] = {"body": layer_list(layer["body"], "body")}
        if "shortcut" in layer:
            args["shortcut"] = layer_list(layer["shortcut"], "shortcut")
        return LayerSpec(kind, args)
    branches = layer.get("branches")
    if not isinstance(branches, list) or not branches:
        raise SpecError(
            f"{source}: {where} needs branches, an array of layer arrays, e.g. "
            f'branches = [[{{type = "Conv2d", out_channels = 8, kernel_size = 1}}], []], got '
            f"{_short(branches)}"
        )
    return LayerSpec(kind, {"branches": tuple(layer_list(b, f"branch {j}") for j, b in enumerate(branches))})


def _short(value: Any) -> str:
    """A value in a message, cut to one short line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: No layer argument is more than a pair [h, w]; a little room above that keeps the engine's
#: own message ("must be a pair") for near misses, and stops a 1,000-deep list before
#: anything recurses through it.
MAX_VALUE_NESTING = 4


def _nesting(value: Any) -> int:
    """How deep lists and tables nest in a value (0 for a number, 1 for [3, 3]), level by
    level rather than by recursion, and no further than one level past the limit."""
    depth, level = 0, [value]
    while depth <= MAX_VALUE_NESTING:
        containers = [item for item in level if isinstance(item, (list, dict))]
        if not containers:
            break
        depth += 1
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]
    return depth


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

    def check(layers: tuple[LayerSpec, ...], where: str) -> None:
        for index, layer in enumerate(layers):
            if is_block(layer):
                for branch, inner in enumerate(branches_of(layer)):
                    check(inner, f"{where}{index} ({layer.type}) branch {branch} layer ")
                continue
            for name, value in layer.args.items():
                if value is None or (isinstance(value, tuple) and None in value):
                    raise SpecError(
                        f"{where}{index} ({layer.type}): {name} = {value!r} cannot be saved: TOML has "
                        "no None, so write the number it stands for (the incoming height or width)"
                    )

    check(spec.layers, "layer ")


def _plain(value: Any) -> Any:
    """A spec value as TOML holds it: tuples as lists, a block's layers as tables."""
    if isinstance(value, LayerSpec):
        return layer_to_dict(value)
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def layer_to_dict(layer: LayerSpec) -> dict[str, Any]:
    return {"type": layer.type, **{k: _plain(v) for k, v in layer.args.items()}}


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    return {
        "model": {"name": spec.name, "input_shape": list(spec.input_shape)},
        "layers": [layer_to_dict(layer) for layer in spec.layers],
    }


def loads_spec(text: str, source: str = "spec") -> ModelSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise SpecError(
            f"{source}: arrays or tables nested too deeply to read (a spec needs at most "
            f"[[layers]] with pairs such as [3, 3])"
        ) from None
    return spec_from_dict(data, source)


def _toml_value(value: Any) -> str:
    """A value in TOML on one line: arrays as ``[3, 5]`` and tables inline, where tomli_w
    would spread an array over one line per item. tomli_w still escapes the strings."""
    if isinstance(value, dict):
        return "{" + ", ".join(_toml_line(k, v) for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")


def _toml_line(key: str, value: Any, top: bool = False) -> str:
    """``key = value`` on one line, tomli_w quoting the key; a top-level block's list of
    layers one layer a line (a Concat's branches one branch a line), as people write them."""
    quoted_key = tomli_w.dumps({key: 0}).removesuffix(" = 0\n")
    if top and isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
        return f"{quoted_key} = [\n" + "".join(f"    {_toml_value(item)},\n" for item in value) + "]"
    return f"{quoted_key} = {_toml_value(value)}"


def dumps_spec(spec: ModelSpec) -> str:
    """The TOML text of a spec, laid out as people write it (see the presets)."""
    _check_writable(spec)
    data = spec_to_dict(spec)
    tables = [("[model]", data["model"])] + [("[[layers]]", layer) for layer in data["layers"]]
    return "\n".join(
        "\n".join([header, *(_toml_line(k, v, top=True) for k, v in table.items())]) + "\n" for header, table in tables
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


class NotARegularFileError(OSError):
    """The target exists and is not a regular file: a rename would replace it with one."""

    def __init__(self, path: Path, why: str):
        super().__init__(why)
        self.strerror, self.filename = why, str(path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _refuse_what_is_not_a_regular_file(path: Path) -> None:
    """The atomic rename replaces whatever has the name: a symbolic link would become a
    file (and the file it points to stay as it was), a device node or a pipe a plain file."""
    try:
        mode = path.lstat().st_mode
    except OSError:  # nothing there yet (or unreachable: creating the temporary file says why)
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        raise NotARegularFileError(
            path,
            f"it is a symbolic link (to {os.readlink(path)}): writing would replace the "
            "link itself, not the file it points to; give that file's path instead",
        )
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    raise NotARegularFileError(path, f"it is {kind}, not a regular file: refusing to replace it")


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` only when the block succeeds:
    written to a temporary file beside it, synced, then renamed into place. A crash or a full
    disk leaves the old file intact and no temporary file behind. Only a regular file is
    replaced: anything else under that name (a link, a device, a directory) is refused."""
    path = Path(path)
    _refuse_what_is_not_a_regular_file(path)
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
