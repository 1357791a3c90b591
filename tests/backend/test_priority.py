"""The app's event loop yields the CPU to training; what it starts trains at the user's priority.

Each check runs the real app in a process of its own (a thread's nice, once raised, stays
raised: the test process must not carry it into other tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tui_cnn.backend.priority import UI_NICE, ui_nice

# The app on the monitor, training a run as `tui-cnn train` starts it: prints the nice of the
# app's event loop, of a thread the loop made afterwards, of a plain child of that thread (why
# spawn exists) and of the trainer the monitor started.
APP_TRAINS = textwrap.dedent("""
    import asyncio, json, os, subprocess, sys, threading, time
    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.domain.presets import load_preset
    from tui_cnn.domain.run_files import read_process
    from tui_cnn.domain.train_config import TrainConfig

    def nice(tid=0):
        return os.getpriority(os.PRIO_PROCESS, tid)

    def in_new_thread(fn):
        box = []
        thread = threading.Thread(target=lambda: box.append(fn()))
        thread.start(); thread.join()
        return box[0]

    def child_nice():
        out = subprocess.run([sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
                             capture_output=True, text=True)
        return int(out.stdout)

    async def main():
        config = TrainConfig.from_json(json.loads(sys.argv[1]))
        app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="monitor", train_config=config)
        async with app.run_test(size=(100, 30)) as pilot:
            deadline = time.monotonic() + 120
            while read_process(config.run_dir) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            trainer = read_process(config.run_dir).pid
            seen = {"loop": nice(), "new_thread": in_new_thread(nice), "plain_child": in_new_thread(child_nice),
                    "trainer": nice(trainer)}
            await pilot.press("x")
            while app.screen.state.active and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        print(json.dumps(seen))

    asyncio.run(main())
""")


def run_app(tiny_config, **environ: str) -> dict[str, int]:
    config = {**tiny_config.to_json(), "epochs": 50}  # still training when it is looked at
    env = {**os.environ, **environ}
    done = subprocess.run(
        [sys.executable, "-c", APP_TRAINS, json.dumps(config)], env=env, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")
def test_the_app_yields_and_its_run_trains_at_the_users_priority(tiny_config):
    base = os.getpriority(os.PRIO_PROCESS, 0)
    seen = run_app(tiny_config, TUI_CNN_UI_NICE="")  # unset in use: the default
    stepped_back = min(base + UI_NICE, 19)
    assert seen["loop"] == stepped_back
    assert seen["new_thread"] == stepped_back  # the loop's workers read and draw at its priority
    assert seen["plain_child"] == stepped_back  # which is why every child goes through spawn
    assert seen["trainer"] == base


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")
def test_a_nice_of_zero_keeps_the_app_level(tiny_config):
    base = os.getpriority(os.PRIO_PROCESS, 0)
    seen = run_app(tiny_config, TUI_CNN_UI_NICE="0")
    assert seen == {"loop": base, "new_thread": base, "plain_child": base, "trainer": base}


@pytest.mark.parametrize(
    ("value", "nice"), [("", UI_NICE), ("5", 5), ("0", 0), ("99", 19), ("-3", 0), ("nan", UI_NICE), ("1e9", UI_NICE)]
)
def test_the_nice_setting_is_read_leniently(value, nice):
    assert ui_nice({"TUI_CNN_UI_NICE": value}) == nice
