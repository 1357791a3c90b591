"""Training a user's own nn.Module (domain.model_source): built from ``MODULE:ATTR`` as
`tui-cnn track` builds it (backend.introspect), from the run's kept copy of its source when
the run has one; checked against the data before any training; its source files from the
user's directory kept in the run (RUN_DIR/source/<path>)."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

import torch
from torch import nn

from ..domain import format as fmt
from ..domain.datasets import check_model_matches
from ..domain.model_source import SOURCE_DIR, ModuleSource, SourceFile, changed_originals, sha256_of
from .introspect import USER_ERRORS, _one_line, construct_target
from .track_process import TrackError

_TUI_CNN_DIR = Path(__file__).resolve().parents[1]


def build_module(
    source: ModuleSource, run_dir: Path | None = None, forget: bool = False
) -> tuple[nn.Module, list[str]]:
    """The module, built on the CPU (TrackError in one line), and the files it imported from
    the working directory (relative paths), to keep in the run. A run that kept its source
    (a resumed one: ``run_dir``) imports the kept copy: RUN_DIR/source comes first on sys.path.
    ``forget``: a process that builds the modules of several runs (the app's Inspect) drops
    the kept copy's modules once built, so the next run's copy is imported afresh."""
    kept = Path(run_dir) / SOURCE_DIR if run_dir is not None and source.files else None
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if kept is not None:
        sys.path.insert(0, str(kept))
    before = set(sys.modules)
    try:
        model = construct_target(source.target)
    finally:
        if forget and kept is not None:
            sys.path.remove(str(kept))
            for name in set(sys.modules) - before:
                del sys.modules[name]
    imported = [] if kept is not None else _files_from(Path(cwd), set(sys.modules) - before)
    return model, imported


def _files_from(root: Path, module_names: set[str]) -> list[str]:
    """The source files of these modules that lie under ``root``, not in an installed
    package (a virtual environment inside the project) nor tui-cnn's own."""
    installed = {
        Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], sys.prefix) if p
    }
    root = root.resolve()
    files = set()
    for name in module_names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        path = Path(path).resolve()
        if (
            not path.is_relative_to(root)
            or path.is_relative_to(_TUI_CNN_DIR)
            or any(path.is_relative_to(place) for place in installed)
        ):
            continue
        files.add(str(path.relative_to(root)))
    return sorted(files)


def keep_sources(source: ModuleSource, files: list[str], run_dir: Path, root: Path | None = None) -> ModuleSource:
    """Copy ``files`` (relative to ``root``, the working directory) into RUN_DIR/source; the
    source as config.json records it: each copy with its origin and sha256."""
    root = (root or Path.cwd()).resolve()
    kept = []
    for relative in files:
        copy = run_dir / SOURCE_DIR / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, copy)
        kept.append(SourceFile(relative, str(root / relative), sha256_of(copy)))
    return ModuleSource(source.target, tuple(source.input_shape), tuple(kept))


def changed_note(source: ModuleSource, run_dir: Path) -> str | None:
    """One line when the originals of the kept source changed since the run kept them."""
    changed = changed_originals(source)
    if not changed:
        return None
    return (
        f"{', '.join(changed)} changed since this run kept its copy: training the kept copy in {run_dir / SOURCE_DIR}"
    )


def check_module(model: nn.Module, source: ModuleSource, dataset: str, data_dir: str | None) -> str | None:
    """Why the module cannot train on the dataset, in one line; None if it can. One forward
    pass of a zero image on the CPU (eval mode: nothing learns from it) gives its outputs."""
    shape = tuple(source.input_shape)

    def outputs() -> tuple[int, ...]:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(torch.zeros((1, *shape)))
        except USER_ERRORS as exc:
            raise TrackError(f"{source.name} refuses a {fmt.dims(shape)} input: {_one_line(exc)}") from None
        finally:
            model.train(was_training)
        if not isinstance(out, torch.Tensor):
            raise TrackError(f"{source.name} returns a {type(out).__name__}, not a tensor of class scores")
        return tuple(out.shape)

    try:
        return check_model_matches(source.name, shape, outputs, dataset, data_dir, module=True)
    except TrackError as exc:
        return str(exc)
