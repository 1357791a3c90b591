"""What the commands share: reading a model argument, the --input option, exit codes."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from ..domain.presets import DEFAULT_PRESET, load_preset, resolve_spec
from ..domain.spec import ModelSpec, parse_input_shape
from ..domain.specfile import SpecError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One clear line on stderr, no traceback."""
    click.echo(f"tui-cnn: {message}", err=True)
    sys.exit(code)


def load_model_or_exit(name_or_path: str | None) -> ModelSpec:
    if name_or_path is None:
        return load_preset(DEFAULT_PRESET)
    try:
        return resolve_spec(name_or_path)
    except SpecError as exc:
        fail(str(exc))


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
