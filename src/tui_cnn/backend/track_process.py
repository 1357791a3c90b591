"""A user's nn.Module is imported, built and traced in a child process
(``python -P -m tui_cnn.backend.track_child``), never in tui-cnn's own: its import may block
(a download, a slow disk), its constructor or forward may never return, and a thread cannot
be killed. A child can: cancel and quit kill it at once, and ``tui-cnn track --timeout``
gives up on it.

The child keeps the built model, so tracing again at another input shape or batch size
does not import and build it again. It answers each request with JSON lines on a pipe of its
own: what it is doing (shown as progress), then the ``ModelSummary`` or a one-line error.
The user's output goes to the child's stderr, never into that pipe.

This side imports no torch: the app stays light while the child works.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Any, Callable

import msgspec

from ..domain.summary import ModelSummary

CHILD_MODULE = "tui_cnn.backend.track_child"
DEFAULT_TIMEOUT_S = 120.0
TORCH_STAGE = "importing torch"  # the child's own start: not the user's code, not on its clock
TORCH_IMPORT_ALLOWANCE_S = 120.0  # a cold disk under load; past this even torch's import is given up
EXIT_BUILD, EXIT_FORWARD = 2, 1  # the CLI's exit codes: cannot import/build it; its forward pass fails


class TrackError(Exception):
    """Why a model could not be tracked, in one line for the user (no traceback), and the
    exit status ``tui-cnn track`` ends with (2: not imported or built, 1: the forward failed)."""

    def __init__(self, message: str, exit_code: int = EXIT_BUILD) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrackTimeout(TrackError):
    """The child gave no answer in time; it was killed."""


class TrackCancelled(TrackError):
    """The user cancelled (or quit) while the child worked; it was killed."""


Progress = Callable[[str], None]


class TrackSession:
    """One user's model (``MODULE:ATTR``) in a child process, traced on request.

    ``quiet``: the user's output (and Python's warnings) is dropped, for the app, which owns
    the terminal; otherwise it goes to this process's stderr (``track --json`` keeps stdout
    for the JSON). ``summary`` blocks until the child answers; ``close`` (from any thread)
    kills the child, and a ``summary`` waiting for it raises ``TrackCancelled``. The next
    ``summary`` starts a new child."""

    def __init__(self, target: str, *, quiet: bool = False) -> None:
        self.target = target
        self.quiet = quiet
        self.stage = "starting"  # what the child said it is doing last
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._one_request = threading.Lock()  # answers share one pipe: one request at a time
        self._cancelled = False

    def summary(
        self,
        input_shape: tuple[int, int, int],
        batch_size: int,
        timeout: float | None = None,
        on_progress: Progress | None = None,
    ) -> ModelSummary:
        """The model traced on a ``(batch_size, *input_shape)`` input, in the child.
        ``timeout``: seconds the user's code may take (import, build and forward pass), counted
        once the child has torch imported."""
        with self._one_request:
            return self._answer(input_shape, batch_size, timeout, on_progress)

    def _answer(
        self, input_shape: tuple[int, int, int], batch_size: int, timeout: float | None, on_progress: Progress | None
    ) -> ModelSummary:
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout + TORCH_IMPORT_ALLOWANCE_S
        child = self._started()
        request = {"target": self.target, "input_shape": list(input_shape), "batch_size": batch_size}
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # it died already: reading says how
        reader = _Lines(child.stdout.fileno())
        user_code_started = False
        while True:
            line = reader.next_line(deadline)
            if line is _TIMED_OUT:
                self.close()
                raise TrackTimeout(
                    f"{self.target} gave no answer within {_seconds(timeout)} while {self.stage} "
                    "(it may never return): stopped",
                    EXIT_BUILD,
                )
            if line is None:
                raise self._ended(child)
            message = _decoded(line)
            if "progress" in message:
                self.stage = str(message["progress"])
                if timeout is not None and self.stage != TORCH_STAGE and not user_code_started:
                    user_code_started, deadline = True, time.monotonic() + timeout
                if on_progress is not None:
                    on_progress(self.stage)
            elif "summary" in message:
                return summary_from_json(message["summary"])
            elif "error" in message:
                raise TrackError(str(message["error"]), int(message.get("exit", EXIT_BUILD)))

    def close(self) -> None:
        """Kill the child now (cancel, quit); never waits for the user's code."""
        with self._lock:
            child, self._child = self._child, None
            self._cancelled = child is not None
        if child is not None:
            _kill(child)

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def _started(self) -> subprocess.Popen[bytes]:
        with self._lock:
            self._cancelled = False
            if self._child is not None and self._child.poll() is None:
                return self._child
            self.stage = "starting"
            self._child = subprocess.Popen(
                [sys.executable, "-P", "-m", CHILD_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL if self.quiet else None,
                env={**os.environ, "PYTHONWARNINGS": "ignore"} if self.quiet else None,
            )
            return self._child

    def _ended(self, child: subprocess.Popen[bytes]) -> TrackError:
        if self._cancelled:
            return TrackCancelled(f"tracking {self.target} cancelled while {self.stage}")
        with self._lock:
            if self._child is child:
                self._child = None
        code = _kill(child)
        return TrackError(
            f"the process tracking {self.target} ended (exit status {code}) while {self.stage}", EXIT_BUILD
        )


def _kill(child: subprocess.Popen[bytes]) -> int | None:
    if child.poll() is None:
        try:
            child.kill()
        except OSError:
            pass
    for stream in (child.stdin, child.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        return child.wait(timeout=5)  # SIGKILL: at once (a child in the kernel's disk wait, at worst a moment)
    except subprocess.TimeoutExpired:
        return None


_TIMED_OUT = object()


class _Lines:
    """Lines from a pipe, waiting at most until a deadline (select: a blocking read could not be
    given up)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def next_line(self, deadline: float | None) -> Any:
        while b"\n" not in self.buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([self.fd], [], [], wait)
            except (OSError, ValueError):  # closed by a cancel meanwhile
                return None
            if not ready:
                return _TIMED_OUT
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def _decoded(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        return {"error": "the tracking process wrote something that is not its answer"}
    return message if isinstance(message, dict) else {}


def _seconds(timeout: float | None) -> str:
    return f"{timeout:g} s" if timeout is not None else "the time allowed"


def summary_to_json(summary: ModelSummary) -> Any:
    return msgspec.to_builtins(summary)


def summary_from_json(data: Any) -> ModelSummary:
    """The child's summary back as the dataclasses it was (JSON has lists where a layer's
    arguments had tuples: kernel_size=(1, 7))."""
    summary = msgspec.convert(data, ModelSummary)
    rows = tuple(replace(row, report=replace(row.report, args=_tupled(row.report.args))) for row in summary.rows)
    return replace(summary, rows=rows)


def _tupled(args: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in args.items()}
