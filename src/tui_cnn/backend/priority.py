"""The app's drawing yields the CPU to training; the processes it starts do not.

On a CPU box the trainer's OpenMP threads fill every core, and each time the app's event loop
runs it takes a core from one of them; the others then wait for it at the next barrier, so a
monitor that uses 5% of a core cost training 8% of its speed. With the event loop's thread at
a lower priority (nice, per thread on Linux) the scheduler lets the trainer finish its slice
first, and the app draws in the gaps: its work is small and never urgent by a millisecond.

Children inherit the priority of the thread that starts them, and a process cannot raise its
priority again without privileges. So every process the app starts (a run, the queue, a
sweep, the tracker's tracing, lr-find, a notify command) is started by ``spawn``, from one
thread made before the event loop yielded: training runs at the priority the user gave tui-cnn.

No torch here: the app imports this before its first frame.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: How far the app's event loop steps back (nice +10: a tenth of a trainer thread's weight,
#: still twice what the app needs while it draws a run). TUI_CNN_UI_NICE=0 keeps it level.
UI_NICE = 10

_spawner: ThreadPoolExecutor | None = None
_spawner_thread: threading.Thread | None = None
#: The threads that yielded already: a second app in one process (tests, benchmarks) does not
#: step back twice.
_yielded: set[int] = set()


def _remember_spawner_thread() -> None:
    global _spawner_thread
    _spawner_thread = threading.current_thread()


def keep_children_at_this_priority() -> None:
    """Make the thread that starts every child now, at the calling thread's priority."""
    global _spawner
    if _spawner is None:
        _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tui-cnn spawner")
        _spawner.submit(_remember_spawner_thread).result()


def spawn(args: Any, **options: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, **options)``, started from the spawner thread when there is one
    (the child then has the priority the app started with, not the yielded one)."""
    if _spawner is None or threading.current_thread() is _spawner_thread:
        return subprocess.Popen(args, **options)
    return _spawner.submit(subprocess.Popen, args, **options).result()


def ui_nice(environ: dict[str, str] | None = None) -> int:
    """How far the UI yields: $TUI_CNN_UI_NICE (0-19) when it is a number, else UI_NICE."""
    value = (os.environ if environ is None else environ).get("TUI_CNN_UI_NICE", "")
    try:
        return min(max(int(value), 0), 19)
    except ValueError:
        return UI_NICE


def yield_to_training() -> int:
    """Lower the calling thread's priority by ``ui_nice()`` (Linux: nice is per thread, so
    only this thread and the threads it makes from now on), after making the spawner at the
    priority it had. Returns the nice added (0 where the system has no per-thread nice, or
    where this thread yielded before)."""
    nice = ui_nice()
    thread = threading.get_native_id()
    if nice == 0 or sys.platform != "linux" or thread in _yielded:
        return 0
    keep_children_at_this_priority()
    _yielded.add(thread)
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except OSError:  # a sandbox that refuses it: the app simply keeps its priority
        return 0
    return nice
