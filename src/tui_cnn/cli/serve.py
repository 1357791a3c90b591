"""``tui-cnn serve``: the same app in a web browser, through textual-serve.

textual-serve starts one app process per browser tab, with no authentication: anyone who can
open the page runs the app (and training) as this user. So it listens on the loopback address
unless told otherwise, and the way in from a laptop is an SSH tunnel.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys

import click

from .common import EXIT_USAGE, fail

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (a name is trusted only
    when it is one of the standard loopback names: resolving it could say anything)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_command(target: str | None) -> str:
    """The shell command textual-serve runs for each tab: this interpreter, so the app runs
    in the server's own virtualenv whether or not the ``tui-cnn`` script is on PATH; ``-P``,
    so a ``json.py`` in the directory it was started from is never imported in its place."""
    argv = [sys.executable, "-P", "-m", "tui_cnn"]
    if target is not None:
        # "--" so a target named like an option stays a target.
        argv += ["open", "--", target]
    return shlex.join(argv)


def url_for(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):  # an IPv6 address goes in brackets
        host = f"[{host}]"
    return f"http://{host}:{port}"


@click.command()
@click.argument("target", metavar="[SPEC_OR_PRESET_OR_RUN_DIR]", required=False)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback lets others reach the app: "
                   "there is no authentication.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--public-url", metavar="URL", default=None,
              help="The address the browser uses to reach this server, when it is not "
                   "http://HOST:PORT (a tunnel to another local port, a proxy).")
def serve(target: str | None, host: str, port: int, public_url: str | None) -> None:
    """Serve the app in a web browser (one app per browser tab), on http://127.0.0.1:8000
    by default. From a laptop: ssh -L 8000:localhost:8000 gpubox, then open
    http://localhost:8000. Give a spec, preset or run directory to open it in each tab."""
    from . import resolve_open_target

    resolve_open_target(target)  # a bad target fails here, with its message, not in each tab
    try:
        from textual_serve.server import Server
    except ImportError:
        fail("serve needs textual-serve: pip install textual-serve")
    if not is_loopback(host):
        click.echo(
            f"tui-cnn: warning: listening on {host}, not loopback. textual-serve has no "
            "authentication: anyone who can reach this port runs the app as you. "
            "Prefer the default 127.0.0.1 and an SSH tunnel (ssh -L).",
            err=True,
        )
    server = Server(app_command(target), host=host, port=port, title="tui-cnn",
                    public_url=public_url or url_for(host, port))
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not this machine's
        fail(f"cannot listen on {url_for(host, port)}: {exc.strerror or exc}", EXIT_USAGE)
