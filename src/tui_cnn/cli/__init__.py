"""The command line. ``tui-cnn [SPEC_OR_PRESET]`` opens the app; subcommands do the rest.

Every command imports what it needs inside its body, so ``tui-cnn shapes`` never loads torch
and ``tui-cnn`` paints the app before torch is imported.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import model_argument
from .export import export
from .shapes import presets, shapes
from .track import track
from .train import train


class _OpenByDefault(click.Group):
    """``tui-cnn`` and ``tui-cnn SPEC`` mean ``tui-cnn open [SPEC]``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["open", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_OpenByDefault, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tui-cnn")
def main() -> None:
    """Design, understand and train convolutional neural networks in the terminal.

    Run with no command to open the app on the built-in SimpleCNN, or give a spec file
    (TOML) or a preset name to open that model.
    """


@main.command("open")
@model_argument(required=False)
def open_app(model: str | None) -> None:
    """Open the app on a spec file or preset (default: SimpleCNN)."""
    from .common import load_model_or_exit

    spec = load_model_or_exit(model)
    from ..app.app import TuiCnnApp

    TuiCnnApp(spec).run()


for command in (shapes, presets, train, export, track):
    main.add_command(command)
