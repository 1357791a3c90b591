"""Fault injection, for the tests that prove a run survives a crash or a full disk at any
point of an epoch's writes (tests/backend/test_commit_order.py).

``TUI_CNN_FAULT=ACTION:POINT[@EPOCH]`` in a training process's environment makes it fail at
the named point of the trainer's writes, the first time it is reached in epoch EPOCH or later
(any epoch without ``@``). ACTION is ``kill`` (SIGKILL: nothing after it runs, as with a
power cut or ``kill -9``) or ``enospc`` / ``erofs`` (an OSError as a full disk or a read-only
file system raise). Unset (always, outside those tests), every point is one dict lookup.
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "TUI_CNN_FAULT"

#: The points of an epoch's writes, in the order they happen (Trainer._end_epoch). A test
#: walks them all: a name here that the trainer never reaches fails that test.
EPOCH_POINTS = (
    "in-epoch",  # after a batch's progress event, before the epoch's end
    "writing-checkpoint-best.pt",  # before checkpoint-best.pt.tmp is written (best epochs only)
    "writing-checkpoint-last.pt",  # before checkpoint-last.pt.tmp is written
    "after-staging",  # both staged and synced, nothing renamed
    "after-last",  # checkpoint-last.pt renamed into place: the epoch's commit point
    "after-best",  # checkpoint-best.pt renamed into place
    "after-metrics",  # the epoch's line in metrics.jsonl
    "after-epoch-end",  # the EpochEnd event written
)

_ERRORS = {"enospc": errno.ENOSPC, "erofs": errno.EROFS}
_epoch = 0


def _parse(value: str) -> tuple[str, str, int]:
    action, _, rest = value.partition(":")
    point, _, epoch = rest.partition("@")
    return action, point, int(epoch) if epoch.isdigit() else 0


_FAULT = _parse(os.environ[ENV]) if os.environ.get(ENV) else None


def set_epoch(epoch: int) -> None:
    """The epoch being trained (points fire from their ``@EPOCH`` on)."""
    global _epoch
    _epoch = epoch


def fault_point(point: str) -> None:
    """Fail here if the environment asks for it (see the module's docstring)."""
    global _FAULT
    if _FAULT is None or _FAULT[1] != point or _epoch < _FAULT[2]:
        return
    action = _FAULT[0]
    _FAULT = None  # once: a resumed run in the same process (none today) goes on
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    code = _ERRORS.get(action, errno.EIO)
    raise OSError(code, os.strerror(code))
