"""Figure 1: from typing ``tui-cnn`` to the first painted frame, and the memory at that moment.

The installed console script is launched in a pseudo-terminal of a fixed size, as a user
would; the clock stops when the screen shows the tracker's table (its first layer). Right
then the process's resident memory is read from /proc, and its memory map tells whether
torch is loaded (it must not be: torch loads later, off the UI's path).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from .harness import Figure, Options, Skipped, median

#: Text the tracker paints on SimpleCNN: its first layer, as PyTorch prints it.
FIRST_FRAME_MARKER = "Conv2d"
TERMINAL_SIZE = (24, 80)  # rows, columns
PAINT_TIMEOUT_S = 15.0
_ESCAPE_SEQUENCE = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-B]")
_CTRL_Q = b"\x11"


def console_script() -> list[str]:
    """The command a user types: the ``tui-cnn`` script installed beside this Python."""
    script = Path(sys.executable).parent / "tui-cnn"
    if not script.exists():
        raise Skipped(f"tui-cnn is not installed beside {sys.executable} (pip install -e .)")
    return [str(script)]


def screen_text(output: bytes) -> str:
    """The terminal output with its escape sequences removed: the characters painted."""
    return _ESCAPE_SEQUENCE.sub(b"", output).decode("utf-8", "replace")


class LaunchedApp:
    """The app running in a pseudo-terminal; ``wait_for_paint`` returns seconds since launch."""

    def __init__(self, command: list[str]) -> None:
        self.master, slave = os.openpty()
        rows, columns = TERMINAL_SIZE
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
        # as a user's Python: it keeps compiled modules (__pycache__) from the first start on; a
        # machine set to write none (PYTHONDONTWRITEBYTECODE, as some CI images are) compiled
        # every module of tui_cnn at every launch, ~70 ms of it
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = b""

    def wait_for_paint(self, marker: str) -> float:
        deadline = self.started + PAINT_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self._read(timeout=0.05) and marker in screen_text(self.output):
                return time.perf_counter() - self.started
            if self.process.poll() is not None:
                break
        raise RuntimeError(
            f"{marker!r} never appeared on the screen within {PAINT_TIMEOUT_S:.0f} s; "
            f"the screen showed: {' '.join(screen_text(self.output).split())[:300]!r}"
        )

    def resident_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def torch_loaded(self) -> bool:
        return "libtorch" in Path(f"/proc/{self.process.pid}/maps").read_text()

    def quit(self) -> None:
        """Ctrl+Q, as a user would; kill it if it does not go (reading keeps the pty flowing)."""
        os.write(self.master, _CTRL_Q)
        deadline = time.perf_counter() + 5
        while self.process.poll() is None and time.perf_counter() < deadline:
            self._read(timeout=0.05)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            self.output += os.read(self.master, 1 << 16)
        except OSError:  # the app exited and closed its side
            return False
        return True


def launch_once(command: list[str]) -> tuple[float, int, bool]:
    """(seconds to first paint, resident bytes then, whether torch was loaded then)."""
    app = LaunchedApp(command)
    try:
        painted = app.wait_for_paint(FIRST_FRAME_MARKER)
        return painted, app.resident_bytes(), app.torch_loaded()
    finally:
        app.quit()


#: The floor under any Textual app on this machine: Python, Textual's import and one painted
#: widget, no more. It tells a slow machine from a slow app (launch times vary 1.5x between
#: days on the same kind of machine).
BARE_TEXTUAL_APP = f"""
from textual.app import App
from textual.widgets import Static

class Bare(App):
    BINDINGS = [("ctrl+q", "quit")]

    def compose(self):
        yield Static({FIRST_FRAME_MARKER!r})

Bare().run()
"""


def run(options: Options) -> list[Figure]:
    if not Path("/proc/self/status").exists():
        raise Skipped("needs Linux /proc to read the app's memory")
    command = console_script()
    bare = [sys.executable, "-c", BARE_TEXTUAL_APP]
    launch_once(command)  # warm-up: fills the OS file cache and Python's bytecode cache
    launch_once(bare)
    launches, bare_times = [], []
    for _ in range(options.runs(full=10, quick=2)):  # alternating, so load hits both alike
        launches.append(launch_once(command))
        bare_times.append(launch_once(bare)[0])
    times = [t for t, _, _ in launches]
    memory = [m for _, m, _ in launches]
    torch_loaded = any(loaded for _, _, loaded in launches)
    rows, columns = TERMINAL_SIZE
    how = (
        f"`tui-cnn` in a {columns}x{rows} pty until the tracker shows {FIRST_FRAME_MARKER}, median of {len(times)} "
        "after a warm-up start (Python's bytecode cache written, as for a user)"
    )
    return [
        Figure("startup", "launch to first paint", median(times), "s", how, target="< 0.25", samples=times),
        Figure(
            "startup",
            "a bare Textual app, launch to first paint",
            median(bare_times),
            "s",
            "one Static in the same pty, same Python, alternating with tui-cnn's launches: the floor",
            samples=bare_times,
        ),
        Figure(
            "startup",
            "tui-cnn / bare Textual app",
            median(times) / median(bare_times),
            "x",
            "launch to first paint, medians",
        ),
        Figure(
            "startup",
            "memory at first paint",
            median(memory),
            "bytes",
            "VmRSS right after the first paint; torch " + ("LOADED (it must not be)" if torch_loaded else "not loaded"),
            samples=memory,
            extra={"torch_loaded": torch_loaded},
        ),
    ]
