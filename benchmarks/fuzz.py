"""The key fuzzer: random keys sent to the real app at typing speed, never waiting for it
between keys (Pilot's ``press`` waits; people do not), through every screen and dialog.

Keys are posted to the app's message queue as the terminal driver does, ``gap`` seconds
apart whatever the app is doing. A session ends after its keys, or when the keys quit the app
(ctrl+q, then y); the next one starts a fresh app. A crash is the app ending on an unhandled
error. Training is never started for real: the monitor's start is replaced by a note.
Files the keys save or export land in a temporary directory (the current one, changed).

    python -m benchmarks --only fuzz            # the soak: 20,000 keys (400 with --quick)
    python -m benchmarks.fuzz [KEYS] [SEED]     # the same, alone
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from textual import events
from textual.keys import key_to_character

from .harness import Figure, Options

#: What a person presses, by how often: moving around and typing most, every screen's keys,
#: dialogs' answers, the app's keys. No ":" (a module to import for the tracker's t).
KEYS: dict[str, int] = {
    **dict.fromkeys(["up", "down", "down", "left", "right", "enter", "escape", "tab"], 6),
    **dict.fromkeys(["home", "end", "pageup", "pagedown", "shift+up", "shift+down", "shift+tab", "space"], 2),
    **dict.fromkeys(["1", "2", "3", "4", "5", "question_mark", "ctrl+p", "y", "n"], 3),
    **dict.fromkeys(list("0123456789"), 3),
    **dict.fromkeys(list("cpbdflaikDetsvmxrogjhqw"), 2),
    **dict.fromkeys(["backspace", "delete", "comma", "full_stop", "minus"], 3),
    **dict.fromkeys(["ctrl+z", "ctrl+y", "ctrl+f", "ctrl+s", "ctrl+o", "ctrl+q"], 1),
}


def key_event(key: str) -> events.Key:
    """The Key event a terminal sends for ``key`` (Textual's key names)."""
    return events.Key(key, key_to_character(key))


@dataclass
class FuzzResult:
    keys: int = 0
    sessions: int = 0
    seconds: float = 0.0
    crashes: list[str] = field(default_factory=list)  # one line each: seed, key index, error
    tracebacks: list[str] = field(default_factory=list)
    quits: int = 0
    starts_suppressed: int = 0


@contextmanager
def _sandbox() -> Iterator[None]:
    """A scratch current directory and state directory; training starts only counted."""
    from tui_cnn.app.screens.monitor import MonitorScreen

    before = os.getcwd(), os.environ.get("XDG_STATE_HOME"), MonitorScreen.start_run
    with tempfile.TemporaryDirectory(prefix="tui-cnn-fuzz-") as scratch:
        os.chdir(scratch)
        os.environ["XDG_STATE_HOME"] = os.path.join(scratch, "state")
        MonitorScreen.start_run = lambda screen, config, spec=None: screen.notify("fuzz: training not started")
        try:
            yield
        finally:
            os.chdir(before[0])
            if before[1] is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = before[1]
            MonitorScreen.start_run = before[2]


async def _session(rng: random.Random, keys: int, gap: float, size: tuple[int, int], label: str,
                   result: FuzzResult) -> None:
    from tui_cnn.app.app import TuiCnnApp

    names, weights = list(KEYS), list(KEYS.values())
    app = TuiCnnApp()
    sent = 0
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            while sent < keys and app.is_running:
                app.post_message(key_event(rng.choices(names, weights)[0]))
                sent += 1
                await asyncio.sleep(rng.uniform(0, 2 * gap))
            await pilot.pause(0.2)
    except Exception as error:  # noqa: BLE001 - any error ending the app is what we look for
        cause = error.__cause__ or error
        where = "".join(traceback.format_exception(cause)[-3:]).strip().replace("\n", " | ")
        result.crashes.append(f"{label} after {sent} keys: {type(cause).__name__}: {cause} [{where}]")
        result.tracebacks.append("".join(traceback.format_exception(cause)))
    else:
        if app.return_code:
            result.crashes.append(f"{label} after {sent} keys: exit status {app.return_code}")
        elif sent < keys:
            result.quits += 1
    result.keys += sent
    result.sessions += 1


def fuzz(total_keys: int, seed: int = 0, gap: float = 0.015, session_keys: int = 400,
         size: tuple[int, int] = (80, 24)) -> FuzzResult:
    """Send ``total_keys`` random keys, ``session_keys`` per fresh app; ``gap`` is the mean
    pause between keys (uniform from 0 to twice it)."""
    result = FuzzResult()
    start = time.perf_counter()
    with _sandbox():
        from tui_cnn.app.screens.monitor import MonitorScreen

        counting = MonitorScreen.start_run

        def counted(screen, config, spec=None):
            result.starts_suppressed += 1
            counting(screen, config, spec)

        MonitorScreen.start_run = counted
        session = 0
        while result.keys < total_keys:
            rng = random.Random(f"{seed}-{session}")
            keys = min(session_keys, total_keys - result.keys)
            asyncio.run(_session(rng, keys, gap, size, f"seed {seed} session {session}", result))
            session += 1
    result.seconds = time.perf_counter() - start
    return result


def run(options: Options) -> list[Figure]:
    total = 400 if options.quick else 20_000
    result = fuzz(total, seed=int(os.environ.get("TUI_CNN_FUZZ_SEED", "0")))
    how = (f"{result.keys:,} random keys, mean gap 15 ms, never waiting for the app; {result.sessions} sessions "
           f"of <= 400 keys at 80x24, {result.quits} ended by quitting; training starts suppressed: "
           f"{result.starts_suppressed}")
    for crash in result.crashes:
        print(f"fuzz crash: {crash}", file=sys.stderr)
    return [
        Figure("fuzz", "keys sent", result.keys, "keys", how),
        Figure("fuzz", "crashes", len(result.crashes), "crashes", "; ".join(result.crashes[:3]) or how,
               target="< 1"),
        Figure("fuzz", "keys per second", result.keys / result.seconds, "keys/s", "wall clock, app handling included"),
    ]


if __name__ == "__main__":
    numbers = [int(arg) for arg in sys.argv[1:] if arg.isdigit()]
    total, seed = (numbers + [2_000, 0][len(numbers):])[:2]
    outcome = fuzz(total, seed)
    print(f"{outcome.keys:,} keys, {outcome.sessions} sessions, {outcome.quits} quits, "
          f"{outcome.starts_suppressed} starts suppressed, {len(outcome.crashes)} crashes, {outcome.seconds:.0f} s")
    for line, details in zip(outcome.crashes, outcome.tracebacks):
        print(" ", line)
        if "-v" in sys.argv:
            print(details)
