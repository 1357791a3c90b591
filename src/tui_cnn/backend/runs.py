"""A run's directory: the source of truth for a run, written as it goes so that a monitor
(or a person with ``cat``) can follow it by reading the files alone. The layout is
documented in ``tui_cnn.domain.training``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from ..domain.export import export_code
from ..domain.specfile import atomic_write_text, atomic_writer, spec_to_dict
from ..domain.spec import ModelSpec
# The run directory's names live in the domain (readers need them without torch); the
# trainer finds them here too, beside what it writes.
from ..domain.training import (BEST_CHECKPOINT, LAST_CHECKPOINT, RUNS_DIR, new_run_dir, run_dir_name)  # noqa: F401
# The run files that need no torch are written by the domain's writer (a user's own loop,
# tui_cnn.init, writes through it too); the trainer finds it here, beside the checkpoints.
from ..domain.run_writer import (ControlWatcher, JsonLines, RunRecorder, write_evaluation, write_json,  # noqa: F401
                                 write_process, write_record)


def write_config(run_dir: Path, spec: ModelSpec, config: dict[str, Any], dataset: dict[str, Any],
                 device: dict[str, Any]) -> None:
    import torchvision

    write_json(run_dir / "config.json", {
        "spec": spec_to_dict(spec), "config": config, "dataset": dataset, "device": device,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
    })


def write_model_code(run_dir: Path, spec: ModelSpec) -> None:
    atomic_write_text(run_dir / "model.py", export_code(spec))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary file beside ``path``, then rename: a crash mid-write leaves
    the previous checkpoint intact."""
    with atomic_writer(path) as handle:
        torch.save(state, handle)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, in one line (never torch's advice to load it with
    weights_only=False: a file that needs that is one we must not run)."""


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign file's pickle protocol: not for the user
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - refused unpickling, truncated zip, wrong magic: one message
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}); "
                              "it may be cut short or corrupted") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} holds no model weights")
    return state
