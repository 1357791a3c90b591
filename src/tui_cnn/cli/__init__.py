"""The command line. ``tui-cnn [SPEC_OR_PRESET]`` opens the app; subcommands do the rest.

Every command imports what it needs inside its body, so ``tui-cnn shapes`` never loads torch
and ``tui-cnn`` paints the app before torch is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import click

from .. import __version__

if TYPE_CHECKING:
    from ..domain.spec import ModelSpec


#: Each command's module (and name there): imported when the command runs or --help lists
#: it, so ``tui-cnn`` imports none of them (nor what they need: msgspec, the training
#: settings) before the app's first frame.
_COMMANDS = {
    "shapes": "shapes",
    "presets": "shapes",
    "train": "train",
    "export": "export",
    "track": "track",
    "serve": "serve",
    "inspect": "inspect",
    "runs": "runs",
    "attach": "runs",
    "compare": "compare",
    "stop": "runs",
    "pause": "runs",
    "resume": "runs",
    "queue": "runs",
    "lr-find": "lr_find",
    "sweep": "sweep",
}


class _OpenByDefault(click.Group):
    """``tui-cnn`` and ``tui-cnn SPEC`` mean ``tui-cnn open [SPEC]``; the other commands load
    when asked for."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.list_commands(ctx) and args[0] not in ("--help", "-h", "--version")):
            args = ["open", *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMANDS and name not in self.commands:
            module = importlib.import_module(f".{_COMMANDS[name]}", __name__)
            self.add_command(getattr(module, name.replace("-", "_")), name)  # lr-find is lr_find
        return super().get_command(ctx, name)


@click.group(cls=_OpenByDefault, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tui-cnn")
def main() -> None:
    """Design, understand and train convolutional neural networks in the terminal.

    Run with no command to open the app on the built-in SimpleCNN, give a spec file
    (TOML) or a preset name to open that model, or a run directory to see its results.
    """


def resolve_open_target(target: str | None) -> tuple[ModelSpec, dict[str, Any]]:
    """The model the app opens on and the app's options, or exit with a message: a run
    directory opens on the monitor, anything else is a spec file or preset."""
    from .common import is_run_dir, load_model_or_exit, load_run_spec_or_exit, spec_file

    if target is not None and is_run_dir(target):
        spec = load_run_spec_or_exit(target)
        return spec, {"start_mode": "monitor", "run_dir": target}
    return load_model_or_exit(target), {"spec_path": spec_file(target)}


@main.command("open")
@click.argument("target", metavar="SPEC_OR_PRESET_OR_RUN_DIR", required=False)
def open_app(target: str | None) -> None:
    """Open the app on a spec file or preset (default: SimpleCNN), or on a run's
    directory (its curves, table, log and evaluation, on the training monitor; a run still
    training is followed live)."""
    spec, app_options = resolve_open_target(target)
    from .common import require_terminal

    require_terminal("without one, use tui-cnn shapes, export, or train --headless")
    from ..app.app import TuiCnnApp

    TuiCnnApp(spec, **app_options).run_and_exit()
