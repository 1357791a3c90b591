"""What a run trains: a spec (the app's own layers) or a user's own nn.Module, named by
``MODULE:ATTR`` (what `tui-cnn track` takes). Declared once here, for the run request that
starts a training process (backend/launch.py) and for config.json (backend/runs.py writes
it, domain/run_records.py's RunConfigFile reads it): both hold ``"spec"`` and, for a module run,
``"module"`` too.

A module run's ``"spec"`` is a spec with no layers that carries the module's name and input
shape, so every reader that wants a spec (the monitor's title, Runs, Compare) finds one.
The files of the module that came from the user's directory are kept in
``RUN_DIR/source/<path>``: a resumed or inspected run imports the kept copy, not the
original (which may have changed since: its sha256 tells).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Union, cast

import msgspec

from .spec import ModelSpec
from .specfile import spec_from_dict, spec_to_dict

#: Where a run keeps the copies of its module's source files.
SOURCE_DIR = "source"


class SourceFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    path: str  # relative to RUN_DIR/source (and to the directory it was imported from)
    origin: str  # the file it was copied from
    sha256: str  # of the copy, when it was made


class ModuleSource(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A user's nn.Module: ``target`` ("pkg.mod:Net") built with no arguments, for images of
    ``input_shape`` (C, H, W); ``files``: its source kept in the run (none before the run
    has started, or for a module from an installed package)."""

    target: str
    input_shape: tuple[int, int, int]
    files: tuple[SourceFile, ...] = ()

    @property
    def name(self) -> str:
        """What the run calls the model: the attribute's name (Net in pkg.mod:Net)."""
        return self.target.rpartition(":")[2].rpartition(".")[2] or self.target

    @property
    def stub_spec(self) -> ModelSpec:
        """The spec with no layers that names this module for readers wanting a spec."""
        # tuple(): built in code the shape may be a list (msgspec checks types only when decoding).
        return ModelSpec(self.name, cast("tuple[int, int, int]", tuple(self.input_shape)), ())


ModelSource = Union[ModelSpec, ModuleSource]


def is_module(source: ModelSource) -> bool:
    return isinstance(source, ModuleSource)


def source_to_dict(source: ModelSource) -> dict[str, Any]:
    """``{"spec": ...}``, and ``"module"`` for a module run: a request's and config.json's keys."""
    if isinstance(source, ModuleSource):
        return {"spec": spec_to_dict(source.stub_spec), "module": msgspec.to_builtins(source)}
    return {"spec": spec_to_dict(source)}


def source_from_dict(data: dict[str, Any], where: str = "request") -> ModelSource:
    """The model of a request or config.json (SpecError or msgspec.ValidationError when unreadable)."""
    module = data.get("module")
    if module is not None:
        return msgspec.convert(module, ModuleSource)
    return spec_from_dict(data["spec"], where)


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def changed_originals(source: ModuleSource) -> list[str]:
    """The originals of the kept files that differ from their copy now (or are gone)."""
    changed = []
    for kept in source.files:
        try:
            same = sha256_of(kept.origin) == kept.sha256
        except OSError:
            same = False
        if not same:
            changed.append(kept.origin)
    return changed


def check_source_matches(source: ModelSource, dataset: str, data_dir: str | None = None) -> str | None:
    """``datasets.check_spec_matches`` for either model; a module's outputs are not known
    without torch: the training process checks them (backend.user_module)."""
    from .datasets import check_model_matches, check_spec_matches

    if isinstance(source, ModuleSource):
        return check_model_matches(source.name, tuple(source.input_shape), lambda: None, dataset, data_dir, module=True)
    return check_spec_matches(source, dataset, data_dir)
