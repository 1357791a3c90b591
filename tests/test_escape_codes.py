"""Names that hold terminal escape codes (a model called ``Evil\\x1b]0;PWNED\\x07``, a run
folder so named) reach no terminal raw: the CLI's tables and messages and the app's screens
show them escaped (``\\x1b``), and set no window title, reverse no line, print no NUL.
The CLI's bytes are checked as written; the app's as its driver would write its screen."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import Static

from benchmarks.harness import start_in_a_terminal
from tests.helpers import async_wait_until, wait_until
from tests.run_corpus import write_good_run
from tui_cnn.app.app import TuiCnnApp
from tui_cnn.app.screens.runs import RunsScreen, RunTable
from tui_cnn.cli import main
from tui_cnn.domain.format import CONTROL_CHARACTERS
from tui_cnn.domain.presets import load_preset

#: Sets the window title (OSC 0 ... BEL), then reverses the rest of the line (RLO), a NUL, a C1 CSI.
EVIL = "Evil\x1b]0;PWNED\x07\u202eNet\x00X\x9b"
SHOWN = r"Evil\x1b]0;PWNED\x07\u202eNet\x00X\x9b"
#: A folder's name cannot hold NUL or "/": the rest can.
EVIL_FOLDER = "run\x1b]0;PWNED\x07\u202e-\u2066x\x7f"
FOLDER_SHOWN = r"run\x1b]0;PWNED\x07\u202e-\u2066x\x7f"
RAW = [b"\x1b", b"\x07", b"\x00", "\u202e".encode(), "\u2066".encode(), "\x9b".encode(), b"\x7f"]


def assert_no_raw_controls(output: bytes) -> None:
    for raw in RAW:
        assert raw not in output, (raw, output[:2000])


def evil_spec_file(tmp_path: Path, name: str = EVIL, layer_type: str = "Conv2d") -> Path:
    path = tmp_path / "evil.toml"
    # TOML's \uXXXX escapes: the file itself is plain text, as one a user was sent would be.
    escaped = lambda text: json.dumps(text)  # noqa: E731 - JSON's string escapes are TOML's
    path.write_text(
        f"[model]\nname = {escaped(name)}\ninput_shape = [1, 28, 28]\n\n"
        f"[[layers]]\ntype = {escaped(layer_type)}\nout_channels = 4\nkernel_size = 3\n"
    )
    return path


def evil_run(runs: Path, folder: str = EVIL_FOLDER) -> Path:
    run_dir = write_good_run(runs / folder)
    config = json.loads((run_dir / "config.json").read_text())
    config["spec"]["model"]["name"] = EVIL
    config["device"]["name"] = "GPU\x1b[2J"
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


def cli(*args: str):
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return result, result.stdout_bytes + result.stderr_bytes


# --- the command line -------------------------------------------------------------------------


def test_shapes_shows_a_model_name_with_escape_codes_escaped(tmp_path):
    result, output = cli("shapes", str(evil_spec_file(tmp_path)))
    assert result.exit_code == 0, result.output
    assert_no_raw_controls(output)
    assert SHOWN in result.output


def test_shapes_shows_an_unknown_layer_type_with_escape_codes_escaped_in_the_table_and_the_error(tmp_path):
    result, output = cli("shapes", str(evil_spec_file(tmp_path, "Net", layer_type=EVIL)))
    assert result.exit_code == 1, result.output
    assert_no_raw_controls(output)
    assert SHOWN in result.output


def test_runs_shows_a_run_folder_and_model_named_with_escape_codes_escaped(tmp_path):
    evil_run(tmp_path / "runs")
    broken = write_good_run(tmp_path / "runs" / f"broken{EVIL_FOLDER}")
    (broken / "config.json").write_text("{")  # listed with its problem, on stderr
    result, output = cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert_no_raw_controls(output)
    assert FOLDER_SHOWN in result.stdout and r"GPU\x1b[2J" in result.stdout
    assert f"broken{FOLDER_SHOWN}:" in result.stderr


def test_runs_json_keeps_the_names_as_they_are_in_json_escapes(tmp_path):
    evil_run(tmp_path / "runs")
    result, output = cli("runs", "--runs-dir", str(tmp_path / "runs"), "--json")
    assert_no_raw_controls(output)
    [row] = json.loads(result.stdout)
    assert row["path"].endswith(EVIL_FOLDER) and row["model"] == EVIL


def test_compare_names_runs_with_escape_codes_escaped(tmp_path):
    good = evil_run(tmp_path)
    broken = write_good_run(tmp_path / f"broken{EVIL_FOLDER}")
    (broken / "config.json").write_text("{")
    result, output = cli("compare", str(good), str(broken), str(tmp_path / f"gone{EVIL_FOLDER}"))
    assert result.exit_code == 2
    assert_no_raw_controls(output)
    assert result.stderr.count("left out") == 2 and FOLDER_SHOWN in result.stderr


def test_a_one_line_error_quoting_a_path_with_escape_codes_prints_it_escaped(tmp_path):
    evil = tmp_path / EVIL_FOLDER
    evil.mkdir()
    result, output = cli("stop", str(evil))  # not a run: "RUN_DIR is unreadable, not training"
    assert result.exit_code == 2
    assert_no_raw_controls(output)
    assert FOLDER_SHOWN in result.stderr


# --- the app ----------------------------------------------------------------------------------

#: Textual's own sequences: CSI (colours, cursor moves) and the sync-update brackets.
TEXTUALS_OWN = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


def drawn(app) -> str:
    """The whole screen as the app's driver writes it to the terminal now."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def assert_nothing_raw_drawn(app) -> str:
    """What is drawn holds no control character but Textual's own sequences and newlines;
    returns the text with those taken out."""
    text = TEXTUALS_OWN.sub("", drawn(app))
    left = sorted({char for char in text if char in CONTROL_CHARACTERS and char != "\n"})
    assert not left, (left, text)
    return text


@pytest.mark.slow
async def test_the_builder_titles_a_model_named_with_escape_codes_escaped():
    app = TuiCnnApp(replace(load_preset("SimpleCNN"), name=EVIL), start_mode="builder")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert SHOWN in app.screen.sub_title
        text = assert_nothing_raw_drawn(app)
        assert text.count(SHOWN) >= 2  # the header and the layer stack's border


@pytest.mark.slow
async def test_the_runs_screen_shows_a_run_folder_and_model_named_with_escape_codes_escaped(tmp_path):
    evil_run(tmp_path / "runs")
    app = TuiCnnApp(start_mode="runs", runs_dir=str(tmp_path / "runs"))
    async with app.run_test(size=(160, 30)) as pilot:
        await async_wait_until(
            lambda: (
                isinstance(app.screen, RunsScreen)
                and app.screen.query_one(RunTable).row_count
                and not app.screen._loading
            ),
            timeout=10,
            what="the run's row",
        )
        await pilot.pause()
        text = assert_nothing_raw_drawn(app)
        assert FOLDER_SHOWN in text and r"Evil\x1b]0;" in text  # the run column; the model column (cut)
        assert FOLDER_SHOWN in str(app.screen.query_one("#run-detail").render())


@pytest.mark.slow
async def test_whatever_a_widget_draws_reaches_the_terminal_without_control_characters():
    """The guard under all screens: text no screen made printable (a module's error quoted
    as it is, here) loses its control characters rather than acting on the terminal."""
    app = TuiCnnApp(load_preset("SimpleCNN"))
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.mount(Static(f"error from a module: {EVIL}", markup=False), before=0)
        await pilot.pause()
        text = assert_nothing_raw_drawn(app)
        assert "Evil]0;PWNEDNetX" in text


# --- in a real terminal -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_in_a_real_terminal_the_tracker_builder_and_runs_screen_send_no_escape_code_from_a_name(tmp_path, monkeypatch):
    """The app as a person runs it, in a pseudo-terminal: every byte it writes is read. The
    names show escaped, and neither their title-setting OSC nor RLO, NUL or C1 CSI is sent."""
    spec = evil_spec_file(tmp_path)
    evil_run(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)  # the Runs screen lists ./runs
    pid, master = start_in_a_terminal([str(spec)], columns=160, rows=40)
    written = bytearray()

    def read_all() -> None:
        try:
            while chunk := os.read(master, 65536):
                written.extend(chunk)
        except OSError:  # the terminal is closed
            pass

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    try:

        def shows(text: str, what: str) -> None:
            wait_until(lambda: text.encode() in written, timeout=60, interval=0.1, what=what)

        shows(SHOWN, "the tracker titled with the model's name")
        os.write(master, b"2")
        shows("add after the cursor", "the builder")
        os.write(master, b"4")
        shows(FOLDER_SHOWN, "the run on the Runs screen")
        os.write(master, b"\x11")  # ctrl+q
        wait_until(lambda: os.waitpid(pid, os.WNOHANG)[0] == pid, timeout=30, interval=0.1, what="the app to quit")
        pid = None
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
        reader.join(timeout=10)
    output = bytes(written)
    assert b"\x1b]0;PWNED" not in output and b"PWNED\x07" not in output
    for raw in (b"\x00", "\u202e".encode(), "\u2066".encode(), "\x9b".encode(), b"\x7f"):
        assert raw not in output, raw
