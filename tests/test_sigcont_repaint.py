"""The app in a real pseudo-terminal, stopped and continued in a burst (ctrl+z and fg, as a
shell does it, many times quickly): after the last continue it repaints the whole screen by
itself (the screen once stayed half blank until a key was pressed)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

pytestmark = pytest.mark.slow  # the app in a child process


def read_for(fd: int, seconds: float) -> bytes:
    """Everything the terminal receives for ``seconds`` (not a timing check: a reading window)."""
    out, end = b"", time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def test_a_burst_of_stops_and_continues_ends_with_the_whole_screen_repainted(tmp_path):
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "tui_cnn"], stdin=child, stdout=child, stderr=child,
                               env=env, cwd=tmp_path, start_new_session=True)
    os.close(child)
    try:
        painted = b""
        for _ in range(120):  # the first frame: its footer
            painted += read_for(main, 0.5)
            if b"Quit" in painted:
                break
        assert b"Quit" in painted
        read_for(main, 1.0)  # let it settle
        for _ in range(8):
            process.send_signal(signal.SIGTSTP)
            time.sleep(0.02)
            process.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        after = b""
        for _ in range(60):  # up to 30 s: a loaded machine repaints late, never not at all
            after += read_for(main, 0.5)
            if b"SimpleCNN" in after and b"Quit" in after:
                break
        assert b"SimpleCNN" in after and b"Quit" in after  # the title row and the footer, drawn again
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)
        os.close(main)
