"""Keys typed in a burst (over SSH they arrive many in one read) land in every text box in the
order they were typed. Textual's Input ran its editing keys (end, backspace, home, left, ...)
only after they had bubbled up to the app, so the characters typed after them went in first:
``end backspace backspace backspace 1 2 8`` over out_features 10 gave 228 or an empty box. Every
text box is a TypedInput, which runs its editing keys in place, in order.

The Pilot tests post the keys without waiting between them (as the key fuzzer does); the tmux
tests send them to the real app in a real terminal, in one write."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers import async_wait_until, type_fast, wait_until
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.widgets.builder.dialogs import PathScreen
from tui_cnn.app.widgets.continue_run import ContinueRunScreen
from tui_cnn.app.widgets.monitor.open_run import OpenRunScreen
from tui_cnn.app.widgets.track_prompt import TrackPrompt
from tui_cnn.app.widgets.typed_input import TypedInput
from tui_cnn.domain import load_preset
from tui_cnn.domain.run_list import RunRow

SIZE = (80, 24)
APP_SOURCE = Path(__file__).parents[2] / "src" / "tui_cnn" / "app"
#: Editing keys and characters mixed, each editing key before characters that depend on it.
BURST = ["end", "backspace", "backspace", "backspace", "1", "2", "8"]


def test_every_text_box_in_the_app_is_the_typed_input():
    """No plain Input is made anywhere in the app: one that is would lose the typed order."""
    plain = []
    for path in APP_SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Input":
                plain.append(f"{path.relative_to(APP_SOURCE)}:{node.lineno}")
    assert plain == []


async def focused_box(app) -> TypedInput:
    await async_wait_until(lambda: isinstance(app.focused, TypedInput), timeout=10, what="a text box's focus")
    return app.focused


@pytest.mark.slow
async def test_a_burst_in_the_builder_form_keeps_its_order():
    app = TuiCnnApp(load_preset("SimpleCNN"), start_mode="builder")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end", "up", "enter")  # the Linear's form, out_features (10) focused
        box = await focused_box(app)
        assert box.name == "out_features" and box.value == "10"
        await type_fast(app, BURST)
        await async_wait_until(lambda: app.spec.layers[7].args["out_features"] != 10, timeout=10, what="the edit")
        await pilot.pause()
        assert box.value == "128"
        assert app.spec.layers[7].args["out_features"] == 128


@pytest.mark.parametrize(
    "key, burst, typed",
    [
        ("b", ["end", "backspace", "backspace", "3", "2"], "32"),
        ("i", ["end", "backspace", "backspace", "3", "2"], "1,28,32"),
        ("i", ["home", "delete", "3"], "3,28,28"),
    ],
)
@pytest.mark.slow
async def test_a_burst_in_the_tracker_boxes_keeps_its_order(key, burst, typed):
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        box = await focused_box(app)
        await type_fast(app, burst)
        await async_wait_until(lambda: box.value == typed, timeout=10, what=f"{typed!r} in the box")
        await pilot.press("enter")  # applies it at once
        shown = app.batch_size if key == "b" else ",".join(map(str, app.spec.input_shape))
        assert str(shown) == typed and box.value == typed


DIALOGS = {
    "save/export prompt": (
        lambda: PathScreen("Save the model as (TOML)", "model.toml"),
        ["end", "backspace", "backspace", "backspace", "backspace", "p", "y"],
        "model.py",
    ),
    "track prompt": (lambda: TrackPrompt((1, 28, 28)), ["a", "b", "c", "left", "backspace", "Z"], "aZc"),
    "open run prompt": (OpenRunScreen, ["r", "x", "home", "delete", "r", "u", "n", "s", "/"], "runs/x"),
    "continue dialog": (
        lambda: ContinueRunScreen(RunRow("runs/x", "finished", epoch=3, epochs=3)),
        ["end", "backspace", "1", "2"],
        "12",
    ),
}


@pytest.mark.parametrize("dialog", DIALOGS)
@pytest.mark.slow
async def test_a_burst_in_each_dialog_keeps_its_order(dialog):
    make, burst, typed = DIALOGS[dialog]
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(make())
        box = await focused_box(app)
        await type_fast(app, burst)
        await async_wait_until(lambda: box.value == typed, timeout=10, what=f"{typed!r} in the box")
        await pilot.pause(0.2)
        assert box.value == typed


# --- the real app in a real terminal (tmux), the burst in one write ---


class Tmux:
    """``python -m tui_cnn ARGS`` in a detached tmux session of its own, at ``size``."""

    def __init__(self, args: list[str], cwd: Path, size: tuple[int, int] = SIZE) -> None:
        self.session = f"inputs-test-{uuid.uuid4().hex[:8]}"
        command = " ".join([sys.executable, "-m", "tui_cnn", *args])
        env = {**os.environ, "XDG_STATE_HOME": str(cwd / "state"), "TERM": "xterm-256color"}
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.session,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                "-c",
                str(cwd),
                command,
            ],
            check=True,
            env=env,
        )

    def send(self, *keys: str) -> None:
        """The keys in one write to the terminal, as a burst over SSH arrives."""
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 60) -> str:
        return wait_until(
            lambda: text in (screen := self.screen()) and screen,
            timeout=timeout,
            interval=0.1,
            what=f"{text!r} on the screen:\n{self.screen()}",
        )

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True)


@pytest.fixture
def tmux(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    started: list[Tmux] = []

    def start(*args: str) -> Tmux:
        started.append(Tmux(list(args), tmp_path))
        return started[-1]

    yield start
    for session in started:
        session.close()


@pytest.mark.slow  # a real app in a real terminal
def test_a_burst_in_a_real_terminal_keeps_its_order_in_the_builder_form(tmux):
    app = tmux("SimpleCNN")
    app.wait_for("Input C,H,W")
    app.send("2")
    app.wait_for("Model  input shape")  # the builder, its cursor on the input row
    app.send("End")
    app.send("Up")
    app.wait_for("7: Linear")  # the form follows the cursor
    app.send("Enter")
    app.wait_for("del Delete")  # leaves the footer once the form's field has the focus
    wait_until(lambda: "del Delete" not in app.screen(), timeout=30, what="the field's focus")
    app.send("End", "BSpace", "BSpace", "BSpace", "1", "2", "8")
    screen = app.wait_for("Linear(3136, 128)")
    assert "out_features   128" in screen


@pytest.mark.slow  # a real app in a real terminal
def test_a_burst_in_a_real_terminal_keeps_its_order_in_the_tracker_batch_box(tmux):
    app = tmux("SimpleCNN")
    app.wait_for("t Track")  # the footer: the app is ready for keys
    app.send("b")
    wait_until(lambda: "t Track" not in app.screen(), timeout=30, what="the box's focus (its footer)")
    app.send("End", "BSpace", "BSpace", "3", "2", "Enter")
    screen = app.wait_for("for batch 3")
    assert "for batch 32," in screen and "Batch  32 " in screen
