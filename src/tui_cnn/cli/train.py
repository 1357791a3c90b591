"""`tui-cnn train`: placeholder, filled in by its issue."""

from __future__ import annotations

import click


@click.command()
def train() -> None:
    """Not built yet."""
    raise click.ClickException("tui-cnn train is not built yet")
