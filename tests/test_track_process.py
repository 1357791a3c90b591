"""A user's module is imported, built and traced in a child process: one that never returns
(its import, constructor or forward) is stopped by --timeout, cancelled with escape, and never
keeps the app from quitting; what it prints never reaches --json's stdout. Real processes:
the CLI as a user runs it, the app in a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from benchmarks.harness import start_in_a_terminal
from tests.helpers import async_wait_until, wait_until

pytestmark = pytest.mark.slow  # each starts a process that imports torch

HANGING = {
    "its import": "import time\ntime.sleep(1e6)\n",
    "its constructor": textwrap.dedent("""
        import time
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                time.sleep(1e6)
    """),
    "its forward": textwrap.dedent("""
        import time
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)
            def forward(self, x):
                while True:
                    time.sleep(0.1)
    """),
}

CHATTY = textwrap.dedent("""
    import os
    from torch import nn
    print("importing chatty")
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            print("building", {"not": "json"})
            self.conv = nn.Conv2d(3, 4, 3)
        def forward(self, x):
            print("forward", x.shape)
            os.write(1, b"written to fd 1\\n")
            return self.conv(x)
""")


def tui_cnn(*args: str, cwd, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_cnn", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def track_children_of(pid: int) -> list[int]:
    """The tracking processes ``pid`` started (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"tui_cnn.backend.track_child" in command:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("where", list(HANGING))
def test_the_cli_gives_up_after_its_timeout_in_one_line(tmp_path, where):
    (tmp_path / "hang.py").write_text(HANGING[where])
    result = tui_cnn("track", "hang:Net", "--input", "3,8,8", "--json", "--timeout", "2", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-cnn: hang:Net gave no answer within 2 s while "), lines
    stage = {
        "its import": "importing hang",
        "its constructor": "constructing hang:Net()",
        "its forward": "running its forward pass",
    }[where]
    assert stage in lines[0]


def test_json_stays_json_when_the_module_prints(tmp_path):
    (tmp_path / "chatty.py").write_text(CHATTY)
    result = tui_cnn("track", "chatty:Net", "--input", "3,8,8", "-b", "2", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["layers"][0]["name"] == "conv" and data["layers"][0]["output_shape"] == [2, 4, 6, 6]
    for printed in ("importing chatty", "building {'not': 'json'}", "forward", "written to fd 1"):
        assert printed in result.stderr


def test_a_forward_that_fails_still_exits_1_and_a_missing_module_2(tmp_path):
    (tmp_path / "bad.py").write_text(
        "from torch import nn\nclass Net(nn.Linear):\n    def __init__(self):\n        super().__init__(5, 5)\n"
    )
    wrong = tui_cnn("track", "bad:Net", "--input", "3,8,8", "--json", cwd=tmp_path)
    assert wrong.returncode == 1 and "the forward pass on an input of shape (64, 3, 8, 8) failed" in wrong.stderr
    missing = tui_cnn("track", "nothere:Net", "--input", "3,8,8", "--json", cwd=tmp_path)
    assert missing.returncode == 2 and "no module named 'nothere'" in missing.stderr
    assert "Traceback" not in wrong.stderr + missing.stderr


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_app_quits_at_once_while_a_module_hangs(tmp_path, monkeypatch, size):
    """t, hang:Net, enter, then ctrl+q: the app and its tracking process are gone (before,
    ctrl+q blanked the screen and the process waited for the import forever)."""
    (tmp_path / "hang.py").write_text(HANGING["its import"])
    monkeypatch.chdir(tmp_path)
    pid, master = start_in_a_terminal([], *size)
    screen = bytearray()

    def read() -> None:
        try:
            while chunk := os.read(master, 65536):
                screen.extend(chunk)
        except OSError:
            pass

    threading.Thread(target=read, daemon=True).start()
    children: list[int] = []
    try:
        wait_until(lambda: b"Track" in screen, timeout=60)  # the footer: the app is up
        os.write(master, b"t")
        wait_until(lambda: b"MODULE:ATTR" in screen, timeout=30)
        time.sleep(0.3)  # the prompt has focus; typed as a person types
        os.write(master, b"hang:Net\r")
        wait_until(lambda: b"importing hang" in screen, timeout=60)  # the progress dialog: its import blocks
        children = track_children_of(pid)
        assert children
        os.write(master, b"\x11")  # ctrl+q
        ended = []
        wait_until(lambda: ended.append(os.waitpid(pid, os.WNOHANG)) or ended[-1][0] == pid, timeout=30)
        wait_until(lambda: not any(alive(child) for child in children), timeout=10)
    finally:
        for leftover in (pid, *children):
            try:
                os.kill(leftover, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        os.close(master)


async def test_escape_cancels_a_module_that_hangs_and_the_model_shown_stays(tmp_path, monkeypatch):
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.app.widgets.layer_table import LayerTable
    from tui_cnn.app.widgets.track_prompt import TrackProgress, TrackPrompt

    (tmp_path / "hang.py").write_text(HANGING["its constructor"])
    monkeypatch.chdir(tmp_path)
    app = TuiCnnApp(batch_size=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await async_wait_until(lambda: isinstance(app.screen, TrackPrompt), what="the track prompt")
        await pilot.press(*"hang:Net", "enter")
        await async_wait_until(
            lambda: (
                isinstance(app.screen, TrackProgress)
                and "constructing hang:Net()" in str(app.screen.query_one("#track-stage").render())
            ),
            timeout=60,
            what="the progress of a constructor that never returns",
        )
        children = track_children_of(os.getpid())
        assert children
        await pilot.press("escape")
        await async_wait_until(lambda: not isinstance(app.screen, TrackProgress), what="the dialog closed")
        # looked for before the process's end, which a loaded machine can take longer to
        # see than the notification lasts (it expired once before the old check at the end)
        await async_wait_until(
            lambda: any("cancelled" in str(n.message) for n in app._notifications), what="the cancel said"
        )
        await async_wait_until(lambda: not any(alive(child) for child in children), what="its process stopped")
        tracker = app.screen
        assert tracker.tracked is None  # the app's own model is still shown
        assert tracker.query_one(LayerTable).get_cell("0", "index").plain == "0"


def test_two_requests_at_once_each_get_their_own_answer(tmp_path, monkeypatch):
    """The tracker traces again on every batch or input edit, from worker threads: answers
    share one pipe, so the requests take turns."""
    from concurrent.futures import ThreadPoolExecutor

    from tui_cnn.backend.track_process import TrackSession

    (tmp_path / "small.py").write_text("from torch import nn\nNet = lambda: nn.Conv2d(3, 4, 3)\n")
    monkeypatch.chdir(tmp_path)
    session = TrackSession("small:Net", quiet=True)
    try:
        with ThreadPoolExecutor(4) as pool:
            sizes = [8, 16, 24, 32]
            answers = list(pool.map(lambda size: session.summary((3, size, size), 1), sizes))
        assert [a.input_shape for a in answers] == [(1, 3, s, s) for s in sizes]
        assert [a.rows[0].report.output_shape for a in answers] == [(1, 4, s - 2, s - 2) for s in sizes]
    finally:
        session.close()
    assert not session.running
