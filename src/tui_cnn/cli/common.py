"""What the commands share: reading a model argument, the --input option, exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ..domain.format import printable_lines
from ..domain.presets import DEFAULT_PRESET, load_preset, resolve_spec
from ..domain.settings import Setting, SettingError, parse_setting
from ..domain.spec import ModelSpec, parse_input_shape
from ..domain.specfile import SpecError
from ..domain.train_config import SETTINGS

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def say(text: str, err: bool = False, **options: Any) -> None:
    """Text for people, on stdout (stderr with ``err``): what it quotes from files and users
    (a model's name, a folder's, a module's error) may hold escape codes, shown as ``\\x1b``
    rather than acted on by the terminal. JSON and generated code go out with click.echo."""
    click.echo(printable_lines(text), err=err, **options)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One clear line on stderr, no traceback."""
    say(f"tui-cnn: {message}", err=True)
    sys.exit(code)


def stdio_is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_terminal(instead: str) -> None:
    """The app draws on a terminal: with stdin or stdout a pipe or a file it would write
    escape codes forever and never exit. ``instead`` says what works without one.
    textual-serve runs the app with pipes but names its web driver in TEXTUAL_DRIVER, and
    that driver needs no terminal, so a chosen driver passes."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    if not stdio_is_terminal():
        fail(f"no terminal: the app needs stdin and stdout on a terminal ({instead})")


def load_model_or_exit(name_or_path: str | None) -> ModelSpec:
    if name_or_path is None:
        return load_preset(DEFAULT_PRESET)
    try:
        return resolve_spec(name_or_path)
    except SpecError as exc:
        fail(str(exc))


def spec_file(name_or_path: str | None) -> str | None:
    """The spec file a model argument names (where the app saves it back), or None for a preset."""
    return name_or_path if name_or_path is not None and Path(name_or_path).is_file() else None


def is_run_dir(path: str) -> bool:
    return (Path(path) / "config.json").is_file()


def model_argument(required: bool = True) -> Any:
    return click.argument("model", metavar="SPEC_OR_PRESET", required=required)


class InputShape(click.ParamType):
    """``--input C,H,W`` such as 1,28,28 or 3x32x32."""

    name = "C,H,W"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, int, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_input_shape(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def load_run_spec_or_exit(run_dir: str) -> ModelSpec | None:
    """The model a run directory trained (to show the run: settings with a wrong type are
    the monitor's to report, they do not keep the run from opening); None for a run your own
    loop logged (tui_cnn.init: its model is not a spec, the app opens on its default one)."""
    from ..domain.run_files import read_run_config
    from ..domain.run_records import RunFileError
    from ..domain.specfile import spec_from_dict

    try:
        run = read_run_config(run_dir)
        return None if run.script else spec_from_dict(run.spec, f"{run_dir}/config.json")
    except RunFileError as exc:
        fail(str(exc))
    except (SpecError, RecursionError) as exc:
        fail(f"{run_dir}/config.json holds no readable model ({str(exc) or type(exc).__name__})")


class SettingType(click.ParamType):
    """A training setting's value, parsed and checked by the declaration the form uses too."""

    def __init__(self, name: str, declared: Setting) -> None:
        self.setting_name, self.declared = name, declared
        self.name = declared.kind.__name__

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        if self.declared.choices:
            return "[" + "|".join(self.declared.choices) + "]"
        return {int: "INTEGER", float: "NUMBER"}.get(
            self.declared.kind, "PATH" if "dir" in self.setting_name else "TEXT"
        )

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return parse_setting(self.setting_name, self.declared, str(value))
        except SettingError as exc:
            self.fail(str(exc), param, ctx)


def batch_size_option() -> Any:
    """``--batch-size``/``-b`` of the commands that only size figures (shapes, track): the
    training setting's parser and limit, so every place takes the same batch sizes."""
    return click.option(
        "--batch-size",
        "-b",
        "batch_size",
        type=SettingType("batch_size", SETTINGS["batch_size"]),
        default=64,
        show_default=True,
        help=f"images per batch (at most {SETTINGS['batch_size'].maximum:,}, as training takes)",
    )
