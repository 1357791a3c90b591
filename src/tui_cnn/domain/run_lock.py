"""One trainer per run directory, and whether it lives.

The process that trains a run holds an exclusive ``fcntl.flock`` on ``RUN_DIR/.lock`` for its
whole life; the kernel releases it when that process dies, however it dies (kill -9, out of
memory). So a second start, resume or continue of the run is refused while the first lives,
and a reader tells a live run from a dead one by the lock: a non-blocking probe, released at
once, so a reader never keeps a trainer from taking it (the trainer retries for a moment).

The lock file holds who took it (``LockRecord``): the pid, for the one-line refusal, and the
last control command's number at that moment, so the trainer obeys only commands written
after it took the run (a stop written while the run was starting counts, an old one does not).

``process.json`` (``ProcessRecord``) names the training process and its start time as the OS
counts it (psutil ``create_time``): a pid the OS has since given to another process is told
apart from the trainer. Pure Python (fcntl, psutil): no torch.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

import msgspec
import psutil

from .run_control import last_control_seq
from .run_files import read_process
from .run_records import ProcessRecord

LOCK_FILE = ".lock"
#: The run directory whose lock an ancestor holds for this process (a torchrun rank whose
#: launcher took the run): that rank trains the run without taking the lock itself.
LOCK_HELD_FOR_ENV = "TUI_CNN_RUN_LOCK_HELD_FOR"
#: How long taking the lock waits out a reader's probe (microseconds long) before refusing.
ACQUIRE_PATIENCE_S = 1.0
#: Start times read twice differ by rounding alone (clock ticks of 10 ms).
START_TIME_TOLERANCE_S = 0.05
_RECORD_SIZE = 256  # the lock file's record, padded: rewritten in place, never half-read


class LockRecord(msgspec.Struct, frozen=True):
    """The lock file's content: who took the run, and the control commands already there."""

    pid: int
    taken_at: float  # time.time()
    control_seq: int = 0  # commands up to this number are older than this trainer


class RunLocked(Exception):
    """A run directory another live process trains, in one line naming it."""


def lock_path(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / LOCK_FILE


class RunLock:
    """The held lock of one run directory (an open file description: a child started with
    its descriptor holds it too, see ``backend.launch``)."""

    def __init__(self, run_dir: Path, fd: int, record: LockRecord):
        self.run_dir, self.fd, self.record = run_dir, fd, record

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike[str]) -> "RunLock":
        """Take ``run_dir`` (an existing folder) for this process. RunLocked, in one line, when
        another live process holds it; OSError when the lock file cannot be made."""
        run_dir = Path(run_dir)
        # Read before the lock: a command written once the lock is held (a stop for a starting
        # run) is numbered after this; one written before came when no trainer lived.
        seq = last_control_seq(run_dir)
        fd = os.open(lock_path(run_dir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        try:
            _flock_patiently(fd)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(locked_message(run_dir)) from None
        except BaseException:
            os.close(fd)
            raise
        lock = cls(run_dir, fd, LockRecord(os.getpid(), time.time(), seq))
        lock._write_record()
        return lock

    @classmethod
    def adopt(cls, run_dir: str | os.PathLike[str], fd: int) -> "RunLock":
        """The lock a parent took and handed down as descriptor ``fd``."""
        os.set_inheritable(fd, False)  # held by this process alone: what it starts must not keep the run
        record = read_lock_record(run_dir) or LockRecord(os.getpid(), time.time())
        return cls(Path(run_dir), fd, record)

    def hand_to(self, pid: int) -> None:
        """Say that ``pid`` (a child given the descriptor) holds the run now."""
        self.record = msgspec.structs.replace(self.record, pid=pid)
        self._write_record()

    def release(self) -> None:
        """Let go (this process's descriptor: a child's copy still holds it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _write_record(self) -> None:
        data = msgspec.json.encode(self.record).ljust(_RECORD_SIZE) + b"\n"
        try:
            os.pwrite(self.fd, data, 0)
        except OSError:  # a full disk: the lock holds all the same; the record is a courtesy
            pass


def _flock_patiently(fd: int) -> None:
    deadline = time.monotonic() + ACQUIRE_PATIENCE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def read_lock_record(run_dir: str | os.PathLike[str]) -> LockRecord | None:
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, _RECORD_SIZE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return msgspec.json.decode(data.strip() or b"null", type=LockRecord | None)
    except msgspec.DecodeError:
        return None


def lock_held(run_dir: str | os.PathLike[str]) -> bool | None:
    """Whether a live process holds ``run_dir``'s lock: True or False; None when there is no
    lock file (a run from before locks, a folder being made) or it cannot be probed."""
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # releases the probe's shared lock at once
    return False


def locked_message(run_dir: str | os.PathLike[str]) -> str:
    """The refusal, naming the live process."""
    record, lock = read_process(run_dir), read_lock_record(run_dir)
    pid: int | None
    if record is not None and record.host == socket.gethostname() and is_that_process(record):
        pid = record.pid
    else:
        pid = lock.pid if lock is not None else None
    who = f"process {pid}" if pid else "another process"
    return (
        f"{run_dir} is being trained by {who}: one trainer per run directory (stop it with "
        f"tui-cnn stop {run_dir}, or wait for it to end)"
    )


def process_start_time(pid: int | None = None) -> float | None:
    """When the OS started process ``pid`` (this one by default); None when there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError, OverflowError):
        return None


def is_that_process(record: ProcessRecord, same_user: bool = False) -> bool:
    """Whether ``record``'s pid is still the process that wrote it: alive, started when the
    record says (a reused pid is another process), and with ``same_user``, this user's (a pid
    of someone else's process is never taken for one of our runs)."""
    try:
        process = psutil.Process(record.pid)
        if record.create_time is not None and abs(process.create_time() - record.create_time) > START_TIME_TOLERANCE_S:
            return False
        if same_user and process.uids().real != os.getuid():
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError, OverflowError):
        return False


def this_process_record() -> ProcessRecord:
    """process.json for the calling process: it trains the run."""
    return ProcessRecord(
        pid=os.getpid(), host=socket.gethostname(), started_at=time.time(), create_time=process_start_time()
    )


def held_for_me(run_dir: str | os.PathLike[str]) -> bool:
    """Whether an ancestor holds ``run_dir``'s lock for this process (see LOCK_HELD_FOR_ENV)."""
    held_for = os.environ.get(LOCK_HELD_FOR_ENV)
    if not held_for:
        return False
    return os.path.realpath(held_for) == os.path.realpath(run_dir) and lock_held(run_dir) is True


def environment_holding(run_dir: str | os.PathLike[str], env: dict[str, str]) -> dict[str, str]:
    """``env`` for children that train ``run_dir`` under this process's lock (torchrun's ranks)."""
    return {**env, LOCK_HELD_FOR_ENV: os.path.realpath(run_dir)}
