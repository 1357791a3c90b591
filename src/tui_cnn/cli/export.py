"""`tui-cnn export`: placeholder, filled in by its issue."""

from __future__ import annotations

import click


@click.command()
def export() -> None:
    """Not built yet."""
    raise click.ClickException("tui-cnn export is not built yet")
