"""The app in a real pseudo-terminal, stopped and continued in a burst (ctrl+z and fg, as a
shell does it, many times quickly): after the last continue it repaints the whole screen by
itself (the screen once stayed half blank until a key was pressed)."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from tests.helpers import wait_until

pytestmark = pytest.mark.slow  # the app in a child process


class Terminal:
    """The terminal's side of a pty: it reads all the time, as a real terminal does (an app
    whose output nobody reads blocks in its writes, and then never stops on ctrl+z)."""

    def __init__(self, fd: int) -> None:
        self.fd, self.received, self._lock = fd, b"", threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                with self._lock:
                    self.received += chunk
        except OSError:  # closed
            pass

    def take(self) -> bytes:
        """What arrived since the last take."""
        with self._lock:
            taken, self.received = self.received, b""
        return taken


def wait_until_stopped(pid: int) -> None:
    """Until the process is stopped: a shell's waitpid(WUNTRACED) sees it so before its fg
    sends SIGCONT (a SIGCONT sent earlier would be overtaken by the app's own SIGSTOP)."""
    _, status = os.waitpid(pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), status


def test_a_burst_of_stops_and_continues_ends_with_the_whole_screen_repainted(tmp_path):
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_cnn"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(child)
    terminal = Terminal(main)
    try:
        painted = [b""]

        def painted_has(*parts: bytes) -> bool:
            painted[0] += terminal.take()
            return all(part in painted[0] for part in parts)

        wait_until(lambda: painted_has(b"Quit"), timeout=60, what="the first frame's footer")
        time.sleep(1.0)  # let it settle
        for burst in range(8):  # as a shell does it: fg continues a process it has seen stop
            process.send_signal(signal.SIGTSTP)
            wait_until_stopped(process.pid)
            if burst == 7:  # what the stopped app wrote is read and dropped: only what follows counts
                time.sleep(0.3)
                terminal.take()
                painted[0] = b""
            process.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        # up to 30 s: a loaded machine repaints late, never not at all
        wait_until(
            lambda: painted_has(b"SimpleCNN", b"Quit"), timeout=30, what="the title row and the footer, drawn again"
        )
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)
        os.close(main)


def test_frozen_from_outside_and_let_go_the_app_goes_on_as_it_was(tmp_path):
    """SIGSTOP (a debugger, kill -STOP, a job scheduler) cannot be caught; the SIGCONT after it
    restarted Textual's driver: two more threads at each continue, both reading the keys, and
    the whole screen painted again. Now nothing changes, and a key still answers."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tui_cnn"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(child)
    terminal = Terminal(main)
    try:
        painted = [b""]

        def painted_has(*parts: bytes) -> bool:
            painted[0] += terminal.take()
            return all(part in painted[0] for part in parts)

        wait_until(lambda: painted_has(b"Quit"), timeout=60, what="the first frame's footer")
        time.sleep(1.0)  # let it settle
        threads = len(os.listdir(f"/proc/{process.pid}/task"))
        terminal.take()
        for _ in range(5):
            process.send_signal(signal.SIGSTOP)
            wait_until_stopped(process.pid)
            process.send_signal(signal.SIGCONT)
            time.sleep(0.1)
        time.sleep(1.0)
        assert len(os.listdir(f"/proc/{process.pid}/task")) == threads
        assert len(terminal.take()) < 2048  # no screen painted again (the tracker's is ~10 KiB)
        os.write(main, b"\x11")  # ctrl+q
        assert process.wait(timeout=30) == 0
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)
        os.close(main)
