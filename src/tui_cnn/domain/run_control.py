"""control.json: the numbered stop / pause / resume commands any app or `tui-cnn stop|pause|resume`
writes for a run's training process, and how that process reads them."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from pathlib import Path

import msgspec

from .run_records import _Record

CONTROL_FILE = "control.json"
RUN_CONTROLS = ("stop", "pause", "resume")
#: control.json keeps this many latest commands: a trainer looks 4 times a second, so it never
#: falls this far behind, and the file stays small.
CONTROL_KEPT = 32
#: A control.json larger than this is not ours (a few hundred bytes a command): ignored unread.
CONTROL_MAX_BYTES = 64 * 1024


class ControlCommand(_Record, frozen=True):
    """One command for a run's training process, numbered in the order they were asked."""

    seq: int
    command: str
    at: float  # time.time()


class ControlFile(_Record, frozen=True):
    """control.json: the latest commands, oldest first (see CONTROL_FILE)."""

    commands: list[ControlCommand] = []


class ControlFileRefused(ValueError):
    """A control.json the trainer does not read (not a regular file, too large), in one line."""


def read_control_commands(run_dir: str | Path) -> list[ControlCommand]:
    """control.json's commands, oldest first: [] when absent or unreadable. Opened without
    blocking and read only when it is a regular file under CONTROL_MAX_BYTES (a named pipe
    put there would hang the reader, a huge file fill its memory): ControlFileRefused says
    what else is there."""
    path = Path(run_dir) / CONTROL_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ControlFileRefused(f"{path} is a symbolic link, not a regular file: ignored") from None
        return []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ControlFileRefused(f"{path} is not a regular file: ignored (tui-cnn stop|pause|resume replace it)")
        if info.st_size > CONTROL_MAX_BYTES:
            raise ControlFileRefused(
                f"{path} holds {info.st_size:,} bytes, more than a control file's "
                f"{CONTROL_MAX_BYTES:,}: ignored (tui-cnn stop|pause|resume replace it)"
            )
        data = os.read(fd, CONTROL_MAX_BYTES + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    try:
        return msgspec.json.decode(data, type=ControlFile).commands
    except msgspec.DecodeError:  # the old one-command form, or garbage: no numbered commands
        return []


def _readable_commands(run_dir: str | Path) -> list[ControlCommand]:
    try:
        return read_control_commands(run_dir)
    except ControlFileRefused:
        return []


def last_control_seq(run_dir: str | Path) -> int:
    """The number of the latest command written for ``run_dir`` (0 before any)."""
    commands = _readable_commands(run_dir)
    return commands[-1].seq if commands else 0


def write_control(run_dir: str | Path, command: str) -> ControlCommand:
    """Ask the process training ``run_dir`` to stop, pause or resume: the command is numbered
    after the latest and added to control.json (writers take turns under a lock of their own;
    the file is replaced atomically, so the trainer never reads half of it). Whatever else
    stood under that name (a pipe, a link, a huge file) is replaced."""
    import fcntl

    from .specfile import atomic_write_text

    if command not in RUN_CONTROLS:
        raise ValueError(f"a run takes {', '.join(RUN_CONTROLS)}, not {command!r}")
    path = Path(run_dir) / CONTROL_FILE
    fd = os.open(Path(run_dir) / ".control.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        commands = _readable_commands(run_dir)
        record = ControlCommand(commands[-1].seq + 1 if commands else 1, command, time.time())
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            if not stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
        text = msgspec.json.encode(ControlFile([*commands[-(CONTROL_KEPT - 1) :], record])).decode()
        atomic_write_text(path, text + "\n")
    finally:
        os.close(fd)
    return record


def read_control(run_dir: str | Path) -> ControlCommand | None:
    """The latest command asked of ``run_dir``, or None."""
    commands = _readable_commands(run_dir)
    return commands[-1] if commands and commands[-1].command in RUN_CONTROLS else None
