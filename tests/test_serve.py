"""``tui-cnn serve``: the app in a web browser through textual-serve.

The browser test drives Debian's chromium (headless) with selenium: the page loads, the
tracker's table shows, a key press switches screens. It skips when chromium, chromedriver or
selenium are missing (CI installs them: .ci/run).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.helpers import wait_until
from tui_cnn.cli import main
from tui_cnn.cli.serve import app_command, is_loopback, url_for


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses_are_recognised(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "gpubox", "localhost.evil.example", ""])
def test_other_addresses_are_not_loopback(host):
    assert not is_loopback(host)


def test_urls_put_ipv6_addresses_in_brackets():
    assert url_for("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert url_for("::1", 8000) == "http://[::1]:8000"


def test_each_tab_runs_the_app_with_this_interpreter_and_the_target_quoted():
    assert app_command(None).split() == [sys.executable, "-P", "-m", "tui_cnn"]
    command = app_command("my model; rm -rf ~.toml")
    assert command.startswith(f"{sys.executable} -P -m tui_cnn open -- ")
    assert "'my model; rm -rf ~.toml'" in command  # one shell word: nothing runs from a name


class _FakeServer:
    """textual-serve's Server, recording what it was asked to serve instead of serving."""

    made: list[dict] = []

    def __init__(self, command: str, **options) -> None:
        self.made.append({"command": command, **options})

    def serve(self) -> None:
        pass


@pytest.fixture
def fake_server(monkeypatch):
    import textual_serve.server

    _FakeServer.made = []
    monkeypatch.setattr(textual_serve.server, "Server", _FakeServer)
    return _FakeServer.made


def test_serve_listens_on_loopback_by_default_without_a_warning(fake_server):
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    assert fake_server == [{"command": app_command(None), "host": "127.0.0.1", "port": 8000,
                            "title": "tui-cnn", "public_url": "http://127.0.0.1:8000"}]
    assert "warning" not in result.output


def test_serve_on_a_public_address_warns_that_there_is_no_authentication(fake_server):
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert "warning" in result.stderr and "no authentication" in result.stderr
    assert fake_server[0]["host"] == "0.0.0.0" and fake_server[0]["port"] == 9000


def test_serve_passes_a_public_url_through_for_a_tunnel_to_another_port(fake_server):
    result = CliRunner().invoke(main, ["serve", "--public-url", "http://localhost:9000"])
    assert result.exit_code == 0, result.output
    assert fake_server[0]["public_url"] == "http://localhost:9000"


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
        result = subprocess.run([sys.executable, "-m", "tui_cnn", "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"tui-cnn: cannot listen on http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_app_command_runs_under_textual_serves_driver_without_a_terminal():
    """textual-serve runs each tab's app with pipes, not a terminal, and its web driver named
    in TEXTUAL_DRIVER: the app must start there (a "no terminal" refusal must let it through)."""
    environment = {**os.environ, "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
                   "COLUMNS": "80", "ROWS": "24"}
    app = subprocess.Popen(app_command("LeNet5"), shell=True, env=environment, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        first = app.stdout.read(64)  # the web driver's first packets: the app started drawing
        assert len(first) == 64 and app.poll() is None, app.stderr.read().decode(errors="replace")
    finally:
        os.killpg(app.pid, signal.SIGKILL)
        app.wait(timeout=10)


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
def served(tmp_path):
    """``tui-cnn serve LeNet5`` on a free loopback port; the server and every app it started
    (one process group) are killed whatever the test did."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "tui_cnn", "serve", "LeNet5", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def listening() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"serve exited {server.returncode}: {(tmp_path / 'serve.log').read_text()}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, timeout=20, interval=0.1, what="tui-cnn serve to listen")
        yield f"http://127.0.0.1:{port}/"
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


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = _browser_tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,800", f"--user-data-dir={tmp_path / 'chromium'}"):
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
def test_the_app_in_a_headless_browser_shows_the_tracker_and_switches_screens(browser, served, tmp_path):
    from selenium.webdriver.common.by import By

    def screen() -> str:
        return browser.execute_script(SCREEN_TEXT_JS) or ""

    browser.get(served)
    try:
        # The tracker's table, on the model given to serve (LeNet5, not the default).
        wait_until(lambda: "tui-cnn — LeNet5" in screen() and "Conv2d(1, 6, kernel_size=5" in screen(),
                   timeout=30, interval=0.2, what="the tracker's table in the page")
        assert "Params" in screen() and "MACs" in screen()
        browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("2")
        wait_until(lambda: "add after the cursor" in screen() and "k conv block" in screen(), timeout=15,
                   interval=0.2, what="the builder after pressing 2")
        browser.save_screenshot(str(tmp_path / "builder.png"))
    except AssertionError:
        browser.save_screenshot(str(tmp_path / "page.png"))
        raise AssertionError(f"the page shows:\n{screen()}\n(screenshot: {tmp_path / 'page.png'})") from None
