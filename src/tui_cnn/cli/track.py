"""`tui-cnn track`: placeholder, filled in by its issue."""

from __future__ import annotations

import click


@click.command()
def track() -> None:
    """Not built yet."""
    raise click.ClickException("tui-cnn track is not built yet")
