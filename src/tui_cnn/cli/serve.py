"""``tui-cnn serve``: the same app in a web browser, through textual-serve.

textual-serve starts one app process per browser tab, and has no authentication of its own:
anyone who can open the page would run the app (and training) as this user. So, as Jupyter
does, the server makes a secret token at start and prints the URL that holds it; the page and
its websocket need it, and a page from another site is refused (serve_server.py). It listens on
the loopback address unless told otherwise (the token would cross a network in plain HTTP), and
the way in from a laptop is an SSH tunnel.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import shlex
import sys
from urllib.parse import urlsplit

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


TOKEN_VARIABLE = "TUI_CNN_SERVE_TOKEN"
#: A fixed token is pasted into URLs, so URL-safe characters only, and long enough not to guess.
GOOD_TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,}")
LOOPBACK_ORIGIN_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` as a browser writes it in an Origin header (lower case, no
    default port)."""
    parts = urlsplit(url.lower())
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + ("" if parts.port in (None, default_port) else f":{parts.port}")


def allowed_origins(host: str, port: int, public_url: str) -> frozenset[str]:
    """The origins whose pages may talk to the server: where it listens and where the browser
    is told it is. A loopback origin stands for all three loopback spellings at its port, since
    the page opened at http://localhost:8000 connects to the public URL http://127.0.0.1:8000."""
    origins = {origin_of(url_for(host, port)), origin_of(public_url)}
    for origin in list(origins):
        parts = urlsplit(origin)
        if parts.hostname and is_loopback(parts.hostname):
            port_part = "" if parts.port is None else f":{parts.port}"
            origins.update(f"{parts.scheme}://{name}{port_part}" for name in LOOPBACK_ORIGIN_HOSTS)
    return frozenset(origins)


@click.command()
@click.argument("target", metavar="[SPEC_OR_PRESET_OR_RUN_DIR]", required=False)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback sends the token over the network in plain HTTP.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option(
    "--public-url",
    metavar="URL",
    default=None,
    help="The address the browser uses to reach this server, when it is not "
    "http://HOST:PORT (a tunnel to another local port, a proxy).",
)
@click.option(
    "--token",
    envvar=TOKEN_VARIABLE,
    default=None,
    metavar="TOKEN",
    help=f"A fixed token (16 or more of A-Z a-z 0-9 . _ ~ -) instead of a new random one. "
    f"Prefer the {TOKEN_VARIABLE} variable: other users can see a command line.",
)
def serve(target: str | None, host: str, port: int, public_url: str | None, token: str | None) -> None:
    """Serve the app in a web browser (one app per browser tab), on http://127.0.0.1:8000
    by default, and print the URL to open: it holds a secret token, as Jupyter's does. From a
    laptop: ssh -L 8000:localhost:8000 gpubox, then open that URL. Give a spec, preset or run
    directory to open it in each tab."""
    from . import resolve_open_target

    resolve_open_target(target)  # a bad target fails here, with its message, not in each tab
    if token is not None and not GOOD_TOKEN.fullmatch(token):
        fail("a --token must be 16 or more characters, each a letter, a digit or . _ ~ -", EXIT_USAGE)
    try:
        from .serve_server import TokenServer
    except ImportError:
        fail("serve needs the serve extra (textual-serve and aiohttp): pip install 'tui-cnn[serve]'")
    if not is_loopback(host):
        click.echo(
            f"tui-cnn: warning: listening on {host}, not loopback: the token that lets a browser "
            "run the app as you crosses the network in plain HTTP, where others can read it. "
            "Prefer the default 127.0.0.1 and an SSH tunnel (ssh -L).",
            err=True,
        )
    public_url = public_url or url_for(host, port)
    server = TokenServer(
        app_command(target),
        token=token or new_token(),
        allowed_origins=allowed_origins(host, port, public_url),
        host=host,
        port=port,
        title="tui-cnn",
        public_url=public_url,
    )
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not this machine's
        fail(f"cannot listen on {url_for(host, port)}: {exc.strerror or exc}", EXIT_USAGE)
