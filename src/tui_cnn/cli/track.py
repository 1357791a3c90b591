"""``tui-cnn track MODULE:ATTR --input C,H,W``: the tracker on a user's own nn.Module, its data
flow traced on torch's meta device (nothing allocated; a constructor that cannot run there is
built on the CPU, within 2 GiB, then moved to meta). Importing that module is the only time
tui-cnn runs code from outside, and it runs in a child process (backend/track_process.py):
a module that never finishes importing, building or its forward pass is stopped after
--timeout, and the user's output goes to stderr, never into --json's."""

from __future__ import annotations

import json

import click

from .common import InputShape, batch_size_option, fail, require_terminal

DEFAULT_TIMEOUT_S = 120  # backend.track_process.DEFAULT_TIMEOUT_S, not imported before the command runs


@click.command()
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--input", "input_shape", type=InputShape(), required=True, help="input shape C,H,W, e.g. 1,28,28")
@batch_size_option()
@click.option("--json", "as_json", is_flag=True, help="print the layers as JSON instead of opening the app")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="give up when importing, building and tracing the model take longer",
)
def track(target: str, input_shape: tuple[int, int, int], batch_size: int, as_json: bool, timeout: float) -> None:
    """Track your own nn.Module: a class with a no-argument constructor, or a function that
    returns a module, from the current directory or an installed package (e.g. mymodel:Net).

    Exit 2 if it cannot be imported or built (or takes longer than --timeout), 1 if its
    forward pass fails on this input.
    """
    if not as_json:  # before anything is imported: refused at once
        require_terminal("without one, use --json")
    from ..backend.track_process import TrackError, TrackSession

    # The app owns the terminal: there the user's output is dropped; with --json it goes to stderr.
    session = TrackSession(target, quiet=not as_json)
    try:
        summary = session.summary(input_shape, batch_size, timeout=timeout)
    except TrackError as exc:
        session.close()
        fail(str(exc), exc.exit_code)
    if as_json:
        session.close()
        click.echo(json.dumps(summary.to_json(), indent=2))
        return
    from ..app.app import TuiCnnApp
    from ..app.session import Tracked

    tracked = Tracked(target, input_shape, session, summary)
    try:
        TuiCnnApp(batch_size=batch_size, tracked=tracked).run_and_exit()
    finally:
        session.close()
