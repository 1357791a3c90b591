"""The key fuzzer: random keys sent to the real app at typing speed, never waiting for it
between keys (Pilot's ``press`` waits; people do not), through every screen and dialog.

Keys are posted to the app's message queue as the terminal driver does, ``gap`` seconds
apart on average whatever the app is doing; some come in bursts of 2 to 8 with no pause
between them, as SSH delivers several keys in one read. While a text box has the focus, most
keys are what people type into one (characters, digits, backspace, enter, tab). Each session
starts a fresh app on a screen drawn at random, at 80x24 and 160x50 in turn, and ends after
its keys or when the keys quit the app (ctrl+q, then y). A crash is the app ending on an
unhandled error. No training process is ever started: the monitor's start is replaced by a
note, and the queue, the Runs screen's continue, sweeps and sbatch refuse (``_process_starts``;
the LR range test's short child runs, killed with its dialog).
Files the keys save or export land in a temporary directory (the current one, changed).

Every session is reproducible from its seed and number (``random.Random(f"{seed}-{session}")``),
though not exactly: the app's timing decides where in its work each key lands.

    python -m benchmarks --only fuzz            # 100,000 keys over 5 seeds (400 keys with --quick)
    python -m benchmarks.fuzz [KEYS] [SEED]     # one seed alone; --session N replays one session, -v tracebacks

The seeds are new each run (printed, and in the results) unless $TUI_CNN_FUZZ_SEED fixes the first.
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

#: What a person presses in a text box: digits and letters (numbers, names, paths), fixing
#: them, then enter, tab or escape to leave; now and then a key of the screen around it.
TYPING: dict[str, int] = {
    **dict.fromkeys(list("0123456789"), 6),
    **dict.fromkeys(list("abcdefghijklmnopqrstuvwxyzAEMSX"), 1),
    **dict.fromkeys(["full_stop", "minus", "comma", "underscore", "slash", "space", "e"], 2),
    **dict.fromkeys(["backspace"], 14),
    **dict.fromkeys(["enter", "tab"], 6),
    **dict.fromkeys(["shift+tab", "escape", "delete", "left", "right", "home", "end", "ctrl+a"], 2),
    **dict.fromkeys(["up", "down", "ctrl+z", "ctrl+p", "question_mark", "pageup"], 1),
}

#: The screen a session's app starts on (the others are a key away).
START_MODES = ("tracker", "builder", "monitor", "runs", "inspect")
SIZES = ((80, 24), (160, 50))
BURST_CHANCE = 0.25  # of a key starting a burst
BURST_KEYS = (2, 8)  # keys in one read, at most


#: Keys whose character Textual's key_to_character does not find (its Unicode name differs).
_CHARACTERS = {"minus": "-", "underscore": "_", "slash": "/"}


def key_event(key: str) -> events.Key:
    """The Key event a terminal sends for ``key`` (Textual's key names)."""
    return events.Key(key, _CHARACTERS.get(key) or key_to_character(key))


@dataclass
class FuzzResult:
    keys: int = 0
    sessions: int = 0  # apps started
    seconds: float = 0.0
    crashes: list[str] = field(default_factory=list)  # one line each: seed, session, size, key index, error
    tracebacks: list[str] = field(default_factory=list)
    quits: int = 0
    starts_suppressed: int = 0
    bursts: int = 0
    typed: int = 0  # keys sent while a text box had the focus
    seeds: list[int] = field(default_factory=list)

    def add(self, other: "FuzzResult") -> None:
        for name in ("keys", "sessions", "seconds", "quits", "starts_suppressed", "bursts", "typed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.crashes += other.crashes
        self.tracebacks += other.tracebacks
        self.seeds += other.seeds

    @property
    def crashes_per_100k_keys(self) -> float:
        return len(self.crashes) * 100_000 / max(self.keys, 1)


def _not_started(*_args, **_kwargs):
    raise OSError("fuzz: no process started")


def _nothing(*_args, **_kwargs) -> None:
    return None


def _process_starts() -> list[tuple[object, str, object]]:
    """Every way the app's keys start a process that trains (object, name, what it becomes):
    the monitor's start (counted in run()), the Runs screen's continue, the queue and its
    runner (a detached process that outlives the app: a queued run trained on during the
    fuzz, and after it), sweeps' drivers and SLURM's sbatch. Each refuses as the real one
    does when it cannot start (an OSError, which the app says in a notification). Left to
    run: the LR range test's child, which lives only as long as its dialog (killed when the
    dialog closes or the app ends), a dialog the fuzz is there to drive."""
    from tui_cnn.app.screens.monitor import MonitorScreen
    from tui_cnn.backend import launch, queue_runner, slurm, sweep

    return [
        (MonitorScreen, "start_run", lambda screen, config, spec=None: screen.notify("fuzz: training not started")),
        (launch, "start_detached", _not_started),
        (queue_runner, "queue_run", _not_started),
        (queue_runner, "ensure_runner", _nothing),
        (sweep, "ensure_drivers", _nothing),
        (slurm, "submit_run", _not_started),
    ]


@contextmanager
def _sandbox() -> Iterator[None]:
    """A scratch current directory and state directory; no training process can start."""
    patches = _process_starts()
    before = os.getcwd(), os.environ.get("XDG_STATE_HOME"), [getattr(obj, name) for obj, name, _ in patches]
    with tempfile.TemporaryDirectory(prefix="tui-cnn-fuzz-") as scratch:
        os.chdir(scratch)
        os.environ["XDG_STATE_HOME"] = os.path.join(scratch, "state")
        for obj, name, replacement in patches:
            setattr(obj, name, replacement)
        try:
            yield
        finally:
            os.chdir(before[0])
            if before[1] is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = before[1]
            for (obj, name, _), original in zip(patches, before[2]):
                setattr(obj, name, original)


def _typing_into_a_box(app) -> bool:
    from textual.widgets import Input, TextArea

    return isinstance(app.focused, (Input, TextArea))


async def _handled_then_quit(app, timeout: float = 120.0) -> None:
    """Wait until the app has handled the keys sent (a callback queued behind them has run),
    then end it as a terminal's app ends: its loop stops, then it shuts down. Leaving run_test
    with the loop still running shuts the app down while keys still queued on a screen are
    handled: one switching screens found the stacks already emptied (ScreenStackError), which
    no terminal can cause."""
    handled = asyncio.Event()
    app.call_later(handled.set)
    deadline = time.monotonic() + timeout
    while not handled.is_set() and app.is_running:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app handled no key for {timeout:.0f} s")
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # what the last keys started (a screen mounting, a worker's answer)
    app.exit()
    while app.is_running:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not stop within {timeout:.0f} s")
        await asyncio.sleep(0.02)


async def _session(
    rng: random.Random, keys: int, gap: float, size: tuple[int, int], start_mode: str, label: str, result: FuzzResult
) -> None:
    from tui_cnn.app.app import TuiCnnApp

    keys_names, keys_weights = list(KEYS), list(KEYS.values())
    typing_names, typing_weights = list(TYPING), list(TYPING.values())
    app = TuiCnnApp(start_mode=start_mode)
    sent = 0
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            while sent < keys and app.is_running:
                burst = rng.randint(*BURST_KEYS) if rng.random() < BURST_CHANCE else 1
                burst = min(burst, keys - sent)
                result.bursts += burst > 1
                for _ in range(burst):  # one read's keys: no await between them
                    typing = _typing_into_a_box(app)
                    names, weights = (typing_names, typing_weights) if typing else (keys_names, keys_weights)
                    app.post_message(key_event(rng.choices(names, weights)[0]))
                    sent += 1
                    result.typed += typing
                await asyncio.sleep(rng.uniform(0, 2 * gap * burst))  # the mean gap per key holds
            await _handled_then_quit(app)
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


def fuzz(
    total_keys: int,
    seed: int = 0,
    gap: float = 0.015,
    session_keys: int = 400,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    only_session: int | None = None,
    progress=None,
) -> FuzzResult:
    """Send ``total_keys`` random keys, ``session_keys`` per fresh app, the apps taking
    ``sizes`` in turn; ``gap`` is the mean pause per key (uniform from 0 to twice it, times
    the keys of a burst). ``only_session`` replays that one session of ``seed``;
    ``progress(result)`` is called after each session."""
    result = FuzzResult(seeds=[seed])
    start = time.perf_counter()
    with _sandbox():
        from tui_cnn.app.screens.monitor import MonitorScreen

        counting = MonitorScreen.start_run

        def counted(screen, config, spec=None):
            result.starts_suppressed += 1
            counting(screen, config, spec)

        MonitorScreen.start_run = counted
        session = only_session or 0
        while result.keys < total_keys:
            rng = random.Random(f"{seed}-{session}")
            size, start_mode = sizes[session % len(sizes)], rng.choice(START_MODES)
            keys = min(session_keys, total_keys - result.keys)
            label = f"seed {seed} session {session} ({start_mode}, {size[0]}x{size[1]})"
            asyncio.run(_session(rng, keys, gap, size, start_mode, label, result))
            if progress is not None:
                progress(result)
            if only_session is not None:
                break
            session += 1
    result.seconds = time.perf_counter() - start
    return result


def fuzz_seeds(total_keys: int, seeds: list[int], **options) -> FuzzResult:
    """``total_keys`` split evenly over ``seeds``, one after the other."""
    result = FuzzResult()
    for index, seed in enumerate(seeds):
        share = total_keys // len(seeds) + (index < total_keys % len(seeds))
        result.add(fuzz(share, seed, **options))
    return result


class _SayProgress:
    """A line every 10 apps of a seed, and each crash as it happens: a long soak that is
    stopped early still tells what it found (the figures come only at its end)."""

    def __init__(self) -> None:
        self._result: FuzzResult | None = None
        self._said = 0

    def __call__(self, result: FuzzResult) -> None:
        if result is not self._result:  # the next seed's own result
            self._result, self._said = result, 0
        if result.sessions % 10 == 0:
            print(
                f"fuzz: {result.sessions} apps, {result.keys:,} keys of this seed, {len(result.crashes)} crashes",
                file=sys.stderr,
                flush=True,
            )
        for line in result.crashes[self._said :]:
            print(f"fuzz crash: {line}", file=sys.stderr, flush=True)
        self._said = len(result.crashes)


def chosen_seeds(count: int) -> list[int]:
    """``count`` consecutive seeds from $TUI_CNN_FUZZ_SEED, else from a fresh random one, so
    each run explores new sessions and still names the seeds that reproduce it."""
    first = os.environ.get("TUI_CNN_FUZZ_SEED")
    base = int(first) if first else random.SystemRandom().randrange(1_000_000)
    return list(range(base, base + count))


def run(options: Options) -> list[Figure]:
    total, seeds = (400, chosen_seeds(1)) if options.quick else (100_000, chosen_seeds(5))
    print(f"fuzz: seeds {seeds} (TUI_CNN_FUZZ_SEED={seeds[0]} repeats them)", file=sys.stderr)
    result = fuzz_seeds(total, seeds, progress=_SayProgress())
    how = (
        f"{result.keys:,} random keys over seeds {', '.join(map(str, seeds))}, mean gap 15 ms, never waiting for "
        f"the app, {result.bursts:,} bursts of 2-8 keys, {result.typed:,} keys typed into text boxes; "
        f"{result.sessions} apps started (<= 400 keys each, 80x24 and 160x50 in turn, on a random screen), "
        f"{result.quits} ended by quitting; training starts suppressed: {result.starts_suppressed}"
    )
    for crash in result.crashes:
        print(f"fuzz crash: {crash}", file=sys.stderr)
    seeds_extra = {"seeds": seeds, "apps_started": result.sessions, "crashes": result.crashes}
    return [
        Figure("fuzz", "keys sent", result.keys, "keys", how, extra=seeds_extra),
        Figure("fuzz", "apps started", result.sessions, "apps", f"seeds {', '.join(map(str, seeds))}"),
        Figure(
            "fuzz",
            "crashes per 100,000 keys",
            result.crashes_per_100k_keys,
            "crashes",
            f"{len(result.crashes)} in {result.keys:,} keys: " + ("; ".join(result.crashes[:3]) or "none"),
            target="< 1",
        ),
        Figure("fuzz", "keys per second", result.keys / result.seconds, "keys/s", "wall clock, app handling included"),
    ]


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz")
    parser.add_argument("keys", type=int, nargs="?", default=2_000)
    parser.add_argument("seed", type=int, nargs="?", default=0)
    parser.add_argument("--session", type=int, help="replay only this session of the seed")
    parser.add_argument("-v", action="store_true", help="print each crash's traceback as it happens")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    reported = 0

    def progress(result: FuzzResult) -> None:
        nonlocal reported
        print(
            f"  {result.sessions} apps, {result.keys:,} keys, {len(result.crashes)} crashes, "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        for line, details in zip(result.crashes[reported:], result.tracebacks[reported:]):
            print(f"crash: {line}", file=sys.stderr, flush=True)
            if args.v:
                print(details, file=sys.stderr, flush=True)
        reported = len(result.crashes)

    outcome = fuzz(args.keys, args.seed, only_session=args.session, progress=progress)
    print(
        f"seed {args.seed}: {outcome.keys:,} keys, {outcome.sessions} apps, {outcome.quits} quits, "
        f"{outcome.bursts} bursts, {outcome.typed} keys typed into text boxes, {outcome.starts_suppressed} "
        f"training starts suppressed, {len(outcome.crashes)} crashes, {outcome.seconds:.0f} s",
        flush=True,
    )
    for line in outcome.crashes:
        print(" ", line)


if __name__ == "__main__":
    main(sys.argv[1:])
