"""Hostile input: spec files a user or an attacker could hand to tui-cnn, run through every
command that reads them (shapes, export, train, open) and the builder's open dialog. Each
gets the README's exit code and a clear message, never a traceback; and the app commands,
without a terminal, say so and exit instead of writing escape codes forever.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import record_notifications
from tui_cnn.cli import main

HEADER = "[model]\nname = 'hostile'\ninput_shape = [1, 28, 28]\n"


def _layers(*tables: str) -> str:
    return HEADER + "".join(f"[[layers]]\n{table}\n" for table in tables)


#: Files that cannot be read as a spec: exit 2 with one line.
UNREADABLE: dict[str, bytes | None] = {
    "malformed TOML": b"[model\nname = 'x'\n",
    "arrays 1,000 deep": (HEADER + "[[layers]]\ntype = 'ReLU'\nx = " + "[" * 1000 + "]" * 1000 + "\n").encode(),
    "tables 1,000 deep": ("a = " + "{b = " * 1000 + "1" + "}" * 1000 + "\n").encode(),
    "a value nested 6 deep": (HEADER + "[[layers]]\ntype = 'ReLU'\nx = [[[[[[1]]]]]]\n").encode(),
    "a NUL byte": HEADER.encode() + b"\x00\n",
    "non-UTF-8 bytes": HEADER.encode() + b"# \xff\xfe caf\xe9\n",
    "an empty file": b"",
    "input_shape of the wrong type": b"[model]\nname = 'x'\ninput_shape = '1,28,28'\n",
    "layers not an array of tables": ("layers = 3\n" + HEADER).encode(),
    "a layer without a type": (HEADER + "[[layers]]\nout_channels = 3\n").encode(),
    "a directory": None,
}

#: Specs that read but describe no model PyTorch can build: exit 1 with the diagnostics.
INVALID = {
    "out_channels 10^30": _layers("type = 'Conv2d'\nout_channels = 1000000000000000000000000000000\nkernel_size = 3"),
    "kernel_size 10^30 as a pair": _layers("type = 'MaxPool2d'\nkernel_size = [2, 1000000000000000000000000000000]"),
    "negative out_channels": _layers("type = 'Conv2d'\nout_channels = -8\nkernel_size = 3"),
    "BatchNorm2d eps 0": _layers("type = 'BatchNorm2d'\neps = 0.0"),
    "BatchNorm2d eps nan": _layers("type = 'BatchNorm2d'\neps = nan"),
    "BatchNorm2d momentum -inf": _layers("type = 'BatchNorm2d'\nmomentum = -inf"),
    "LeakyReLU slope inf": _layers("type = 'LeakyReLU'\nnegative_slope = inf"),
    "Dropout p nan": _layers("type = 'Dropout'\np = nan"),
    "kernel_size of the wrong type": _layers("type = 'Conv2d'\nout_channels = 4\nkernel_size = 'three'"),
    "an input 10^30 wide": "[model]\nname = 'x'\ninput_shape = [1, 28, 1000000000000000000000000000000]\n",
    "a size product past 64 bits": "[model]\nname = 'x'\ninput_shape = [2147483647, 4, 4]\n"
    + "[[layers]]\ntype = 'Conv2d'\nout_channels = 2147483647\nkernel_size = 3\n",
    "an odd layer type": _layers("type = \"ReLU'); import os; os.system('id'); ('\""),
}


def _write(tmp_path: Path, content: bytes | str | None) -> Path:
    path = tmp_path / "hostile.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _assert_clean(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.mark.parametrize("command", [("shapes",), ("export",), ("train", "--headless")])
@pytest.mark.parametrize("kind", UNREADABLE)
def test_an_unreadable_spec_exits_2_with_one_line(tmp_path, kind, command):
    path = _write(tmp_path, UNREADABLE[kind])
    result = _run(*command, str(path))
    _assert_clean(result)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"tui-cnn: {path}")
    assert result.stdout == ""


@pytest.mark.parametrize("kind", INVALID)
def test_an_invalid_spec_exits_1_with_its_diagnostics(tmp_path, kind):
    path = _write(tmp_path, INVALID[kind])
    shapes = _run("shapes", str(path))
    _assert_clean(shapes)
    assert shapes.exit_code == 1
    assert "error: " in shapes.stdout

    export = _run("export", str(path), "--to", str(tmp_path / "model.py"))
    _assert_clean(export)
    assert export.exit_code == 1
    assert export.stderr.splitlines()[0].endswith(" is not a valid model, nothing exported:")
    assert not (tmp_path / "model.py").exists()


def test_the_json_of_an_invalid_spec_is_json(tmp_path):
    import json

    result = _run("shapes", str(_write(tmp_path, INVALID["out_channels 10^30"])), "--json")
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["totals"]["params"] == 0  # the broken layer counts for nothing


@pytest.mark.parametrize(
    "command", [("shapes", "LeNet5"), ("export", "LeNet5"), ("track", "torchvision.models:resnet18", "--json")]
)
def test_an_input_shape_beyond_what_torch_holds_is_a_command_line_error(command):
    """--input 3,10**20,28 reached torch in track, which dumped a C++ stack."""
    result = _run(*command, "--input", f"3,{10**20},28")
    _assert_clean(result)
    assert result.exit_code == 2
    assert "input shape sizes go up to 2,147,483,647" in result.stderr


# --- export --to: only a regular file is replaced -----------------------------------------


def _not_regular_targets(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    real = tmp_path / "real.py"
    real.write_text("kept\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    folder = tmp_path / "folder"
    folder.mkdir()
    return {
        "symlink": (link, "symbolic link"),
        "device": (Path(os.devnull), "character device"),
        "pipe": (pipe, "named pipe"),
        "folder": (folder, "directory"),
    }


@pytest.mark.parametrize("kind", ["symlink", "device", "pipe", "folder"])
def test_export_refuses_to_replace_what_is_not_a_regular_file(tmp_path, kind):
    target, said = _not_regular_targets(tmp_path)[kind]
    before = os.lstat(target)
    result = _run("export", "LeNet5", "--to", str(target))
    _assert_clean(result)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"tui-cnn: cannot write {target}: it is a {said}")
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert (tmp_path / "real.py").read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_atomic_writer_replaces_a_regular_file_and_refuses_a_link(tmp_path):
    from tui_cnn.domain.specfile import NotARegularFileError, atomic_write_text

    target = tmp_path / "spec.toml"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    with pytest.raises(NotARegularFileError, match="symbolic link"):
        atomic_write_text(link, "through the link")
    assert target.read_text() == "new" and link.is_symlink()


@pytest.mark.slow
async def test_the_builder_says_why_it_cannot_save_over_a_link(tmp_path):
    from textual.widgets import Input

    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.domain.presets import load_preset

    target, _ = _not_regular_targets(tmp_path)["symlink"]
    app = TuiCnnApp(load_preset("LeNet5"), start_mode="builder")
    async with app.run_test(size=(100, 30)) as pilot:
        notes = record_notifications(app)
        for key in ("ctrl+s", "e"):
            await pilot.press(key)
            app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await pilot.pause()
        assert len([n for n in notes if "symbolic link" in n]) == 2, notes
    assert target.is_symlink() and (tmp_path / "real.py").read_text() == "kept\n"


# --- the builder's open dialog ------------------------------------------------------------


@pytest.mark.slow
async def test_the_builder_opens_no_hostile_spec_and_keeps_its_model(tmp_path):
    from textual.widgets import Input

    from tui_cnn.app.app import TuiCnnApp
    from tui_cnn.domain.presets import load_preset

    lenet = load_preset("LeNet5")
    app = TuiCnnApp(lenet, start_mode="builder")
    async with app.run_test(size=(100, 30)) as pilot:
        notes = record_notifications(app)
        for number, (kind, content) in enumerate(UNREADABLE.items()):
            folder = tmp_path / str(number)
            folder.mkdir()
            path = _write(folder, content)
            await pilot.press("ctrl+o")
            app.screen.query_one(Input).value = str(path)
            await pilot.press("enter")
            await pilot.pause()
            assert app.spec == lenet, kind
            assert any(str(path) in note for note in notes), (kind, notes)
        assert app.is_running


# --- no terminal ---------------------------------------------------------------------------


def _without_a_terminal(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    return subprocess.run(
        [sys.executable, "-m", "tui_cnn", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **(env or {})},
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        (),
        ("LeNet5",),
        ("train", "LeNet5", "--dataset", "mnist-sample"),
        ("train", "LeNet5"),  # no note on which MNIST first: one line
        ("track", "torchvision.models:resnet18", "--input", "3,32,32"),
    ],
)
def test_the_app_without_a_terminal_exits_2_with_one_line(args):
    result = _without_a_terminal(*args)
    assert result.returncode == 2
    assert result.stdout == ""  # not one escape code
    (line,) = result.stderr.splitlines()
    assert line.startswith("tui-cnn: no terminal:")


@pytest.mark.slow
def test_what_needs_no_terminal_runs_without_one(tmp_path):
    assert _without_a_terminal("shapes", "LeNet5", "--json").returncode == 0
    assert _without_a_terminal("export", "LeNet5", "--to", str(tmp_path / "m.py")).returncode == 0
    tracked = _without_a_terminal("track", "torchvision.models:resnet18", "--input", "3,32,32", "--json")
    assert tracked.returncode == 0 and tracked.stdout.startswith("{")


@pytest.mark.slow
def test_a_hostile_spec_without_a_terminal_is_a_spec_error_first(tmp_path):
    path = _write(tmp_path, UNREADABLE["arrays 1,000 deep"])
    result = _without_a_terminal(str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"tui-cnn: {path}: arrays or tables nested too deeply")
