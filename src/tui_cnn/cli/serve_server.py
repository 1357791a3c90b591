"""textual-serve's server with a door: a secret token and an Origin check (what Jupyter does).

Without them any local user, or any web page the user visits (a page may open a websocket to
127.0.0.1), could open ``/ws``, type into the app and read its screen. So every request but
textual-serve's own static files must carry ``?token=`` (compared in constant time), and a
request whose ``Origin`` is not where the page is served from is refused even with it.
Imported only when serving: textual-serve and aiohttp load for ``tui-cnn serve`` alone.
"""

from __future__ import annotations

import hmac
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

#: Not guarded: textual-serve's own scripts, styles and fonts (the same for everyone, loaded by
#: the page without the token), and downloads, whose key is an unguessable one-time uuid4 the
#: app hands only to its own (authenticated) websocket.
OPEN_PATHS = ("/static/", "/download/")

NO_TOKEN = "403: tui-cnn serve needs the token: open the URL it printed when it started (…/?token=…).\n"
FOREIGN_ORIGIN = "403: tui-cnn serve refuses requests from another site's page (Origin {origin}).\n"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_url(public_url: str, token: str) -> str:
    """The URL to open: ``http://127.0.0.1:8000/?token=…``."""
    return f"{public_url.rstrip('/')}/?{urlencode({'token': token})}"


def query_of(request: web.Request) -> dict[str, str]:
    """The request's query. textual.js opens ``<websocket url> + "?width=…&height=…"``, and our
    websocket url already holds ``?token=…``, so a second ``?`` stands for ``&`` (a token is
    URL-safe, so no value we read holds one)."""
    return dict(parse_qsl(request.query_string.replace("?", "&"), keep_blank_values=True))


class TokenServer(Server):
    """``Server`` refusing (403) a request without the token or from a foreign Origin."""

    def __init__(self, command: str, *, token: str, allowed_origins: frozenset[str], **options: Any) -> None:
        super().__init__(command, **options)
        self.token = token
        self.allowed_origins = allowed_origins

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.guard)  # before the app starts: aiohttp freezes the list then
        return app

    def holds_token(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(OPEN_PATHS):
            return await handler(request)
        query = query_of(request)
        if not self.holds_token(query.pop("token", "")):
            return web.Response(status=403, text=NO_TOKEN)
        # A browser sends Origin with every websocket; a client without one is not a page, and
        # it holds the token.
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in self.allowed_origins:
            return web.Response(status=403, text=FOREIGN_ORIGIN.format(origin=origin[:100]))
        # The handler sees the repaired query, without the token (so width and height read right).
        return await handler(request.clone(rel_url=request.rel_url.with_query(query)))

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, whose websocket url carries the token on."""
        context = await Server.handle_index.__wrapped__(self, request)  # the page's values, unrendered
        context["app_websocket_url"] += "?" + urlencode({"token": self.token})
        return context

    async def on_startup(self, app: web.Application) -> None:
        # print, not textual-serve's rich console: that one wraps a long URL at 80 columns
        # when its output is a file, and the URL must stay one piece to be pasted.
        print(f"tui-cnn serve: open {token_url(self.public_url, self.token)}\nPress Ctrl+C to quit.", flush=True)
