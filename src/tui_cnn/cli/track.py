"""``tui-cnn track MODULE:ATTR --input C,H,W``: the tracker on a user's own nn.Module, its data
flow traced on torch's meta device (nothing allocated; a constructor that cannot run there is
built on the CPU, within 2 GiB, then moved to meta). Importing that module is the only time
tui-cnn runs code from outside."""

from __future__ import annotations

import json

import click

from .common import EXIT_INVALID, batch_size_option, EXIT_USAGE, InputShape, fail, require_terminal


@click.command()
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--input", "input_shape", type=InputShape(), required=True, help="input shape C,H,W, e.g. 1,28,28")
@batch_size_option()
@click.option("--json", "as_json", is_flag=True, help="print the layers as JSON instead of opening the app")
def track(target: str, input_shape: tuple[int, int, int], batch_size: int, as_json: bool) -> None:
    """Track your own nn.Module: a class with a no-argument constructor, or a function that
    returns a module, from the current directory or an installed package (e.g. mymodel:Net).

    Exit 2 if it cannot be imported or built, 1 if its forward pass fails on this input.
    """
    if not as_json:  # before torch loads: refused at once
        require_terminal("without one, use --json")
    from ..backend.introspect import TrackError, build_target, track as track_module

    try:
        model, built_on = build_target(target)
    except TrackError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        summary = track_module(model, input_shape, batch_size, target, built_on)
    except TrackError as exc:
        fail(str(exc), EXIT_INVALID)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
        return
    from ..app.app import TuiCnnApp
    from ..app.screens.tracker import Tracked

    TuiCnnApp(batch_size=batch_size, tracked=Tracked(target, model, input_shape, built_on)).run_and_exit()
