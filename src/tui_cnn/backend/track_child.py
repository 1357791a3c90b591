"""The child process that imports, builds and traces a user's nn.Module
(``python -P -m tui_cnn.backend.track_child``; backend/track_process.py starts it and may kill
it at any moment).

Requests arrive as JSON lines on stdin, answers leave as JSON lines on the stdout it was
given; before any user code runs both move to private descriptors, so the user's ``print``
(even ``os.write(1, ...)``) goes to stderr and its ``input()`` reads nothing. ``-P``: a file in
the current directory named like a module tui-cnn imports (``torch.py``) is not imported in
its place; the user's module is found there on purpose, after torch is in.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO

from .track_process import TORCH_STAGE


def main() -> None:
    answers, requests = _private_channels()
    _exit_with_parent()

    def send(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message).encode() + b"\n")
        answers.flush()

    send({"progress": TORCH_STAGE})
    from .introspect import build_target, track
    from .track_process import EXIT_BUILD, EXIT_FORWARD, TrackError, summary_to_json

    model, built_on, built_for = None, "meta", None
    for line in requests:
        try:
            request = json.loads(line)
            target, shape, batch = request["target"], tuple(request["input_shape"]), int(request["batch_size"])
        except (ValueError, KeyError, TypeError):
            send({"error": "a request tui-cnn cannot read", "exit": EXIT_BUILD})
            continue
        try:
            if built_for != target:
                model, built_for = None, None
                model, built_on = build_target(target, lambda stage: send({"progress": stage}))
                built_for = target
        except TrackError as exc:
            send({"error": str(exc), "exit": EXIT_BUILD})
            continue
        except Exception as exc:  # tui-cnn's own fault: one line here, the traceback on stderr
            traceback.print_exc()
            send({"error": f"tui-cnn failed building {target}: {type(exc).__name__}: {exc}", "exit": EXIT_BUILD})
            continue
        send({"progress": "running its forward pass"})
        try:
            summary = track(model, shape, batch, target, built_on)
        except TrackError as exc:
            send({"error": str(exc), "exit": EXIT_FORWARD})
            continue
        except Exception as exc:
            traceback.print_exc()
            send({"error": f"tui-cnn failed tracing {target}: {type(exc).__name__}: {exc}", "exit": EXIT_FORWARD})
            continue
        send({"summary": summary_to_json(summary)})


def _private_channels() -> tuple[BinaryIO, BinaryIO]:
    """The protocol's pipes on new descriptors; 1 becomes stderr and 0 /dev/null for user code."""
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    requests = os.fdopen(os.dup(0), "rb")
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    return answers, requests


def _exit_with_parent() -> None:
    """Gone with tui-cnn, whatever it was killed by: a thread that needs only a moment of the
    interpreter (the user's code blocked in a sleep, a read or a loop lets it run)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
