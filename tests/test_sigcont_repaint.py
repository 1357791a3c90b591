"""The app in a real pseudo-terminal, stopped and continued: in a burst (ctrl+z and fg, as a
shell does it, many times quickly), after the last continue it repaints the whole screen by
itself (the screen once stayed half blank until a key was pressed); frozen from outside
(SIGSTOP) and let go, it goes on as it was, unless its terminal was taken meanwhile."""

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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


@dataclass
class RunningApp:
    process: subprocess.Popen
    terminal: Terminal
    tty: int  # the app's side of the pty, kept open: its modes can be read and set
    painted: bytes = field(default=b"")

    def painted_has(self, *parts: bytes) -> bool:
        """Whether what arrived since the last ``forget`` holds all of ``parts``."""
        self.painted += self.terminal.take()
        return all(part in self.painted for part in parts)

    def forget(self) -> None:
        """Drop what arrived so far: only what follows counts."""
        self.terminal.take()
        self.painted = b""

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/task"))


@contextmanager
def app_in_a_pty(tmp_path) -> Iterator[RunningApp]:
    """tui-cnn in a new 80x24 pseudo-terminal of its own session, once it painted its first
    frame and settled; killed at the end."""
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
    app = RunningApp(process, Terminal(main), child)
    try:
        wait_until(lambda: app.painted_has(b"Quit"), timeout=60, what="the first frame's footer")
        time.sleep(1.0)  # let it settle
        yield app
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)
        os.close(child)
        os.close(main)


def test_a_burst_of_stops_and_continues_ends_with_the_whole_screen_repainted(tmp_path):
    with app_in_a_pty(tmp_path) as app:
        for burst in range(8):  # as a shell does it: fg continues a process it has seen stop
            app.process.send_signal(signal.SIGTSTP)
            wait_until_stopped(app.process.pid)
            if burst == 7:  # what the stopped app wrote is read and dropped: only what follows counts
                time.sleep(0.3)
                app.forget()
            app.process.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        # up to 30 s: a loaded machine repaints late, never not at all
        wait_until(
            lambda: app.painted_has(b"SimpleCNN", b"Quit"), timeout=30, what="the title row and the footer, drawn again"
        )


def test_frozen_while_a_shell_took_the_terminal_the_app_takes_it_back_and_repaints(tmp_path):
    """Stopped from outside while something else set the terminal's modes (a shell's job
    control: cooked, echoing): on the continue the app sets its raw modes again and paints the
    whole screen, with no more threads than before."""
    with app_in_a_pty(tmp_path) as app:
        threads, raw = app.threads(), termios.tcgetattr(app.tty)
        app.process.send_signal(signal.SIGSTOP)
        wait_until_stopped(app.process.pid)
        cooked = termios.tcgetattr(app.tty)
        cooked[3] |= termios.ICANON | termios.ECHO  # lflag, as a shell leaves it
        termios.tcsetattr(app.tty, termios.TCSANOW, cooked)
        app.forget()
        app.process.send_signal(signal.SIGCONT)
        wait_until(lambda: app.painted_has(b"SimpleCNN", b"Quit"), timeout=30, what="the whole screen painted again")
        wait_until(lambda: termios.tcgetattr(app.tty) == raw, timeout=10, what="the app's raw modes back")
        assert app.threads() == threads


def test_frozen_from_outside_and_let_go_the_app_goes_on_as_it_was(tmp_path):
    """SIGSTOP (a debugger, kill -STOP, a job scheduler) cannot be caught; the SIGCONT after it
    restarted Textual's driver: two more threads at each continue, both reading the keys, and
    the whole screen painted again. Now nothing changes, and a key still answers."""
    with app_in_a_pty(tmp_path) as app:
        threads = app.threads()
        app.forget()
        for _ in range(5):
            app.process.send_signal(signal.SIGSTOP)
            wait_until_stopped(app.process.pid)
            app.process.send_signal(signal.SIGCONT)
            time.sleep(0.1)
        time.sleep(1.0)
        assert app.threads() == threads
        assert len(app.terminal.take()) < 2048  # no screen painted again (the tracker's is ~10 KiB)
        os.write(app.terminal.fd, b"\x11")  # ctrl+q
        assert app.process.wait(timeout=30) == 0
