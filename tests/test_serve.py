"""``tui-cnn serve``: the app in a web browser through textual-serve.

The door is tested with a real client (aiohttp) against a real server: the page and the
websocket need the token serve prints, and a page from another origin is refused even with it.
The browser test drives Debian's chromium (headless) with selenium: the printed URL loads, the
tracker's table shows, a key press switches screens. It skips when chromium, chromedriver or
selenium are missing (CI installs them: .ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass

import aiohttp
import pytest
from click.testing import CliRunner

from tests.helpers import wait_until
from tui_cnn.cli import main
from tui_cnn.cli.serve import (
    GOOD_TOKEN,
    TOKEN_VARIABLE,
    allowed_origins,
    app_command,
    is_loopback,
    origin_of,
    url_for,
)
from tui_cnn.cli.serve_server import token_url


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses_are_recognised(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "gpubox", "localhost.evil.example", ""])
def test_other_addresses_are_not_loopback(host):
    assert not is_loopback(host)


def test_urls_put_ipv6_addresses_in_brackets():
    assert url_for("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert url_for("::1", 8000) == "http://[::1]:8000"


def test_each_tab_runs_the_app_with_this_interpreter_a_safe_path_and_the_target_quoted():
    assert app_command(None).split() == [sys.executable, "-P", "-m", "tui_cnn"]
    command = app_command("my model; rm -rf ~.toml")
    assert command.startswith(f"{sys.executable} -P -m tui_cnn open -- ")
    assert "'my model; rm -rf ~.toml'" in command  # one shell word: nothing runs from a name


def test_the_url_to_open_holds_the_token():
    assert token_url("http://127.0.0.1:8000", "abc-DEF_123") == "http://127.0.0.1:8000/?token=abc-DEF_123"
    assert token_url("https://box.example/", "t") == "https://box.example/?token=t"


def test_origins_are_written_as_browsers_send_them():
    assert origin_of("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert origin_of("HTTP://LocalHost:80/page") == "http://localhost"
    assert origin_of("https://box.example:443") == "https://box.example"
    assert origin_of("http://[::1]:9000") == "http://[::1]:9000"


def test_a_loopback_server_accepts_pages_from_any_loopback_spelling_of_its_own_port_only():
    origins = allowed_origins("127.0.0.1", 8000, "http://127.0.0.1:8000")
    assert origins == {"http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"}
    tunnel = allowed_origins("127.0.0.1", 8000, "http://localhost:9000")
    assert "http://127.0.0.1:9000" in tunnel and "http://127.0.0.1:8001" not in tunnel
    proxy = allowed_origins("0.0.0.0", 8000, "https://gpu.example.org")
    assert proxy == {"http://0.0.0.0:8000", "https://gpu.example.org"}


class _FakeServer:
    """The token server, recording what it was asked to serve instead of serving."""

    made: list[dict] = []

    def __init__(self, command: str, **options) -> None:
        self.made.append({"command": command, **options})

    def serve(self) -> None:
        pass


@pytest.fixture
def fake_server(monkeypatch):
    import tui_cnn.cli.serve_server

    _FakeServer.made = []
    monkeypatch.setattr(tui_cnn.cli.serve_server, "TokenServer", _FakeServer)
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    return _FakeServer.made


def test_serve_listens_on_loopback_by_default_with_a_new_random_token_and_no_warning(fake_server):
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    [made] = fake_server
    token = made.pop("token")
    assert len(token) >= 40 and GOOD_TOKEN.fullmatch(token)
    assert made == {
        "command": app_command(None),
        "host": "127.0.0.1",
        "port": 8000,
        "title": "tui-cnn",
        "public_url": "http://127.0.0.1:8000",
        "allowed_origins": allowed_origins("127.0.0.1", 8000, "http://127.0.0.1:8000"),
    }
    assert "warning" not in result.output
    CliRunner().invoke(main, ["serve"])
    assert fake_server[1]["token"] != token  # a new one each start


def test_serve_on_a_public_address_warns_that_the_token_crosses_the_network(fake_server):
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert "warning" in result.stderr and "plain HTTP" in result.stderr
    assert fake_server[0]["host"] == "0.0.0.0" and fake_server[0]["port"] == 9000


def test_serve_passes_a_public_url_through_for_a_tunnel_to_another_port(fake_server):
    result = CliRunner().invoke(main, ["serve", "--public-url", "http://localhost:9000"])
    assert result.exit_code == 0, result.output
    assert fake_server[0]["public_url"] == "http://localhost:9000"
    assert "http://localhost:9000" in fake_server[0]["allowed_origins"]


def test_a_fixed_token_comes_from_the_option_or_the_environment(fake_server, monkeypatch):
    assert CliRunner().invoke(main, ["serve", "--token", "0123456789abcdef"]).exit_code == 0
    monkeypatch.setenv(TOKEN_VARIABLE, "from-the-environment")
    assert CliRunner().invoke(main, ["serve"]).exit_code == 0
    assert [made["token"] for made in fake_server] == ["0123456789abcdef", "from-the-environment"]


@pytest.mark.parametrize("token", ["", "short", "sixteen chars ok", "0123456789abcdef&x=1", "ünïcödé-ünïcödé-x"])
def test_a_weak_or_unsafe_fixed_token_is_refused_in_one_line(fake_server, token):
    result = CliRunner().invoke(main, ["serve", "--token", token])
    assert result.exit_code == 2
    assert result.stderr.startswith("tui-cnn: a --token must be") and result.stderr.count("\n") == 1
    assert fake_server == []


@pytest.mark.parametrize("args", [["serve", "no-such-model"], ["serve", "--port", "0"], ["serve", "--port", "x"]])
def test_serve_refuses_a_bad_target_or_port_before_serving(fake_server, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert fake_server == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_serve_on_a_taken_port_says_so_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tui_cnn", "serve", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert f"tui-cnn: cannot listen on http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_app_command_runs_under_textual_serves_driver_without_a_terminal_ignoring_modules_in_the_cwd(tmp_path):
    """textual-serve runs each tab's app with pipes, not a terminal, and its web driver named
    in TEXTUAL_DRIVER: the app must start there (a "no terminal" refusal must let it through).
    It runs in the directory serve was started in: a json.py there must not be imported."""
    (tmp_path / "json.py").write_text("open('IMPORTED', 'w').close()\nraise SystemExit(3)\n")
    environment = {
        **os.environ,
        "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
        "COLUMNS": "80",
        "ROWS": "24",
    }
    app = subprocess.Popen(
        app_command("LeNet5"),
        shell=True,
        env=environment,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        first = app.stdout.read(64)  # the web driver's first packets: the app started drawing
        assert len(first) == 64 and app.poll() is None, app.stderr.read().decode(errors="replace")
        assert not (tmp_path / "IMPORTED").exists()
    finally:
        os.killpg(app.pid, signal.SIGKILL)
        app.wait(timeout=10)


@dataclass
class Served:
    url: str  # the URL serve printed, with its token
    base: str  # http://127.0.0.1:PORT
    token: str


@pytest.fixture
def served(tmp_path, monkeypatch):
    """``tui-cnn serve LeNet5`` on a free loopback port, with the token it made and printed;
    the server and every app it started (one process group) are killed whatever the test did."""
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    port = _free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "tui_cnn", "serve", "LeNet5", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def printed_url() -> str | None:
        if server.poll() is not None:
            raise AssertionError(f"serve exited {server.returncode}: {log_path.read_text()}")
        found = re.search(r"tui-cnn serve: open (\S+)", log_path.read_text())
        with socket.socket() as probe:
            return found and probe.connect_ex(("127.0.0.1", port)) == 0 and found.group(1)

    try:
        url = wait_until(printed_url, timeout=20, interval=0.1, what="tui-cnn serve to listen")
        base = f"http://127.0.0.1:{port}"
        assert url.startswith(f"{base}/?token=")
        yield Served(url=url, base=base, token=url.split("=", 1)[1])
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
                server.wait(timeout=5)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


# --- the door: a real client against a real server -------------------------------------------


@pytest.mark.slow
async def test_the_page_needs_the_token(served):
    async with aiohttp.ClientSession() as client:
        for url in (f"{served.base}/", f"{served.base}/?token=", f"{served.base}/?token=wrong{served.token}"):
            async with client.get(url) as response:
                assert response.status == 403, url
                page = await response.text()
                assert page.count("\n") == 1 and "needs the token" in page
        async with client.get(served.url) as response:
            assert response.status == 200
            page = await response.text()
    # The page passes the token on to the websocket it opens; textual-serve's scripts need none.
    assert (
        f'data-session-websocket-url="ws://127.0.0.1:{served.base.rsplit(":", 1)[1]}/ws?token={served.token}"' in page
    )
    async with aiohttp.ClientSession() as client, client.get(f"{served.base}/static/js/textual.js") as response:
        assert response.status == 200


def _ws_url(served: Served, token: str | None) -> str:
    """As textual.js writes it: the page's websocket url, then ``?width=…&height=…``."""
    url = served.base.replace("http:", "ws:") + "/ws"
    return (url if token is None else f"{url}?token={token}") + "?width=100&height=30"


async def _refused(served: Served, url: str, origin: str | None) -> int:
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
            async with client.ws_connect(url, origin=origin):
                pass
    return refusal.value.status


@pytest.mark.slow
async def test_the_websocket_needs_the_token(served):
    own = served.base
    assert await _refused(served, _ws_url(served, None), own) == 403
    assert await _refused(served, _ws_url(served, served.token[:-1]), own) == 403
    assert await _refused(served, _ws_url(served, None), None) == 403


@pytest.mark.slow
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1"])
async def test_a_page_from_another_origin_is_refused_even_with_the_token(served, origin):
    if origin == "http://127.0.0.1:1":  # another local port: another site's page
        origin = served.base.rsplit(":", 1)[0] + f":{int(served.base.rsplit(':', 1)[1]) + 1}"
    assert await _refused(served, _ws_url(served, served.token), origin) == 403


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("origin", ["own", "localhost", None])
async def test_the_websocket_with_the_token_from_the_served_origin_gets_the_app(served, origin):
    origin = {"own": served.base, "localhost": served.base.replace("127.0.0.1", "localhost")}.get(origin)
    screen = b""
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(_ws_url(served, served.token), origin=origin) as websocket,
    ):
        await websocket.send_json(["ping", "hello"])
        while b"LeNet5" not in screen:  # the app's first screen, as terminal output
            message = await websocket.receive(timeout=60)
            assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
            screen += message.data if message.type == aiohttp.WSMsgType.BINARY else b""


# --- in a real browser ---------------------------------------------------------------------

#: Injected before the page's scripts run: textual-serve keeps its xterm.js Terminal inside
#: its bundle, so catch it when the page stores it (``this.terminal = new Terminal()``) and
#: read the screen from its buffer, whichever renderer (WebGL, canvas, DOM) draws it.
CATCH_TERMINAL_JS = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  get() { return undefined; },
  set(value) {
    if (value && value.buffer !== undefined && !window.__tuiCnnTerminal) window.__tuiCnnTerminal = value;
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
  },
});
"""

SCREEN_TEXT_JS = """
const term = window.__tuiCnnTerminal;
if (!term) {  // not caught (textual-serve changed): the DOM renderer's rows, if it draws them
  const rows = document.querySelector('.xterm-rows');
  return rows ? rows.innerText : null;
}
const lines = [];
for (let row = 0; row < term.rows; row++) {
  const line = term.buffer.active.getLine(term.buffer.active.viewportY + row);
  lines.push(line ? line.translateToString(true) : '');
}
return lines.join('\\n');
"""


def _browser_tools() -> tuple[str, str]:
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    return chromium, driver


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = _browser_tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(20)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL_JS})
        yield driver
    finally:
        driver.quit()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_printed_url_in_a_headless_browser_shows_the_tracker_and_switches_screens(browser, served, tmp_path):
    from selenium.webdriver.common.by import By

    def screen() -> str:
        return browser.execute_script(SCREEN_TEXT_JS) or ""

    browser.get(served.base)  # without the token: the one-line refusal
    assert "needs the token" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(served.url)  # the URL serve printed
    try:
        # The tracker's table, on the model given to serve (LeNet5, not the default).
        wait_until(
            lambda: "tui-cnn — LeNet5" in screen() and "Conv2d(1, 6, kernel_size=5" in screen(),
            timeout=30,
            interval=0.2,
            what="the tracker's table in the page",
        )
        assert "Params" in screen() and "MACs" in screen()
        browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("2")
        wait_until(
            lambda: "add after the cursor" in screen() and "k conv block" in screen(),
            timeout=15,
            interval=0.2,
            what="the builder after pressing 2",
        )
        browser.save_screenshot(str(tmp_path / "builder.png"))
    except AssertionError:
        browser.save_screenshot(str(tmp_path / "page.png"))
        raise AssertionError(f"the page shows:\n{screen()}\n(screenshot: {tmp_path / 'page.png'})") from None


def test_without_the_serve_extra_serve_says_how_to_get_it(monkeypatch):
    """textual-serve and aiohttp are the [serve] extra: a plain install's serve says so in one line."""
    import sys

    from click.testing import CliRunner

    from tui_cnn.cli import main

    monkeypatch.setitem(sys.modules, "tui_cnn.cli.serve_server", None)  # as if aiohttp were not installed
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "pip install 'tui-cnn[serve]'" in result.output
